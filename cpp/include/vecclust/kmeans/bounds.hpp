// The bounds a k-means run keeps to skip distance computations, as interchangeable strategies
// (hamerly.hpp, elkan.hpp; NoBounds here is Lloyd's plain algorithm). A strategy B has
//   B(x, n, d, k)                      for the n x d points x and k >= 2 centres;
//   static constexpr bool kRows        whether reset() needs the point's row of k distances;
//   void prepare(centers)              before each pass that uses the bounds;
//   void settle(begin, end, centers, labels, unsettled)
//                                      for the points [begin, end), whose labels are
//                                      labels[i - begin]: relabels the points the bounds
//                                      settle and appends the others (ascending) to
//                                      `unsettled`, which the run scans against every centre;
//   void reset(i, nearest, row)        after point i was scanned (row: its distances if kRows);
//   void moved(shifts)                 after each update, with every centre's move.
// Settled and scanned points get the same labels, so every strategy gives Lloyd's bits.
#pragma once

#include <vector>  // std::vector

#include "vecclust/kmeans/kernels.hpp"

namespace vecclust::kmeans_detail {

template <class T>
struct NoBounds {
    static constexpr bool kRows = false;
    NoBounds(const T*, index_t, index_t, index_t) {}
    void prepare(const std::vector<T>&) {}
    void settle(index_t begin, index_t end, const std::vector<T>&, index_t*, std::vector<index_t>& unsettled) {
        for (index_t i = begin; i < end; ++i) unsettled.push_back(i);
    }
    void reset(index_t, const NearestTwo<T>&, const T*) {}
    void moved(const std::vector<double>&) {}
};

// f(a, b, squared) for every pair of centres a < b, with their squared distance.
template <class T, class F>
void for_center_pairs(const std::vector<T>& centers, index_t k, index_t d, F&& f) {
    for (index_t a = 0; a < k; ++a)
        for (index_t b = a + 1; b < k; ++b)
            f(a, b, squared_distance(&centers[static_cast<size_t>(a * d)], &centers[static_cast<size_t>(b * d)], d));
}

}  // namespace vecclust::kmeans_detail
