// One k-means run: the iterations of assignment (with a bounds strategy, bounds.hpp) and
// centre update. Every pass over the points runs in fixed chunks combined in chunk order, so
// results are bit-identical for any thread count.
#pragma once

#include <algorithm>  // std::min
#include <string>     // std::to_string
#include <utility>    // std::move
#include <vector>     // std::vector

#include "vecclust/base/parallel.hpp"
#include "vecclust/kmeans/bounds.hpp"
#include "vecclust/kmeans/center_table.hpp"
#include "vecclust/kmeans/types.hpp"
#include "vecclust/kmeans/update.hpp"

namespace vecclust::kmeans_detail {

template <class T, class Bounds>
class Run {
  public:
    Run(const T* x, index_t n, index_t d, const T* weights, index_t k, ThreadPool& pool)
        : x_(x), n_(n), d_(d), k_(k), weights_(weights), pool_(pool), labels_(static_cast<size_t>(n), 0),
          chunk_changed_(static_cast<size_t>((n + kChunk - 1) / kChunk)), update_(x, n, d, weights, k, pool),
          bounds_(x, n, d, k) {}

    // Assigns every point to its nearest centre and accumulates the weighted sums per cluster.
    // Returns the number of points whose label changed (all of them on the first call, which
    // scans every point and so sets up the bounds).
    index_t assign(const std::vector<T>& centers, bool first) {
        const CenterTable<T> table(centers.data(), k_, d_);
        if (!first) bounds_.prepare(centers);
        pool_.for_chunks(n_, kChunk, [&](index_t begin, index_t end, index_t chunk) {
            // Points the bounds cannot settle are scanned against all centres afterwards, a
            // tile of points at a time; the sums are then accumulated in point order.
            std::vector<index_t> new_labels(labels_.begin() + begin, labels_.begin() + end), to_scan;
            to_scan.reserve(static_cast<size_t>(end - begin));
            if (first) {
                for (index_t i = begin; i < end; ++i) to_scan.push_back(i);
            } else {
                bounds_.settle(begin, end, centers, new_labels.data(), to_scan);
            }
            scan(to_scan, table, begin, new_labels.data());
            chunk_changed_[static_cast<size_t>(chunk)] = commit(begin, end, new_labels, first);
            update_.accumulate(chunk, begin, end, labels_.data());
        });
        index_t changed = 0;
        for (index_t c : chunk_changed_) changed += c;
        return changed;
    }

    // Moves the centres to the means of the last assign(). Returns the sum of squared shifts.
    double update(std::vector<T>& centers) {
        const double shift = update_.update(centers, labels_);
        bounds_.moved(update_.shifts());
        return shift;
    }

    // Whether the last update() moved an empty cluster's centre onto a point.
    bool relocated() const { return update_.relocated(); }
    std::vector<index_t> take_labels() { return std::move(labels_); }

    double inertia(const std::vector<T>& centers) {
        std::vector<double> partial(chunk_changed_.size());
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

    // Labels the points `points` (ascending) by their distances to every centre: labels[i -
    // begin] for point i, whose bounds are reset from those distances.
    void scan(const std::vector<index_t>& points, const CenterTable<T>& table, index_t begin, index_t* labels) {
        constexpr int kPoints = kTilePoints<T>;
        const index_t count = static_cast<index_t>(points.size());
        std::vector<T> dist(Bounds::kRows ? static_cast<size_t>(kPoints * table.padded()) : 0);
        for (index_t t = 0; t < count; t += kPoints) {
            const T* rows[kPoints];
            for (int p = 0; p < kPoints; ++p)  // a short last tile repeats its last point
                rows[p] = x_ + points[static_cast<size_t>(std::min(t + p, count - 1))] * d_;
            NearestTwo<T> nearest[kPoints];
            if constexpr (Bounds::kRows) {
                table.tile_distances(rows, dist.data());
                for (int p = 0; p < kPoints; ++p) nearest[p] = table.nearest_two(dist.data() + p * table.padded());
            } else {
                table.tile_nearest_two(rows, nearest);
            }
            for (index_t p = 0; p < std::min<index_t>(kPoints, count - t); ++p) {
                const index_t i = points[static_cast<size_t>(t + p)];
                labels[i - begin] = nearest[p].index;
                bounds_.reset(i, nearest[p], Bounds::kRows ? dist.data() + p * table.padded() : nullptr);
            }
        }
    }

    // Stores the chunk's new labels; returns how many changed.
    index_t commit(index_t begin, index_t end, const std::vector<index_t>& new_labels, bool first) {
        index_t changed = 0;
        for (index_t i = begin; i < end; ++i) {
            const index_t label = new_labels[static_cast<size_t>(i - begin)];
            changed += first || label != labels_[static_cast<size_t>(i)];
            labels_[static_cast<size_t>(i)] = label;
        }
        return changed;
    }

    const T* x_;
    index_t n_, d_, k_;
    const T* weights_;
    ThreadPool& pool_;
    std::vector<index_t> labels_;
    std::vector<index_t> chunk_changed_;
    CenterUpdate<T> update_;
    Bounds bounds_;
};

// k-means from the given k x d initial centres with the bounds strategy Bounds. Per iteration:
// assign, then move each centre to its cluster's weighted mean. Stops when no label changes
// (strict convergence) or when the summed squared centre shift is <= options.tol; then labels
// are made consistent with the final centres, as scikit-learn does.
template <class T, class Bounds>
KMeansResult<T> iterate(const T* x, index_t n, index_t d, const T* weights, std::vector<T> centers, index_t k,
                        const KMeansOptions& options, ThreadPool& pool) {
    Run<T, Bounds> run(x, n, d, weights, k, pool);
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

}  // namespace vecclust::kmeans_detail
