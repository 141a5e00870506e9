// The centre update of a k-means run: per-chunk weighted sums (combined in chunk order, so the
// means do not depend on the thread count), the new means, and scikit-learn's relocation of
// empty clusters.
#pragma once

#include <algorithm>  // std::copy, std::fill, std::min, std::partial_sort
#include <cmath>      // std::sqrt
#include <numeric>    // std::iota
#include <vector>     // std::vector

#include "vecclust/base/parallel.hpp"
#include "vecclust/cpu/isa.hpp"
#include "vecclust/kmeans/kernels.hpp"

namespace vecclust::kmeans_detail {

// Adds each point of [begin, end), times its weight (1 without weights), to its cluster's
// sums (k x d) and the weight to weights[label], in point order.
template <class T>
void add_to_clusters(const T* x, const T* point_weights, const index_t* labels, index_t begin, index_t end, index_t d,
                     double* sums, double* weights) {
    isa::dispatch<isa::Level::avx2>([&](auto) {
        for (index_t i = begin; i < end; ++i) {
            const T* point = x + i * d;
            const double w = point_weights ? static_cast<double>(point_weights[i]) : 1.0;
            double* sum = sums + labels[i] * d;
            for (index_t j = 0; j < d; ++j) sum[j] += w * static_cast<double>(point[j]);
            weights[labels[i]] += w;
        }
    });
}

template <class T>
class CenterUpdate {
  public:
    CenterUpdate(const T* x, index_t n, index_t d, const T* weights, index_t k, ThreadPool& pool)
        : x_(x), n_(n), d_(d), k_(k), weights_(weights), pool_(pool), n_chunks_((n + kChunk - 1) / kChunk),
          chunk_sums_(static_cast<size_t>(n_chunks_ * k * d)), chunk_weights_(static_cast<size_t>(n_chunks_ * k)) {}

    // The sums of chunk `chunk`, the points [begin, end) with the given labels (indexed by point).
    void accumulate(index_t chunk, index_t begin, index_t end, const index_t* labels) {
        double* sums = chunk_sums_.data() + chunk * k_ * d_;
        double* weights = chunk_weights_.data() + chunk * k_;
        std::fill(sums, sums + k_ * d_, 0.0);
        std::fill(weights, weights + k_, 0.0);
        add_to_clusters(x_, weights_, labels, begin, end, d_, sums, weights);
    }

    // New centres from the sums of the last pass: weighted means; an empty cluster takes the
    // point farthest from its centre (scikit-learn's rule). Returns the sum of squared shifts.
    double update(std::vector<T>& centers, const std::vector<index_t>& labels) {
        std::vector<double> sums(static_cast<size_t>(k_ * d_), 0.0), weights(static_cast<size_t>(k_), 0.0);
        for (index_t chunk = 0; chunk < n_chunks_; ++chunk) {
            for (index_t e = 0; e < k_ * d_; ++e) sums[static_cast<size_t>(e)] += chunk_sums_[static_cast<size_t>(chunk * k_ * d_ + e)];
            for (index_t c = 0; c < k_; ++c) weights[static_cast<size_t>(c)] += chunk_weights_[static_cast<size_t>(chunk * k_ + c)];
        }
        // Copied before the relocation, which may move a centre itself (onto a zero-weight point):
        // the bounds must see that move as a shift.
        const std::vector<T> old = centers;
        relocated_ = relocate_empty(centers, labels, sums, weights);
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
        return total_shift;
    }

    // Each centre's move in the last update.
    const std::vector<double>& shifts() const { return shifts_; }
    // Whether the last update moved an empty cluster's centre onto a point.
    bool relocated() const { return relocated_; }

  private:
    double weight(index_t i) const { return weights_ ? static_cast<double>(weights_[i]) : 1.0; }

    // The `count` points farthest from their centres, farthest first (the first index on ties),
    // leaving out points on their centre: moving one of those into an empty cluster only makes
    // a second copy of its centre, which the rounding of the means can then make the two trade
    // labels forever (duplicate points with k above their distinct count).
    std::vector<index_t> farthest_points(const std::vector<T>& centers, const std::vector<index_t>& labels, index_t count) {
        std::vector<T> dist(static_cast<size_t>(n_));
        pool_.for_chunks(n_, kChunk, [&](index_t begin, index_t end, index_t) {
            for (index_t i = begin; i < end; ++i)
                dist[static_cast<size_t>(i)] = squared_distance(
                    x_ + i * d_, &centers[static_cast<size_t>(labels[static_cast<size_t>(i)] * d_)], d_);
        });
        std::vector<index_t> order(static_cast<size_t>(n_));
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + count, order.end(), [&](index_t a, index_t b) {
            return dist[static_cast<size_t>(a)] > dist[static_cast<size_t>(b)] ||
                   (dist[static_cast<size_t>(a)] == dist[static_cast<size_t>(b)] && a < b);
        });
        order.resize(static_cast<size_t>(count));
        while (!order.empty() && dist[static_cast<size_t>(order.back())] == T(0)) order.pop_back();
        return order;
    }

    // Moves the farthest points into the empty clusters' sums. Returns whether any centre moved.
    bool relocate_empty(std::vector<T>& centers, const std::vector<index_t>& labels, std::vector<double>& sums,
                        std::vector<double>& weights) {
        std::vector<index_t> empty;
        for (index_t c = 0; c < k_; ++c)
            if (weights[static_cast<size_t>(c)] == 0.0) empty.push_back(c);
        if (empty.empty()) return false;
        const std::vector<index_t> farthest =
            farthest_points(centers, labels, std::min<index_t>(static_cast<index_t>(empty.size()), n_));
        if (farthest.empty()) return false;  // every point is on its centre: the empty clusters stay
        for (size_t e = 0; e < farthest.size(); ++e) {
            const index_t point = farthest[e], target = empty[e];
            const index_t source = labels[static_cast<size_t>(point)];
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

    const T* x_;
    index_t n_, d_, k_;
    const T* weights_;
    ThreadPool& pool_;
    index_t n_chunks_;
    std::vector<double> chunk_sums_, chunk_weights_, shifts_;
    bool relocated_ = false;
};

}  // namespace vecclust::kmeans_detail
