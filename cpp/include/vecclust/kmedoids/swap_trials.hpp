// The search of the original PAMSIL and PAMMEDSIL (Van der Laan, Pollard & Bryan, 2003): each
// iteration tries every (medoid, non-medoid) swap by computing the objective of the swapped
// medoids from scratch, and makes the best swap if it raises the objective. It is the slow
// reference (FastMSC makes PAMMEDSIL's swaps k^2 times faster); meant for small n.
//
// The objective is a sum over points to maximise (the silhouette or medoid silhouette sum);
// result.loss is n minus it. Every trial's value is computed by the same serial code and the
// best is picked in a fixed order afterwards, so the result is the same for any thread count.
#pragma once

#include <cstdint>  // std::int32_t
#include <limits>   // std::numeric_limits
#include <utility>  // std::move
#include <vector>   // std::vector

#include "vecclust/base/common.hpp"
#include "vecclust/base/parallel.hpp"
#include "vecclust/kmedoids/init.hpp"   // RowScratch
#include "vecclust/kmedoids/state.hpp"  // KMedoidsResult

namespace vecclust {

// The current medoids and an n x k table of the distances to them; a trial replaces one slot
// by a candidate without changing the table.
template <class T>
class SwapTrial {
  public:
    struct Two {
        T d1, d2;
        std::int32_t i1;  // the slot of the nearest medoid
    };

    SwapTrial(index_t n, index_t k) : n_(n), k_(k), table_(static_cast<size_t>(n * k)) {}

    index_t n() const { return n_; }
    index_t k() const { return k_; }
    const std::vector<index_t>& medoids() const { return medoids_; }
    bool is_medoid(index_t j) const {
        for (index_t m : medoids_)
            if (m == j) return true;
        return false;
    }

    template <class Source>
    void reset(const Source& source, const std::vector<index_t>& medoids, T* scratch) {
        medoids_ = medoids;
        for (index_t i = 0; i < k_; ++i) set(i, medoids_[static_cast<size_t>(i)], source.row(medoids_[static_cast<size_t>(i)], scratch));
    }

    void set(index_t slot, index_t j, const T* row) {
        medoids_[static_cast<size_t>(slot)] = j;
        for (index_t o = 0; o < n_; ++o) table_[static_cast<size_t>(o * k_ + slot)] = row[o];
    }

    // The nearest two medoids of o with `slot` replaced by j (row_j its distances); slot < 0:
    // the current medoids. Ties go to the lower slot; a point that is a medoid is that medoid's.
    Two nearest_two(index_t o, index_t slot, index_t j, const T* row_j) const {
        Two p{std::numeric_limits<T>::infinity(), std::numeric_limits<T>::infinity(), 0};
        const T* dist = table_.data() + static_cast<size_t>(o * k_);
        for (index_t i = 0; i < k_; ++i) {
            const index_t m = i == slot ? j : medoids_[static_cast<size_t>(i)];
            const T d = m == o ? T(0) : i == slot ? row_j[o] : dist[i];
            if (d < p.d1 || m == o) p.d2 = p.d1, p.d1 = d, p.i1 = static_cast<std::int32_t>(i);
            else if (d < p.d2) p.d2 = d;
        }
        return p;
    }

    std::vector<index_t> labels() const {
        std::vector<index_t> out(static_cast<size_t>(n_));
        for (index_t o = 0; o < n_; ++o) out[static_cast<size_t>(o)] = nearest_two(o, -1, -1, nullptr).i1;
        return out;
    }

  private:
    index_t n_, k_;
    std::vector<index_t> medoids_;
    std::vector<T> table_;  // table_[o * k + i] = d(o, medoid i)
};

// objective(trial, slot, j, row_j, thread_id): the objective with `slot` replaced by j (slot
// < 0: the current medoids). Ties between trials go to the first in the order (slot-major if
// `slot_major`, else candidate-major, lower slot first).
template <class T, class Source, class Objective>
KMedoidsResult trial_descent(const Source& source, const std::vector<index_t>& initial, int max_iter, ThreadPool& pool,
                             Objective&& objective, bool slot_major) {
    const index_t n = source.size(), k = static_cast<index_t>(initial.size());
    SwapTrial<T> trial(n, k);
    RowScratch<T> scratch(pool.size(), n);
    std::vector<T> row(static_cast<size_t>(n));
    trial.reset(source, initial, row.data());
    double current = objective(trial, -1, -1, nullptr, 0);
    std::vector<double> value(static_cast<size_t>(n * k));
    KMedoidsResult result;
    result.converged = false;
    while (result.n_iter < max_iter) {
        ++result.n_iter;
        pool.run(n, [&](index_t j, int thread_id) {
            const bool medoid = trial.is_medoid(j);
            const T* row_j = medoid ? nullptr : source.row(j, scratch[thread_id]);
            for (index_t slot = 0; slot < k; ++slot)
                value[static_cast<size_t>(slot * n + j)] =
                    medoid ? -std::numeric_limits<double>::infinity() : objective(trial, slot, j, row_j, thread_id);
        });
        double best = current;
        index_t best_slot = -1, best_j = -1;
        for (index_t a = 0; a < (slot_major ? k : n); ++a)
            for (index_t b = 0; b < (slot_major ? n : k); ++b) {
                const index_t slot = slot_major ? a : b, j = slot_major ? b : a;
                if (value[static_cast<size_t>(slot * n + j)] > best)
                    best = value[static_cast<size_t>(slot * n + j)], best_slot = slot, best_j = j;
            }
        if (best_j < 0) {
            result.converged = true;
            break;
        }
        trial.set(best_slot, best_j, source.row(best_j, row.data()));
        ++result.n_swaps;
        current = best;
    }
    result.loss = static_cast<double>(n) - current;
    result.medoids = trial.medoids();
    result.labels = trial.labels();
    return result;
}

}  // namespace vecclust
