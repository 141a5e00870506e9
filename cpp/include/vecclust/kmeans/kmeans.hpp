// k-means: greedy k-means++ seeding, Lloyd iterations and the bounded variants of Hamerly (one
// lower bound per point) and Elkan (one per point and centre), which make the same assignments
// while skipping most distance computations, with scikit-learn's empty-cluster relocation and
// convergence rule. Every pass over the points runs in fixed chunks combined in chunk order, so
// results are bit-identical for any thread count.
#pragma once

#include <algorithm>    // std::min, std::max, std::upper_bound
#include <cmath>        // std::sqrt, std::log
#include <cstdint>      // std::int32_t, std::int64_t
#include <cstring>      // std::memcpy
#include <limits>       // std::numeric_limits
#include <numeric>      // std::iota
#include <string>       // std::string
#include <type_traits>  // std::conditional_t
#include <vector>       // std::vector

#include "vecclust/cpu/isa.hpp"
#include "vecclust/base/parallel.hpp"
#include "vecclust/base/random.hpp"

namespace vecclust {

enum class KMeansAlgorithm { lloyd, hamerly, elkan };

inline KMeansAlgorithm parse_kmeans_algorithm(const std::string& name) {
    if (name == "lloyd") return KMeansAlgorithm::lloyd;
    if (name == "hamerly") return KMeansAlgorithm::hamerly;
    if (name == "elkan") return KMeansAlgorithm::elkan;
    throw std::invalid_argument("unknown k-means algorithm '" + name + "' (use 'lloyd', 'hamerly' or 'elkan')");
}

struct KMeansOptions {
    index_t max_iter = 300;
    double tol = 0.0;  // absolute: stop once the sum of squared centre shifts is <= tol
    KMeansAlgorithm algorithm = KMeansAlgorithm::hamerly;
};

template <class T>
struct KMeansResult {
    std::vector<T> centers;       // k x d, row-major
    std::vector<index_t> labels;  // n
    double inertia = 0.0;         // sum of weight * squared distance to the own centre
    index_t n_iter = 0;
    bool converged = false;
};

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
// GCC and Clang get explicit vectors of kBytes, one body per instruction set (isa.hpp); other
// compilers the plain loops.
namespace kernels {

constexpr int kBaselineBytes = 16;  // SSE2 on x86-64, NEON on ARM

#if defined(__GNUC__)
#define VECCLUST_INLINE inline __attribute__((always_inline))

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

#ifdef VECCLUST_ISA_DISPATCH
// The kernels compiled for one instruction set, as functions of that target.
#define VECCLUST_KMEANS_KERNELS(level, target, bytes)                                                                  \
    template <class T>                                                                                                 \
    target void tile_distances_##level(const T* const* points, const T* centers_t, index_t d, index_t k, index_t k_padded, \
                                       T* out) {                                                                       \
        tile_distances<T, bytes>(points, centers_t, d, k, k_padded, out);                                              \
    }                                                                                                                  \
    template <class T>                                                                                                 \
    target void tile_nearest_two_##level(const T* const* points, const T* centers_t, index_t d, index_t k,              \
                                         index_t k_padded, NearestTwo<T>* out) {                                       \
        tile_nearest_two<T, bytes>(points, centers_t, d, k, k_padded, out);                                            \
    }                                                                                                                  \
    template <class T>                                                                                                 \
    target void nearest_two_##level(const T* dist, index_t k_padded, NearestTwo<T>& out) {                             \
        nearest_two<T, bytes>(dist, k_padded, out);                                                                    \
    }
VECCLUST_KMEANS_KERNELS(avx2, VECCLUST_TARGET_AVX2, 32)
VECCLUST_KMEANS_KERNELS(avx512, VECCLUST_TARGET_AVX512, 64)
#undef VECCLUST_KMEANS_KERNELS
#endif

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

// out[m] = squared_distance(a[m], b[m], d) for m < count. Each is the sequential sum of
// squared_distance, so the bits agree with the tile kernel; a group of independent sums runs
// side by side to hide the addition latency.
template <class T>
VECCLUST_MULTIVERSION void paired_squared_distances(const T* const* a, const T* const* b, index_t d, index_t count, T* out) {
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
}

// Adds each point of [begin, end), times its weight (1 without weights), to its cluster's
// sums (k x d) and the weight to weights[label], in point order.
template <class T>
VECCLUST_MULTIVERSION void add_to_clusters(const T* x, const T* point_weights, const index_t* labels, index_t begin,
                                           index_t end, index_t d, double* sums, double* weights) {
    for (index_t i = begin; i < end; ++i) {
        const T* point = x + i * d;
        const double w = point_weights ? static_cast<double>(point_weights[i]) : 1.0;
        double* sum = sums + labels[i] * d;
        for (index_t j = 0; j < d; ++j) sum[j] += w * static_cast<double>(point[j]);
        weights[labels[i]] += w;
    }
}

// Elkan's test of every centre against a point's bounds: flags[c] = 1 for the centres that
// neither their (drift-shifted) lower bound nor half their distance to the point's centre rules
// out for a point whose nearest-centre distance is at most `reach`. Returns their number.
// Branch-free and on lane-wide flags so that it vectorises.
template <class T, class Flag = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>>
VECCLUST_MULTIVERSION index_t flag_candidates(const T* __restrict lower, const T* __restrict half_gaps,
                                              const T* __restrict drift, T reach, index_t k, Flag* __restrict flags) {
    constexpr T kUp = T(1) + T(2) * std::numeric_limits<T>::epsilon();  // (a + b) * kUp >= the exact a + b
    Flag count = 0;
    for (index_t c = 0; c < k; ++c) {
        const Flag open = static_cast<Flag>(!(lower[c] > (reach + drift[c]) * kUp) & !(half_gaps[c] > reach));
        flags[c] = open;
        count += open;
    }
    return static_cast<index_t>(count);
}

// Elkan's stored lower bounds from computed squared distances: out[c] is a T no larger than the
// exact sqrt(squared[c]) * (1 - margin) + drift[c], where shrink <= (1 - margin)(1 + eps / 2)
// and drift_below[c] <= drift[c]: the four roundings of at most eps / 2 each are outweighed by
// the final factor 1 - 4 eps.
template <class T>
VECCLUST_MULTIVERSION void lower_bounds_from(const T* __restrict squared, const T* __restrict drift_below, index_t k,
                                             T shrink, T* __restrict out) {
    constexpr T kDown = T(1) - T(4) * std::numeric_limits<T>::epsilon();
    for (index_t c = 0; c < k; ++c) out[c] = (std::sqrt(squared[c]) * shrink + drift_below[c]) * kDown;
}

// Rounding-safe bounds for Elkan's algorithm. A distance computed as above (d squared
// differences summed in T, then a square root) is within a relative (d + 2) eps / 4 of the
// exact one; `margin` = (d + 8) eps covers that with room to spare, so sqrt(computed) * (1 +
// margin) is a true upper bound of the exact distance and * (1 - margin) a true lower bound.
// The helpers round every derived quantity in the safe direction, so a pruned centre is
// provably farther than the kept one and the labels equal Lloyd's exactly.
template <class T>
struct SafeBounds {
    static constexpr double kEps = std::numeric_limits<T>::epsilon();
    static constexpr double kDoubleEps = std::numeric_limits<double>::epsilon();
    double margin;
    double slack;  // a pruned centre's bound must exceed the upper bound by this factor

    explicit SafeBounds(index_t d) : margin(static_cast<double>(d + 8) * kEps), slack(1.0 + 2.0 * margin) {}

    // For v >= 0: a T no larger (smaller) than v.
    static T below(double v) { return static_cast<T>(v * (1.0 - 4.0 * kEps)); }
    static T above(double v) { return static_cast<T>(v * (1.0 + 4.0 * kEps)); }
    // At least a + b, for a, b >= 0.
    static double sum_above(double a, double b) { return (a + b) * (1.0 + 2.0 * kDoubleEps); }
    double upper(T squared) const { return std::sqrt(static_cast<double>(squared)) * (1.0 + margin); }
    double lower(T squared) const { return std::sqrt(static_cast<double>(squared)) * (1.0 - margin); }
};

}  // namespace kmeans_detail

// The centres transposed and padded for the assignment kernels, which it runs with the
// instruction set chosen when it was built.
template <class T>
class CenterTable {
  public:
    CenterTable(const T* centers, index_t k, index_t d)
        : k_(k), d_(d), k_padded_((k + kmeans_detail::kLanes - 1) / kmeans_detail::kLanes * kmeans_detail::kLanes),
          level_(isa::current()), transposed_(static_cast<size_t>(k_padded_ * d)) {
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
        namespace kernels = kmeans_detail::kernels;
#ifdef VECCLUST_ISA_DISPATCH
        if (level_ == isa::Level::avx512) return kernels::tile_distances_avx512(points, data(), d_, k_, k_padded_, out);
        if (level_ == isa::Level::avx2) return kernels::tile_distances_avx2(points, data(), d_, k_, k_padded_, out);
#endif
        kernels::tile_distances<T, kernels::kBaselineBytes>(points, data(), d_, k_, k_padded_, out);
    }

    // The nearest two centres of each of kmeans_detail::kTilePoints<T> points, without
    // storing the distances.
    void tile_nearest_two(const T* const* points, kmeans_detail::NearestTwo<T>* out) const {
        namespace kernels = kmeans_detail::kernels;
#ifdef VECCLUST_ISA_DISPATCH
        if (level_ == isa::Level::avx512) return kernels::tile_nearest_two_avx512(points, data(), d_, k_, k_padded_, out);
        if (level_ == isa::Level::avx2) return kernels::tile_nearest_two_avx2(points, data(), d_, k_, k_padded_, out);
#endif
        kernels::tile_nearest_two<T, kernels::kBaselineBytes>(points, data(), d_, k_, k_padded_, out);
    }

    // The same for one row of tile_distances, whose padding entries it sets to +infinity.
    kmeans_detail::NearestTwo<T> nearest_two(T* row) const {
        namespace kernels = kmeans_detail::kernels;
        std::fill(row + k_, row + k_padded_, std::numeric_limits<T>::infinity());
        kmeans_detail::NearestTwo<T> out;
#ifdef VECCLUST_ISA_DISPATCH
        if (level_ == isa::Level::avx512) return kernels::nearest_two_avx512(row, k_padded_, out), out;
        if (level_ == isa::Level::avx2) return kernels::nearest_two_avx2(row, k_padded_, out), out;
#endif
        kernels::nearest_two<T, kernels::kBaselineBytes>(row, k_padded_, out);
        return out;
    }

  private:
    const T* data() const { return transposed_.data(); }

    index_t k_, d_, k_padded_;
    isa::Level level_;
    std::vector<T> transposed_;
};

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

namespace kmeans_detail {

// One k-means run's state: assignment with optional Hamerly or Elkan bounds, and per-chunk
// partial sums for the centre update.
template <class T>
class LloydRun {
  public:
    LloydRun(const T* x, index_t n, index_t d, const T* weights, index_t k, KMeansAlgorithm algorithm, ThreadPool& pool)
        : x_(x), n_(n), d_(d), k_(k), weights_(weights), bounds_(k > 1 ? algorithm : KMeansAlgorithm::lloyd),
          pool_(pool), n_chunks_((n + kChunk - 1) / kChunk), labels_(static_cast<size_t>(n), 0),
          chunk_sums_(static_cast<size_t>(n_chunks_ * k * d)), chunk_weights_(static_cast<size_t>(n_chunks_ * k)),
          chunk_changed_(static_cast<size_t>(n_chunks_)), safe_(d) {
        if (bounds_ != KMeansAlgorithm::lloyd) upper_.assign(static_cast<size_t>(n), 0.0);
        if (bounds_ == KMeansAlgorithm::hamerly) lower_.assign(static_cast<size_t>(n), 0.0);
        if (bounds_ == KMeansAlgorithm::elkan) {
            lower_rows_.assign(static_cast<size_t>(n * k), T(0));
            drift_.assign(static_cast<size_t>(k), 0.0);
            drift_above_.assign(static_cast<size_t>(k), T(0));
            drift_below_.assign(static_cast<size_t>(k), T(0));
        }
    }

    // Assigns every point to its nearest centre and accumulates the weighted sums per cluster.
    // Returns the number of points whose label changed (all of them on the first call).
    index_t assign(const std::vector<T>& centers, bool first) {
        const CenterTable<T> table(centers.data(), k_, d_);
        const bool use_bounds = bounds_ != KMeansAlgorithm::lloyd && !first;
        if (use_bounds) prepare_bounds(centers);
        pool_.for_chunks(n_, kChunk, [&](index_t begin, index_t end, index_t chunk) {
            double* sums = chunk_sums_.data() + chunk * k_ * d_;
            double* weights = chunk_weights_.data() + chunk * k_;
            std::fill(sums, sums + k_ * d_, 0.0);
            std::fill(weights, weights + k_, 0.0);
            // Points the bounds cannot settle are scanned against all centres afterwards, a
            // tile of points at a time; the sums are then accumulated in point order.
            std::vector<index_t> new_labels(labels_.begin() + begin, labels_.begin() + end), to_scan;
            to_scan.reserve(static_cast<size_t>(end - begin));
            if (!use_bounds) {
                for (index_t i = begin; i < end; ++i) to_scan.push_back(i);
            } else if (bounds_ == KMeansAlgorithm::hamerly) {
                hamerly_unsettled(begin, end, centers, to_scan);
            } else {
                ElkanScratch scratch;
                for (index_t i = begin; i < end; ++i)
                    if (!elkan_settles(i, centers, new_labels[static_cast<size_t>(i - begin)], scratch)) to_scan.push_back(i);
            }
            scan_labels(to_scan, table, new_labels.data() - begin);
            index_t changed = 0;
            for (index_t i = begin; i < end; ++i) {
                const index_t label = new_labels[static_cast<size_t>(i - begin)];
                changed += first || label != labels_[static_cast<size_t>(i)];
                labels_[static_cast<size_t>(i)] = label;
            }
            add_to_clusters(x_, weights_, labels_.data(), begin, end, d_, sums, weights);
            chunk_changed_[static_cast<size_t>(chunk)] = changed;
        });
        index_t changed = 0;
        for (index_t c : chunk_changed_) changed += c;
        return changed;
    }

    // New centres from the sums of the last assign(): weighted means; an empty cluster takes the
    // point farthest from its centre (scikit-learn's rule). Returns the sum of squared shifts.
    double update(std::vector<T>& centers) {
        std::vector<double> sums(static_cast<size_t>(k_ * d_), 0.0), weights(static_cast<size_t>(k_), 0.0);
        for (index_t chunk = 0; chunk < n_chunks_; ++chunk) {
            for (index_t e = 0; e < k_ * d_; ++e) sums[static_cast<size_t>(e)] += chunk_sums_[static_cast<size_t>(chunk * k_ * d_ + e)];
            for (index_t c = 0; c < k_; ++c) weights[static_cast<size_t>(c)] += chunk_weights_[static_cast<size_t>(chunk * k_ + c)];
        }
        // Copied before the relocation, which may move a centre itself (onto a zero-weight point):
        // Hamerly's bounds must see that move as a shift.
        const std::vector<T> old = centers;
        relocated_ = relocate_empty(centers, sums, weights);
        shifts_.assign(static_cast<size_t>(k_), 0.0);
        double total_shift = 0.0;
        for (index_t c = 0; c < k_; ++c) {
            const double w = weights[static_cast<size_t>(c)];
            if (w > 0)
                for (index_t j = 0; j < d_; ++j)
                    centers[static_cast<size_t>(c * d_ + j)] = static_cast<T>(sums[static_cast<size_t>(c * d_ + j)] / w);
            const double shift = squared_distance(&centers[static_cast<size_t>(c * d_)], &old[static_cast<size_t>(c * d_)], d_);
            shifts_[static_cast<size_t>(c)] = std::sqrt(shift);
            total_shift += shift;
        }
        if (bounds_ == KMeansAlgorithm::elkan) advance_drift();
        return total_shift;
    }

    const std::vector<index_t>& labels() const { return labels_; }
    // Whether the last update() moved an empty cluster's centre onto a point.
    bool relocated() const { return relocated_; }
    std::vector<index_t> take_labels() { return std::move(labels_); }

    double inertia(const std::vector<T>& centers) {
        std::vector<double> partial(static_cast<size_t>(n_chunks_));
        pool_.for_chunks(n_, kChunk, [&](index_t begin, index_t end, index_t chunk) {
            double sum = 0.0;
            for (index_t i = begin; i < end; ++i)
                sum += weight(i) * static_cast<double>(squared_distance(
                                       x_ + i * d_, &centers[static_cast<size_t>(labels_[static_cast<size_t>(i)] * d_)], d_));
            partial[static_cast<size_t>(chunk)] = sum;
        });
        double total = 0.0;
        for (double p : partial) total += p;
        return total;
    }

  private:
    double weight(index_t i) const { return weights_ ? static_cast<double>(weights_[i]) : 1.0; }

    // Labels the points `points` (ascending) by their distances to every centre: label_of[i]
    // for point i. With bounds, also resets the point's bounds: Hamerly's to the nearest and
    // second nearest distances, Elkan's to every distance.
    void scan_labels(const std::vector<index_t>& points, const CenterTable<T>& table, index_t* label_of) {
        constexpr int kPoints = kTilePoints<T>;
        const index_t count = static_cast<index_t>(points.size());
        const bool elkan = bounds_ == KMeansAlgorithm::elkan;
        std::vector<T> dist(elkan ? static_cast<size_t>(kPoints * table.padded()) : 0);  // Elkan keeps every distance
        for (index_t t = 0; t < count; t += kPoints) {
            const T* rows[kPoints];
            for (int p = 0; p < kPoints; ++p)  // a short last tile repeats its last point
                rows[p] = x_ + points[static_cast<size_t>(std::min(t + p, count - 1))] * d_;
            NearestTwo<T> nearest[kPoints];
            if (elkan) {
                table.tile_distances(rows, dist.data());
                for (int p = 0; p < kPoints; ++p) nearest[p] = table.nearest_two(dist.data() + p * table.padded());
            } else {
                table.tile_nearest_two(rows, nearest);
            }
            for (index_t p = 0; p < std::min<index_t>(kPoints, count - t); ++p) {
                const index_t i = points[static_cast<size_t>(t + p)];
                label_of[i] = nearest[p].index;
                if (bounds_ == KMeansAlgorithm::hamerly) {
                    upper_[static_cast<size_t>(i)] = std::sqrt(static_cast<double>(nearest[p].nearest));
                    lower_[static_cast<size_t>(i)] = std::sqrt(static_cast<double>(nearest[p].second));
                } else if (elkan) {
                    upper_[static_cast<size_t>(i)] = safe_.upper(nearest[p].nearest);
                    lower_bounds_from(dist.data() + p * table.padded(), drift_below_.data(), k_, shrink_, lower_rows_.data() + i * k_);
                }
            }
        }
    }

    // Hamerly: moves the bounds of the points [begin, end) with the centres and appends to
    // `unsettled` (ascending) those whose bounds no longer prove that their centre is the
    // nearest, even with the upper bound recomputed exactly. `slack` covers rounding in the
    // computed distances.
    void hamerly_unsettled(index_t begin, index_t end, const std::vector<T>& centers, std::vector<index_t>& unsettled) {
        auto bound = [&](size_t s) { return std::max(lower_[s], half_gap_[static_cast<size_t>(labels_[s])]); };
        std::vector<index_t> recheck;  // the exact upper bounds are computed side by side
        std::vector<const T*> points, own_centers;
        for (index_t i = begin; i < end; ++i) {
            const auto s = static_cast<size_t>(i);
            const index_t label = labels_[s];
            upper_[s] += shifts_[static_cast<size_t>(label)];
            lower_[s] -= label == farthest_mover_ ? second_max_shift_ : max_shift_;
            if (upper_[s] * slack_ <= bound(s)) continue;
            recheck.push_back(i);
            points.push_back(x_ + i * d_);
            own_centers.push_back(&centers[static_cast<size_t>(label * d_)]);
        }
        const auto count = static_cast<index_t>(recheck.size());
        std::vector<T> squared(recheck.size());
        paired_squared_distances(points.data(), own_centers.data(), d_, count, squared.data());
        for (index_t m = 0; m < count; ++m) {
            const auto s = static_cast<size_t>(recheck[static_cast<size_t>(m)]);
            upper_[s] = std::sqrt(static_cast<double>(squared[static_cast<size_t>(m)]));
            if (upper_[s] * slack_ > bound(s)) unsettled.push_back(recheck[static_cast<size_t>(m)]);
        }
    }

    // Per-iteration quantities of the bounds: half the distance from each centre to its
    // nearest other centre (Elkan: to every other centre, rounded down), and the largest
    // centre moves.
    void prepare_bounds(const std::vector<T>& centers) {
        half_gap_.assign(static_cast<size_t>(k_), kInf);
        const bool elkan = bounds_ == KMeansAlgorithm::elkan;
        if (elkan) half_gaps_.assign(static_cast<size_t>(k_ * k_), std::numeric_limits<T>::infinity());
        for (index_t a = 0; a < k_; ++a)
            for (index_t b = a + 1; b < k_; ++b) {
                const T squared = squared_distance(&centers[static_cast<size_t>(a * d_)], &centers[static_cast<size_t>(b * d_)], d_);
                double half = 0.5 * std::sqrt(static_cast<double>(squared));
                if (elkan) {
                    const T safe_half = SafeBounds<T>::below(0.5 * safe_.lower(squared));
                    half_gaps_[static_cast<size_t>(a * k_ + b)] = half_gaps_[static_cast<size_t>(b * k_ + a)] = safe_half;
                    half = static_cast<double>(safe_half);
                }
                half_gap_[static_cast<size_t>(a)] = std::min(half_gap_[static_cast<size_t>(a)], half);
                half_gap_[static_cast<size_t>(b)] = std::min(half_gap_[static_cast<size_t>(b)], half);
            }
        max_shift_ = second_max_shift_ = 0.0;
        farthest_mover_ = -1;
        for (index_t c = 0; c < k_; ++c) {
            const double shift = shifts_[static_cast<size_t>(c)];
            if (shift > max_shift_) second_max_shift_ = max_shift_, max_shift_ = shift, farthest_mover_ = c;
            else if (shift > second_max_shift_) second_max_shift_ = shift;
        }
        slack_ = 1.0 + 4.0 * static_cast<double>(d_ + 2) * std::numeric_limits<T>::epsilon();
    }

    // Elkan's lower bounds are stored shifted by drift_, each centre's summed (rounded up) moves
    // since the start: lower_rows_[i * k + c] - drift_[c] bounds the distance from point i to
    // centre c from below, so a centre's move loosens all its bounds at once without touching
    // n x k memory.
    void advance_drift() {
        for (index_t c = 0; c < k_; ++c) {
            const auto s = static_cast<size_t>(c);
            drift_[s] = SafeBounds<T>::sum_above(drift_[s], shifts_[s] * (1.0 + safe_.margin));
            drift_above_[s] = SafeBounds<T>::above(drift_[s]);
            drift_below_[s] = SafeBounds<T>::below(drift_[s]);
        }
    }

    // The stored form of a lower bound on the distance to centre c, from its computed square.
    T lower_bound(T squared, index_t c) const {
        T out;
        lower_bounds_from(&squared, &drift_below_[static_cast<size_t>(c)], 1, shrink_, &out);
        return out;
    }

    using Flag = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
    struct ElkanScratch {
        std::vector<Flag> flags;
        std::vector<index_t> candidates;
        std::vector<const T*> point, rows;  // the point repeated, the candidates' centres
        std::vector<T> squared;
    };

    // Elkan: loosens the point's upper bound by its centre's move, then tests every centre
    // against its bounds; the distances the bounds cannot settle are computed (after the own
    // centre's, which tightens the upper bound). Returns false when so many centres remain
    // that a full scan is cheaper; otherwise `label` is the nearest centre (first on ties).
    bool elkan_settles(index_t i, const std::vector<T>& centers, index_t& label, ElkanScratch& scratch) {
        const auto s = static_cast<size_t>(i);
        const index_t own = label;
        double upper = SafeBounds<T>::sum_above(upper_[s], shifts_[static_cast<size_t>(own)] * (1.0 + safe_.margin));
        upper_[s] = upper;
        T reach = SafeBounds<T>::above(upper * safe_.slack);
        if (static_cast<double>(reach) < half_gap_[static_cast<size_t>(own)]) return true;
        T* lower = lower_rows_.data() + i * k_;
        const T* half_gaps = half_gaps_.data() + own * k_;
        if (scratch.flags.empty()) {
            scratch.flags.resize(static_cast<size_t>(k_));
            scratch.candidates.resize(static_cast<size_t>(k_));
            scratch.point.resize(static_cast<size_t>(k_));
            scratch.rows.resize(static_cast<size_t>(k_));
            scratch.squared.resize(static_cast<size_t>(k_));
        }
        Flag* flags = scratch.flags.data();
        if (flag_candidates(lower, half_gaps, drift_above_.data(), reach, k_, flags) == 0) return true;

        const T* point = x_ + i * d_;
        const T own_squared = squared_distance(point, &centers[static_cast<size_t>(own * d_)], d_);
        upper = safe_.upper(own_squared);
        upper_[s] = upper;
        lower[own] = lower_bound(own_squared, own);
        reach = SafeBounds<T>::above(upper * safe_.slack);
        const index_t count = flag_candidates(lower, half_gaps, drift_above_.data(), reach, k_, flags);
        if (count == 0) return true;
        if (count > elkan_scan_limit()) return false;

        index_t* candidates = scratch.candidates.data();
        const T** rows = scratch.rows.data();
        for (index_t c = 0, m = 0; c < k_; ++c) {  // branch-free compaction
            candidates[m] = c;
            rows[m] = &centers[static_cast<size_t>(c * d_)];
            m += flags[c];
        }
        std::fill(scratch.point.begin(), scratch.point.begin() + count, point);
        paired_squared_distances(scratch.point.data(), rows, d_, count, scratch.squared.data());
        index_t best = own;
        T best_squared = own_squared;
        for (index_t m = 0; m < count; ++m) {
            const index_t c = scratch.candidates[static_cast<size_t>(m)];
            const T squared = scratch.squared[static_cast<size_t>(m)];
            lower[c] = lower_bound(squared, c);
            if (squared < best_squared || (squared == best_squared && c < best)) best = c, best_squared = squared;
        }
        if (best != own) upper_[s] = safe_.upper(best_squared);
        label = best;
        return true;
    }

    // Beyond this many candidate centres a point is scanned against all k with the tile kernel,
    // which computes a distance several times faster than the one-by-one kernel.
    index_t elkan_scan_limit() const { return std::max<index_t>(2, k_ / 16); }

    // Returns whether any cluster was empty.
    bool relocate_empty(std::vector<T>& centers, std::vector<double>& sums, std::vector<double>& weights) {
        std::vector<index_t> empty;
        for (index_t c = 0; c < k_; ++c)
            if (weights[static_cast<size_t>(c)] == 0.0) empty.push_back(c);
        if (empty.empty()) return false;
        std::vector<T> dist(static_cast<size_t>(n_));
        pool_.for_chunks(n_, kChunk, [&](index_t begin, index_t end, index_t) {
            for (index_t i = begin; i < end; ++i)
                dist[static_cast<size_t>(i)] = squared_distance(
                    x_ + i * d_, &centers[static_cast<size_t>(labels_[static_cast<size_t>(i)] * d_)], d_);
        });
        std::vector<index_t> order(static_cast<size_t>(n_));
        std::iota(order.begin(), order.end(), 0);
        const auto n_take = std::min<index_t>(static_cast<index_t>(empty.size()), n_);
        std::partial_sort(order.begin(), order.begin() + n_take, order.end(), [&](index_t a, index_t b) {
            return dist[static_cast<size_t>(a)] > dist[static_cast<size_t>(b)] ||
                   (dist[static_cast<size_t>(a)] == dist[static_cast<size_t>(b)] && a < b);
        });
        for (index_t e = 0; e < n_take; ++e) {
            const index_t point = order[static_cast<size_t>(e)], target = empty[static_cast<size_t>(e)];
            const index_t source = labels_[static_cast<size_t>(point)];
            const double w = weight(point);
            for (index_t j = 0; j < d_; ++j) {
                const double value = w * static_cast<double>(x_[point * d_ + j]);
                sums[static_cast<size_t>(source * d_ + j)] -= value;
                sums[static_cast<size_t>(target * d_ + j)] = value;
            }
            weights[static_cast<size_t>(source)] -= w;
            weights[static_cast<size_t>(target)] = w;
            if (w == 0.0)  // a zero-weight point cannot define a mean: take it as the centre directly
                std::copy(x_ + point * d_, x_ + (point + 1) * d_, centers.begin() + target * d_);
        }
        return true;
    }

    static constexpr double kInf = std::numeric_limits<double>::infinity();
    const T* x_;
    index_t n_, d_, k_;
    const T* weights_;
    KMeansAlgorithm bounds_;  // lloyd: none
    ThreadPool& pool_;
    index_t n_chunks_;
    std::vector<index_t> labels_;
    std::vector<double> chunk_sums_, chunk_weights_;
    std::vector<index_t> chunk_changed_;
    std::vector<double> upper_, lower_, half_gap_, shifts_;
    SafeBounds<T> safe_;
    // Elkan: n x k and k x k bounds, drift_ rounded up and down, and 1 - margin as a T.
    std::vector<T> lower_rows_, half_gaps_, drift_above_, drift_below_;
    T shrink_ = static_cast<T>(1.0 - safe_.margin);
    std::vector<double> drift_;
    double max_shift_ = 0.0, second_max_shift_ = 0.0, slack_ = 1.0;
    index_t farthest_mover_ = -1;
    bool relocated_ = false;
};

}  // namespace kmeans_detail

// k-means from the given k x d initial centres. Per iteration: assign, then move each centre to
// its cluster's weighted mean. Stops when no label changes (strict convergence) or when the
// summed squared centre shift is <= options.tol; then labels are made consistent with the final
// centres, as scikit-learn does.
template <class T>
KMeansResult<T> kmeans_fit(const T* x, index_t n, index_t d, const T* weights, std::vector<T> centers, index_t k,
                           const KMeansOptions& options, ThreadPool& pool) {
    require(k >= 1 && k <= n, "k-means needs 1 <= n_clusters <= n_samples");
    require(static_cast<index_t>(centers.size()) == k * d, "initial centres must be k x d");
    kmeans_detail::LloydRun<T> run(x, n, d, weights, k, options.algorithm, pool);
    KMeansResult<T> result;
    bool strict = false;
    for (index_t it = 0; it < options.max_iter; ++it) {
        const index_t changed = run.assign(centers, it == 0);
        const double shift = run.update(centers);
        result.n_iter = it + 1;
        if (pool.control().verbose())
            pool.control().report("Iteration " + std::to_string(it) + ": " + std::to_string(changed) +
                                  " labels changed, centre shift " + std::to_string(shift));
        if (it > 0 && changed == 0) {
            strict = true;
            break;
        }
        if (shift <= options.tol) break;
    }
    // Labels are re-derived unless they already match the centres: after a stop on the shift,
    // or when the last update relocated an empty cluster (which the unchanged labels never saw).
    if (!strict || run.relocated()) run.assign(centers, true);
    result.converged = strict || result.n_iter < options.max_iter;
    result.inertia = run.inertia(centers);
    result.labels = run.take_labels();
    result.centers = std::move(centers);
    return result;
}

}  // namespace vecclust
