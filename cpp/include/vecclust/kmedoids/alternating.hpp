// Alternating k-medoids (k-means style, Park & Jun / Maranzana): assign every point to its
// nearest medoid, then move each medoid to the member with the smallest total deviation
// within its cluster, until no medoid moves. Fast per iteration but a weaker optimum than
// the swap-based methods.
#pragma once

#include <algorithm>  // std::count
#include <utility>  // std::move
#include <vector>     // std::vector

#include "vecclust/kmedoids/init.hpp"
#include "vecclust/kmedoids/state.hpp"
#include "vecclust/base/parallel.hpp"

namespace vecclust {

template <class T, class Source>
KMedoidsResult alternating(const Source& source, const std::vector<index_t>& initial, const T* weights, int max_iter,
                           ThreadPool& pool) {
    const index_t n = source.size(), k = static_cast<index_t>(initial.size());
    MedoidAssignment<T> state(n, k, weights);
    std::vector<T> row(static_cast<size_t>(n));
    double loss = state.reset(source, initial, row);
    std::vector<index_t> medoids = initial;
    std::vector<std::vector<index_t>> members(static_cast<size_t>(k));
    KMedoidsResult result;
    result.converged = false;
    while (result.n_iter < max_iter) {
        ++result.n_iter;
        for (auto& m : members) m.clear();
        for (index_t o = 0; o < n; ++o) members[static_cast<size_t>(state.near_i[o])].push_back(o);
        std::vector<char> moved(static_cast<size_t>(k), 0);
        pool.run(k, [&](index_t i, int) {
            const auto& cluster = members[static_cast<size_t>(i)];
            auto deviation = [&](index_t candidate) {
                double total = 0.0;
                for (index_t o : cluster) total += static_cast<double>(state.weighted(o, source.at(candidate, o)));
                return total;
            };
            index_t best = medoids[static_cast<size_t>(i)];
            double best_cost = deviation(best);
            for (index_t candidate : cluster) {
                if (candidate == best) continue;
                const double cost = deviation(candidate);
                if (cost < best_cost) best = candidate, best_cost = cost;
            }
            if (best != medoids[static_cast<size_t>(i)]) medoids[static_cast<size_t>(i)] = best, moved[static_cast<size_t>(i)] = 1;
        });
        bool any_moved = false;
        for (char m : moved) any_moved |= (m != 0);
        if (!any_moved) {
            result.converged = true;
            break;
        }
        result.n_swaps += static_cast<int>(std::count(moved.begin(), moved.end(), 1));
        loss = state.reset(source, medoids, row);
    }
    return state.finish(std::move(result), loss);
}

}  // namespace vecclust
