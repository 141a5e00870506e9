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
#include <limits>     // std::numeric_limits
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"
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
        : n_(n), k_(k), near_(static_cast<size_t>(n)), third_(static_cast<size_t>(n)), table_(static_cast<size_t>(n * k)) {}

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
        for (const Near& p : near_) {
            removal[static_cast<size_t>(p.i1)] += p.lose_1;
            removal[static_cast<size_t>(p.i2)] += p.lose_2;
        }
    }

    // The best swap for candidate j over all k medoids, in one pass over d(., j). `delta` is
    // scratch (4 k doubles). The points' terms go to 4 interleaved partial sums (by index mod
    // 4), so that consecutive points of one cluster do not wait on each other's additions; the
    // partials are added in a fixed order.
    SwapGain evaluate_candidate(const T* row_j, const std::vector<double>& removal, std::vector<double>& delta) const {
        const auto k = static_cast<size_t>(k_);
        delta.assign(4 * k, 0.0);
        double shared[4] = {0.0, 0.0, 0.0, 0.0};
        // Only points with d(o, j) < d3(o) contribute: blocks of 16 are screened first.
        index_t o = 0;
        for (; o + 16 <= n_; o += 16)
            for (std::uint32_t mask = simd::less_mask16(row_j + o, third_.data() + o); mask != 0; mask &= mask - 1) {
                const int t = simd::lowest_bit(mask);
                add(row_j[o + t], near_[static_cast<size_t>(o + t)], delta.data() + (t & 3) * k, shared[t & 3]);
            }
        for (; o < n_; ++o)
            if (row_j[o] < third_[static_cast<size_t>(o)])
                add(row_j[o], near_[static_cast<size_t>(o)], delta.data() + (o & 3) * k, shared[o & 3]);
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
        // s(o) now, and what removing i1 or i2 (nothing added) takes from it.
        double now = 0.0, lose_1 = 0.0, lose_2 = 0.0;
    };

    // The change point o makes to the loss of each swap with a candidate at distance d < d3.
    // With the candidate added, o's nearest two are (a1, b1) = (min(d, d1), max(d, d1)) if the
    // medoid removed is i2, and (a2, b2) = (min(d, d2), max(d, d2)) if it is i1; the quotients
    // a1 / b1 and a2 / b2 share one division by b1 b2 (0 only where d or d1 is 0: then two).
    static void add(T d, const Near& p, double* delta, double& shared) {
        const double a1 = std::min(d, p.d1), b1 = std::max(d, p.d1), a2 = std::min(d, p.d2), b2 = std::max(d, p.d2);
        const double both = b1 * b2;
        double without_2, without_1;
        if (both > 0.0) {
            const double r = 1.0 / both;
            without_2 = 1.0 - a1 * b2 * r;
            without_1 = 1.0 - a2 * b1 * r;
        } else {
            without_2 = medoid_silhouette_of(a1, b1);
            without_1 = medoid_silhouette_of(a2, b2);
        }
        // A medoid other than o's nearest two removed: without_2 if the candidate is nearer than d2.
        const double other = d < p.d2 ? without_2 : p.now;
        shared += p.now - other;
        delta[p.i1] += (other - without_1) - p.lose_1;
        delta[p.i2] += (other - without_2) - p.lose_2;
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
        p.now = medoid_silhouette_of(p.d1, p.d2);
        p.lose_1 = p.now - medoid_silhouette_of(p.d2, p.d3);
        p.lose_2 = p.now - medoid_silhouette_of(p.d1, p.d3);
        near_[static_cast<size_t>(o)] = p;
        third_[static_cast<size_t>(o)] = p.d3;
    }

    index_t n_, k_;
    std::vector<index_t> medoids_;
    std::vector<Near> near_;
    std::vector<T> third_;  // d3 of every point, for the screening
    std::vector<T> table_;
};

}  // namespace vecclust
