// Nearest-medoid assignment of all n points in one streaming pass, with O(n) memory: CLARA
// scores each sample's medoids on the whole data this way, without any n x k or n x n table.
// The rule is that of MedoidAssignment: a point that is a medoid belongs to it, otherwise the
// first closest medoid; the loss is summed in index order, so it equals the loss the swap
// algorithms report for the same medoids.
#pragma once

#include <algorithm>  // std::min
#include <vector>     // std::vector

#include "vecclust/kmedoids/distance.hpp"
#include "vecclust/base/parallel.hpp"

namespace vecclust {

template <class T>
struct NearestMedoids {
    std::vector<index_t> labels;
    std::vector<T> distance;  // weighted distance of each point to its medoid
    double loss = 0.0;
};

namespace detail {

// Fills labels and distances for points [begin, end) given a function that writes the k
// distances of point o to `dist`.
template <class T, class Distances>
void assign_range(index_t begin, index_t end, const std::vector<index_t>& medoids, const T* weights,
                  Distances&& distances_of, T* dist, NearestMedoids<T>& out) {
    const auto k = static_cast<index_t>(medoids.size());
    for (index_t o = begin; o < end; ++o) {
        distances_of(o, dist);
        for (index_t i = 0; i < k; ++i)  // exactly 0, as FeatureSource::row gives (cosine rounding)
            if (medoids[static_cast<size_t>(i)] == o) dist[i] = T(0);
        index_t best = 0;
        for (index_t i = 1; i < k; ++i)
            if (dist[i] < dist[best] || medoids[static_cast<size_t>(i)] == o) best = i;
        out.labels[static_cast<size_t>(o)] = best;
        out.distance[static_cast<size_t>(o)] = weights ? weights[o] * dist[best] : dist[best];
    }
}

template <class T>
void sum_loss(NearestMedoids<T>& out) {
    out.loss = 0.0;
    for (T d : out.distance) out.loss += static_cast<double>(d);
}

}  // namespace detail

// From features: distances are computed on the fly against the k medoid vectors only.
template <class T>
NearestMedoids<T> nearest_medoids(const T* x, index_t n, index_t d, Metric metric, const std::vector<index_t>& medoids,
                                  const T* weights, ThreadPool& pool) {
    const auto k = static_cast<index_t>(medoids.size());
    std::vector<T> medoid_rows(static_cast<size_t>(k * d));
    for (index_t i = 0; i < k; ++i)
        std::copy(x + medoids[static_cast<size_t>(i)] * d, x + (medoids[static_cast<size_t>(i)] + 1) * d, medoid_rows.begin() + i * d);
    const FeatureSource<T> centres(medoid_rows.data(), k, d, metric);
    NearestMedoids<T> out{std::vector<index_t>(static_cast<size_t>(n)), std::vector<T>(static_cast<size_t>(n)), 0.0};
    pool.for_chunks(n, 1024, [&](index_t begin, index_t end, index_t) {
        std::vector<T> query(static_cast<size_t>(d)), dist(static_cast<size_t>(k));
        detail::assign_range(begin, end, medoids, weights, [&](index_t o, T* dist_out) {
            centres.prepare_query(x + o * d, query.data());
            centres.distances_to(query.data(), dist_out);
        }, dist.data(), out);
    });
    detail::sum_loss(out);
    return out;
}

// From a precomputed symmetric matrix: reads the k medoid rows, chunk by chunk.
template <class T>
NearestMedoids<T> nearest_medoids(const MatrixSource<T>& matrix, const std::vector<index_t>& medoids, const T* weights,
                                  ThreadPool& pool) {
    const index_t n = matrix.size();
    const auto k = static_cast<index_t>(medoids.size());
    NearestMedoids<T> out{std::vector<index_t>(static_cast<size_t>(n)), std::vector<T>(static_cast<size_t>(n)), 0.0};
    pool.for_chunks(n, 1024, [&](index_t begin, index_t end, index_t) {
        std::vector<T> dist(static_cast<size_t>(k));
        detail::assign_range(begin, end, medoids, weights, [&](index_t o, T* dist_out) {
            for (index_t i = 0; i < k; ++i) dist_out[i] = matrix.at(medoids[static_cast<size_t>(i)], o);
        }, dist.data(), out);
    });
    detail::sum_loss(out);
    return out;
}

}  // namespace vecclust
