// CLARA (Kaufman & Rousseeuw) with FasterPAM inside, as FasterCLARA (Schubert & Rousseeuw, 2021):
// k-medoids on several small random samples, each sample's medoids scored by the total
// deviation over all n points, the best kept. Only a sample's small matrix is ever stored; the
// scoring streams over the data with O(n) memory.
#pragma once

#include <algorithm>  // std::sort
#include <cstdint>    // std::uint64_t
#include <string>     // std::to_string
#include <vector>     // std::vector

#include "vecclust/kmedoids/assignment.hpp"
#include "vecclust/kmedoids/kmedoids.hpp"
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
};

struct ClaraResult {
    KMedoidsResult best;  // over all points; n_iter and n_swaps are the best sample's
    int best_sample = 0;
    std::vector<double> sample_losses;
};

// CLARA's view of feature vectors: a sample's distance matrix, and the nearest medoids.
template <class T>
class ClaraFeatures {
  public:
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

  private:
    const T* x_;
    index_t n_, d_;
    Metric metric_;
};

// CLARA's view of a precomputed symmetric matrix.
template <class T>
class ClaraMatrix {
  public:
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
    return result;
}

}  // namespace vecclust
