// FasterPAM (Schubert & Rousseeuw, 2021): eager swapping with the O(n) all-medoids kernel.
//
// Candidates are scanned in index order; the first one whose best swap lowers the loss is
// swapped in at once, and the scan goes on from the next index against the new state. The
// search stops after a whole cycle of candidates without improvement. (Parallel evaluation:
// see eager_swap.hpp.)
#pragma once

#include <utility>  // std::move
#include <vector>   // std::vector

#include "vecclust/kmedoids/eager_swap.hpp"

namespace vecclust {

// State: MedoidAssignment for FasterPAM; MscAssignment (msc_state.hpp) makes it FasterMSC.
template <class T, class Source, class State = MedoidAssignment<T>>
KMedoidsResult fasterpam(const Source& source, const std::vector<index_t>& initial, const T* weights, int max_iter,
                         ThreadPool& pool) {
    const index_t n = source.size(), k = static_cast<index_t>(initial.size());
    State state(n, k, weights);
    std::vector<T> row(static_cast<size_t>(n));
    double loss = state.reset(source, initial, row);
    EagerSwapper<T, Source, State> swapper(source, state, pool);

    KMedoidsResult result;
    result.converged = false;
    index_t last_swap = -1;  // a pass ends when the scan comes back round to the last swap
    while (result.n_iter < max_iter) {
        ++result.n_iter;
        const int swaps_before = result.n_swaps;
        const double loss_before = loss;
        for (index_t next = 0; next < n;) {
            const index_t stop = last_swap >= next ? last_swap : n;
            const auto hit = swapper.first_improving(stop - next, [&](index_t p) { return next + p; }, 0.0);
            if (hit.position < 0) break;
            const index_t j = next + hit.position;
            swapper.swap(hit.gain.slot, j);
            ++result.n_swaps;
            last_swap = j;
            next = j + 1;
        }
        // A pass without swaps is convergence; a pass whose swaps did not lower the re-summed
        // loss means the predicted gains were rounding noise, so stop as well. (The loss is
        // re-summed once per pass: only its value at the end of a pass is ever used.)
        if (result.n_swaps > swaps_before) loss = state.loss();
        if (result.n_swaps == swaps_before || loss >= loss_before) {
            result.converged = true;
            break;
        }
    }
    return state.finish(std::move(result), loss);
}

}  // namespace vecclust
