// Hamerly's bounds: per point an upper bound on the distance to its centre and a lower bound
// on the distance to every other centre, moved with the centres each iteration.
#pragma once

#include <algorithm>  // std::max, std::min
#include <cmath>      // std::sqrt
#include <limits>     // std::numeric_limits
#include <vector>     // std::vector

#include "vecclust/kmeans/bounds.hpp"
#include "vecclust/kmeans/center_table.hpp"

namespace vecclust::kmeans_detail {

template <class T>
class HamerlyBounds {
  public:
    static constexpr bool kRows = false;

    HamerlyBounds(const T* x, index_t n, index_t d, index_t k)
        : x_(x), d_(d), k_(k), upper_(static_cast<size_t>(n), 0.0), lower_(static_cast<size_t>(n), 0.0),
          slack_(1.0 + 4.0 * static_cast<double>(d + 2) * std::numeric_limits<T>::epsilon()) {}

    // Half the distance from each centre to its nearest other centre.
    void prepare(const std::vector<T>& centers) {
        half_gap_.assign(static_cast<size_t>(k_), std::numeric_limits<double>::infinity());
        for_center_pairs(centers, k_, d_, [&](index_t a, index_t b, T squared) {
            const double half = 0.5 * std::sqrt(static_cast<double>(squared));
            half_gap_[static_cast<size_t>(a)] = std::min(half_gap_[static_cast<size_t>(a)], half);
            half_gap_[static_cast<size_t>(b)] = std::min(half_gap_[static_cast<size_t>(b)], half);
        });
    }

    // Moves the bounds of the points [begin, end) with the centres and appends to `unsettled`
    // those whose bounds no longer prove that their centre is the nearest, even with the upper
    // bound recomputed exactly. `slack_` covers rounding in the computed distances.
    void settle(index_t begin, index_t end, const std::vector<T>& centers, const index_t* labels,
                std::vector<index_t>& unsettled) {
        auto label_of = [&](index_t i) { return labels[i - begin]; };
        auto bound = [&](index_t i) { return std::max(lower_[static_cast<size_t>(i)], half_gap_[static_cast<size_t>(label_of(i))]); };
        std::vector<index_t> recheck;  // the exact upper bounds are computed side by side
        std::vector<const T*> points, own_centers;
        for (index_t i = begin; i < end; ++i) {
            const auto s = static_cast<size_t>(i);
            const index_t label = label_of(i);
            upper_[s] += shifts_[static_cast<size_t>(label)];
            lower_[s] -= label == farthest_mover_ ? second_max_shift_ : max_shift_;
            if (upper_[s] * slack_ <= bound(i)) continue;
            recheck.push_back(i);
            points.push_back(x_ + i * d_);
            own_centers.push_back(&centers[static_cast<size_t>(label * d_)]);
        }
        const auto count = static_cast<index_t>(recheck.size());
        std::vector<T> squared(recheck.size());
        paired_squared_distances(points.data(), own_centers.data(), d_, count, squared.data());
        for (index_t m = 0; m < count; ++m) {
            const index_t i = recheck[static_cast<size_t>(m)];
            upper_[static_cast<size_t>(i)] = std::sqrt(static_cast<double>(squared[static_cast<size_t>(m)]));
            if (upper_[static_cast<size_t>(i)] * slack_ > bound(i)) unsettled.push_back(i);
        }
    }

    // The bounds become the nearest and second nearest distances.
    void reset(index_t i, const NearestTwo<T>& nearest, const T*) {
        upper_[static_cast<size_t>(i)] = std::sqrt(static_cast<double>(nearest.nearest));
        lower_[static_cast<size_t>(i)] = std::sqrt(static_cast<double>(nearest.second));
    }

    // The largest two moves: a point's lower bound drops by the largest move of another centre.
    void moved(const std::vector<double>& shifts) {
        shifts_ = shifts;
        max_shift_ = second_max_shift_ = 0.0;
        farthest_mover_ = -1;
        for (index_t c = 0; c < k_; ++c) {
            const double shift = shifts_[static_cast<size_t>(c)];
            if (shift > max_shift_) second_max_shift_ = max_shift_, max_shift_ = shift, farthest_mover_ = c;
            else if (shift > second_max_shift_) second_max_shift_ = shift;
        }
    }

  private:
    const T* x_;
    index_t d_, k_;
    std::vector<double> upper_, lower_, half_gap_, shifts_;
    double slack_, max_shift_ = 0.0, second_max_shift_ = 0.0;
    index_t farthest_mover_ = -1;
};

}  // namespace vecclust::kmeans_detail
