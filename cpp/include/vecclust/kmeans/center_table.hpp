// The centres as the assignment kernels read them (transposed and padded), and the one-by-one
// distances the bounds ask for. Every kernel runs through isa::dispatch.
#pragma once

#include <algorithm>  // std::fill, std::min
#include <limits>     // std::numeric_limits
#include <vector>     // std::vector

#include "vecclust/base/parallel.hpp"
#include "vecclust/cpu/isa.hpp"
#include "vecclust/kmeans/kernels.hpp"

namespace vecclust {

// The centres transposed and padded for the assignment kernels.
template <class T>
class CenterTable {
  public:
    CenterTable(const T* centers, index_t k, index_t d)
        : k_(k), d_(d), k_padded_((k + kmeans_detail::kLanes - 1) / kmeans_detail::kLanes * kmeans_detail::kLanes),
          transposed_(static_cast<size_t>(k_padded_ * d)) {
        for (index_t c = 0; c < k; ++c)
            for (index_t j = 0; j < d; ++j) transposed_[static_cast<size_t>(j * k_padded_ + c)] = centers[c * d + j];
        // Padding centres copy centre 0 so they never win a strict comparison against it.
        for (index_t c = k; c < k_padded_; ++c)
            for (index_t j = 0; j < d; ++j) transposed_[static_cast<size_t>(j * k_padded_ + c)] = centers[j];
    }
    index_t k() const { return k_; }
    index_t padded() const { return k_padded_; }

    // Squared distances from kmeans_detail::kTilePoints<T> points to every centre:
    // out[p * padded() + c] for c < k().
    void tile_distances(const T* const* points, T* out) const {
        isa::dispatch([&](auto level) {
            constexpr int kBytes = isa::vector_bytes(decltype(level){});
            kmeans_detail::kernels::tile_distances<T, kBytes>(points, data(), d_, k_, k_padded_, out);
        });
    }

    // The nearest two centres of each of kmeans_detail::kTilePoints<T> points, without
    // storing the distances.
    void tile_nearest_two(const T* const* points, kmeans_detail::NearestTwo<T>* out) const {
        isa::dispatch([&](auto level) {
            constexpr int kBytes = isa::vector_bytes(decltype(level){});
            kmeans_detail::kernels::tile_nearest_two<T, kBytes>(points, data(), d_, k_, k_padded_, out);
        });
    }

    // The same for one row of tile_distances, whose padding entries it sets to +infinity.
    kmeans_detail::NearestTwo<T> nearest_two(T* row) const {
        std::fill(row + k_, row + k_padded_, std::numeric_limits<T>::infinity());
        kmeans_detail::NearestTwo<T> out;
        isa::dispatch([&](auto level) {
            constexpr int kBytes = isa::vector_bytes(decltype(level){});
            kmeans_detail::kernels::nearest_two<T, kBytes>(row, k_padded_, out);
        });
        return out;
    }

  private:
    const T* data() const { return transposed_.data(); }

    index_t k_, d_, k_padded_;
    std::vector<T> transposed_;
};

namespace kmeans_detail {

// out[m] = squared_distance(a[m], b[m], d) for m < count. Each is the sequential sum of
// squared_distance, so the bits agree with the tile kernel; a group of independent sums runs
// side by side to hide the addition latency.
template <class T>
void paired_squared_distances(const T* const* a, const T* const* b, index_t d, index_t count, T* out) {
    isa::dispatch<isa::Level::avx2>([&](auto) {
        constexpr index_t kGroup = 8;
        for (index_t m0 = 0; m0 < count; m0 += kGroup) {
            const T* left[kGroup];
            const T* right[kGroup];
            for (index_t l = 0; l < kGroup; ++l) {  // a short group repeats its last pair
                const index_t m = std::min(m0 + l, count - 1);
                left[l] = a[m], right[l] = b[m];
            }
            T acc[kGroup] = {};
            for (index_t j = 0; j < d; ++j) {
                for (index_t l = 0; l < kGroup; ++l) {
                    const T diff = left[l][j] - right[l][j];
                    acc[l] += diff * diff;
                }
            }
            for (index_t l = 0; l < std::min(kGroup, count - m0); ++l) out[m0 + l] = acc[l];
        }
    });
}

}  // namespace kmeans_detail

// Nearest centre of every point (first index on ties) and its squared distance.
template <class T>
void nearest_centers(const T* x, index_t n, index_t d, const T* centers, index_t k, index_t* labels, T* sq_distances,
                     ThreadPool& pool) {
    constexpr int kPoints = kmeans_detail::kTilePoints<T>;
    const CenterTable<T> table(centers, k, d);
    pool.for_chunks(n, kmeans_detail::kChunk, [&](index_t begin, index_t end, index_t) {
        for (index_t t = begin; t < end; t += kPoints) {
            const T* rows[kPoints];
            for (int p = 0; p < kPoints; ++p) rows[p] = x + std::min(t + p, end - 1) * d;  // short tile: repeat
            kmeans_detail::NearestTwo<T> nearest[kPoints];
            table.tile_nearest_two(rows, nearest);
            for (index_t p = 0; p < std::min<index_t>(kPoints, end - t); ++p) {
                labels[t + p] = nearest[p].index;
                if (sq_distances) sq_distances[t + p] = nearest[p].nearest;
            }
        }
    });
}

}  // namespace vecclust
