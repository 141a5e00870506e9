// Where the algorithms get dissimilarities from.
//
// Every k-medoids algorithm reads distances through a "source" with two calls:
//   row(j, scratch) -> pointer to the n distances d(j, o), o = 0..n-1, contiguous;
//   at(i, j)        -> one distance.
// MatrixSource serves a precomputed symmetric matrix (row(j) is a pointer into it, no copy);
// FeatureSource computes distances from feature vectors on demand, so nothing of size n x n is
// ever stored. Both give bit-identical values for d(i, j) and d(j, i), however they are asked.
#pragma once

#include <algorithm>  // std::min
#include <cmath>      // std::sqrt, std::isfinite
#include <limits>     // std::numeric_limits
#include <string>     // std::string
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"
#include "vecclust/base/parallel.hpp"
#include "vecclust/cpu/isa.hpp"
#include "vecclust/cpu/simd.hpp"

namespace vecclust {

// The names are those of METRICS in Python (vecclust/_kmedoids/choices.py).
enum class Metric { euclidean, sqeuclidean, manhattan, cosine };

inline Metric parse_metric(const std::string& name) {
    if (name == "euclidean") return Metric::euclidean;
    if (name == "sqeuclidean") return Metric::sqeuclidean;
    if (name == "manhattan") return Metric::manhattan;
    if (name == "cosine") return Metric::cosine;
    throw std::invalid_argument("unknown metric '" + name + "'");
}

template <class T>
class MatrixSource {
  public:
    MatrixSource(const T* data, index_t n) : data_(data), n_(n) {}
    index_t size() const { return n_; }
    const T* row(index_t j, T* /*scratch*/) const { return data_ + static_cast<size_t>(j) * n_; }
    T at(index_t i, index_t j) const { return data_[static_cast<size_t>(i) * n_ + j]; }

  private:
    const T* data_;
    index_t n_;
};

namespace metric_ops {

template <class T>
struct SquaredDiff {
    static T step(T acc, T x, T q) {
        const T diff = x - q;
        return acc + diff * diff;
    }
    static T finish(T acc) { return acc; }
};
template <class T>
struct Euclidean : SquaredDiff<T> {
    static T finish(T acc) { return std::sqrt(acc); }
};
template <class T>
struct AbsDiff {
    static T step(T acc, T x, T q) { return acc + std::abs(x - q); }
    static T finish(T acc) { return acc; }
};
template <class T>
struct Dot {
    static T step(T acc, T x, T q) { return acc + x * q; }
    // Rounding can push 1 - cos slightly below zero; dissimilarities are never negative.
    static T finish(T acc) { return std::max(T(0), T(1) - acc); }
};

// Distances from kQueries query vectors to the 64 points of one block (stored dimension by
// dimension): each lane is a plain sequential sum over dimensions, vectorised across points.
// Called inside isa::dispatch, which compiles it at each level's vector width.
template <class T, class Op, int kQueries>
void block_distances(const T* block, index_t d, const T* const* queries, T* out) {
    constexpr index_t kLanes = 64;
    T acc[kQueries][kLanes] = {};
    for (index_t t = 0; t < d; ++t) {
        const T* lane = block + t * kLanes;
        for (int q = 0; q < kQueries; ++q) {
            const T value = queries[q][t];
            for (index_t b = 0; b < kLanes; ++b) acc[q][b] = Op::step(acc[q][b], lane[b], value);
        }
    }
    for (int q = 0; q < kQueries; ++q)
        for (index_t b = 0; b < kLanes; ++b) out[q * kLanes + b] = Op::finish(acc[q][b]);
}

}  // namespace metric_ops

// Distances from feature vectors. The points are kept in a blocked transposed layout
// (blocks of kBlock points, each block stored dimension by dimension) so the row kernel
// streams memory contiguously and vectorises across points without reordering any sum:
// every distance is the same sequential sum over dimensions, hence identical bits whichever
// kernel or thread computes it.
template <class T>
class FeatureSource {
  public:
    static constexpr index_t kBlock = 64;

    FeatureSource(const T* x, index_t n, index_t d, Metric metric) : n_(n), d_(d), metric_(metric) {
        rows_.assign(x, x + static_cast<size_t>(n) * d);
        if (metric == Metric::cosine) normalise_rows();
        const index_t n_blocks = (n + kBlock - 1) / kBlock;
        blocked_.assign(static_cast<size_t>(n_blocks * d * kBlock), T(0));
        for (index_t o = 0; o < n; ++o) {
            const index_t block = o / kBlock, lane = o % kBlock;
            for (index_t t = 0; t < d; ++t)
                blocked_[static_cast<size_t>((block * d + t) * kBlock + lane)] = rows_[static_cast<size_t>(o * d + t)];
        }
    }

    index_t size() const { return n_; }
    index_t dim() const { return d_; }
    Metric metric() const { return metric_; }
    const T* point(index_t i) const { return rows_.data() + static_cast<size_t>(i) * d_; }

    const T* row(index_t j, T* scratch) const {
        distances_to(point(j), scratch);
        scratch[j] = T(0);  // exact zero self-distance (cosine can be off by rounding)
        return scratch;
    }

    T at(index_t i, index_t j) const {
        if (i == j) return T(0);
        return distance(point(i), point(j));
    }

    // d(query, o) for every stored point o; `query` must already be normalised for cosine.
    void distances_to(const T* query, T* out) const {
        switch (metric_) {
            case Metric::euclidean: return one_row<metric_ops::Euclidean<T>>(query, out);
            case Metric::sqeuclidean: return one_row<metric_ops::SquaredDiff<T>>(query, out);
            case Metric::manhattan: return one_row<metric_ops::AbsDiff<T>>(query, out);
            case Metric::cosine: return one_row<metric_ops::Dot<T>>(query, out);
        }
    }

    // The same arithmetic as one lane of the block kernel.
    T distance(const T* a, const T* b) const {
        switch (metric_) {
            case Metric::euclidean: return std::sqrt(sum_over_dims<metric_ops::SquaredDiff<T>>(a, b));
            case Metric::sqeuclidean: return sum_over_dims<metric_ops::SquaredDiff<T>>(a, b);
            case Metric::manhattan: return sum_over_dims<metric_ops::AbsDiff<T>>(a, b);
            case Metric::cosine: return metric_ops::Dot<T>::finish(sum_over_dims<metric_ops::Dot<T>>(a, b));
        }
        return T(0);
    }

    // Prepares an outside vector (a new sample to predict) the way stored points were.
    void prepare_query(const T* in, T* out) const {
        std::copy(in, in + d_, out);
        if (metric_ == Metric::cosine) normalise(out);
    }

    // Distances between the points of block `row_block` (as queries) and of block
    // `column_block`: out[a * kBlock + b] = d(row_block * kBlock + a, column_block * kBlock + b).
    void block_pair(index_t row_block, index_t column_block, T* out) const {
        switch (metric_) {
            case Metric::euclidean: return block_pair_op<metric_ops::Euclidean<T>>(row_block, column_block, out);
            case Metric::sqeuclidean: return block_pair_op<metric_ops::SquaredDiff<T>>(row_block, column_block, out);
            case Metric::manhattan: return block_pair_op<metric_ops::AbsDiff<T>>(row_block, column_block, out);
            case Metric::cosine: return block_pair_op<metric_ops::Dot<T>>(row_block, column_block, out);
        }
    }

  private:
    template <class Op>
    T sum_over_dims(const T* a, const T* b) const {
        T acc = T(0);
        for (index_t t = 0; t < d_; ++t) acc = Op::step(acc, a[t], b[t]);
        return acc;
    }

    // Plain loops: AVX2 is the widest level worth its build time here.
    template <class Op>
    void one_row(const T* query, T* out) const {
        isa::dispatch<isa::Level::avx2>([&](auto) {
            T block_out[kBlock];
            const T* queries[1] = {query};
            for (index_t begin = 0; begin < n_; begin += kBlock) {
                metric_ops::block_distances<T, Op, 1>(blocked_.data() + static_cast<size_t>(begin * d_), d_, queries, block_out);
                std::copy(block_out, block_out + std::min(kBlock, n_ - begin), out + begin);
            }
        });
    }

    template <class Op>
    void block_pair_op(index_t row_block, index_t column_block, T* out) const {
        constexpr int kQueries = 8;
        const T* points = blocked_.data() + static_cast<size_t>(column_block * kBlock * d_);
        const index_t first = row_block * kBlock, last = std::min(n_, first + kBlock) - 1;
        isa::dispatch<isa::Level::avx2>([&](auto) {
            for (index_t a = 0; a < kBlock; a += kQueries) {
                const T* queries[kQueries];
                for (int q = 0; q < kQueries; ++q) queries[q] = point(std::min(first + a + q, last));
                metric_ops::block_distances<T, Op, kQueries>(points, d_, queries, out + a * kBlock);
            }
        });
    }

    void normalise(T* v) const {
        T norm2 = T(0);
        for (index_t t = 0; t < d_; ++t) norm2 += v[t] * v[t];
        if (norm2 > T(0)) {
            const T inv = T(1) / std::sqrt(norm2);
            for (index_t t = 0; t < d_; ++t) v[t] *= inv;
        }
    }
    void normalise_rows() {
        for (index_t i = 0; i < n_; ++i) normalise(rows_.data() + static_cast<size_t>(i) * d_);
    }

    index_t n_, d_;
    Metric metric_;
    std::vector<T> rows_;     // n x d, normalised for cosine
    std::vector<T> blocked_;  // blocks of kBlock points, dimension-major inside a block
};

// Distances from m queries to all points of `source`: out is m x n, row-major.
template <class T>
void pairwise_to_source(const FeatureSource<T>& source, const T* queries, index_t m, T* out, ThreadPool& pool) {
    const index_t n = source.size(), d = source.dim();
    pool.for_chunks(m, 16, [&](index_t begin, index_t end, index_t) {
        std::vector<T> query(static_cast<size_t>(d));
        for (index_t i = begin; i < end; ++i) {
            source.prepare_query(queries + static_cast<size_t>(i) * d, query.data());
            source.distances_to(query.data(), out + static_cast<size_t>(i) * n);
        }
    });
}

// The full n x n matrix of a feature source, exactly symmetric with a zero diagonal. Each
// 64 x 64 block pair on or above the diagonal is computed once into a local tile and written
// twice, as itself and transposed, with streaming stores: every entry is written once and
// never read back.
template <class T>
void full_matrix(const FeatureSource<T>& source, T* out, ThreadPool& pool) {
    constexpr index_t kBlock = FeatureSource<T>::kBlock;
    constexpr auto kWidth = static_cast<index_t>(simd::mirrored_block_width<T>());
    const index_t n = source.size(), n_blocks = (n + kBlock - 1) / kBlock;
    pool.run(n_blocks, [&](index_t row_block, int) {
        std::vector<T> tile(static_cast<size_t>(kBlock * kBlock));
        const index_t i0 = row_block * kBlock, rows = std::min(kBlock, n - i0);
        for (index_t column_block = row_block; column_block < n_blocks; ++column_block) {
            source.block_pair(row_block, column_block, tile.data());
            const index_t j0 = column_block * kBlock, columns = std::min(kBlock, n - j0);
            if (column_block == row_block)
                for (index_t a = 0; a < rows; ++a) tile[static_cast<size_t>(a * kBlock + a)] = T(0);
            for (index_t a = 0; a < rows; ++a)
                simd::stream_copy(tile.data() + a * kBlock, out + static_cast<size_t>(i0 + a) * n + j0, columns);
            if (column_block == row_block) continue;  // a diagonal block is symmetric already
            for (index_t b = 0; b < columns; b += kWidth) {
                for (index_t a = 0; a < rows; a += kWidth) {
                    if (a + kWidth <= rows && b + kWidth <= columns) {
                        simd::copy_transposed_block_to(tile.data(), static_cast<size_t>(kBlock), static_cast<size_t>(a),
                                                       static_cast<size_t>(b), out + static_cast<size_t>(j0 + b) * n + i0 + a,
                                                       static_cast<size_t>(n));
                        continue;
                    }
                    for (index_t bb = b; bb < std::min(b + kWidth, columns); ++bb)
                        for (index_t aa = a; aa < std::min(a + kWidth, rows); ++aa)
                            out[static_cast<size_t>(j0 + bb) * n + i0 + aa] = tile[static_cast<size_t>(aa * kBlock + bb)];
                }
            }
        }
        simd::store_fence();
    });
}

// What a precomputed dissimilarity matrix must satisfy: finite, non-negative, zero diagonal,
// symmetric up to a few ulps (matrices from BLAS-based distance code are often off by one
// rounding). One tiled pass reads each entry once with a branch-free test; only a tile that
// fails is scanned again to name the first bad entry.
template <class T>
struct MatrixCheck {
    T largest = T(0);  // the largest entry (0: every entry is zero)
};

namespace detail {

template <class T>
std::string describe_matrix_problem(const T* data, index_t n, index_t i0, index_t i1, index_t j0, index_t j1, T rtol) {
    auto entry = [&](index_t i, index_t j) { return data[static_cast<size_t>(i) * n + j]; };
    for (index_t i = i0; i < i1; ++i) {
        for (index_t j = j0; j < j1; ++j) {
            const T a = entry(i, j), b = entry(j, i);
            const std::string where = "[" + std::to_string(i) + ", " + std::to_string(j) + "]";
            if (!std::isfinite(a) || !std::isfinite(b))
                return "the dissimilarity matrix contains NaN or infinity (near entry " + where + ")";
            if (a < T(0) || b < T(0)) return "the dissimilarity matrix has a negative entry (near entry " + where + ")";
            if (i == j && a != T(0))
                return "the dissimilarity matrix must have a zero diagonal, but entry " + where + " is " + std::to_string(a);
            if (std::abs(a - b) > rtol * std::max(a, b))
                return "the dissimilarity matrix must be symmetric, but entry " + where + " = " + std::to_string(a) +
                       " differs from its transpose " + std::to_string(b) + "; use (D + D.T) / 2 to symmetrise it";
        }
    }
    return {};
}

}  // namespace detail

template <class T>
MatrixCheck<T> check_dissimilarity_matrix(const T* data, index_t n, ThreadPool& pool) {
    constexpr index_t kTile = 64;  // a multiple of every SIMD block width
    constexpr auto kWidth = static_cast<index_t>(simd::mirrored_block_width<T>());
    const T rtol = sizeof(T) == 4 ? T(1e-5) : T(1e-9);
    const T largest = std::numeric_limits<T>::max();
    const index_t n_tiles = (n + kTile - 1) / kTile;
    const index_t n_blocked = n - n % kWidth;  // the rest is checked entry by entry
    struct TileResult {
        std::string problem;
        T largest_seen = T(0);
    };
    std::vector<TileResult> results(static_cast<size_t>(n_tiles));
    pool.run(n_tiles, [&](index_t ti, int) {
        TileResult& result = results[static_cast<size_t>(ti)];
        const index_t i0 = ti * kTile, i1 = std::min(n, i0 + kTile);
        for (index_t i = i0; i < i1; ++i)
            if (data[static_cast<size_t>(i) * n + i] != T(0)) result.problem = detail::describe_matrix_problem(data, n, i, i + 1, i, i + 1, rtol);
        for (index_t tj = ti; tj < n_tiles && result.problem.empty(); ++tj) {
            const index_t j0 = tj * kTile, j1 = std::min(n, j0 + kTile);
            bool ok = true;
            for (index_t i = i0; i < std::min(i1, n_blocked); i += kWidth)
                for (index_t j = j0; j < std::min(j1, n_blocked); j += kWidth)
                    ok &= simd::mirrored_block_ok(data, static_cast<size_t>(n), static_cast<size_t>(i), static_cast<size_t>(j), rtol, largest, result.largest_seen);
            if (ok && (i1 > n_blocked || j1 > n_blocked)) {  // the ragged edge, entry by entry
                for (index_t i = i0; i < i1; ++i)
                    for (index_t j = (i < n_blocked ? std::max(j0, n_blocked) : j0); j < j1; ++j)
                        ok &= simd::mirrored_pair_ok(data[static_cast<size_t>(i) * n + j], data[static_cast<size_t>(j) * n + i],
                                                     rtol, largest, result.largest_seen);
            }
            if (!ok) result.problem = detail::describe_matrix_problem(data, n, i0, i1, j0, j1, rtol);
        }
    });
    MatrixCheck<T> check;
    for (const auto& result : results) {
        if (!result.problem.empty()) throw std::invalid_argument(result.problem);
        check.largest = std::max(check.largest, result.largest_seen);
    }
    return check;
}

}  // namespace vecclust
