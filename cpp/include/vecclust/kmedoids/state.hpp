// The state every swap-based k-medoids algorithm keeps: the medoids, each point's nearest and
// second-nearest medoid, and an n x k table of (weighted) point-to-medoid distances.
//
// Conventions shared by all algorithms:
//  - d(o, m) is read as row m of the source at column o; a precomputed matrix must therefore
//    be symmetric, which lets every pass read a candidate's distances as one contiguous row.
//  - With sample weights, every per-point distance is w[o] * d(o, m): the objective is
//    sum_o w[o] * d(o, medoid(o)).
//  - Ties go to the lower medoid index (strict comparisons); a point that is itself a medoid is
//    always assigned to that medoid, so duplicated points cannot steal it.
//  - Losses and loss changes are accumulated in double, one point after another.
#pragma once

#include <algorithm>  // std::copy
#include <cstdint>    // std::int32_t
#include <limits>     // std::numeric_limits
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"
#include "vecclust/cpu/isa.hpp"   // VECCLUST_PREFETCH
#include "vecclust/cpu/simd.hpp"

namespace vecclust {

struct KMedoidsResult {
    double loss = 0.0;
    std::vector<index_t> medoids;
    std::vector<index_t> labels;
    int n_iter = 0;
    int n_swaps = 0;
    bool converged = true;
};

template <class T>
class MedoidAssignment {
  public:
    static constexpr T kInf = std::numeric_limits<T>::infinity();

    // `weights` may be null (all ones). The table is allocated here, O(n k).
    MedoidAssignment(index_t n, index_t k, const T* weights)
        : near_i(n), near_d(n), seco_i(n), seco_d(n), n_(n), k_(k), weights_(weights),
          table_(static_cast<size_t>(n) * k) {}

    index_t n() const { return n_; }
    index_t k() const { return k_; }
    bool is_medoid(index_t j) const { return medoids_[static_cast<size_t>(near_i[static_cast<size_t>(j)])] == j; }

    T weighted(index_t o, T d) const { return weights_ ? weights_[o] * d : d; }

    // Sets all medoids, fills the table from their rows, and assigns every point.
    template <class Source>
    double reset(const Source& source, const std::vector<index_t>& medoids, std::vector<T>& scratch) {
        medoids_ = medoids;
        for (index_t i = 0; i < k_; ++i) set_table_column(i, source.row(medoids_[static_cast<size_t>(i)], scratch.data()));
        return assign_all();
    }

    // Nearest and second-nearest medoid of every point, from the table; returns the loss.
    double assign_all() {
        double loss = 0.0;
        for (index_t o = 0; o < n_; ++o) {
            const T* dist = table_row(o);
            std::int32_t ni = 0, si = -1;
            T nd = dist[0], sd = kInf;
            for (index_t i = 1; i < k_; ++i) {
                const T d = dist[i];
                if (d < nd || medoids_[static_cast<size_t>(i)] == o) {
                    si = ni, sd = nd;
                    ni = static_cast<std::int32_t>(i), nd = d;
                } else if (si < 0 || d < sd) {
                    si = static_cast<std::int32_t>(i), sd = d;
                }
            }
            near_i[o] = ni, near_d[o] = nd, seco_i[o] = si, seco_d[o] = sd;
            loss += static_cast<double>(nd);
        }
        return loss;
    }

    double loss() const {
        double total = 0.0;
        for (index_t o = 0; o < n_; ++o) total += static_cast<double>(near_d[o]);
        return total;
    }

    // removal[i]: how much the loss grows if medoid i is removed and nothing replaces it.
    void removal_loss(std::vector<double>& removal) const {
        removal.assign(static_cast<size_t>(k_), 0.0);
        for (index_t o = 0; o < n_; ++o)
            removal[static_cast<size_t>(near_i[o])] += static_cast<double>(seco_d[o]) - static_cast<double>(near_d[o]);
    }

    struct SwapGain {
        double delta;       // change of the loss; negative is an improvement
        std::int32_t slot;  // which medoid the candidate would replace
    };

    // The best swap for candidate j, over all k medoids at once, in one pass over d(j, .)
    // (the FastPAM1/FasterPAM kernel). `delta` is scratch of size k.
    SwapGain evaluate_candidate(const T* row_j, const std::vector<double>& removal, std::vector<double>& delta) const {
        std::copy(removal.begin(), removal.end(), delta.begin());
        Accumulator acc{near_i.data(), near_d.data(), seco_d.data(), delta.data(), 0.0};
        if (weights_) {
            // Weighted distances are formed in blocks so the mask test stays vectorised.
            T block[16];
            index_t o = 0;
            for (; o + 16 <= n_; o += 16) {
                VECCLUST_PREFETCH(row_j + o + kPrefetchAhead);
                for (int t = 0; t < 16; ++t) block[t] = weights_[o + t] * row_j[o + t];
                acc.add_block(block, o);
            }
            for (; o < n_; ++o) acc.add(weights_[o] * row_j[o], o);
        } else {
            index_t o = 0;
            for (; o + 16 <= n_; o += 16) {
                VECCLUST_PREFETCH(row_j + o + kPrefetchAhead);
                acc.add_block(row_j + o, o);
            }
            for (; o < n_; ++o) acc.add(row_j[o], o);
        }
        std::int32_t best = 0;
        for (index_t i = 1; i < k_; ++i)
            if (delta[static_cast<size_t>(i)] < delta[static_cast<size_t>(best)]) best = static_cast<std::int32_t>(i);
        return {delta[static_cast<size_t>(best)] + acc.shared, best};
    }

    // Replaces medoid `slot` by point j, whose distances are row_j. The loss is then re-summed
    // exactly with loss(), not updated by the predicted delta.
    void swap(index_t slot, index_t j, const T* row_j) {
        medoids_[static_cast<size_t>(slot)] = j;
        const auto b = static_cast<std::int32_t>(slot);
        for (index_t o = 0; o < n_; ++o) {
            const T d = weighted(o, row_j[o]);
            table_[static_cast<size_t>(o) * k_ + slot] = d;  // the table column of the new medoid
            if (o == j) {
                if (near_i[o] != b) seco_i[o] = near_i[o], seco_d[o] = near_d[o];
                near_i[o] = b, near_d[o] = T(0);
                continue;
            }
            if (near_i[o] == b) {
                if (d < seco_d[o]) {
                    near_d[o] = d;
                } else {
                    near_i[o] = seco_i[o], near_d[o] = seco_d[o];
                    second_excluding(o, near_i[o], b, d);
                }
            } else if (d < near_d[o]) {
                seco_i[o] = near_i[o], seco_d[o] = near_d[o];
                near_i[o] = b, near_d[o] = d;
            } else if (d < seco_d[o]) {
                seco_i[o] = b, seco_d[o] = d;
            } else if (seco_i[o] == b) {
                second_excluding(o, near_i[o], b, d);
            }
        }
    }

    std::vector<index_t> labels() const { return std::vector<index_t>(near_i.begin(), near_i.end()); }

    // Completes a result with the final loss, medoids and labels.
    KMedoidsResult finish(KMedoidsResult result, double loss) const {
        result.loss = loss;
        result.medoids = medoids_;
        result.labels = labels();
        return result;
    }

    std::vector<std::int32_t> near_i;
    std::vector<T> near_d;
    std::vector<std::int32_t> seco_i;
    std::vector<T> seco_d;

  private:
    // The scan is bound by reading the candidate's row from memory; asking for it a few
    // kilobytes ahead measured about 20% faster than the hardware prefetcher alone.
    static constexpr index_t kPrefetchAhead = 512;

    // The candidate kernel's per-point update. Only points for which the candidate is closer
    // than their second medoid change anything (a few percent of them for moderate k), so
    // blocks of 16 are screened with one vector comparison first.
    struct Accumulator {
        const std::int32_t* near_i;
        const T* near_d;
        const T* seco_d;
        double* delta;
        double shared;

        // With d < ds: if d < dn, j becomes o's nearest (shared gain d - dn, and removing o's
        // medoid costs dn - ds instead of 0); otherwise j only replaces o's second (d - ds).
        // Written without a branch on d < dn; adding an exact 0 changes nothing.
        // For d < ds: if also d < dn, j becomes o's nearest (shared gain d - dn; losing o's medoid
        // then costs dn - ds), otherwise j replaces o's second (d - ds). Written without a
        // branch on d < dn, which is unpredictable when many points are far from two medoids;
        // adding an exact 0 to `shared` changes nothing.
        void add(T d, index_t o) {
            if (!(d < seco_d[o])) return;
            const T dn = near_d[o], ds = seco_d[o];
            shared += std::min(static_cast<double>(d) - static_cast<double>(dn), 0.0);
            delta[near_i[o]] += static_cast<double>(std::max(d, dn)) - static_cast<double>(ds);
        }
        void add_block(const T* d, index_t o) {
            for (std::uint32_t mask = simd::less_mask16(d, seco_d + o); mask != 0; mask &= mask - 1) {
                const int t = simd::lowest_bit(mask);
                add(d[t], o + t);
            }
        }
    };

    const T* table_row(index_t o) const { return table_.data() + static_cast<size_t>(o) * k_; }

    void set_table_column(index_t slot, const T* row) {
        T* column = table_.data() + slot;
        for (index_t o = 0; o < n_; ++o) column[static_cast<size_t>(o) * k_] = weighted(o, row[o]);
    }

    // Second-nearest medoid of o among all but `nearest`, starting from (start_slot, start_d)
    // so that ties keep start_slot.
    void second_excluding(index_t o, std::int32_t nearest, std::int32_t start_slot, T start_d) {
        const T* dist = table_row(o);
        std::int32_t si = start_slot;
        T sd = start_d;
        for (index_t i = 0; i < k_; ++i) {
            if (i == nearest || i == start_slot) continue;
            if (dist[i] < sd) si = static_cast<std::int32_t>(i), sd = dist[i];
        }
        seco_i[o] = si, seco_d[o] = sd;
    }

    index_t n_, k_;
    const T* weights_;
    std::vector<index_t> medoids_;
    std::vector<T> table_;
};

}  // namespace vecclust
