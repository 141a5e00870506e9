// PAM's SWAP phase in two forms that make exactly the same swaps: the original best-swap
// search, which prices each (medoid, candidate) pair separately in O(n) (O(k n^2) per swap,
// the slow reference), and FastPAM1 (Schubert & Rousseeuw, 2019/2021), which prices all k
// medoids of a candidate in one O(n) pass (O(n^2) per swap). Both take the single best swap
// per iteration, the first (candidate, medoid) pair in index order on ties.
#pragma once

#include <limits>  // std::numeric_limits
#include <utility>  // std::move
#include <vector>  // std::vector

#include "vecclust/kmedoids/init.hpp"
#include "vecclust/kmedoids/state.hpp"
#include "vecclust/base/parallel.hpp"

namespace vecclust {

namespace detail {

struct BestSwap {
    double delta = std::numeric_limits<double>::infinity();
    index_t candidate = -1;
    index_t slot = -1;
};

// Best swap over all non-medoid candidates; price(j, thread_id) returns (delta, slot) for j.
// Candidates are cut into fixed chunks and chunk winners combined in order, so the winner
// does not depend on the thread count.
template <class Price>
BestSwap best_swap(index_t n, ThreadPool& pool, Price&& price) {
    constexpr index_t kChunk = 16;
    const index_t n_chunks = (n + kChunk - 1) / kChunk;
    std::vector<BestSwap> chunk_best(static_cast<size_t>(n_chunks));
    pool.run(n_chunks, [&](index_t c, int thread_id) {
        BestSwap& best = chunk_best[static_cast<size_t>(c)];
        for (index_t j = c * kChunk; j < std::min(n, (c + 1) * kChunk); ++j) {
            const BestSwap swap = price(j, thread_id);
            if (swap.candidate >= 0 && swap.delta < best.delta) best = swap;
        }
    });
    BestSwap overall;
    for (const auto& best : chunk_best)
        if (best.candidate >= 0 && best.delta < overall.delta) overall = best;
    return overall;
}

// The SWAP loop shared by PAM and FastPAM1 (and, with MscAssignment, FastMSC); `price` knows
// how to cost one candidate.
template <class T, class Source, class MakePrice, class State = MedoidAssignment<T>>
KMedoidsResult best_swap_descent(const Source& source, const std::vector<index_t>& initial, const T* weights, int max_iter,
                                 ThreadPool& pool, MakePrice&& make_price) {
    const index_t n = source.size(), k = static_cast<index_t>(initial.size());
    RowScratch<T> scratch(pool.size(), n);
    State state(n, k, weights);
    std::vector<T> swap_row(static_cast<size_t>(n));
    double loss = state.reset(source, initial, swap_row);
    KMedoidsResult result;
    result.converged = false;
    while (result.n_iter < max_iter) {
        ++result.n_iter;
        auto price = make_price(state, scratch);
        const BestSwap best = best_swap(n, pool, price);
        if (best.candidate < 0 || !(best.delta < 0.0)) {
            result.converged = true;
            break;
        }
        state.swap(best.slot, best.candidate, source.row(best.candidate, swap_row.data()));
        const double new_loss = state.loss();
        ++result.n_swaps;
        const bool improved = new_loss < loss;
        loss = new_loss;
        if (!improved) {  // the predicted gain was rounding noise
            result.converged = true;
            break;
        }
    }
    return state.finish(std::move(result), loss);
}

}  // namespace detail

// State: MedoidAssignment for FastPAM1; MscAssignment (msc_state.hpp) makes it FastMSC.
template <class T, class Source, class State = MedoidAssignment<T>>
KMedoidsResult fastpam1(const Source& source, const std::vector<index_t>& initial, const T* weights, int max_iter,
                        ThreadPool& pool) {
    const index_t k = static_cast<index_t>(initial.size());
    std::vector<double> removal;
    std::vector<std::vector<double>> delta(static_cast<size_t>(pool.size()), std::vector<double>(static_cast<size_t>(k)));
    auto make_price = [&](const State& state, RowScratch<T>& scratch) {
        state.removal_loss(removal);
        return [&, &state = state, &scratch = scratch](index_t j, int thread_id) {
            if (state.is_medoid(j)) return detail::BestSwap{};
            const auto gain = state.evaluate_candidate(source.row(j, scratch[thread_id]), removal, delta[static_cast<size_t>(thread_id)]);
            return detail::BestSwap{gain.delta, j, gain.slot};
        };
    };
    return detail::best_swap_descent<T, Source, decltype(make_price)&, State>(source, initial, weights, max_iter, pool,
                                                                              make_price);
}

template <class T, class Source>
KMedoidsResult pam_swap(const Source& source, const std::vector<index_t>& initial, const T* weights, int max_iter,
                        ThreadPool& pool) {
    const index_t n = source.size(), k = static_cast<index_t>(initial.size());
    return detail::best_swap_descent<T>(source, initial, weights, max_iter, pool, [&](const MedoidAssignment<T>& state, RowScratch<T>& scratch) {
        return [&, &state = state, &scratch = scratch](index_t j, int thread_id) {
            detail::BestSwap best;
            if (state.is_medoid(j)) return best;
            const T* row = source.row(j, scratch[thread_id]);
            for (index_t i = 0; i < k; ++i) {
                // Loss change of replacing medoid i by j: each point moves to j, stays, or (if
                // it lost medoid i) falls back to the nearer of j and its second medoid.
                double delta = 0.0;
                for (index_t o = 0; o < n; ++o) {
                    const T d = state.weighted(o, row[o]);
                    const T dn = state.near_d[o];
                    if (state.near_i[o] == i) {
                        delta += static_cast<double>(std::min(d, state.seco_d[o])) - static_cast<double>(dn);
                    } else if (d < dn) {
                        delta += static_cast<double>(d) - static_cast<double>(dn);
                    }
                }
                if (delta < best.delta) best = {delta, j, i};
            }
            return best;
        };
    });
}

}  // namespace vecclust
