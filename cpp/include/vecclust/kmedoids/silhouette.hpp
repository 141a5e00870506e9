// The exact silhouette (Rousseeuw, 1987) without an n x n matrix.
//
// Everything the silhouette needs is, for every point i and cluster c, the (weighted) sum of
// the distances from i to the members of c: an n x k table of doubles. From features it is
// built on a copy of the points sorted by cluster, so that each pair of clusters (a, b) is one
// dense block of distances: its row sums give the entries (i in a, b), its column sums the
// entries (j in b, a), and each distance is computed once. Each entry of the table is written
// by one task, summed in an order fixed by the data alone, so the result is the same for any
// thread count; the distance kernel adds each lane's terms in feature order in T (float32
// stays float32), the sums are doubles.
//
// Weights: w_j multiplies d(i, j) in the sums and the sizes are weight totals, so
// a(i) = sum_{j in A, j != i} w_j d(i, j) / sum_{j in A, j != i} w_j and
// b(i) = min over other clusters C with positive weight of sum_{j in C} w_j d(i, j) / W_C;
// s(i) = 0 when no other point of positive weight shares i's cluster (a singleton), when no
// other cluster has positive weight, and when a = b = 0. A zero weight removes a point from
// every other point's silhouette (its own is still computed).
#pragma once

#include <algorithm>  // std::max, std::min
#include <cmath>      // std::sqrt, std::isfinite
#include <cstring>    // std::memcpy
#include <limits>     // std::numeric_limits
#include <string>     // std::to_string
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"
#include "vecclust/base/parallel.hpp"
#include "vecclust/cpu/isa.hpp"
#include "vecclust/kmedoids/distance.hpp"  // Metric

namespace vecclust {

namespace silhouette_detail {

constexpr index_t kLanes = 16;  // columns per group: the lanes of every double sum

// A tile of distances from kQueries points to the kLanes points of one group (stored
// dimension by dimension), in vectors of kBytes. Manhattan adds the absolute differences in
// feature order; the others the dot products, and then take the metric's last step. For the
// squared distance that is |x|^2 + |y|^2 - 2 x.y of points shifted to near zero (see
// ShiftedTask), so that it cancels little; rounding can still take it below zero.
template <class T, int kBytes, int kQueries, Metric kMetric>
inline void group_tile(const T* const* queries, const T* group, index_t d, const T* query_norms,
                       const T* group_norms, T* out) {
    typedef T Vector __attribute__((vector_size(kBytes)));
    constexpr int kWidth = kBytes / static_cast<int>(sizeof(T)), kVectors = static_cast<int>(kLanes) / kWidth;
    const auto term = [](const Vector& column, T q) {
        if constexpr (kMetric == Metric::manhattan) {
            const Vector diff = column - q;
            return diff < T(0) ? -diff : diff;
        } else {
            return column * q;
        }
    };
    Vector acc[kQueries][kVectors];
    for (index_t t = 0; t < d; ++t) {  // d >= 1; the first term starts each sum (no memset)
#pragma GCC unroll 8
        for (int v = 0; v < kVectors; ++v) {
            Vector column;
            std::memcpy(&column, group + t * kLanes + v * kWidth, sizeof(Vector));
#pragma GCC unroll 16
            for (int p = 0; p < kQueries; ++p) acc[p][v] = t == 0 ? term(column, queries[p][0]) : acc[p][v] + term(column, queries[p][t]);
        }
    }
    for (int p = 0; p < kQueries; ++p)
        for (int v = 0; v < kVectors; ++v) {
            Vector value = acc[p][v];
            if constexpr (kMetric == Metric::cosine) {
                value = T(1) - value;
                value = value < T(0) ? T(0) : value;
                value = value > T(2) ? T(2) : value;
            } else if constexpr (kMetric != Metric::manhattan) {
                Vector norms;
                std::memcpy(&norms, group_norms + v * kWidth, sizeof(Vector));
                value = (query_norms[p] + norms) - (value + value);
                value = value < T(0) ? T(0) : value;
                if constexpr (kMetric == Metric::euclidean)
                    for (int e = 0; e < kWidth; ++e) value[e] = std::sqrt(value[e]);
            }
            std::memcpy(out + p * kLanes + v * kWidth, &value, sizeof(Vector));
        }
}

// The 16 lanes of a sum, added in a fixed tree.
inline double fold_lanes(double* lanes) {
    for (index_t half = kLanes / 2; half >= 1; half /= 2)
        for (index_t l = 0; l < half; ++l) lanes[l] += lanes[l + half];
    return lanes[0];
}

// The points sorted by cluster (stable), each cluster's members in groups of kLanes stored
// dimension by dimension, padded with zero points of weight 0.
template <class T>
struct SortedClusters {
    index_t n, d, k;
    std::vector<index_t> order;        // sorted position -> sample
    std::vector<index_t> start;        // cluster c is at positions [start[c], start[c + 1])
    std::vector<index_t> first_group;  // cluster c's groups are [first_group[c], first_group[c + 1])
    std::vector<T> rows;               // n x d, sorted (unit length for cosine)
    std::vector<T> groups;             // groups x d x kLanes
    std::vector<double> group_weight;  // groups x kLanes
    std::vector<double> weight;        // n, sorted
    std::vector<double> mean;          // k x d, the members' plain means

    SortedClusters(const T* x, index_t n_, index_t d_, Metric metric, const index_t* labels, index_t k_, const T* w)
        : n(n_), d(d_), k(k_), order(static_cast<size_t>(n_)), start(static_cast<size_t>(k_ + 1), 0),
          first_group(static_cast<size_t>(k_ + 1), 0), rows(static_cast<size_t>(n_ * d_)), weight(static_cast<size_t>(n_)) {
        for (index_t i = 0; i < n; ++i) ++start[static_cast<size_t>(labels[i] + 1)];
        for (index_t c = 0; c < k; ++c) {
            const index_t size = start[static_cast<size_t>(c + 1)];
            start[static_cast<size_t>(c + 1)] += start[static_cast<size_t>(c)];
            first_group[static_cast<size_t>(c + 1)] = first_group[static_cast<size_t>(c)] + (size + kLanes - 1) / kLanes;
        }
        std::vector<index_t> next(start.begin(), start.end() - 1);
        for (index_t i = 0; i < n; ++i) order[static_cast<size_t>(next[static_cast<size_t>(labels[i])]++)] = i;
        for (index_t pos = 0; pos < n; ++pos) {
            const index_t i = order[static_cast<size_t>(pos)];
            T* row = rows.data() + pos * d;
            std::copy(x + i * d, x + (i + 1) * d, row);
            if (metric == Metric::cosine) normalise(row);
            weight[static_cast<size_t>(pos)] = w ? static_cast<double>(w[i]) : 1.0;
        }
        mean.assign(static_cast<size_t>(k * d), 0.0);
        for (index_t c = 0; c < k; ++c) {
            double* m = mean.data() + c * d;
            for (index_t pos = start[static_cast<size_t>(c)]; pos < start[static_cast<size_t>(c + 1)]; ++pos)
                for (index_t t = 0; t < d; ++t) m[t] += static_cast<double>(rows[static_cast<size_t>(pos * d + t)]);
            for (index_t t = 0; t < d; ++t) m[t] /= static_cast<double>(std::max<index_t>(1, size(c)));
        }
        const index_t n_groups = first_group[static_cast<size_t>(k)];
        groups.assign(static_cast<size_t>(n_groups * d * kLanes), T(0));
        group_weight.assign(static_cast<size_t>(n_groups * kLanes), 0.0);
        for (index_t c = 0; c < k; ++c) {
            for (index_t pos = start[static_cast<size_t>(c)]; pos < start[static_cast<size_t>(c + 1)]; ++pos) {
                const index_t member = pos - start[static_cast<size_t>(c)];
                const index_t g = first_group[static_cast<size_t>(c)] + member / kLanes, lane = member % kLanes;
                for (index_t t = 0; t < d; ++t) groups[static_cast<size_t>((g * d + t) * kLanes + lane)] = rows[static_cast<size_t>(pos * d + t)];
                group_weight[static_cast<size_t>(g * kLanes + lane)] = weight[static_cast<size_t>(pos)];
            }
        }
    }

    index_t size(index_t c) const { return start[static_cast<size_t>(c + 1)] - start[static_cast<size_t>(c)]; }
    const T* group(index_t g) const { return groups.data() + static_cast<size_t>(g * d * kLanes); }

  private:
    void normalise(T* v) const {
        T norm2 = T(0);
        for (index_t t = 0; t < d; ++t) norm2 += v[t] * v[t];
        if (norm2 > T(0)) {
            const T inv = T(1) / std::sqrt(norm2);
            for (index_t t = 0; t < d; ++t) v[t] *= inv;
        }
    }
};

// One task: the rows [row_begin, row_end) of cluster a (member numbers) against cluster b.
struct PairTask {
    index_t a, b, row_begin, row_end;
    index_t partial;  // offset of this task's column sums (a < b), in kLanes-padded members of b
};

// A task's operands for the metrics from squared differences: its rows of a and b's groups,
// shifted by the midpoint of the two clusters' means, with their squared norms (added in
// feature order). Near zero, |x|^2 + |y|^2 - 2 x.y cancels about as little as the differences
// would, at two operations per dimension instead of three.
template <class T>
struct ShiftedTask {
    std::vector<T> rows, groups, row_norms, group_norms;

    ShiftedTask() = default;
    ShiftedTask(const SortedClusters<T>& sc, const PairTask& task) {
        const index_t d = sc.d, a0 = sc.start[static_cast<size_t>(task.a)] + task.row_begin;
        const index_t g0 = sc.first_group[static_cast<size_t>(task.b)], g1 = sc.first_group[static_cast<size_t>(task.b + 1)];
        std::vector<T> shift(static_cast<size_t>(d));
        for (index_t t = 0; t < d; ++t)
            shift[static_cast<size_t>(t)] = static_cast<T>(0.5 * (sc.mean[static_cast<size_t>(task.a * d + t)] +
                                                                 sc.mean[static_cast<size_t>(task.b * d + t)]));
        const index_t n_rows = task.row_end - task.row_begin;
        rows.resize(static_cast<size_t>(n_rows * d));
        row_norms.assign(static_cast<size_t>(n_rows), T(0));
        for (index_t r = 0; r < n_rows; ++r)
            for (index_t t = 0; t < d; ++t) {
                const T v = sc.rows[static_cast<size_t>((a0 + r) * d + t)] - shift[static_cast<size_t>(t)];
                rows[static_cast<size_t>(r * d + t)] = v;
                row_norms[static_cast<size_t>(r)] += v * v;
            }
        groups.assign(sc.groups.begin() + g0 * d * kLanes, sc.groups.begin() + g1 * d * kLanes);
        group_norms.assign(static_cast<size_t>((g1 - g0) * kLanes), T(0));
        for (index_t g = 0; g < g1 - g0; ++g)
            for (index_t t = 0; t < d; ++t)
                for (index_t l = 0; l < kLanes; ++l) {
                    T& v = groups[static_cast<size_t>((g * d + t) * kLanes + l)];
                    v -= shift[static_cast<size_t>(t)];
                    group_norms[static_cast<size_t>(g * kLanes + l)] += v * v;
                }
    }
};

// Runs one task at one vector width: row sums into sums (n x k, sample order), column sums
// into `partial`.
template <class T, int kBytes, Metric kMetric>
void run_pair_task(const SortedClusters<T>& sc, const PairTask& task, double* sums, double* partial) {
    constexpr int kVectors = static_cast<int>(kLanes * sizeof(T)) / kBytes;
    constexpr int kQueries = std::max(1, (kBytes == 64 ? 16 : 8) / kVectors);
    constexpr bool kShifted = kMetric == Metric::euclidean || kMetric == Metric::sqeuclidean;
    const index_t d = sc.d, k = sc.k;
    const index_t a0 = sc.start[static_cast<size_t>(task.a)];
    const index_t g0 = sc.first_group[static_cast<size_t>(task.b)], g1 = sc.first_group[static_cast<size_t>(task.b + 1)];
    const bool diagonal = task.a == task.b;
    const ShiftedTask<T> shifted = kShifted ? ShiftedTask<T>(sc, task) : ShiftedTask<T>{};
    const T* rows = kShifted ? shifted.rows.data() : sc.rows.data() + (a0 + task.row_begin) * d;
    const T* groups = kShifted ? shifted.groups.data() : sc.group(g0);
    alignas(64) T tile[kQueries * kLanes];
    alignas(64) double row_sum[kQueries][kLanes];
    T query_norms[kQueries] = {};
    double query_weights[kQueries];
    for (index_t r0 = task.row_begin; r0 < task.row_end; r0 += kQueries) {
        const int count = static_cast<int>(std::min<index_t>(kQueries, task.row_end - r0));
        const T* queries[kQueries];
        for (int p = 0; p < kQueries; ++p) {
            const index_t r = r0 - task.row_begin + std::min(p, count - 1);  // repeats the last row to fill the tile
            queries[p] = rows + r * d;
            if constexpr (kShifted) query_norms[p] = shifted.row_norms[static_cast<size_t>(r)];
            query_weights[p] = p < count ? sc.weight[static_cast<size_t>(a0 + r0 + p)] : 0.0;
        }
        for (int p = 0; p < kQueries; ++p)
            for (index_t l = 0; l < kLanes; ++l) row_sum[p][l] = 0.0;
        for (index_t g = g0; g < g1; ++g) {
            group_tile<T, kBytes, kQueries, kMetric>(queries, groups + (g - g0) * d * kLanes, d, query_norms,
                                                     kShifted ? shifted.group_norms.data() + (g - g0) * kLanes : nullptr, tile);
            if (diagonal) {  // no self-distance (rounding can leave it off zero)
                for (int p = 0; p < count; ++p)
                    if ((r0 + p) / kLanes == g - g0) tile[p * kLanes + (r0 + p) % kLanes] = T(0);
            }
            const double* w = sc.group_weight.data() + g * kLanes;
            for (int p = 0; p < kQueries; ++p)
                for (index_t l = 0; l < kLanes; ++l) row_sum[p][l] += static_cast<double>(tile[p * kLanes + l]) * w[l];
            if (diagonal) continue;
            double* column = partial + (g - g0) * kLanes;
            for (int p = 0; p < kQueries; ++p)  // the tile's repeated rows add zero
                for (index_t l = 0; l < kLanes; ++l) column[l] += static_cast<double>(tile[p * kLanes + l]) * query_weights[p];
        }
        for (int p = 0; p < count; ++p)
            sums[sc.order[static_cast<size_t>(a0 + r0 + p)] * k + task.b] = fold_lanes(row_sum[p]);
    }
}

template <class T, Metric kMetric>
void run_pair_task_dispatched(const SortedClusters<T>& sc, const PairTask& task, double* sums, double* partial) {
    isa::dispatch([&](auto level) {
        constexpr int kBytes = isa::vector_bytes(decltype(level){});
        run_pair_task<T, kBytes, kMetric>(sc, task, sums, partial);
    });
}

}  // namespace silhouette_detail

// sums[i * k + c]: the weighted sum of the distances from sample i to the members of cluster
// c (without i itself), from features. labels in [0, k); weights may be null (all ones).
template <class T>
std::vector<double> cluster_distance_sums(const T* x, index_t n, index_t d, Metric metric, const index_t* labels,
                                          index_t k, const T* weights, ThreadPool& pool) {
    using namespace silhouette_detail;
    const SortedClusters<T> sc(x, n, d, metric, labels, k, weights);
    // Row chunks of at least 256 points, at most 16 per cluster: enough tasks to share out,
    // and column partial sums of O(n k) in all.
    std::vector<PairTask> tasks;
    index_t partial_size = 0;
    for (index_t a = 0; a < k; ++a) {
        const index_t rows = sc.size(a);
        if (rows == 0) continue;
        const index_t chunk = std::max<index_t>(256, ((rows + 15) / 16 + kLanes - 1) / kLanes * kLanes);
        for (index_t b = a; b < k; ++b) {
            if (sc.size(b) == 0) continue;
            const index_t columns = (sc.first_group[static_cast<size_t>(b + 1)] - sc.first_group[static_cast<size_t>(b)]) * kLanes;
            for (index_t r = 0; r < rows; r += chunk) {
                tasks.push_back({a, b, r, std::min(rows, r + chunk), partial_size});
                if (b != a) partial_size += columns;
            }
        }
    }
    std::vector<double> sums(static_cast<size_t>(n * k), 0.0);
    std::vector<double> partial(static_cast<size_t>(partial_size), 0.0);
    pool.run(static_cast<index_t>(tasks.size()), [&](index_t t, int) {
        const PairTask& task = tasks[static_cast<size_t>(t)];
        double* out = partial.data() + task.partial;
        switch (metric) {
            case Metric::euclidean: return run_pair_task_dispatched<T, Metric::euclidean>(sc, task, sums.data(), out);
            case Metric::sqeuclidean: return run_pair_task_dispatched<T, Metric::sqeuclidean>(sc, task, sums.data(), out);
            case Metric::manhattan: return run_pair_task_dispatched<T, Metric::manhattan>(sc, task, sums.data(), out);
            case Metric::cosine: return run_pair_task_dispatched<T, Metric::cosine>(sc, task, sums.data(), out);
        }
    });
    // The column sums of each pair (a, b), a < b, are the entries (j in b, a): the chunks' partial
    // sums added in chunk order.
    std::vector<index_t> firsts;  // the first task of each off-diagonal pair
    for (size_t t = 0; t < tasks.size(); ++t)
        if (tasks[t].a != tasks[t].b && tasks[t].row_begin == 0) firsts.push_back(static_cast<index_t>(t));
    pool.run(static_cast<index_t>(firsts.size()), [&](index_t f, int) {
        const index_t first = firsts[static_cast<size_t>(f)];
        const index_t a = tasks[static_cast<size_t>(first)].a, b = tasks[static_cast<size_t>(first)].b;
        const index_t b0 = sc.start[static_cast<size_t>(b)];
        for (index_t member = 0; member < sc.size(b); ++member) {
            double total = 0.0;
            for (size_t t = static_cast<size_t>(first); t < tasks.size() && tasks[t].a == a && tasks[t].b == b; ++t)
                total += partial[static_cast<size_t>(tasks[t].partial + member)];
            sums[static_cast<size_t>(sc.order[static_cast<size_t>(b0 + member)] * k + a)] = total;
        }
    });
    return sums;
}

// The same sums from a precomputed n x n matrix (row i: the distances from sample i), which
// is checked on the way: every entry finite and non-negative. Each row is summed in four
// interleaved accumulators per cluster, added in a fixed order.
template <class T>
std::vector<double> cluster_distance_sums(const T* diss, index_t n, const index_t* labels, index_t k, const T* weights,
                                          ThreadPool& pool) {
    std::vector<double> sums(static_cast<size_t>(n * k), 0.0);
    const T largest = std::numeric_limits<T>::max();
    pool.for_chunks(n, 32, [&](index_t begin, index_t end, index_t) {
        std::vector<double> acc(static_cast<size_t>(4 * k));
        for (index_t i = begin; i < end; ++i) {
            const T* row = diss + static_cast<size_t>(i) * n;
            bool ok = true;
            for (index_t j = 0; j < n; ++j) ok &= (row[j] >= T(0)) & (row[j] <= largest);
            if (!ok)
                throw std::invalid_argument("the distance matrix contains NaN, infinity or a negative value (in row " +
                                            std::to_string(i) + ")");
            std::fill(acc.begin(), acc.end(), 0.0);
            for (index_t j = 0; j < n; ++j) {
                const double w = weights ? static_cast<double>(weights[j]) : 1.0;
                if (j != i) acc[static_cast<size_t>((j & 3) * k + labels[j])] += w * static_cast<double>(row[j]);
            }
            for (index_t c = 0; c < k; ++c)
                sums[static_cast<size_t>(i * k + c)] = (acc[static_cast<size_t>(c)] + acc[static_cast<size_t>(k + c)]) +
                                                       (acc[static_cast<size_t>(2 * k + c)] + acc[static_cast<size_t>(3 * k + c)]);
        }
    });
    return sums;
}

// s(i) of every sample from the table of sums (see the top of this file for the definition).
template <class T>
std::vector<double> silhouette_from_sums(const std::vector<double>& sums, index_t n, const index_t* labels, index_t k,
                                         const T* weights) {
    std::vector<double> total(static_cast<size_t>(k), 0.0);
    for (index_t i = 0; i < n; ++i) total[static_cast<size_t>(labels[i])] += weights ? static_cast<double>(weights[i]) : 1.0;
    std::vector<double> s(static_cast<size_t>(n), 0.0);
    for (index_t i = 0; i < n; ++i) {
        const index_t own = labels[i];
        const double* row = sums.data() + static_cast<size_t>(i * k);
        const double companions = total[static_cast<size_t>(own)] - (weights ? static_cast<double>(weights[i]) : 1.0);
        double inter = std::numeric_limits<double>::infinity();
        for (index_t c = 0; c < k; ++c)
            if (c != own && total[static_cast<size_t>(c)] > 0.0) inter = std::min(inter, row[c] / total[static_cast<size_t>(c)]);
        if (!(companions > 0.0) || inter == std::numeric_limits<double>::infinity()) continue;
        const double intra = row[own] / companions;
        const double larger = std::max(intra, inter);
        if (larger > 0.0) s[static_cast<size_t>(i)] = (inter - intra) / larger;
    }
    return s;
}

}  // namespace vecclust
