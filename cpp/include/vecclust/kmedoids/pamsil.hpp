// PAMSIL (Van der Laan, Pollard & Bryan, 2003): PAM's best-swap search for the silhouette
// itself (silhouette.hpp's definition, each point labelled by its nearest medoid). Each trial
// relabels the points and sums every row of the distances: O(n^2) per trial, O(k n^3) per
// iteration, so it is for small n only.
#pragma once

#include <vector>  // std::vector

#include "vecclust/kmedoids/silhouette.hpp"  // silhouette_from_sums
#include "vecclust/kmedoids/swap_trials.hpp"

namespace vecclust {

// k >= 2 initial medoids; result.loss is n minus the sum of s(i).
template <class T, class Source>
KMedoidsResult pamsil(const Source& source, const std::vector<index_t>& initial, int max_iter, ThreadPool& pool) {
    require(initial.size() >= 2, "the silhouette needs at least 2 medoids");
    const index_t n = source.size(), k = static_cast<index_t>(initial.size());
    struct Workspace {
        std::vector<index_t> labels;
        std::vector<double> sums;
        std::vector<T> row;
    };
    std::vector<Workspace> work(static_cast<size_t>(pool.size()));
    auto objective = [&](const SwapTrial<T>& trial, index_t slot, index_t j, const T* row_j, int thread_id) {
        Workspace& w = work[static_cast<size_t>(thread_id)];
        w.labels.resize(static_cast<size_t>(n));
        w.sums.assign(static_cast<size_t>(n * k), 0.0);
        w.row.resize(static_cast<size_t>(n));
        for (index_t o = 0; o < n; ++o) w.labels[static_cast<size_t>(o)] = trial.nearest_two(o, slot, j, row_j).i1;
        for (index_t o = 0; o < n; ++o) {
            const T* row = source.row(o, w.row.data());
            double* sums = w.sums.data() + static_cast<size_t>(o * k);
            for (index_t p = 0; p < n; ++p)
                if (p != o) sums[w.labels[static_cast<size_t>(p)]] += static_cast<double>(row[p]);
        }
        double total = 0.0;
        for (double s : silhouette_from_sums<T>(w.sums, n, w.labels.data(), k, nullptr)) total += s;
        return total;
    };
    // Slot-major: each medoid in turn is tried against every candidate.
    return trial_descent<T>(source, initial, max_iter, pool, objective, true);
}

}  // namespace vecclust
