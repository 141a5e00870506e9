// k-means: greedy k-means++ seeding (seeding.hpp), Lloyd iterations (run.hpp) and the bounded
// variants of Hamerly (one lower bound per point) and Elkan (one per point and centre), which
// make the same assignments while skipping most distance computations, with scikit-learn's
// empty-cluster relocation and convergence rule. Results are bit-identical for any thread
// count and instruction set.
#pragma once

#include <utility>  // std::move
#include <vector>   // std::vector

#include "vecclust/base/parallel.hpp"
#include "vecclust/kmeans/bounds.hpp"
#include "vecclust/kmeans/center_table.hpp"
#include "vecclust/kmeans/elkan.hpp"
#include "vecclust/kmeans/hamerly.hpp"
#include "vecclust/kmeans/run.hpp"
#include "vecclust/kmeans/seeding.hpp"
#include "vecclust/kmeans/types.hpp"

namespace vecclust {

// k-means from the given k x d initial centres with options.algorithm (one centre needs no
// bounds). See kmeans_detail::iterate for the stopping rule.
template <class T>
KMeansResult<T> kmeans_fit(const T* x, index_t n, index_t d, const T* weights, std::vector<T> centers, index_t k,
                           const KMeansOptions& options, ThreadPool& pool) {
    require(k >= 1 && k <= n, "k-means needs 1 <= n_clusters <= n_samples");
    require(static_cast<index_t>(centers.size()) == k * d, "initial centres must be k x d");
    using namespace kmeans_detail;
    if (k > 1 && options.algorithm == KMeansAlgorithm::hamerly)
        return iterate<T, HamerlyBounds<T>>(x, n, d, weights, std::move(centers), k, options, pool);
    if (k > 1 && options.algorithm == KMeansAlgorithm::elkan)
        return iterate<T, ElkanBounds<T>>(x, n, d, weights, std::move(centers), k, options, pool);
    return iterate<T, NoBounds<T>>(x, n, d, weights, std::move(centers), k, options, pool);
}

}  // namespace vecclust
