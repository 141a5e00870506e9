// Initial medoids: random, first, BUILD (greedy, O(n^2 k)), LAB (BUILD on small resamples,
// O(n k)) and k-medoids++ (D-sampling with greedy local trials, O(n k log k)).
#pragma once

#include <algorithm>  // std::upper_bound
#include <cmath>      // std::log, std::sqrt, std::ceil
#include <limits>     // std::numeric_limits
#include <utility>    // std::pair, std::swap
#include <string>     // std::string
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"
#include "vecclust/base/parallel.hpp"
#include "vecclust/base/random.hpp"

namespace vecclust {

// The names are those of INITS in Python (vecclust/_kmedoids/choices.py).
enum class Init { random, first, build, lab, kmedoidspp };

inline Init parse_init(const std::string& name) {
    if (name == "random") return Init::random;
    if (name == "first") return Init::first;
    if (name == "build") return Init::build;
    if (name == "lab") return Init::lab;
    if (name == "k-medoids++") return Init::kmedoidspp;
    throw std::invalid_argument("unknown init '" + name + "'");
}

// Per-thread scratch rows, so FeatureSource can compute a row without allocating.
template <class T>
struct RowScratch {
    RowScratch(int n_threads, index_t n) : rows(static_cast<size_t>(n_threads), std::vector<T>(static_cast<size_t>(n))) {}
    T* operator[](int thread_id) { return rows[static_cast<size_t>(thread_id)].data(); }
    std::vector<std::vector<T>> rows;
};

namespace detail {

template <class T>
T weight_of(const T* weights, index_t o) {
    return weights ? weights[o] : T(1);
}

// The candidate with the smallest cost over [0, n), cost(j, thread_id) in double; skipped
// candidates return +inf. Ties go to the lowest index, whatever the thread count.
template <class Cost>
index_t parallel_argmin(index_t n, ThreadPool& pool, Cost&& cost) {
    constexpr index_t kChunk = 32;
    const index_t n_chunks = (n + kChunk - 1) / kChunk;
    std::vector<std::pair<double, index_t>> best(static_cast<size_t>(n_chunks), {std::numeric_limits<double>::infinity(), -1});
    pool.run(n_chunks, [&](index_t c, int thread_id) {
        auto& b = best[static_cast<size_t>(c)];
        for (index_t j = c * kChunk; j < std::min(n, (c + 1) * kChunk); ++j) {
            const double value = cost(j, thread_id);
            if (value < b.first || b.second < 0) b = {value, j};
        }
    });
    std::pair<double, index_t> overall{std::numeric_limits<double>::infinity(), -1};
    for (const auto& b : best)
        if (b.second >= 0 && (overall.second < 0 || b.first < overall.first)) overall = b;
    return overall.second;
}

}  // namespace detail

// PAM's BUILD: the medoid minimising the total deviation, then k - 1 greedy additions, each the
// point that lowers the total deviation most (a duplicate of a medoid, gain 0, if nothing gains).
template <class T, class Source>
std::vector<index_t> build_init(const Source& source, index_t k, const T* weights, ThreadPool& pool) {
    const index_t n = source.size();
    RowScratch<T> scratch(pool.size(), n);
    std::vector<T> nearest(static_cast<size_t>(n), std::numeric_limits<T>::infinity());
    std::vector<char> chosen(static_cast<size_t>(n), 0);
    std::vector<index_t> medoids;
    auto gain = [&](index_t j, int thread_id) -> double {
        if (chosen[static_cast<size_t>(j)]) return std::numeric_limits<double>::infinity();
        const T* row = source.row(j, scratch[thread_id]);
        double total = 0.0;
        if (medoids.empty()) {
            for (index_t o = 0; o < n; ++o) total += static_cast<double>(detail::weight_of(weights, o) * row[o]);
        } else {
            for (index_t o = 0; o < n; ++o) {
                const T d = detail::weight_of(weights, o) * row[o];
                if (d < nearest[static_cast<size_t>(o)])
                    total += static_cast<double>(d) - static_cast<double>(nearest[static_cast<size_t>(o)]);
            }
        }
        return total;
    };
    while (static_cast<index_t>(medoids.size()) < k) {
        const index_t best = detail::parallel_argmin(n, pool, gain);
        medoids.push_back(best);
        chosen[static_cast<size_t>(best)] = 1;
        const T* row = source.row(best, scratch[0]);
        for (index_t o = 0; o < n; ++o)
            nearest[static_cast<size_t>(o)] = std::min(nearest[static_cast<size_t>(o)], detail::weight_of(weights, o) * row[o]);
    }
    return medoids;
}

// LAB (linear approximate BUILD): each medoid is chosen as BUILD would on a fresh random
// sample of 10 + ceil(sqrt(n)) not-yet-chosen points.
template <class T, class Source>
std::vector<index_t> lab_init(const Source& source, index_t k, const T* weights, Rng& rng) {
    const index_t n = source.size();
    const index_t sample_size = std::min(n, index_t(10) + static_cast<index_t>(std::ceil(std::sqrt(double(n)))));
    std::vector<index_t> ids(static_cast<size_t>(n));
    for (index_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = i;
    // nearest[o] is the distance to the first known_upto[o] medoids; brought up to date lazily,
    // only for points that land in a sample.
    std::vector<T> nearest(static_cast<size_t>(n), std::numeric_limits<T>::infinity());
    std::vector<index_t> known_upto(static_cast<size_t>(n), 0);
    std::vector<index_t> medoids;
    index_t remaining = n;  // ids[0, remaining) are not medoids yet
    while (static_cast<index_t>(medoids.size()) < k) {
        const index_t s = std::min(sample_size, remaining);
        for (index_t i = 0; i < s; ++i) std::swap(ids[static_cast<size_t>(i)], ids[static_cast<size_t>(i + rng.below(remaining - i))]);
        for (index_t i = 0; i < s; ++i) {
            const index_t o = ids[static_cast<size_t>(i)];
            for (auto& upto = known_upto[static_cast<size_t>(o)]; upto < static_cast<index_t>(medoids.size()); ++upto)
                nearest[static_cast<size_t>(o)] = std::min(nearest[static_cast<size_t>(o)],
                                                           detail::weight_of(weights, o) * source.at(o, medoids[static_cast<size_t>(upto)]));
        }
        index_t best_pos = 0;
        double best_cost = std::numeric_limits<double>::infinity();
        for (index_t a = 0; a < s; ++a) {
            const index_t candidate = ids[static_cast<size_t>(a)];
            double cost = 0.0;
            for (index_t b = 0; b < s; ++b) {
                const index_t o = ids[static_cast<size_t>(b)];
                cost += static_cast<double>(std::min(nearest[static_cast<size_t>(o)], detail::weight_of(weights, o) * source.at(o, candidate)));
            }
            if (cost < best_cost) best_cost = cost, best_pos = a;
        }
        medoids.push_back(ids[static_cast<size_t>(best_pos)]);
        std::swap(ids[static_cast<size_t>(best_pos)], ids[static_cast<size_t>(remaining - 1)]);
        --remaining;
    }
    return medoids;
}

// k-medoids++: the first medoid uniformly at random, each next one drawn with probability
// proportional to w[o] * d(o, nearest medoid) (the k-median analogue of k-means++'s D^2), keeping
// the best of 2 + ln k draws by total deviation.
template <class T, class Source>
std::vector<index_t> kmedoidspp_init(const Source& source, index_t k, const T* weights, Rng& rng, ThreadPool& pool) {
    const index_t n = source.size();
    const int n_trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
    RowScratch<T> scratch(pool.size(), n);
    std::vector<index_t> medoids{rng.below(n)};
    std::vector<T> nearest(static_cast<size_t>(n));
    {
        const T* row = source.row(medoids[0], scratch[0]);
        for (index_t o = 0; o < n; ++o) nearest[static_cast<size_t>(o)] = detail::weight_of(weights, o) * row[o];
    }
    std::vector<double> cumulative(static_cast<size_t>(n));
    std::vector<index_t> trials(static_cast<size_t>(n_trials));
    std::vector<double> trial_cost(static_cast<size_t>(n_trials));
    while (static_cast<index_t>(medoids.size()) < k) {
        double total = 0.0;
        for (index_t o = 0; o < n; ++o) cumulative[static_cast<size_t>(o)] = total += static_cast<double>(nearest[static_cast<size_t>(o)]);
        for (int t = 0; t < n_trials; ++t) {
            index_t pick;
            if (total > 0.0) {
                pick = std::upper_bound(cumulative.begin(), cumulative.end(), rng.uniform() * total) - cumulative.begin();
                pick = std::min(pick, n - 1);
                while (nearest[static_cast<size_t>(pick)] <= T(0) && pick > 0) --pick;  // rounding at a boundary
            } else {
                pick = rng.below(n);  // every point coincides with a medoid: any choice is as good
            }
            trials[static_cast<size_t>(t)] = pick;
        }
        pool.run(n_trials, [&](index_t t, int thread_id) {
            const T* row = source.row(trials[static_cast<size_t>(t)], scratch[thread_id]);
            double cost = 0.0;
            for (index_t o = 0; o < n; ++o)
                cost += static_cast<double>(std::min(nearest[static_cast<size_t>(o)], detail::weight_of(weights, o) * row[o]));
            trial_cost[static_cast<size_t>(t)] = cost;
        });
        int best = 0;
        for (int t = 1; t < n_trials; ++t)
            if (trial_cost[static_cast<size_t>(t)] < trial_cost[static_cast<size_t>(best)]) best = t;
        index_t chosen = trials[static_cast<size_t>(best)];
        if (std::find(medoids.begin(), medoids.end(), chosen) != medoids.end()) {
            // Only possible when all remaining mass is zero: take the first point not yet chosen.
            std::vector<char> used(static_cast<size_t>(n), 0);
            for (index_t m : medoids) used[static_cast<size_t>(m)] = 1;
            chosen = 0;
            while (used[static_cast<size_t>(chosen)]) ++chosen;
        }
        medoids.push_back(chosen);
        const T* row = source.row(chosen, scratch[0]);
        for (index_t o = 0; o < n; ++o)
            nearest[static_cast<size_t>(o)] = std::min(nearest[static_cast<size_t>(o)], detail::weight_of(weights, o) * row[o]);
    }
    return medoids;
}

template <class T, class Source>
std::vector<index_t> initial_medoids(const Source& source, index_t k, Init init, const T* weights, Rng& rng, ThreadPool& pool) {
    switch (init) {
        case Init::random: return sample_without_replacement(source.size(), k, rng);
        case Init::first: {
            std::vector<index_t> medoids(static_cast<size_t>(k));
            for (index_t i = 0; i < k; ++i) medoids[static_cast<size_t>(i)] = i;
            return medoids;
        }
        case Init::build: return build_init<T>(source, k, weights, pool);
        case Init::lab: return lab_init<T>(source, k, weights, rng);
        case Init::kmedoidspp: return kmedoidspp_init<T>(source, k, weights, rng, pool);
    }
    return {};
}

}  // namespace vecclust
