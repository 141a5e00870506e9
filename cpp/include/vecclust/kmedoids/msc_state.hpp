// The state of the medoid silhouette swap search (FastMSC / FasterMSC, Lenssen & Schubert):
// each point's three nearest medoids and an n x k table of point-to-medoid distances.
//
// The objective is the sum over points of s(o) = f(d1, d2) = 1 - d1 / d2 (medoid_silhouette.hpp),
// d1 <= d2 <= d3 the distances to the nearest three medoids. Swapping medoid i for candidate c
// changes s(o) only through the nearest two medoids left, so one pass over d(., c) prices the
// swap against every medoid at once:
//  - removing i without replacement changes the sum by removal[i] (points whose nearest or
//    second nearest medoid is i fall back to the next one);
//  - c then changes s(o), whatever medoid other than o's nearest two is removed, by a "shared"
//    term e(o) (zero unless d(o, c) < d2);
//  - for i among o's nearest two, the exact change replaces the removal term and e(o); that
//    correction is zero unless d(o, c) < d3.
// It has the interface the eager search (eager_swap.hpp) and the FasterPAM loop expect, with
// "loss" = sum_o (1 - s(o)), so that lower is better and a negative delta is an improvement.
// Ties go to the lower medoid slot; a point that is a medoid is that medoid's.
#pragma once

#include <algorithm>  // std::copy, std::fill
#include <cstdint>    // std::int32_t
#include <cstring>    // std::memcpy
#include <limits>     // std::numeric_limits
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"
#include "vecclust/cpu/isa.hpp"
#include "vecclust/cpu/simd.hpp"
#include "vecclust/kmedoids/medoid_silhouette.hpp"
#include "vecclust/kmedoids/state.hpp"  // KMedoidsResult

namespace vecclust {

template <class T>
class MscAssignment {
  public:
    static constexpr T kInf = std::numeric_limits<T>::infinity();

    struct SwapGain {
        double delta;       // change of the loss (minus the change of the silhouette sum)
        std::int32_t slot;  // the medoid the candidate would replace
    };

    // Weights are not supported by the medoid silhouette; the argument keeps the interface.
    MscAssignment(index_t n, index_t k, const T* /*weights*/)
        : n_(n), k_(k), near_(static_cast<size_t>(n)), d1_(static_cast<size_t>(n)), d2_(static_cast<size_t>(n)),
          third_(static_cast<size_t>(n)), now_(static_cast<size_t>(n)), lose_1_(static_cast<size_t>(n)),
          lose_2_(static_cast<size_t>(n)), table_(static_cast<size_t>(n * k)) {}

    index_t n() const { return n_; }
    index_t k() const { return k_; }
    bool is_medoid(index_t j) const { return medoids_[static_cast<size_t>(near_[static_cast<size_t>(j)].i1)] == j; }
    const std::vector<index_t>& medoids() const { return medoids_; }

    template <class Source>
    double reset(const Source& source, const std::vector<index_t>& medoids, std::vector<T>& scratch) {
        medoids_ = medoids;
        for (index_t i = 0; i < k_; ++i) set_column(i, source.row(medoids_[static_cast<size_t>(i)], scratch.data()));
        for (index_t o = 0; o < n_; ++o) assign(o);
        return loss();
    }

    // sum_o (1 - s(o)), in index order.
    double loss() const {
        double total = 0.0;
        for (const Near& p : near_) total += 1.0 - medoid_silhouette_of(p.d1, p.d2);
        return total;
    }
    double silhouette_sum() const {
        double total = 0.0;
        for (const Near& p : near_) total += medoid_silhouette_of(p.d1, p.d2);
        return total;
    }

    // removal[i]: the change of the loss when medoid i is removed and nothing replaces it.
    void removal_loss(std::vector<double>& removal) const {
        removal.assign(static_cast<size_t>(k_), 0.0);
        for (size_t o = 0; o < near_.size(); ++o) {
            removal[static_cast<size_t>(near_[o].i1)] += lose_1_[o];
            removal[static_cast<size_t>(near_[o].i2)] += lose_2_[o];
        }
    }

    // The best swap for candidate j over all k medoids, in one pass over d(., j). `delta` is
    // scratch (4 k doubles). Points with d(o, j) < d3(o) contribute; blocks of 16 are screened
    // first, the terms of a block with any are computed for all 16 lanes at once (isa::dispatch)
    // and added for those points, in index order, to 4 interleaved partial sums (by index mod
    // 4), so that consecutive points of one cluster do not wait on each other's additions; the
    // partials are added in a fixed order.
    SwapGain evaluate_candidate(const T* row_j, const std::vector<double>& removal, std::vector<double>& delta) const {
        const auto k = static_cast<size_t>(k_);
        delta.assign(4 * k, 0.0);
        double shared[4] = {0.0, 0.0, 0.0, 0.0};
        isa::dispatch<isa::Level::avx2>([&](auto) {
            double cs[16], c1[16], c2[16];
            for (index_t o = 0; o < n_; o += 16) {
                const index_t width = std::min<index_t>(16, n_ - o);
                std::uint32_t mask = 0;
                if (width == 16) {
                    mask = simd::less_mask16(row_j + o, third_.data() + o);
                    if (mask == 0) continue;
                    terms16(o, row_j + o, cs, c1, c2);
                } else {
                    for (index_t t = 0; t < width; ++t) {
                        mask |= static_cast<std::uint32_t>(row_j[o + t] < third_[static_cast<size_t>(o + t)]) << t;
                        terms(o + t, row_j[o + t], cs[t], c1[t], c2[t]);
                    }
                }
                for (; mask != 0; mask &= mask - 1) {
                    const int t = simd::lowest_bit(mask);
                    const Near& p = near_[static_cast<size_t>(o + t)];
                    double* lane = delta.data() + static_cast<size_t>(t & 3) * k;
                    shared[t & 3] += cs[t];
                    lane[p.i1] += c1[t];
                    lane[p.i2] += c2[t];
                }
            }
        });
        std::int32_t best = 0;
        double best_delta = std::numeric_limits<double>::infinity();
        for (size_t i = 0; i < k; ++i) {
            const double d = removal[i] + ((delta[i] + delta[k + i]) + (delta[2 * k + i] + delta[3 * k + i]));
            if (d < best_delta) best_delta = d, best = static_cast<std::int32_t>(i);
        }
        return {best_delta + ((shared[0] + shared[1]) + (shared[2] + shared[3])), best};
    }

    // Replaces medoid `slot` by point j (distances row_j) and finds every point's nearest three again.
    void swap(index_t slot, index_t j, const T* row_j) {
        medoids_[static_cast<size_t>(slot)] = j;
        set_column(slot, row_j);
        for (index_t o = 0; o < n_; ++o) assign(o);
    }

    std::vector<index_t> labels() const {
        std::vector<index_t> out(static_cast<size_t>(n_));
        for (index_t o = 0; o < n_; ++o) out[static_cast<size_t>(o)] = near_[static_cast<size_t>(o)].i1;
        return out;
    }

    KMedoidsResult finish(KMedoidsResult result, double loss) const {
        result.loss = loss;
        result.medoids = medoids_;
        result.labels = labels();
        return result;
    }

  private:
    struct Near {
        std::int32_t i1 = 0, i2 = 0, i3 = 0;
        T d1 = kInf, d2 = kInf, d3 = kInf;
    };

    // The terms point o adds to each swap with a candidate at distance d (used if d < d3): to
    // the shared sum, and to the removals of i1 and i2. With the candidate added, o's nearest
    // two are (a1, b1) = (min(d, d1), max(d, d1)) if the medoid removed is i2, and (a2, b2) =
    // (min(d, d2), max(d, d2)) if it is i1; the quotients a1 / b1 and a2 / b2 share one
    // division by b1 b2. b1 = 0 (d = d1 = 0) makes both silhouettes 1. No branches, so that a
    // block of points is computed in vectors.
    VECCLUST_ALWAYS_INLINE void terms(index_t o, T d, double& cs, double& c1, double& c2) const {
        const T d1 = d1_[static_cast<size_t>(o)], d2 = d2_[static_cast<size_t>(o)];
        const double a1 = std::min(d, d1), b1 = std::max(d, d1), a2 = std::min(d, d2), b2 = std::max(d, d2);
        const double r = 1.0 / (b1 * b2);
        const double without_2 = b1 > 0.0 ? 1.0 - a1 * b2 * r : 1.0;
        const double without_1 = b1 > 0.0 ? 1.0 - a2 * b1 * r : 1.0;
        const double now = now_[static_cast<size_t>(o)];
        // A medoid other than o's nearest two removed: without_2 if the candidate is nearer than d2.
        const double other = d < d2 ? without_2 : now;
        cs = now - other;
        c1 = (other - without_1) - lose_1_[static_cast<size_t>(o)];
        c2 = (other - without_2) - lose_2_[static_cast<size_t>(o)];
    }

    // terms() of the 16 points from o, 4 at a time in vectors of doubles (the same operations
    // per lane as terms()).
    VECCLUST_ALWAYS_INLINE void terms16(index_t o, const T* d, double* cs, double* c1, double* c2) const {
#ifdef VECCLUST_VECTOR_EXTENSIONS
        typedef double V __attribute__((vector_size(32)));
        typedef T W __attribute__((vector_size(4 * sizeof(T))));
        const auto at = static_cast<size_t>(o);
        for (int q = 0; q < 16; q += 4) {
            W dw, d1w, d2w;
            std::memcpy(&dw, d + q, sizeof(W));
            std::memcpy(&d1w, d1_.data() + at + q, sizeof(W));
            std::memcpy(&d2w, d2_.data() + at + q, sizeof(W));
            V now, lose_1, lose_2;
            std::memcpy(&now, now_.data() + at + q, sizeof(V));
            std::memcpy(&lose_1, lose_1_.data() + at + q, sizeof(V));
            std::memcpy(&lose_2, lose_2_.data() + at + q, sizeof(V));
            const V dv = __builtin_convertvector(dw, V), d1 = __builtin_convertvector(d1w, V),
                    d2 = __builtin_convertvector(d2w, V);
            const V one = V{} + 1.0, zero = V{};
            const V a1 = d1 < dv ? d1 : dv, b1 = dv < d1 ? d1 : dv, a2 = d2 < dv ? d2 : dv, b2 = dv < d2 ? d2 : dv;
            const V r = one / (b1 * b2);
            const V without_2 = b1 > zero ? one - a1 * b2 * r : one;
            const V without_1 = b1 > zero ? one - a2 * b1 * r : one;
            const V other = dv < d2 ? without_2 : now;
            const V vcs = now - other, vc1 = (other - without_1) - lose_1, vc2 = (other - without_2) - lose_2;
            std::memcpy(cs + q, &vcs, sizeof(V));
            std::memcpy(c1 + q, &vc1, sizeof(V));
            std::memcpy(c2 + q, &vc2, sizeof(V));
        }
#else
        for (index_t t = 0; t < 16; ++t) terms(o + t, d[t], cs[t], c1[t], c2[t]);
#endif
    }

    void set_column(index_t slot, const T* row) {
        for (index_t o = 0; o < n_; ++o) table_[static_cast<size_t>(o * k_ + slot)] = row[o];
    }

    // The nearest three medoids of o from its table row (slot i1 = the medoid o is, if any).
    void assign(index_t o) {
        const T* dist = table_.data() + static_cast<size_t>(o * k_);
        Near p;
        for (index_t i = 0; i < k_; ++i) {
            const auto slot = static_cast<std::int32_t>(i);
            const T d = medoids_[static_cast<size_t>(i)] == o ? T(0) : dist[i];
            if (d < p.d1 || medoids_[static_cast<size_t>(i)] == o) {
                p.i3 = p.i2, p.d3 = p.d2, p.i2 = p.i1, p.d2 = p.d1, p.i1 = slot, p.d1 = d;
            } else if (d < p.d2) {
                p.i3 = p.i2, p.d3 = p.d2, p.i2 = slot, p.d2 = d;
            } else if (d < p.d3) {
                p.i3 = slot, p.d3 = d;
            }
        }
        const auto at = static_cast<size_t>(o);
        near_[at] = p;
        d1_[at] = p.d1, d2_[at] = p.d2, third_[at] = p.d3;
        now_[at] = medoid_silhouette_of(p.d1, p.d2);
        lose_1_[at] = now_[at] - medoid_silhouette_of(p.d2, p.d3);
        lose_2_[at] = now_[at] - medoid_silhouette_of(p.d1, p.d3);
    }

    index_t n_, k_;
    std::vector<index_t> medoids_;
    std::vector<Near> near_;
    // Per point, for the vectorised terms: d1, d2, d3 (also the screen), s(o) now, and what
    // removing i1 or i2 (nothing added) takes from it.
    std::vector<T> d1_, d2_, third_;
    std::vector<double> now_, lose_1_, lose_2_;
    std::vector<T> table_;
};

}  // namespace vecclust
