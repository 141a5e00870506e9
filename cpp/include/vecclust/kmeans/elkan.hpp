// Elkan's bounds: per point an upper bound on the distance to its centre and a lower bound on
// the distance to each centre, with the centre-to-centre distances, all rounded in the safe
// direction so that a pruned centre is provably farther than the kept one.
#pragma once

#include <algorithm>    // std::fill, std::max, std::min
#include <cmath>        // std::sqrt
#include <cstdint>      // std::int32_t, std::int64_t
#include <limits>       // std::numeric_limits
#include <type_traits>  // std::conditional_t
#include <vector>       // std::vector

#include "vecclust/cpu/isa.hpp"
#include "vecclust/kmeans/bounds.hpp"
#include "vecclust/kmeans/center_table.hpp"

namespace vecclust::kmeans_detail {

// Rounding-safe bounds. A distance computed as squared_distance does (d squared differences
// summed in T, then a square root) is within a relative (d + 2) eps / 4 of the exact one;
// `margin` = (d + 8) eps covers that with room to spare, so sqrt(computed) * (1 + margin) is a
// true upper bound of the exact distance and * (1 - margin) a true lower bound. The helpers
// round every derived quantity in the safe direction, so the labels equal Lloyd's exactly.
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

// The stored lower bound from a computed squared distance: a T no larger than the exact
// sqrt(squared) * (1 - margin) + drift, where shrink <= (1 - margin)(1 + eps / 2) and
// drift_below <= drift: the four roundings of at most eps / 2 each are outweighed by the
// final factor 1 - 4 eps.
template <class T>
inline T lower_bound_from(T squared, T drift_below, T shrink) {
    constexpr T kDown = T(1) - T(4) * std::numeric_limits<T>::epsilon();
    return (std::sqrt(squared) * shrink + drift_below) * kDown;
}

// lower_bound_from for k centres at once (vectorised with a run-time overlap check).
template <class T>
void lower_bounds_from(const T* squared, const T* drift_below, index_t k, T shrink, T* out) {
    isa::dispatch<isa::Level::avx2>([&](auto) {
        for (index_t c = 0; c < k; ++c) out[c] = lower_bound_from(squared[c], drift_below[c], shrink);
    });
}

// Elkan's test of every centre against a point's bounds: flags[c] = 1 for the centres that
// neither their (drift-shifted) lower bound nor half their distance to the point's centre rules
// out for a point whose nearest-centre distance is at most `reach`. Returns their number.
// Branch-free and on lane-wide flags so that it vectorises; the loop is a function of its own
// because the lambda of isa::dispatch would drop the __restrict of its pointers.
template <class T, class Flag>
inline index_t flag_candidates_loop(const T* __restrict lower, const T* __restrict half_gaps, const T* __restrict drift,
                                    T reach, index_t k, Flag* __restrict flags) {
    constexpr T kUp = T(1) + T(2) * std::numeric_limits<T>::epsilon();  // (a + b) * kUp >= the exact a + b
    Flag count = 0;
    for (index_t c = 0; c < k; ++c) {
        const Flag open = static_cast<Flag>(!(lower[c] > (reach + drift[c]) * kUp) & !(half_gaps[c] > reach));
        flags[c] = open;
        count += open;
    }
    return static_cast<index_t>(count);
}

template <class T, class Flag = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>>
index_t flag_candidates(const T* lower, const T* half_gaps, const T* drift, T reach, index_t k, Flag* flags) {
    index_t count = 0;
    isa::dispatch<isa::Level::avx2>([&](auto) { count = flag_candidates_loop(lower, half_gaps, drift, reach, k, flags); });
    return count;
}

template <class T>
class ElkanBounds {
  public:
    static constexpr bool kRows = true;

    ElkanBounds(const T* x, index_t n, index_t d, index_t k)
        : x_(x), d_(d), k_(k), safe_(d), shrink_(static_cast<T>(1.0 - safe_.margin)), upper_(static_cast<size_t>(n), 0.0),
          lower_rows_(static_cast<size_t>(n * k), T(0)), drift_(static_cast<size_t>(k), 0.0),
          drift_above_(static_cast<size_t>(k), T(0)), drift_below_(static_cast<size_t>(k), T(0)) {}

    // Half the distance from each centre to every other centre (rounded down) and to its
    // nearest other centre.
    void prepare(const std::vector<T>& centers) {
        half_gap_.assign(static_cast<size_t>(k_), std::numeric_limits<double>::infinity());
        half_gaps_.assign(static_cast<size_t>(k_ * k_), std::numeric_limits<T>::infinity());
        for_center_pairs(centers, k_, d_, [&](index_t a, index_t b, T squared) {
            const T safe_half = SafeBounds<T>::below(0.5 * safe_.lower(squared));
            half_gaps_[static_cast<size_t>(a * k_ + b)] = half_gaps_[static_cast<size_t>(b * k_ + a)] = safe_half;
            const double half = static_cast<double>(safe_half);
            half_gap_[static_cast<size_t>(a)] = std::min(half_gap_[static_cast<size_t>(a)], half);
            half_gap_[static_cast<size_t>(b)] = std::min(half_gap_[static_cast<size_t>(b)], half);
        });
    }

    void settle(index_t begin, index_t end, const std::vector<T>& centers, index_t* labels,
                std::vector<index_t>& unsettled) {
        Scratch scratch;
        for (index_t i = begin; i < end; ++i)
            if (!settles(i, centers, labels[i - begin], scratch)) unsettled.push_back(i);
    }

    // The bounds become the computed distances.
    void reset(index_t i, const NearestTwo<T>& nearest, const T* row) {
        upper_[static_cast<size_t>(i)] = safe_.upper(nearest.nearest);
        lower_bounds_from(row, drift_below_.data(), k_, shrink_, lower_rows_.data() + i * k_);
    }

    // The lower bounds are stored shifted by drift_, each centre's summed (rounded up) moves
    // since the start: lower_rows_[i * k + c] - drift_[c] bounds the distance from point i to
    // centre c from below, so a centre's move loosens all its bounds at once without touching
    // n x k memory.
    void moved(const std::vector<double>& shifts) {
        shifts_ = shifts;
        for (index_t c = 0; c < k_; ++c) {
            const auto s = static_cast<size_t>(c);
            drift_[s] = SafeBounds<T>::sum_above(drift_[s], shifts_[s] * (1.0 + safe_.margin));
            drift_above_[s] = SafeBounds<T>::above(drift_[s]);
            drift_below_[s] = SafeBounds<T>::below(drift_[s]);
        }
    }

  private:
    using Flag = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
    struct Scratch {
        std::vector<Flag> flags;
        std::vector<index_t> candidates;
        std::vector<const T*> point, rows;  // the point repeated, the candidates' centres
        std::vector<T> squared;

        void size_for(index_t k) {
            if (!flags.empty()) return;
            flags.resize(static_cast<size_t>(k));
            candidates.resize(static_cast<size_t>(k));
            point.resize(static_cast<size_t>(k));
            rows.resize(static_cast<size_t>(k));
            squared.resize(static_cast<size_t>(k));
        }
    };

    // Beyond this many candidate centres a point is scanned against all k with the tile kernel,
    // which computes a distance several times faster than the one-by-one kernel.
    index_t scan_limit() const { return std::max<index_t>(2, k_ / 16); }

    // The stored form of a lower bound on the distance to centre c, from its computed square.
    T lower_bound(T squared, index_t c) const { return lower_bound_from(squared, drift_below_[static_cast<size_t>(c)], shrink_); }

    T reach(double upper) const { return SafeBounds<T>::above(upper * safe_.slack); }

    // Loosens the point's upper bound by its centre's move, then tests every centre against
    // its bounds; the distances the bounds cannot settle are computed (after the own centre's,
    // which tightens the upper bound). Returns false when so many centres remain that a full
    // scan is cheaper; otherwise `label` is the nearest centre (first on ties).
    bool settles(index_t i, const std::vector<T>& centers, index_t& label, Scratch& scratch) {
        const auto s = static_cast<size_t>(i);
        const index_t own = label;
        upper_[s] = SafeBounds<T>::sum_above(upper_[s], shifts_[static_cast<size_t>(own)] * (1.0 + safe_.margin));
        if (static_cast<double>(reach(upper_[s])) < half_gap_[static_cast<size_t>(own)]) return true;
        T* lower = lower_rows_.data() + i * k_;
        const T* half_gaps = half_gaps_.data() + own * k_;
        scratch.size_for(k_);
        Flag* flags = scratch.flags.data();
        if (flag_candidates(lower, half_gaps, drift_above_.data(), reach(upper_[s]), k_, flags) == 0) return true;

        const T* point = x_ + i * d_;
        const T own_squared = squared_distance(point, &centers[static_cast<size_t>(own * d_)], d_);
        upper_[s] = safe_.upper(own_squared);
        lower[own] = lower_bound(own_squared, own);
        const index_t count = flag_candidates(lower, half_gaps, drift_above_.data(), reach(upper_[s]), k_, flags);
        if (count == 0) return true;
        if (count > scan_limit()) return false;
        label = nearest_candidate(i, centers, own, own_squared, count, lower, scratch);
        return true;
    }

    // The nearest of the own centre and the `count` flagged candidates (first on ties); sets
    // their lower bounds, and the upper bound if another centre is nearer.
    index_t nearest_candidate(index_t i, const std::vector<T>& centers, index_t own, T own_squared, index_t count,
                              T* lower, Scratch& scratch) {
        index_t* candidates = scratch.candidates.data();
        const T** rows = scratch.rows.data();
        for (index_t c = 0, m = 0; c < k_; ++c) {  // branch-free compaction
            candidates[m] = c;
            rows[m] = &centers[static_cast<size_t>(c * d_)];
            m += scratch.flags[static_cast<size_t>(c)];
        }
        std::fill(scratch.point.begin(), scratch.point.begin() + count, x_ + i * d_);
        paired_squared_distances(scratch.point.data(), rows, d_, count, scratch.squared.data());
        index_t best = own;
        T best_squared = own_squared;
        for (index_t m = 0; m < count; ++m) {
            const index_t c = candidates[m];
            const T squared = scratch.squared[static_cast<size_t>(m)];
            lower[c] = lower_bound(squared, c);
            if (squared < best_squared || (squared == best_squared && c < best)) best = c, best_squared = squared;
        }
        if (best != own) upper_[static_cast<size_t>(i)] = safe_.upper(best_squared);
        return best;
    }

    const T* x_;
    index_t d_, k_;
    SafeBounds<T> safe_;
    T shrink_;  // 1 - margin as a T
    std::vector<double> upper_, half_gap_, shifts_;
    // n x k and k x k bounds, drift_ rounded up and down.
    std::vector<T> lower_rows_, half_gaps_;
    std::vector<double> drift_;
    std::vector<T> drift_above_, drift_below_;
};

}  // namespace vecclust::kmeans_detail
