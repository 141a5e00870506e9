// The O(n) passes of PPP (probabilistic partitive partitioning): row hashes that give every
// node a fit sample and an order independent of the row order, and the two split rules applied
// to all points of a node (nearest of two k-means centres, or the MAP component of a 2-component
// Gaussian mixture in the node's PCA space). The tree search itself, which works on bounded fit
// samples, lives in Python.
#pragma once

#include <cmath>    // std::log
#include <cstdint>  // std::uint64_t
#include <cstring>  // std::memcpy
#include <vector>   // std::vector

#include "vecclust/kmeans/kmeans.hpp"
#include "vecclust/base/parallel.hpp"
#include "vecclust/base/random.hpp"

namespace vecclust {

// A 64-bit hash of each row's values (as float64 bits, -0.0 read as 0.0), so equal rows hash
// alike whatever their position or dtype.
template <class T>
void row_hashes(const T* x, index_t n, index_t d, std::uint64_t* out, ThreadPool& pool) {
    pool.for_chunks(n, kmeans_detail::kChunk, [&](index_t begin, index_t end, index_t) {
        for (index_t i = begin; i < end; ++i) {
            std::uint64_t state = 0x5eed5eed5eed5eedULL ^ static_cast<std::uint64_t>(d);
            std::uint64_t hash = splitmix64(state);
            for (index_t j = 0; j < d; ++j) {
                double value = static_cast<double>(x[i * d + j]);
                if (value == 0.0) value = 0.0;  // -0.0 == 0.0 must hash alike
                std::uint64_t bits;
                std::memcpy(&bits, &value, sizeof bits);
                state = hash ^ bits;
                hash = splitmix64(state);
            }
            out[i] = hash;
        }
    });
}

// Child (0 or 1) of each point rows[i]: the nearer of two centres, 0 on ties. Uses the k-means
// distance so a node's points split exactly as k-means labelled its fit sample.
template <class T>
void split_by_centers(const T* x, index_t d, const index_t* rows, index_t m, const T* centers, std::uint8_t* out,
                      ThreadPool& pool) {
    pool.for_chunks(m, kmeans_detail::kChunk, [&](index_t begin, index_t end, index_t) {
        for (index_t i = begin; i < end; ++i) {
            const T* point = x + rows[i] * d;
            out[i] = kmeans_detail::squared_distance(point, centers + d, d) <
                     kmeans_detail::squared_distance(point, centers, d);
        }
    });
}

// A 2-component full-covariance Gaussian mixture on the node's PCA coordinates
// z = components (q x d) * (x - mean); precisions_cholesky as scikit-learn stores them (upper
// triangular U with precision = U U^T, so y = (z - mu) U).
struct PcaMixture {
    index_t d = 0, q = 0;
    std::vector<double> mean, components, log_weights, means, precisions_cholesky;
};

template <class T>
void split_by_mixture(const T* x, const index_t* rows, index_t m, const PcaMixture& g, std::uint8_t* out,
                      ThreadPool& pool) {
    const index_t d = g.d, q = g.q;
    double log_norm[2];
    for (int c = 0; c < 2; ++c) {
        double log_det = 0.0;
        for (index_t j = 0; j < q; ++j) log_det += std::log(g.precisions_cholesky[static_cast<size_t>(c * q * q + j * q + j)]);
        log_norm[c] = g.log_weights[static_cast<size_t>(c)] + log_det;  // the shared -q/2 log(2 pi) cancels
    }
    pool.for_chunks(m, kmeans_detail::kChunk, [&](index_t begin, index_t end, index_t) {
        std::vector<double> centred(static_cast<size_t>(d)), z(static_cast<size_t>(q));
        for (index_t i = begin; i < end; ++i) {
            const T* point = x + rows[i] * d;
            for (index_t j = 0; j < d; ++j) centred[static_cast<size_t>(j)] = static_cast<double>(point[j]) - g.mean[static_cast<size_t>(j)];
            for (index_t a = 0; a < q; ++a) {
                double sum = 0.0;
                for (index_t j = 0; j < d; ++j) sum += g.components[static_cast<size_t>(a * d + j)] * centred[static_cast<size_t>(j)];
                z[static_cast<size_t>(a)] = sum;
            }
            double score[2];
            for (int c = 0; c < 2; ++c) {
                const double* u = &g.precisions_cholesky[static_cast<size_t>(c * q * q)];
                const double* mu = &g.means[static_cast<size_t>(c * q)];
                double norm2 = 0.0;
                for (index_t col = 0; col < q; ++col) {
                    double y = 0.0;
                    for (index_t row = 0; row <= col; ++row) y += (z[static_cast<size_t>(row)] - mu[row]) * u[row * q + col];
                    norm2 += y * y;
                }
                score[c] = log_norm[c] - 0.5 * norm2;
            }
            out[i] = score[1] > score[0];
        }
    });
}

// Mean of the points of each of k groups (labels in [0, k)); sums per chunk, combined in order.
template <class T>
std::vector<double> group_means(const T* x, index_t n, index_t d, const index_t* labels, index_t k, ThreadPool& pool) {
    const index_t n_chunks = (n + kmeans_detail::kChunk - 1) / kmeans_detail::kChunk;
    std::vector<double> partial(static_cast<size_t>(n_chunks * k * (d + 1)), 0.0);
    pool.for_chunks(n, kmeans_detail::kChunk, [&](index_t begin, index_t end, index_t chunk) {
        double* sums = &partial[static_cast<size_t>(chunk * k * (d + 1))];
        for (index_t i = begin; i < end; ++i) {
            double* row = sums + labels[i] * (d + 1);
            for (index_t j = 0; j < d; ++j) row[j] += static_cast<double>(x[i * d + j]);
            row[d] += 1.0;
        }
    });
    std::vector<double> means(static_cast<size_t>(k * d), 0.0), counts(static_cast<size_t>(k), 0.0);
    for (index_t chunk = 0; chunk < n_chunks; ++chunk)
        for (index_t c = 0; c < k; ++c) {
            const double* row = &partial[static_cast<size_t>((chunk * k + c) * (d + 1))];
            for (index_t j = 0; j < d; ++j) means[static_cast<size_t>(c * d + j)] += row[j];
            counts[static_cast<size_t>(c)] += row[d];
        }
    for (index_t c = 0; c < k; ++c)
        for (index_t j = 0; j < d; ++j)
            if (counts[static_cast<size_t>(c)] > 0) means[static_cast<size_t>(c * d + j)] /= counts[static_cast<size_t>(c)];
    return means;
}

}  // namespace vecclust
