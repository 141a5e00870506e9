// FastCLARANS (Schubert & Rousseeuw, 2019/2021): randomised search of the swap neighbourhood.
// Candidates are drawn in random order; each is priced against all k medoids at once in one
// O(n) pass (the FasterPAM kernel), and the best swap for it is taken if it lowers the loss.
// After `max_neighbor` consecutive candidates without improvement the search declares a local
// optimum; n_local such searches from random medoids are made and the best kept. Distances come
// from the source on demand: nothing of size n x n is stored (O(n k) for the medoid table).
// Optionally the best search's medoids are then refined on all points as CLARA's are
// (refine.hpp): a search stopped by max_neighbor is rarely at a local optimum.
#pragma once

#include <algorithm>  // std::min
#include <cstdint>    // std::uint64_t
#include <string>       // std::to_string
#include <type_traits>  // std::decay_t
#include <utility>      // std::move, std::swap
#include <vector>       // std::vector

#include "vecclust/kmedoids/clara.hpp"
#include "vecclust/kmedoids/eager_swap.hpp"
#include "vecclust/kmedoids/kmedoids.hpp"
#include "vecclust/kmedoids/refine.hpp"

namespace vecclust {

struct ClaransOptions {
    index_t n_clusters = 0;
    int n_local = 2;
    index_t max_neighbor = 1;  // consecutive candidates without improvement that end a search
    std::uint64_t seed = 0;
    bool refine = true;  // refine the best search's medoids on all points (refine.hpp)
    index_t swap_candidates = 8;  // per medoid in each swap round of the refinement; 0: no swaps
};

struct ClaransResult {
    KMedoidsResult best;  // n_iter counts the candidates tried by the best search
    int best_local = 0;
    std::vector<double> local_losses;
    std::vector<double> swap_losses;  // best search: loss at the start and after each swap
    std::vector<double> refine_losses;  // the loss after each refinement step kept
};

// What CLARANS reads: `source` for the search (distance rows on demand) and `data` for the
// refinement (CLARA's views, on the same array).
template <class T>
struct ClaransFeatures {
    ClaransFeatures(const T* x, index_t n, index_t d, Metric metric) : source(x, n, d, metric), data(x, n, d, metric) {}
    FeatureSource<T> source;
    ClaraFeatures<T> data;
};

template <class T>
struct ClaransMatrix {
    ClaransMatrix(const T* x, index_t n) : source(x, n), data(x, n) {}
    MatrixSource<T> source;
    ClaraMatrix<T> data;
};

template <class T, class View>
ClaransResult fastclarans(const View& view, const T* weights, const ClaransOptions& options, Control& control) {
    using Source = std::decay_t<decltype(view.source)>;
    const Source& source = view.source;
    const index_t n = source.size(), k = options.n_clusters;
    require(k >= 1 && k <= n, "the number of medoids k=" + std::to_string(k) + " must be in [1, n_samples=" + std::to_string(n) + "]");
    // After n failures in a row every candidate has been tried against the current medoids.
    const index_t max_neighbor = std::min(options.max_neighbor, n);
    ThreadPool pool(control);
    Rng seeds(options.seed);
    ClaransResult result;
    for (int local = 0; local < options.n_local; ++local) {
        Rng rng(seeds.fork());
        const std::vector<index_t> initial = sample_without_replacement(n, k, rng);
        KMedoidsResult run;
        std::vector<double> losses;
        if (k == 1) {  // one medoid: the exact answer is one scan away
            double start_loss = 0.0;
            run = single_medoid<T>(source, initial[0], weights, pool, &start_loss);
            losses = {start_loss};
            if (run.n_swaps > 0) losses.push_back(run.loss);
        } else {
            std::vector<index_t> order(static_cast<size_t>(n));
            for (index_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
            for (index_t i = n - 1; i > 0; --i) std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(rng.below(i + 1))]);

            MedoidAssignment<T> state(n, k, weights);
            std::vector<T> row(static_cast<size_t>(n));
            double loss = state.reset(source, initial, row);
            losses.push_back(loss);
            EagerSwapper<T, Source> swapper(source, state, pool);
            index_t cursor = 0, failures = 0;
            run.converged = true;
            while (failures < max_neighbor) {
                // A gain must beat rounding noise to count (ELKI's rule), so every swap lowers the loss.
                const auto hit = swapper.first_improving(
                    max_neighbor - failures, [&](index_t p) { return order[static_cast<size_t>((cursor + p) % n)]; }, -1e-12 * loss);
                if (hit.position < 0) {
                    run.n_iter += static_cast<int>(max_neighbor - failures);
                    break;
                }
                const index_t j = order[static_cast<size_t>((cursor + hit.position) % n)];
                const double before = loss;
                swapper.swap(hit.gain.slot, j);
                loss = state.loss();
                losses.push_back(loss);
                run.n_iter += static_cast<int>(hit.position + 1);
                ++run.n_swaps;
                cursor = (cursor + hit.position + 1) % n;
                // A swap whose gain was rounding (the loss did not drop) is no progress: counting it
                // as a failure ends the search where such swaps could otherwise cycle for ever.
                failures = loss < before ? 0 : failures + hit.position + 1;
            }
            run = state.finish(std::move(run), loss);
        }
        result.local_losses.push_back(run.loss);
        const std::string summary = std::to_string(run.n_swaps) + " swaps in " + std::to_string(run.n_iter) +
                                    " tries, loss " + std::to_string(run.loss);
        const bool improved = local == 0 || run.loss < result.best.loss;
        if (improved) {
            result.best = std::move(run);
            result.best_local = local;
            result.swap_losses = std::move(losses);
        }
        if (control.verbose())
            control.report("CLARANS search " + std::to_string(local + 1) + "/" + std::to_string(options.n_local) + ": " +
                           summary + (improved ? " (best so far)" : ""));
        control.poll();
    }
    if (options.refine) {
        RefineOptions refine;
        refine.seed = seeds.fork();
        refine.swap.candidates = options.swap_candidates;
        result.refine_losses = refine_medoids<T>(view.data, weights, result.best, refine, pool);
    }
    return result;
}

}  // namespace vecclust
