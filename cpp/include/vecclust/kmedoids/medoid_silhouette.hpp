// The medoid silhouette (Lenssen & Schubert): the silhouette with each cluster represented by
// its medoid. A point at distance a from its nearest medoid and b from the second nearest has
// s = 1 - a / b (1 when b = 0: the point coincides with two medoids, as in the `kmedoids`
// package and the paper's convention 0/0 -> 0 for a / b); the mean over all points
// is the average medoid silhouette. O(n k) time and memory, from any distance source.
#pragma once

#include <algorithm>  // std::copy
#include <limits>     // std::numeric_limits
#include <string>     // std::to_string
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"
#include "vecclust/base/parallel.hpp"

namespace vecclust {

// s of a point with nearest-medoid distance a <= second-nearest b, in double.
template <class T>
inline double medoid_silhouette_of(T a, T b) {
    return b > T(0) ? 1.0 - static_cast<double>(a) / static_cast<double>(b) : 1.0;
}

// s of every point for the given medoids (k >= 2), reading the medoids' rows of `source`:
// row m holds the distances d(o, m). With `check`, every entry read must be finite and
// non-negative (a precomputed matrix); a point that is a medoid is at distance 0 from it.
// `deviation`, if given, receives the total distance of the points to their nearest medoids.
template <class T, class Source>
std::vector<double> medoid_silhouette_samples(const Source& source, const std::vector<index_t>& medoids, bool check,
                                              ThreadPool& pool, double* deviation = nullptr) {
    const index_t n = source.size(), k = static_cast<index_t>(medoids.size());
    std::vector<T> table(static_cast<size_t>(n * k));  // table[i * n + o] = d(o, medoid i)
    pool.run(k, [&](index_t i, int) {
        T* column = table.data() + static_cast<size_t>(i * n);
        const T* row = source.row(medoids[static_cast<size_t>(i)], column);
        if (row != column) std::copy(row, row + n, column);
        if (!check) return;
        const T largest = std::numeric_limits<T>::max();
        bool ok = true;
        for (index_t o = 0; o < n; ++o) ok &= (column[o] >= T(0)) & (column[o] <= largest);
        if (!ok)
            throw std::invalid_argument("the distance matrix contains NaN, infinity or a negative value (in row " +
                                        std::to_string(medoids[static_cast<size_t>(i)]) + ")");
    });
    std::vector<double> s(static_cast<size_t>(n));
    std::vector<T> nearest(static_cast<size_t>(n));
    pool.for_chunks(n, 4096, [&](index_t begin, index_t end, index_t) {
        for (index_t o = begin; o < end; ++o) {
            T a = std::numeric_limits<T>::infinity(), b = a;
            for (index_t i = 0; i < k; ++i) {
                const T d = medoids[static_cast<size_t>(i)] == o ? T(0) : table[static_cast<size_t>(i * n + o)];
                if (d < a) b = a, a = d;
                else if (d < b) b = d;
            }
            s[static_cast<size_t>(o)] = medoid_silhouette_of(a, b);
            nearest[static_cast<size_t>(o)] = a;
        }
    });
    if (deviation) {
        *deviation = 0.0;
        for (T a : nearest) *deviation += static_cast<double>(a);
    }
    return s;
}

}  // namespace vecclust
