// k-means seeding: greedy k-means++. (init="random" draws rows in Python; an init array is
// used as it is.)
#pragma once

#include <algorithm>  // std::copy, std::min, std::upper_bound
#include <cmath>      // std::log
#include <cstdint>    // std::uint64_t
#include <limits>     // std::numeric_limits
#include <vector>     // std::vector

#include "vecclust/base/parallel.hpp"
#include "vecclust/base/random.hpp"
#include "vecclust/kmeans/kernels.hpp"

namespace vecclust {

// Greedy k-means++ (Arthur & Vassilvitskii, with the 2 + ln k candidate trials scikit-learn
// uses): each new centre is the candidate, drawn with probability proportional to
// weight * squared distance, that most reduces the potential. Returns k x d centres.
template <class T>
std::vector<T> kmeans_plusplus(const T* x, index_t n, index_t d, const T* weights, index_t k, std::uint64_t seed,
                               ThreadPool& pool) {
    require(k >= 1 && k <= n, "k-means++ needs 1 <= k <= n");
    Rng rng(seed);
    const index_t n_trials = 2 + static_cast<index_t>(std::log(static_cast<double>(k)));
    auto weight = [&](index_t i) { return weights ? static_cast<double>(weights[i]) : 1.0; };
    std::vector<double> cumulative(static_cast<size_t>(n));
    auto draw = [&](double total) {  // index with probability proportional to its cumulative step
        const double target = rng.uniform() * total;
        auto it = std::upper_bound(cumulative.begin(), cumulative.end(), target);
        return std::min<index_t>(static_cast<index_t>(it - cumulative.begin()), n - 1);
    };
    std::vector<T> centers(static_cast<size_t>(k * d));
    std::vector<double> closest(static_cast<size_t>(n));
    const index_t n_chunks = (n + kmeans_detail::kChunk - 1) / kmeans_detail::kChunk;

    double running = 0.0;
    for (index_t i = 0; i < n; ++i) cumulative[static_cast<size_t>(i)] = running += weight(i);
    index_t first = draw(running);
    std::copy(x + first * d, x + (first + 1) * d, centers.begin());
    pool.for_chunks(n, kmeans_detail::kChunk, [&](index_t begin, index_t end, index_t) {
        for (index_t i = begin; i < end; ++i)
            closest[static_cast<size_t>(i)] = kmeans_detail::squared_distance(x + i * d, x + first * d, d);
    });

    std::vector<index_t> candidates(static_cast<size_t>(n_trials));
    std::vector<double> chunk_potential(static_cast<size_t>(n_chunks * n_trials));
    for (index_t c = 1; c < k; ++c) {
        running = 0.0;
        for (index_t i = 0; i < n; ++i) cumulative[static_cast<size_t>(i)] = running += weight(i) * closest[static_cast<size_t>(i)];
        for (auto& candidate : candidates) candidate = running > 0 ? draw(running) : rng.below(n);
        // Potential if each candidate were added, summed per chunk then in chunk order.
        pool.for_chunks(n, kmeans_detail::kChunk, [&](index_t begin, index_t end, index_t chunk) {
            for (index_t t = 0; t < n_trials; ++t) {
                const T* candidate = x + candidates[static_cast<size_t>(t)] * d;
                double sum = 0.0;
                for (index_t i = begin; i < end; ++i)
                    sum += weight(i) * std::min(closest[static_cast<size_t>(i)],
                                                static_cast<double>(kmeans_detail::squared_distance(x + i * d, candidate, d)));
                chunk_potential[static_cast<size_t>(chunk * n_trials + t)] = sum;
            }
        });
        index_t best_trial = 0;
        double best_potential = std::numeric_limits<double>::infinity();
        for (index_t t = 0; t < n_trials; ++t) {
            double potential = 0.0;
            for (index_t chunk = 0; chunk < n_chunks; ++chunk) potential += chunk_potential[static_cast<size_t>(chunk * n_trials + t)];
            if (potential < best_potential) best_potential = potential, best_trial = t;
        }
        const T* chosen = x + candidates[static_cast<size_t>(best_trial)] * d;
        std::copy(chosen, chosen + d, centers.begin() + c * d);
        pool.for_chunks(n, kmeans_detail::kChunk, [&](index_t begin, index_t end, index_t) {
            for (index_t i = begin; i < end; ++i)
                closest[static_cast<size_t>(i)] = std::min(
                    closest[static_cast<size_t>(i)], static_cast<double>(kmeans_detail::squared_distance(x + i * d, chosen, d)));
        });
    }
    return centers;
}

}  // namespace vecclust
