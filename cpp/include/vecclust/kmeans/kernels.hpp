// The k-means distance kernels: squared distances from a tile of points to every centre, and
// the nearest-two scan fused into them, written once over the vector width. They are called
// through isa::dispatch (center_table.hpp), which compiles them per instruction set; every
// width adds the same terms in the same order, so all levels give identical bits.
#pragma once

#include <algorithm>    // std::min, std::copy
#include <cstdint>      // std::int32_t, std::int64_t
#include <cstring>      // std::memcpy
#include <limits>       // std::numeric_limits
#include <type_traits>  // std::conditional_t, std::extent_v

#include "vecclust/base/common.hpp"
#include "vecclust/cpu/isa.hpp"

namespace vecclust {

namespace kmeans_detail {

constexpr index_t kChunk = 2048;  // points per chunk of every parallel pass
constexpr index_t kLanes = 16;    // centre count padding of the transposed centre table

// Squared Euclidean distance, summed in feature order in T. The transposed kernel below adds
// the same terms in the same order, so both give bit-identical values for a pair.
template <class T>
inline T squared_distance(const T* a, const T* b, index_t d) {
    T sum = 0;
    for (index_t j = 0; j < d; ++j) {
        const T diff = a[j] - b[j];
        sum += diff * diff;
    }
    return sum;
}

// What a nearest-two scan finds: the nearest centre (first index on ties), its squared
// distance, and the smallest squared distance to any other centre (+infinity if none).
template <class T>
struct NearestTwo {
    index_t index;
    T nearest, second;
};

// Points per tile of tile_distances. Each variant sums the tile's distances to a group of
// centres in 8 vector accumulators, a quarter (AVX-512) or half (SSE2, AVX2) of the registers,
// leaving room for the centre rows and the broadcast features.
template <class T>
constexpr int kTilePoints = sizeof(T) == 4 ? 4 : 2;

// The kernels of the assignment: squared distances from a tile of points to every centre
// (centres stored transposed, centers_t[j * k_padded + c], k_padded a multiple of kLanes), and
// the nearest two centres, from a row of distances or straight from the sums in registers.
// GCC and Clang get explicit vectors of kBytes (isa::vector_bytes of the level the caller
// dispatched to); other compilers the plain loops, which add the same terms in the same order.
namespace kernels {

#ifdef VECCLUST_VECTOR_EXTENSIONS
#define VECCLUST_INLINE VECCLUST_ALWAYS_INLINE

// The squared distances from the tile's points to the kCentres centres from c0 on, summed in
// registers and handed to sink(acc, c0) as acc[point][vector]: each centre row loaded serves
// every point of the tile, and each lane adds the squared differences in feature order,
// exactly like squared_distance (lane-wise vector operations round like scalar ones).
template <class T, int kBytes, int kCentres, class Sink>
VECCLUST_INLINE void tile_block(const T* const* points, const T* centers_t, index_t d, index_t k_padded, index_t c0,
                                Sink& sink) {
    typedef T Vector __attribute__((vector_size(kBytes)));
    constexpr int kPoints = kTilePoints<T>, kWidth = kBytes / static_cast<int>(sizeof(T));
    constexpr int kVectors = kCentres / kWidth;
    Vector acc[kPoints][kVectors] = {};
    for (index_t j = 0; j < d; ++j) {
        const T* row = centers_t + j * k_padded + c0;
#pragma GCC unroll 8
        for (int v = 0; v < kVectors; ++v) {
            Vector centers;
            std::memcpy(&centers, row + v * kWidth, sizeof(Vector));  // an unaligned load
#pragma GCC unroll 8
            for (int p = 0; p < kPoints; ++p) {
                const Vector diff = points[p][j] - centers;
                acc[p][v] += diff * diff;
            }
        }
    }
    sink(acc, c0);
}

// The tile against the centres [0, k): groups of kBytes / 2 centres (8 accumulators), then
// kLanes at a time when the padded count is not a multiple of that.
template <class T, int kBytes, class Sink>
VECCLUST_INLINE void tile_groups(const T* const* points, const T* centers_t, index_t d, index_t k, index_t k_padded,
                                 Sink&& sink) {
    constexpr int kStep = kBytes / 2;
    static_assert(kStep % kLanes == 0 || kLanes % kStep == 0, "centre groups must tile the padding");
    index_t c0 = 0;
    for (; c0 < k && c0 + kStep <= k_padded; c0 += kStep) tile_block<T, kBytes, kStep>(points, centers_t, d, k_padded, c0, sink);
    if constexpr (kStep > kLanes)
        for (; c0 < k; c0 += kLanes) tile_block<T, kBytes, kLanes>(points, centers_t, d, k_padded, c0, sink);
}

// out[p * k_padded + c] for c < k (the rest of the row is left as it was).
template <class T, int kBytes>
VECCLUST_INLINE void tile_distances(const T* const* points, const T* centers_t, index_t d, index_t k, index_t k_padded,
                                    T* out) {
    tile_groups<T, kBytes>(points, centers_t, d, k, k_padded, [&](const auto& acc, index_t c0) {
        constexpr int kVectors = static_cast<int>(std::extent_v<std::remove_reference_t<decltype(acc)>, 1>);
        constexpr int kWidth = static_cast<int>(sizeof(acc[0][0]) / sizeof(T));
        for (int p = 0; p < kTilePoints<T>; ++p)
            for (int v = 0; v < kVectors; ++v) std::memcpy(out + p * k_padded + c0 + v * kWidth, &acc[p][v], sizeof(acc[p][v]));
    });
}

// The nearest and second nearest distance seen by each lane of a vector of kBytes.
template <class T, int kBytes>
struct Lanes {
    using Index = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;  // lane-width indices
    typedef T Values __attribute__((vector_size(kBytes)));
    typedef Index Indices __attribute__((vector_size(kBytes)));
    static constexpr int kWidth = kBytes / static_cast<int>(sizeof(T));
    Values best, second;
    Indices index;  // of the centre at `best`

    // Nothing seen yet.
    VECCLUST_INLINE static Lanes empty() {
        Lanes lanes;
        lanes.best = lanes.second = Values{} + std::numeric_limits<T>::infinity();
        lanes.index = Indices{};
        return lanes;
    }
    // The indices first, first + 1, ... of the lanes (an out parameter: a returned vector
    // would have a different ABI in the baseline and the wider variants).
    VECCLUST_INLINE static void indices_from(index_t first, Indices& out) {
        Index values[kWidth];
        for (int l = 0; l < kWidth; ++l) values[l] = static_cast<Index>(first + l);
        std::memcpy(&out, values, sizeof(out));
    }
    // One more centre per lane; the lanes must see their centres in increasing index order.
    VECCLUST_INLINE void absorb(const Values& value, const Indices& at) {
        const auto better = value < best;
        second = better ? best : (value < second ? value : second);
        index = better ? at : index;
        best = better ? value : best;
    }
};

// Lane by lane, what two lanes saw together (the first index on ties).
template <class T, int kBytes>
VECCLUST_INLINE Lanes<T, kBytes> merge(const Lanes<T, kBytes>& a, const Lanes<T, kBytes>& b) {
    const auto take_b = (b.best < a.best) | ((b.best == a.best) & (b.index < a.index));
    const auto loser = take_b ? a.best : b.best;
    const auto second = b.second < a.second ? b.second : a.second;
    Lanes<T, kBytes> out;
    out.second = loser < second ? loser : second;
    out.best = take_b ? b.best : a.best;
    out.index = take_b ? b.index : a.index;
    return out;
}

// Merges the halves of the lanes until one lane is left. Comparisons and selects only, so the result is that of a sequential scan
// whatever the vector width.
template <class T, int kBytes>
VECCLUST_INLINE void fold(const Lanes<T, kBytes>& lanes, NearestTwo<T>& out) {
    if constexpr (Lanes<T, kBytes>::kWidth == 1) {
        out = {static_cast<index_t>(lanes.index[0]), lanes.best[0], lanes.second[0]};
    } else {
        constexpr int kHalf = kBytes / 2;
        Lanes<T, kHalf> low, high;
        const auto* best_bytes = reinterpret_cast<const char*>(&lanes.best);
        const auto* second_bytes = reinterpret_cast<const char*>(&lanes.second);
        const auto* index_bytes = reinterpret_cast<const char*>(&lanes.index);
        std::memcpy(&low.best, best_bytes, kHalf), std::memcpy(&high.best, best_bytes + kHalf, kHalf);
        std::memcpy(&low.second, second_bytes, kHalf), std::memcpy(&high.second, second_bytes + kHalf, kHalf);
        std::memcpy(&low.index, index_bytes, kHalf), std::memcpy(&high.index, index_bytes + kHalf, kHalf);
        fold(merge(low, high), out);
    }
}

// The nearest two among dist[0, k_padded), whose entries from k on must be +infinity.
template <class T, int kBytes>
VECCLUST_INLINE void nearest_two(const T* dist, index_t k_padded, NearestTwo<T>& out) {
    using Group = Lanes<T, kBytes>;
    constexpr int kWidth = Group::kWidth, kVectors = static_cast<int>(kLanes) / kWidth;
    Group lanes[kVectors];
    typename Group::Indices at[kVectors];
    for (int v = 0; v < kVectors; ++v) lanes[v] = Group::empty(), Group::indices_from(v * kWidth, at[v]);
    for (index_t c0 = 0; c0 < k_padded; c0 += kLanes) {
#pragma GCC unroll 8
        for (int v = 0; v < kVectors; ++v) {
            typename Group::Values value;
            std::memcpy(&value, dist + c0 + v * kWidth, sizeof(value));  // an unaligned load
            lanes[v].absorb(value, at[v]);
            at[v] += static_cast<typename Group::Index>(kLanes);
        }
    }
    for (int v = 1; v < kVectors; ++v) lanes[0] = merge(lanes[0], lanes[v]);
    fold(lanes[0], out);
}

// nearest_two for each point of a tile, from the sums as tile_groups produces them: no row
// of distances is stored.
template <class T, int kBytes>
VECCLUST_INLINE void tile_nearest_two(const T* const* points, const T* centers_t, index_t d, index_t k, index_t k_padded,
                                      NearestTwo<T>* out) {
    using Group = Lanes<T, kBytes>;
    constexpr int kPoints = kTilePoints<T>;
    Group lanes[kPoints];
    for (int p = 0; p < kPoints; ++p) lanes[p] = Group::empty();
    tile_groups<T, kBytes>(points, centers_t, d, k, k_padded, [&](const auto& acc, index_t c0) {
        constexpr int kVectors = static_cast<int>(std::extent_v<std::remove_reference_t<decltype(acc)>, 1>);
        const bool padded = c0 + kVectors * Group::kWidth > k;  // the last group: hide the padding
        for (int v = 0; v < kVectors; ++v) {
            typename Group::Indices at;
            Group::indices_from(c0 + v * Group::kWidth, at);
            const auto real = at < static_cast<typename Group::Index>(k);
            const auto far = typename Group::Values{} + std::numeric_limits<T>::infinity();
            for (int p = 0; p < kPoints; ++p) lanes[p].absorb(padded ? (real ? acc[p][v] : far) : acc[p][v], at);
        }
    });
    for (int p = 0; p < kPoints; ++p) fold(lanes[p], out[p]);
}

#undef VECCLUST_INLINE

#else  // plain loops, kLanes centres at a time

template <class T, class Sink>
void tile_groups(const T* const* points, const T* centers_t, index_t d, index_t k, index_t k_padded, Sink&& sink) {
    constexpr int kPoints = kTilePoints<T>;
    for (index_t c0 = 0; c0 < k; c0 += kLanes) {
        T acc[kPoints][kLanes] = {};
        for (index_t j = 0; j < d; ++j) {
            const T* row = centers_t + j * k_padded + c0;
            for (int p = 0; p < kPoints; ++p)
                for (index_t l = 0; l < kLanes; ++l) {
                    const T diff = points[p][j] - row[l];
                    acc[p][l] += diff * diff;
                }
        }
        sink(acc, c0);
    }
}

template <class T, int /* vector width: none */>
void tile_distances(const T* const* points, const T* centers_t, index_t d, index_t k, index_t k_padded, T* out) {
    tile_groups(points, centers_t, d, k, k_padded, [&](const T (&acc)[kTilePoints<T>][kLanes], index_t c0) {
        for (int p = 0; p < kTilePoints<T>; ++p) std::copy(acc[p], acc[p] + kLanes, out + p * k_padded + c0);
    });
}

// The nearest-two scan of one point, one centre at a time in index order.
template <class T>
void absorb(T value, index_t c, NearestTwo<T>& out) {
    if (value < out.nearest) out.second = out.nearest, out.nearest = value, out.index = c;
    else if (value < out.second) out.second = value;
}

template <class T, int /* vector width: none */>
void tile_nearest_two(const T* const* points, const T* centers_t, index_t d, index_t k, index_t k_padded,
                      NearestTwo<T>* out) {
    for (int p = 0; p < kTilePoints<T>; ++p) out[p] = {0, std::numeric_limits<T>::infinity(), std::numeric_limits<T>::infinity()};
    tile_groups(points, centers_t, d, k, k_padded, [&](const T (&acc)[kTilePoints<T>][kLanes], index_t c0) {
        for (int p = 0; p < kTilePoints<T>; ++p)
            for (index_t l = 0; l < std::min(kLanes, k - c0); ++l) absorb(acc[p][l], c0 + l, out[p]);
    });
}

template <class T, int /* vector width: none */>
void nearest_two(const T* dist, index_t k_padded, NearestTwo<T>& out) {
    out = {0, std::numeric_limits<T>::infinity(), std::numeric_limits<T>::infinity()};
    for (index_t c = 0; c < k_padded; ++c) absorb(dist[c], c, out);
}

#endif

}  // namespace kernels

}  // namespace kmeans_detail
}  // namespace vecclust
