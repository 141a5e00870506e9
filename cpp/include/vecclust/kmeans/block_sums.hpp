// One block's share of a Lloyd iteration for given centres: per-centre sums and counts and the
// inertia, all in float64. A distributed fit reduces each block with this and adds the blocks
// in block order, so its result depends neither on the workers nor on the thread count.
#pragma once

#include <algorithm>  // std::max, std::min
#include <vector>     // std::vector

#include "vecclust/base/parallel.hpp"
#include "vecclust/kmeans/center_table.hpp"
#include "vecclust/kmeans/update.hpp"

namespace vecclust {

struct BlockSums {
    std::vector<double> sums;    // k x d
    std::vector<double> counts;  // k
    double inertia = 0.0;
};

// At most kBlockParts partial sums per block whatever its size (memory k x d x parts), fixed by
// n alone so that the sums do not depend on the thread count.
constexpr index_t kBlockParts = 16;

template <class T>
BlockSums lloyd_block_sums(const T* x, index_t n, index_t d, const T* centers, index_t k, ThreadPool& pool) {
    require(k >= 1, "at least one centre is needed");
    using namespace kmeans_detail;
    constexpr int kPoints = kTilePoints<T>;
    const index_t part = std::max(kChunk, (n + kBlockParts - 1) / kBlockParts);
    const index_t n_parts = (n + part - 1) / part;
    const CenterTable<T> table(centers, k, d);
    std::vector<double> part_sums(static_cast<size_t>(n_parts * k * d), 0.0), part_counts(static_cast<size_t>(n_parts * k), 0.0),
        part_inertia(static_cast<size_t>(n_parts), 0.0);
    pool.for_chunks(n, part, [&](index_t begin, index_t end, index_t p) {
        std::vector<index_t> labels(static_cast<size_t>(end - begin));
        double inertia = 0.0;
        for (index_t t = begin; t < end; t += kPoints) {
            const T* rows[kPoints];
            for (int q = 0; q < kPoints; ++q) rows[q] = x + std::min(t + q, end - 1) * d;  // short tile: repeat
            NearestTwo<T> nearest[kPoints];
            table.tile_nearest_two(rows, nearest);
            for (index_t q = 0; q < std::min<index_t>(kPoints, end - t); ++q) {
                labels[static_cast<size_t>(t + q - begin)] = nearest[q].index;
                inertia += static_cast<double>(nearest[q].nearest);
            }
        }
        add_to_clusters<T>(x + begin * d, nullptr, labels.data(), 0, end - begin, d, part_sums.data() + p * k * d,
                           part_counts.data() + p * k);
        part_inertia[static_cast<size_t>(p)] = inertia;
    });
    BlockSums out;
    out.sums.assign(static_cast<size_t>(k * d), 0.0);
    out.counts.assign(static_cast<size_t>(k), 0.0);
    for (index_t p = 0; p < n_parts; ++p) {
        for (index_t e = 0; e < k * d; ++e) out.sums[static_cast<size_t>(e)] += part_sums[static_cast<size_t>(p * k * d + e)];
        for (index_t c = 0; c < k; ++c) out.counts[static_cast<size_t>(c)] += part_counts[static_cast<size_t>(p * k + c)];
        out.inertia += part_inertia[static_cast<size_t>(p)];
    }
    return out;
}

}  // namespace vecclust
