// The k-medoids entry point: initialisation, restarts, and the choice of swap algorithm.
#pragma once

#include <cstdint>  // std::uint64_t
#include <string>   // std::string
#include <vector>   // std::vector

#include "vecclust/kmedoids/alternating.hpp"
#include "vecclust/kmedoids/fasterpam.hpp"
#include "vecclust/kmedoids/init.hpp"
#include "vecclust/kmedoids/pam.hpp"

namespace vecclust {

// The names are those of METHODS in Python (vecclust/_kmedoids/choices.py).
enum class Method { fasterpam, fastpam1, pam, alternate };

inline Method parse_method(const std::string& name) {
    if (name == "fasterpam") return Method::fasterpam;
    if (name == "fastpam1") return Method::fastpam1;
    if (name == "pam") return Method::pam;
    if (name == "alternate") return Method::alternate;
    throw std::invalid_argument("unknown method '" + name + "'");
}

struct KMedoidsOptions {
    Method method = Method::fasterpam;
    Init init = Init::random;
    index_t n_clusters = 0;
    std::vector<index_t> initial_medoids;  // used instead of `init` when not empty
    int max_iter = 100;
    int n_init = 1;
    std::uint64_t seed = 0;
};

// The single best medoid (k = 1) is found exactly by scanning every point's total deviation.
// `start_loss`, if given, receives the loss of the starting medoid.
template <class T, class Source>
KMedoidsResult single_medoid(const Source& source, index_t start, const T* weights, ThreadPool& pool,
                             double* start_loss = nullptr) {
    const index_t n = source.size();
    RowScratch<T> scratch(pool.size(), n);
    std::vector<double> cost(static_cast<size_t>(n));
    pool.run(n, [&](index_t j, int thread_id) {
        const T* row = source.row(j, scratch[thread_id]);
        double total = 0.0;
        for (index_t o = 0; o < n; ++o) total += static_cast<double>(detail::weight_of(weights, o) * row[o]);
        cost[static_cast<size_t>(j)] = total;
    });
    if (start_loss) *start_loss = cost[static_cast<size_t>(start)];
    index_t best = start;
    for (index_t j = 0; j < n; ++j)
        if (cost[static_cast<size_t>(j)] < cost[static_cast<size_t>(best)]) best = j;
    KMedoidsResult result;
    result.loss = cost[static_cast<size_t>(best)];
    result.medoids = {best};
    result.labels.assign(static_cast<size_t>(n), 0);
    result.n_iter = 1;
    result.n_swaps = best != start ? 1 : 0;
    return result;
}

template <class T, class Source>
KMedoidsResult kmedoids_from(const Source& source, const std::vector<index_t>& initial, Method method, const T* weights,
                             int max_iter, ThreadPool& pool) {
    // One medoid: the swap kernels need a second medoid, and the exact answer is one scan away.
    if (initial.size() == 1 && max_iter > 0)
        return single_medoid<T>(source, initial[0], weights, pool);
    switch (method) {
        case Method::fasterpam: return fasterpam<T>(source, initial, weights, max_iter, pool);
        case Method::fastpam1: return fastpam1<T>(source, initial, weights, max_iter, pool);
        case Method::pam: return pam_swap<T>(source, initial, weights, max_iter, pool);
        case Method::alternate: return alternating<T>(source, initial, weights, max_iter, pool);
    }
    return {};
}

inline void check_initial_medoids(const std::vector<index_t>& medoids, index_t n) {
    std::vector<char> seen(static_cast<size_t>(n), 0);
    for (index_t m : medoids) {
        require(m >= 0 && m < n, "initial medoid index " + std::to_string(m) + " is out of range [0, " + std::to_string(n) + ")");
        require(!seen[static_cast<size_t>(m)], "initial medoid index " + std::to_string(m) + " appears twice");
        seen[static_cast<size_t>(m)] = 1;
    }
}

// Runs n_init restarts (one if the initialisation is deterministic) and keeps the lowest loss.
template <class T, class Source>
KMedoidsResult fit_kmedoids(const Source& source, const T* weights, const KMedoidsOptions& options, Control& control) {
    const index_t n = source.size();
    const index_t k = options.initial_medoids.empty() ? options.n_clusters : static_cast<index_t>(options.initial_medoids.size());
    require(n >= 1, "k-medoids needs at least one sample");
    require(k >= 1 && k <= n, "the number of medoids k=" + std::to_string(k) + " must be in [1, n_samples=" + std::to_string(n) + "]");
    if (!options.initial_medoids.empty()) check_initial_medoids(options.initial_medoids, n);

    ThreadPool pool(control);
    Rng seeds(options.seed);
    const bool deterministic = !options.initial_medoids.empty() || options.init == Init::first || options.init == Init::build;
    const int runs = deterministic ? 1 : std::max(1, options.n_init);
    KMedoidsResult best;
    for (int run = 0; run < runs; ++run) {
        Rng rng(seeds.fork());
        std::vector<index_t> initial = options.initial_medoids.empty()
                                           ? initial_medoids<T>(source, k, options.init, weights, rng, pool)
                                           : options.initial_medoids;
        KMedoidsResult result = kmedoids_from<T>(source, initial, options.method, weights, options.max_iter, pool);
        if (run == 0 || result.loss < best.loss) best = std::move(result);
    }
    return best;
}

}  // namespace vecclust
