// DynMSC (Lenssen & Schubert, 2024): FasterMSC over a range of k that keeps the k with the
// highest average medoid silhouette. It starts from max_k initial medoids; after each run
// the medoid whose removal lowers the silhouette least is dropped, and the k - 1 left start
// the next run, down to min_k.
#pragma once

#include <algorithm>  // std::min_element
#include <vector>     // std::vector

#include "vecclust/kmedoids/msc_swaps.hpp"

namespace vecclust {

struct DynMscResult {
    KMedoidsResult best;
    index_t best_k = 0;
    std::vector<double> silhouettes;  // the average medoid silhouette of k = min_k .. max_k
    int n_iter = 0, n_swaps = 0;      // over all runs
};

template <class T, class Source>
DynMscResult dynmsc(const Source& source, const std::vector<index_t>& initial, index_t min_k, int max_iter,
                    ThreadPool& pool) {
    const index_t n = source.size(), max_k = static_cast<index_t>(initial.size());
    require(min_k >= 2 && min_k <= max_k, "DynMSC needs 2 <= min_k <= max_k");
    DynMscResult out;
    out.silhouettes.assign(static_cast<size_t>(max_k - min_k + 1), 0.0);
    std::vector<index_t> medoids = initial;
    std::vector<T> row(static_cast<size_t>(n));
    std::vector<double> removal;
    for (index_t k = max_k; k >= min_k; --k) {
        KMedoidsResult run = fastermsc<T>(source, medoids, max_iter, pool);
        out.n_iter += run.n_iter;
        out.n_swaps += run.n_swaps;
        MscAssignment<T> state(n, k, nullptr);
        state.reset(source, run.medoids, row);
        const double silhouette = state.silhouette_sum() / static_cast<double>(n);
        out.silhouettes[static_cast<size_t>(k - min_k)] = silhouette;
        if (out.best_k == 0 || silhouette > out.silhouettes[static_cast<size_t>(out.best_k - min_k)]) {
            out.best = run;
            out.best_k = k;
        }
        if (k == min_k) break;
        state.removal_loss(removal);
        // The last medoid takes the slot of the one dropped (the order kmedoids.dynmsc keeps).
        medoids = run.medoids;
        medoids[static_cast<size_t>(std::min_element(removal.begin(), removal.end()) - removal.begin())] = medoids.back();
        medoids.pop_back();
    }
    return out;
}

}  // namespace vecclust
