// Refinement of sampled medoids on all points, without an n x n matrix: alternating steps, each
// moving every medoid to the member of its cluster with the least total distance to the
// cluster's members, then reassigning all points. A sampled medoid is only the best of a few
// sampled points of its cluster (CLARA's default sample has about 4 per cluster); a step
// costs about n^2 d / k distance work, done on demand.
//
// Clusters larger than max_candidates / max_members are searched on seeded samples of their
// members, so a step's choice is then an estimate: every step's medoids are scored exactly on
// all points and a step that does not lower the loss is discarded, so the loss never rises.
#pragma once

#include <algorithm>  // std::find, std::sort
#include <cstdint>    // std::uint64_t
#include <string>     // std::to_string
#include <vector>     // std::vector

#include "vecclust/base/parallel.hpp"
#include "vecclust/base/random.hpp"
#include "vecclust/kmedoids/assignment.hpp"
#include "vecclust/kmedoids/state.hpp"

namespace vecclust {

struct RefineOptions {
    int max_steps = 10;
    double tol = 1e-4;               // stop once a step lowers the loss by at most tol x loss
    index_t max_candidates = 1024;   // members tried as a cluster's medoid (a seeded sample beyond)
    index_t max_members = 4096;      // members a candidate's cost is summed over (a seeded sample beyond)
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

}  // namespace detail

// Improves result (medoids, labels and loss over all points of `data`, a ClaraFeatures or
// ClaraMatrix) in place. Returns the loss after each step kept.
template <class T, class Data>
std::vector<double> refine_medoids(const Data& data, const T* weights, KMedoidsResult& result,
                                   const RefineOptions& options, ThreadPool& pool) {
    const auto k = static_cast<index_t>(result.medoids.size());
    Rng seeds(options.seed);
    std::vector<double> losses;
    for (int step = 0; step < options.max_steps; ++step) {
        const auto members = detail::cluster_members(result.labels, k);
        std::vector<std::uint64_t> cluster_seeds(static_cast<size_t>(k));
        for (auto& seed : cluster_seeds) seed = seeds.fork();
        std::vector<index_t> medoids = result.medoids;
        pool.run(k, [&](index_t c, int) {
            const auto& in_cluster = members[static_cast<size_t>(c)];
            const index_t medoid = result.medoids[static_cast<size_t>(c)];
            if (in_cluster.size() < 2) return;
            Rng rng(cluster_seeds[static_cast<size_t>(c)]);
            const auto candidates = detail::some_members(in_cluster, options.max_candidates, medoid, rng);
            const auto scored_on = detail::some_members(in_cluster, options.max_members, medoid, rng);
            const std::vector<double> cost = data.costs(candidates, scored_on, weights);
            // The present medoid keeps its place on ties, so a step from a local optimum is no move.
            size_t pick = static_cast<size_t>(std::find(candidates.begin(), candidates.end(), medoid) - candidates.begin());
            for (size_t a = 0; a < candidates.size(); ++a)
                if (cost[a] < cost[pick]) pick = a;
            medoids[static_cast<size_t>(c)] = candidates[pick];
        });
        if (medoids == result.medoids) break;
        NearestMedoids<T> scored = data.nearest(medoids, weights, pool);
        const bool kept = scored.loss < result.loss;
        if (pool.control().verbose())
            pool.control().report("refinement step " + std::to_string(step + 1) + ": loss over all points " +
                                  std::to_string(scored.loss) + (kept ? "" : " (not lower: step discarded)"));
        if (!kept) break;
        const double drop = result.loss - scored.loss;
        result.medoids = std::move(medoids);
        result.labels = std::move(scored.labels);
        result.loss = scored.loss;
        losses.push_back(scored.loss);
        if (drop <= options.tol * scored.loss) break;
    }
    return losses;
}

}  // namespace vecclust
