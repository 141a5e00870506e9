// One block's part of the distributed CLARA's swap pass: the FasterPAM prices of every
// (removed medoid, candidate) pair over the block's points, computed by the in-memory swap
// pass's own pricing (refine_swap.hpp's TwoNearest). The caller adds the blocks' tables in
// block order, so the sum does not depend on which worker priced which block.
#pragma once

#include <algorithm>  // std::copy, std::min
#include <vector>     // std::vector

#include "vecclust/base/parallel.hpp"
#include "vecclust/kmedoids/clara.hpp"
#include "vecclust/kmedoids/refine_swap.hpp"

namespace vecclust {

// out[i * c + j]: the change of the sum over the n rows of x of the distance to the nearest
// medoid if candidate j replaces medoid i (k >= 1 medoids; all arrays row-major with d columns).
template <class T>
std::vector<double> block_swap_prices(const T* x, index_t n, const T* medoids, index_t k, const T* candidates,
                                      index_t c, index_t d, Metric metric, ThreadPool& pool) {
    // One view of the points, then the medoids, then the candidates: only the points are priced.
    std::vector<T> rows(static_cast<size_t>((n + k + c) * d));
    std::copy(x, x + n * d, rows.begin());
    std::copy(medoids, medoids + k * d, rows.begin() + n * d);
    std::copy(candidates, candidates + c * d, rows.begin() + (n + k) * d);
    const ClaraFeatures<T> data(rows.data(), n + k + c, d, metric);
    std::vector<index_t> medoid_ids(static_cast<size_t>(k)), points(static_cast<size_t>(n));
    for (index_t i = 0; i < k; ++i) medoid_ids[static_cast<size_t>(i)] = n + i;
    for (index_t o = 0; o < n; ++o) points[static_cast<size_t>(o)] = o;
    using State = detail::TwoNearest<T, ClaraFeatures<T>>;
    State state(data, std::move(medoid_ids), nullptr, pool);
    state.price_over(std::move(points));
    std::vector<double> out(static_cast<size_t>(k * c));
    for (index_t first = 0; first < c; first += State::kBatch) {
        std::vector<index_t> batch;
        for (index_t j = first; j < std::min(c, first + State::kBatch); ++j) batch.push_back(n + k + j);
        const std::vector<double> table = state.price_table(batch);
        for (size_t b = 0; b < batch.size(); ++b)
            for (index_t i = 0; i < k; ++i)
                out[static_cast<size_t>(i * c + first) + b] = table[b * static_cast<size_t>(k) + static_cast<size_t>(i)];
    }
    return out;
}

}  // namespace vecclust
