// Refinement of sampled medoids on all points, without an n x n matrix: alternating steps, each
// moving every medoid to the member of its cluster with the least total distance to the
// cluster's members, then reassigning all points; and, by default, swap rounds between them
// (refine_swap.hpp). A sampled medoid is only the best of a few sampled points of its cluster
// (CLARA's default sample has about 4 per cluster); a step costs about n^2 d / k distance work
// in clusters searched in full, done on demand.
//
// Clusters larger than screen_above / max_candidates / max_members are searched on seeded
// samples of their members, so a step's choice is then an estimate: every step's medoids are
// scored exactly on all points and a step that does not lower the loss is discarded, so the
// loss never rises.
#pragma once

#include <algorithm>  // std::find, std::min, std::sort
#include <cstdint>    // std::uint64_t
#include <string>     // std::to_string
#include <utility>    // std::move
#include <vector>     // std::vector

#include "vecclust/base/parallel.hpp"
#include "vecclust/base/random.hpp"
#include "vecclust/kmedoids/assignment.hpp"
#include "vecclust/kmedoids/refine_swap.hpp"
#include "vecclust/kmedoids/state.hpp"

namespace vecclust {

struct RefineOptions {
    int max_steps = 10;
    double tol = 1e-4;               // stop once a step lowers the loss by at most tol x loss
    index_t max_candidates = 1024;   // members tried as a cluster's medoid (a seeded sample beyond)
    index_t max_members = 4096;      // members a candidate's cost is summed over (a seeded sample beyond)
    index_t screen_above = 256;      // in a cluster of more members, candidates are first screened
    index_t screen_members = 256;    // on this many members
    index_t finalists = 64;          // keeping this many
    SwapPassOptions swap;            // swap.candidates = 0: no swap pass
    std::uint64_t seed = 0;
};

namespace detail {

// The members of each of k clusters, in index order.
inline std::vector<std::vector<index_t>> cluster_members(const std::vector<index_t>& labels, index_t k) {
    std::vector<std::vector<index_t>> members(static_cast<size_t>(k));
    for (size_t o = 0; o < labels.size(); ++o) members[static_cast<size_t>(labels[o])].push_back(static_cast<index_t>(o));
    return members;
}

// At most `count` of `members` (all of them when there are no more), always with `medoid`, in
// index order.
inline std::vector<index_t> some_members(const std::vector<index_t>& members, index_t count, index_t medoid, Rng& rng) {
    const auto m = static_cast<index_t>(members.size());
    if (m <= count) return members;
    std::vector<index_t> out{medoid};
    for (index_t i : sample_without_replacement(m, count, rng)) {
        const index_t member = members[static_cast<size_t>(i)];
        if (member != medoid && static_cast<index_t>(out.size()) < count) out.push_back(member);
    }
    std::sort(out.begin(), out.end());
    return out;
}

// The `count` candidates of least rough cost (ties: the earlier), always with `medoid`, in index order.
inline std::vector<index_t> best_candidates(const std::vector<index_t>& candidates, const std::vector<double>& rough,
                                            index_t count, index_t medoid) {
    std::vector<size_t> order(candidates.size());
    for (size_t a = 0; a < order.size(); ++a) order[a] = a;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rough[a] < rough[b]; });
    std::vector<index_t> out{medoid};
    for (size_t a : order) {
        if (static_cast<index_t>(out.size()) >= count) break;
        if (candidates[a] != medoid) out.push_back(candidates[a]);
    }
    std::sort(out.begin(), out.end());
    return out;
}

// A big cluster's candidates: half the members nearest its medoid (where the exact medoid is
// once the medoid is near the centre, so later steps close in on it), half a seeded sample.
template <class Data>
std::vector<index_t> candidate_members(const Data& data, const std::vector<index_t>& members, index_t count,
                                       index_t medoid, Rng& rng) {
    const auto m = static_cast<index_t>(members.size());
    if (m <= count) return members;
    using T = typename Data::value_type;
    std::vector<T> dist(static_cast<size_t>(m));
    data.distances_between(members.data(), m, {medoid}, dist.data());
    std::vector<index_t> out = best_candidates(members, std::vector<double>(dist.begin(), dist.end()), count / 2, medoid);
    std::vector<char> taken(static_cast<size_t>(m), 0);
    for (index_t i : out) taken[static_cast<size_t>(std::lower_bound(members.begin(), members.end(), i) - members.begin())] = 1;
    for (index_t i : sample_without_replacement(m, count, rng))
        if (!taken[static_cast<size_t>(i)] && static_cast<index_t>(out.size()) < count) taken[static_cast<size_t>(i)] = 1, out.push_back(members[static_cast<size_t>(i)]);
    std::sort(out.begin(), out.end());
    return out;
}

// One alternating step: every medoid moved to its cluster's best member. In a cluster too big
// to search in full, the sampled candidates are first screened on a small sample of members
// and only the best `finalists` are scored on the large one: a large sample is needed to tell
// the best few apart, not to discard the many far from the centre.
template <class T, class Data>
std::vector<index_t> alternating_step(const Data& data, const T* weights, const KMedoidsResult& result,
                                      const RefineOptions& options, Rng& seeds, ThreadPool& pool) {
    const auto k = static_cast<index_t>(result.medoids.size());
    const auto members = cluster_members(result.labels, k);
    std::vector<std::uint64_t> cluster_seeds(static_cast<size_t>(k));
    for (auto& seed : cluster_seeds) seed = seeds.fork();
    std::vector<index_t> medoids = result.medoids;
    pool.run(k, [&](index_t c, int) {
        const auto& in_cluster = members[static_cast<size_t>(c)];
        const index_t medoid = result.medoids[static_cast<size_t>(c)];
        if (in_cluster.size() < 2) return;
        Rng rng(cluster_seeds[static_cast<size_t>(c)]);
        auto candidates = candidate_members(data, in_cluster, options.max_candidates, medoid, rng);
        const auto scored_on = some_members(in_cluster, options.max_members, medoid, rng);
        if (static_cast<index_t>(in_cluster.size()) > options.screen_above &&
            static_cast<index_t>(candidates.size()) > options.finalists) {
            const std::vector<double> rough = data.costs(candidates, some_members(scored_on, options.screen_members, medoid, rng), weights);
            candidates = best_candidates(candidates, rough, options.finalists, medoid);
        }
        const std::vector<double> cost = data.costs(candidates, scored_on, weights);
        // The present medoid keeps its place on ties, so a step from a local optimum is no move.
        size_t pick = static_cast<size_t>(std::find(candidates.begin(), candidates.end(), medoid) - candidates.begin());
        for (size_t a = 0; a < candidates.size(); ++a)
            if (cost[a] < cost[pick]) pick = a;
        medoids[static_cast<size_t>(c)] = candidates[pick];
    });
    return medoids;
}

// Alternating steps from result until one is not kept or gains at most tol; appends the loss
// after each step kept.
template <class T, class Data>
void alternating_steps(const Data& data, const T* weights, KMedoidsResult& result, const RefineOptions& options,
                       Rng& seeds, ThreadPool& pool, std::vector<double>& losses) {
    for (int step = 0; step < options.max_steps; ++step) {
        std::vector<index_t> medoids = alternating_step<T>(data, weights, result, options, seeds, pool);
        if (medoids == result.medoids) break;
        NearestMedoids<T> scored = data.nearest(medoids, weights, pool);
        const bool kept = scored.loss < result.loss;
        if (pool.control().verbose())
            pool.control().report("refinement step " + std::to_string(losses.size() + 1) + ": loss over all points " +
                                  std::to_string(scored.loss) + (kept ? "" : " (not lower: step discarded)"));
        if (!kept) break;
        const double drop = result.loss - scored.loss;
        result.medoids = std::move(medoids);
        result.labels = std::move(scored.labels);
        result.loss = scored.loss;
        losses.push_back(scored.loss);
        if (drop <= options.tol * scored.loss) break;
    }
}

}  // namespace detail

// Improves result (medoids, labels and loss over all points of `data`, a ClaraFeatures or
// ClaraMatrix) in place: alternating steps, or (with swap.candidates > 0 and 2 <= k < n) swap
// rounds and, if they moved any medoid, alternating steps. Returns the loss after each step
// kept (each swap round that made a swap is one).
template <class T, class Data>
std::vector<double> refine_medoids(const Data& data, const T* weights, KMedoidsResult& result,
                                   const RefineOptions& options, ThreadPool& pool) {
    const auto k = static_cast<index_t>(result.medoids.size());
    Rng seeds(options.seed);
    std::vector<double> losses;
    const bool swaps = options.swap.candidates > 0 && k >= 2 && k < data.size();
    // Before swaps, one alternating step: it moves every medoid near its cluster's centre at
    // once, where swaps would take rounds; the swaps then move medoids between clusters.
    RefineOptions first = options;
    if (swaps) first.max_steps = std::min(options.max_steps, 1);
    detail::alternating_steps<T>(data, weights, result, first, seeds, pool, losses);
    if (!swaps) return losses;
    double loss = result.loss;
    const size_t before = losses.size();
    std::vector<index_t> medoids = swap_pass<T>(data, weights, result.medoids, loss, options.swap, seeds.fork(), pool, losses);
    if (losses.size() > before) {
        // The labels by the rule of every other pass (the loss is the same sum of the same terms).
        NearestMedoids<T> scored = data.nearest(medoids, weights, pool);
        if (scored.loss < result.loss) {
            result.medoids = std::move(medoids);
            result.labels = std::move(scored.labels);
            result.loss = losses.back() = scored.loss;
        } else {
            losses.resize(before);
        }
    }
    detail::alternating_steps<T>(data, weights, result, options, seeds, pool, losses);
    return losses;
}

}  // namespace vecclust
