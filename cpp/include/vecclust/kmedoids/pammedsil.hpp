// PAMMEDSIL (Van der Laan, Pollard & Bryan, 2003): PAM's best-swap search for the medoid
// silhouette, each trial's objective computed from scratch in O(n k): O(k^2 n^2) per
// iteration. FastMSC (msc_swaps.hpp) makes the same swaps faster.
#pragma once

#include <vector>  // std::vector

#include "vecclust/kmedoids/medoid_silhouette.hpp"
#include "vecclust/kmedoids/swap_trials.hpp"

namespace vecclust {

// k >= 2 initial medoids; result.loss is sum_o (1 - s(o)).
template <class T, class Source>
KMedoidsResult pammedsil(const Source& source, const std::vector<index_t>& initial, int max_iter, ThreadPool& pool) {
    require(initial.size() >= 2, "the medoid silhouette needs at least 2 medoids");
    auto objective = [](const SwapTrial<T>& trial, index_t slot, index_t j, const T* row_j, int) {
        double total = 0.0;
        for (index_t o = 0; o < trial.n(); ++o) {
            const auto p = trial.nearest_two(o, slot, j, row_j);
            total += medoid_silhouette_of(p.d1, p.d2);
        }
        return total;
    };
    // Candidate-major, as FastMSC finds the best medoid of each candidate in turn.
    return trial_descent<T>(source, initial, max_iter, pool, objective, false);
}

}  // namespace vecclust
