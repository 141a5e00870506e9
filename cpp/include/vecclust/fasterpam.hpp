// FasterPAM (Schubert & Rousseeuw, 2021): eager swapping with the O(n) all-medoids kernel.
//
// Candidates are scanned in index order; the first one whose best swap lowers the loss is
// swapped in at once, and the scan goes on from the next index against the new state. The
// search stops after n consecutive candidates (cyclically) gave no improvement.
//
// Threads: FasterPAM is sequential by definition, so threads evaluate a block of upcoming
// candidates against the same state, and the first improving one in index order is applied;
// the candidates after it are evaluated again from the new state. Each candidate is always
// evaluated by the same serial code, so the result is identical for every thread count.
#pragma once

#include <algorithm>  // std::min
#include <limits>     // std::numeric_limits
#include <utility>  // std::move
#include <vector>     // std::vector

#include "vecclust/kmedoids_init.hpp"
#include "vecclust/kmedoids_state.hpp"
#include "vecclust/parallel.hpp"

namespace vecclust {

template <class T, class Source>
KMedoidsResult fasterpam(const Source& source, const std::vector<index_t>& initial, const T* weights, int max_iter,
                         ThreadPool& pool) {
    const index_t n = source.size(), k = static_cast<index_t>(initial.size());
    const int n_threads = pool.size();
    RowScratch<T> scratch(n_threads, n);
    MedoidAssignment<T> state(n, k, weights);
    std::vector<T> swap_row(static_cast<size_t>(n));
    double loss = state.reset(source, initial, swap_row);
    std::vector<double> removal;
    state.removal_loss(removal);
    std::vector<std::vector<double>> delta(static_cast<size_t>(n_threads), std::vector<double>(static_cast<size_t>(k)));

    // Speculation grows while blocks find nothing (late passes) and shrinks after a swap.
    const index_t max_block = n_threads == 1 ? 1 : 16 * n_threads;
    index_t block = n_threads;
    using Gain = typename MedoidAssignment<T>::SwapGain;
    std::vector<Gain> gains(static_cast<size_t>(max_block));

    KMedoidsResult result;
    result.converged = false;
    index_t last_swap = -1;  // the scan stops when it comes back round to the last swap
    while (result.n_iter < max_iter) {
        ++result.n_iter;
        const int swaps_before = result.n_swap;
        const double loss_before = loss;
        index_t next = 0;
        bool pass_done = false;
        while (next < n && !pass_done) {
            index_t end = std::min(n, next + block);
            if (last_swap >= next && last_swap < end) end = last_swap, pass_done = true;
            pool.run(end - next, [&](index_t t, int thread_id) {
                const index_t j = next + t;
                gains[static_cast<size_t>(t)] =
                    state.is_medoid(j) ? Gain{std::numeric_limits<double>::infinity(), 0}
                                       : state.evaluate_candidate(source.row(j, scratch[thread_id]), removal,
                                                                  delta[static_cast<size_t>(thread_id)]);
            });
            index_t hit = -1;
            for (index_t t = 0; t < end - next; ++t) {
                if (gains[static_cast<size_t>(t)].delta < 0.0) {
                    hit = t;
                    break;
                }
            }
            if (hit < 0) {
                next = end;
                block = std::min(max_block, 2 * block);
                continue;
            }
            const index_t j = next + hit;
            state.swap(gains[static_cast<size_t>(hit)].slot, j, source.row(j, swap_row.data()));
            state.removal_loss(removal);
            ++result.n_swap;
            last_swap = j;
            next = j + 1;
            pass_done = false;
            block = n_threads;
        }
        // A pass without swaps is convergence; a pass whose swaps did not lower the re-summed
        // loss means the predicted gains were rounding noise, so stop as well. (The loss is
        // re-summed once per pass: only its value at the end of a pass is ever used.)
        if (result.n_swap > swaps_before) loss = state.loss();
        if (result.n_swap == swaps_before || loss >= loss_before) {
            result.converged = true;
            break;
        }
    }
    return state.finish(std::move(result), loss);
}

}  // namespace vecclust
