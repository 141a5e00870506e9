// CLARA (Kaufman & Rousseeuw) with FasterPAM inside, as FasterCLARA (Schubert & Rousseeuw, 2021):
// k-medoids on several small random samples, each sample's medoids scored by the total
// deviation over all n points, the best kept. Only a sample's small matrix is ever stored; the
// scoring streams over the data with O(n) memory.
#pragma once

#include <algorithm>  // std::sort, std::lower_bound
#include <cstdint>    // std::uint64_t
#include <string>     // std::to_string
#include <utility>    // std::move
#include <vector>     // std::vector

#include "vecclust/kmedoids/assignment.hpp"
#include "vecclust/kmedoids/kmedoids.hpp"
#include "vecclust/kmedoids/refine.hpp"
#include "vecclust/base/random.hpp"

namespace vecclust {

struct ClaraOptions {
    index_t n_clusters = 0;
    index_t n_sampling = 0;  // points per sample, > n_clusters (n or more: every point)
    int n_sampling_iter = 5;  // number of samples
    Method method = Method::fasterpam;
    Init init = Init::random;
    bool keep_medoids = true;  // the best medoids so far are part of every later sample
    int max_iter = 300;
    std::uint64_t seed = 0;
    bool refine = true;  // refine the best sample's medoids on all points (refine.hpp)
    index_t swap_candidates = 8;  // per medoid in each swap round of the refinement; 0: no swaps
};

struct ClaraResult {
    KMedoidsResult best;  // over all points; n_iter and n_swaps are the best sample's
    int best_sample = 0;
    std::vector<double> sample_losses;
    std::vector<double> refine_losses;  // the loss after each refinement step kept
};

namespace detail {

// Sum over members of weight x distance, each term rounded to T as the loss's terms are; a
// point's distance to itself is exactly 0 (cosine rounding).
template <class T>
double weighted_sum(const std::vector<index_t>& members, index_t candidate, const T* dist, const T* weights) {
    double sum = 0.0;
    for (size_t a = 0; a < members.size(); ++a) {
        const T d = members[a] == candidate ? T(0) : dist[a];
        sum += static_cast<double>(weights ? weights[members[a]] * d : d);
    }
    return sum;
}

// Sets out[b * count + p] to 0 where points[p] (ascending) is targets[b].
template <class T>
void zero_self_distances(const index_t* points, index_t count, const std::vector<index_t>& targets, T* out) {
    for (size_t b = 0; b < targets.size(); ++b) {
        const index_t* at = std::lower_bound(points, points + count, targets[b]);
        if (at != points + count && *at == targets[b]) out[static_cast<index_t>(b) * count + (at - points)] = T(0);
    }
}

}  // namespace detail

// CLARA's view of feature vectors: a sample's distance matrix, and the nearest medoids.
template <class T>
class ClaraFeatures {
  public:
    using value_type = T;
    ClaraFeatures(const T* x, index_t n, index_t d, Metric metric) : x_(x), n_(n), d_(d), metric_(metric) {}
    index_t size() const { return n_; }

    void sample_matrix(const std::vector<index_t>& sample, T* out, ThreadPool& pool) const {
        std::vector<T> rows(sample.size() * static_cast<size_t>(d_));
        for (size_t a = 0; a < sample.size(); ++a) std::copy(x_ + sample[a] * d_, x_ + (sample[a] + 1) * d_, rows.begin() + a * d_);
        full_matrix(FeatureSource<T>(rows.data(), static_cast<index_t>(sample.size()), d_, metric_), out, pool);
    }

    NearestMedoids<T> nearest(const std::vector<index_t>& medoids, const T* weights, ThreadPool& pool) const {
        return nearest_medoids(x_, n_, d_, metric_, medoids, weights, pool);
    }

    // For each candidate, the (weighted) sum of its distances to `members`, as the loss sums them.
    std::vector<double> costs(const std::vector<index_t>& candidates, const std::vector<index_t>& members,
                              const T* weights) const {
        std::vector<T> rows(members.size() * static_cast<size_t>(d_)), query(static_cast<size_t>(d_)), dist(members.size());
        for (size_t a = 0; a < members.size(); ++a) std::copy(x_ + members[a] * d_, x_ + (members[a] + 1) * d_, rows.begin() + a * d_);
        const FeatureSource<T> source(rows.data(), static_cast<index_t>(members.size()), d_, metric_);
        std::vector<double> out;
        for (index_t candidate : candidates) {
            source.prepare_query(x_ + candidate * d_, query.data());
            source.distances_to(query.data(), dist.data());
            out.push_back(detail::weighted_sum(members, candidate, dist.data(), weights));
        }
        return out;
    }

    // Distances from any point to a few fixed points (medoids, swap candidates), on demand.
    class Targets {
      public:
        Targets(const ClaraFeatures& data, std::vector<index_t> ids)
            : data_(data), ids_(std::move(ids)), rows_(gather_rows(data, ids_)),
              source_(rows_.data(), static_cast<index_t>(ids_.size()), data.d_, data.metric_) {}
        index_t scratch_size() const { return data_.d_; }
        // out[i] = d(o, ids[i]), exactly 0 where o is ids[i]; `scratch` holds scratch_size() values.
        void distances(index_t o, T* scratch, T* out) const {
            source_.prepare_query(data_.x_ + o * data_.d_, scratch);
            if (ids_.size() <= 2) {  // one lane each, with the block kernel's arithmetic (same bits)
                for (size_t i = 0; i < ids_.size(); ++i) out[i] = source_.distance(scratch, source_.point(static_cast<index_t>(i)));
            } else {
                source_.distances_to(scratch, out);
            }
            for (size_t i = 0; i < ids_.size(); ++i)
                if (ids_[i] == o) out[i] = T(0);
        }

      private:
        static std::vector<T> gather_rows(const ClaraFeatures& data, const std::vector<index_t>& ids) {
            std::vector<T> rows(ids.size() * static_cast<size_t>(data.d_));
            for (size_t a = 0; a < ids.size(); ++a)
                std::copy(data.x_ + ids[a] * data.d_, data.x_ + (ids[a] + 1) * data.d_, rows.begin() + a * data.d_);
            return rows;
        }
        const ClaraFeatures& data_;
        std::vector<index_t> ids_;
        std::vector<T> rows_;
        FeatureSource<T> source_;
    };
    Targets targets(std::vector<index_t> ids) const { return Targets(*this, std::move(ids)); }

    // out[b * count + p] = d(points[p], targets[b]), exactly 0 where the two are one point;
    // `points` ascending. One vectorised row per target over the points' block.
    void distances_between(const index_t* points, index_t count, const std::vector<index_t>& targets, T* out) const {
        std::vector<T> rows(static_cast<size_t>(count * d_)), query(static_cast<size_t>(d_));
        for (index_t p = 0; p < count; ++p) std::copy(x_ + points[p] * d_, x_ + (points[p] + 1) * d_, rows.begin() + p * d_);
        const FeatureSource<T> block(rows.data(), count, d_, metric_);
        for (size_t b = 0; b < targets.size(); ++b) {
            block.prepare_query(x_ + targets[b] * d_, query.data());
            block.distances_to(query.data(), out + static_cast<index_t>(b) * count);
        }
        detail::zero_self_distances(points, count, targets, out);
    }

  private:
    const T* x_;
    index_t n_, d_;
    Metric metric_;
};

// CLARA's view of a precomputed symmetric matrix.
template <class T>
class ClaraMatrix {
  public:
    using value_type = T;
    ClaraMatrix(const T* data, index_t n) : matrix_(data, n) {}
    index_t size() const { return matrix_.size(); }

    void sample_matrix(const std::vector<index_t>& sample, T* out, ThreadPool&) const {
        const size_t s = sample.size();
        for (size_t a = 0; a < s; ++a)
            for (size_t b = 0; b < s; ++b) out[a * s + b] = matrix_.at(sample[a], sample[b]);
    }

    NearestMedoids<T> nearest(const std::vector<index_t>& medoids, const T* weights, ThreadPool& pool) const {
        return nearest_medoids(matrix_, medoids, weights, pool);
    }

    std::vector<double> costs(const std::vector<index_t>& candidates, const std::vector<index_t>& members,
                              const T* weights) const {
        std::vector<T> dist(members.size());
        std::vector<double> out;
        for (index_t candidate : candidates) {
            for (size_t a = 0; a < members.size(); ++a) dist[a] = matrix_.at(candidate, members[a]);
            out.push_back(detail::weighted_sum(members, candidate, dist.data(), weights));
        }
        return out;
    }

    class Targets {
      public:
        Targets(const MatrixSource<T>& matrix, std::vector<index_t> ids) : matrix_(matrix), ids_(std::move(ids)) {}
        index_t scratch_size() const { return 0; }
        void distances(index_t o, T*, T* out) const {
            for (size_t i = 0; i < ids_.size(); ++i) out[i] = matrix_.at(ids_[i], o);
        }

      private:
        const MatrixSource<T>& matrix_;
        std::vector<index_t> ids_;
    };
    Targets targets(std::vector<index_t> ids) const { return Targets(matrix_, std::move(ids)); }

    void distances_between(const index_t* points, index_t count, const std::vector<index_t>& targets, T* out) const {
        for (size_t b = 0; b < targets.size(); ++b)
            for (index_t p = 0; p < count; ++p) out[static_cast<index_t>(b) * count + p] = matrix_.at(targets[b], points[p]);
    }

  private:
    MatrixSource<T> matrix_;
};

namespace detail {

// `size` distinct indices including all of `keep`, sorted (so a sample of all n points is the
// full problem in its own order).
inline std::vector<index_t> draw_sample(index_t n, index_t size, const std::vector<index_t>& keep, Rng& rng) {
    std::vector<index_t> sample = keep;
    if (size >= n) {
        sample.resize(static_cast<size_t>(n));
        for (index_t i = 0; i < n; ++i) sample[static_cast<size_t>(i)] = i;
        return sample;
    }
    std::vector<char> taken(static_cast<size_t>(n), 0);
    for (index_t m : keep) taken[static_cast<size_t>(m)] = 1;
    LazyShuffle shuffle(n, rng);
    while (static_cast<index_t>(sample.size()) < size) {
        const index_t i = shuffle.next();
        if (!taken[static_cast<size_t>(i)]) taken[static_cast<size_t>(i)] = 1, sample.push_back(i);
    }
    std::sort(sample.begin(), sample.end());
    return sample;
}

}  // namespace detail

template <class T, class Data>
ClaraResult clara(const Data& data, const T* weights, const ClaraOptions& options, Control& control) {
    const index_t n = data.size(), k = options.n_clusters;
    require(k >= 1 && k <= n, "the number of medoids k=" + std::to_string(k) + " must be in [1, n_samples=" + std::to_string(n) + "]");
    require(options.n_sampling > k, "the sample size must be larger than k");
    ThreadPool pool(control);
    Rng seeds(options.seed);
    ClaraResult result;
    std::vector<index_t> best_medoids;
    for (int s = 0; s < options.n_sampling_iter; ++s) {
        // The first seed initialises, as in fit_kmedoids: with a sample of all points CLARA
        // then repeats KMedoids exactly.
        Rng init_rng(seeds.fork()), sample_rng(seeds.fork());
        const std::vector<index_t> sample =
            detail::draw_sample(n, options.n_sampling, options.keep_medoids ? best_medoids : std::vector<index_t>{}, sample_rng);
        const auto m = static_cast<index_t>(sample.size());
        std::vector<T> matrix(static_cast<size_t>(m * m)), sample_weights;
        data.sample_matrix(sample, matrix.data(), pool);
        if (weights)
            for (index_t i : sample) sample_weights.push_back(weights[i]);
        const T* w = weights ? sample_weights.data() : nullptr;
        const MatrixSource<T> sub(matrix.data(), m);
        const auto initial = initial_medoids<T>(sub, k, options.init, w, init_rng, pool);
        const KMedoidsResult local = kmedoids_from<T>(sub, initial, options.method, w, options.max_iter, pool);

        std::vector<index_t> medoids;
        for (index_t i : local.medoids) medoids.push_back(sample[static_cast<size_t>(i)]);
        NearestMedoids<T> scored = data.nearest(medoids, weights, pool);
        result.sample_losses.push_back(scored.loss);
        const bool improved = s == 0 || scored.loss < result.best.loss;
        if (improved) {
            result.best = local;
            result.best.loss = scored.loss;
            result.best.medoids = medoids;
            result.best.labels = std::move(scored.labels);
            result.best_sample = s;
            best_medoids = medoids;
        }
        if (control.verbose())
            control.report("CLARA sample " + std::to_string(s + 1) + "/" + std::to_string(options.n_sampling_iter) + ": " +
                           std::to_string(local.n_swaps) + " swaps, loss over all points " + std::to_string(scored.loss) +
                           (improved ? " (best so far)" : ""));
        control.poll();
    }
    if (options.refine) {
        RefineOptions refine;
        refine.seed = seeds.fork();
        refine.swap.candidates = options.swap_candidates;
        result.refine_losses = refine_medoids<T>(data, weights, result.best, refine, pool);
    }
    return result;
}

}  // namespace vecclust
