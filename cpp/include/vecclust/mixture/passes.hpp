// The passes over the points of one data set, tile by tile on the thread pool: the fused
// E-step + M-step sums, the sums for given responsibilities, and the per-point log
// probabilities. Sums over points are kept as kLanes partial sums within a fixed task, folded in
// a fixed order, and the task sums combined in task order, so results are bit-identical for any
// thread count.
#pragma once

#include <algorithm>  // std::min, std::max, std::fill
#include <cmath>      // std::log
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"
#include "vecclust/base/parallel.hpp"
#include "vecclust/cpu/isa.hpp"
#include "vecclust/mixture/params.hpp"
#include "vecclust/mixture/tile_kernels.hpp"

namespace vecclust {

namespace gmm_detail {

// What the E-step needs of the parameters: log weight + log det(U) - d/2 log(2 pi) per component.
struct EStepModel {
    const MixtureParams& params;
    std::vector<double> constant;

    explicit EStepModel(const MixtureParams& p) : params(p), constant(static_cast<size_t>(p.k)) {
        const index_t d = p.d;
        for (index_t c = 0; c < p.k; ++c) {
            const double* chol = p.precisions_cholesky.data() + c * p.covariance_size();
            double log_det = 0.0;
            for (index_t j = 0; j < d; ++j) log_det += std::log(p.type == CovarianceType::full ? chol[j * d + j] : chol[j]);
            constant[static_cast<size_t>(c)] =
                std::log(p.weights[static_cast<size_t>(c)]) + log_det - 0.5 * static_cast<double>(d) * kLog2Pi;
        }
    }
};

// Sums per component over all points (or one task's points).
struct Statistics {
    index_t k = 0, d = 0, m = 0;  // m: second-moment entries per component
    std::vector<double> resp_sum, first, second;

    Statistics() = default;
    Statistics(index_t k_, index_t d_, CovarianceType type)
        : k(k_), d(d_), m(second_moment_size(type, d_)), resp_sum(static_cast<size_t>(k_)),
          first(static_cast<size_t>(k_ * d_)), second(static_cast<size_t>(k_ * m)) {}

    void clear() {
        std::fill(resp_sum.begin(), resp_sum.end(), 0.0);
        std::fill(first.begin(), first.end(), 0.0);
        std::fill(second.begin(), second.end(), 0.0);
    }
    void add(const Statistics& other) {
        for (size_t i = 0; i < resp_sum.size(); ++i) resp_sum[i] += other.resp_sum[i];
        for (size_t i = 0; i < first.size(); ++i) first[i] += other.first[i];
        for (size_t i = 0; i < second.size(); ++i) second[i] += other.second[i];
    }
};

// Where the responsibilities of a tile come from when they are given rather than computed:
// a dense n x k matrix, or one label per point (one-hot).
struct GivenResponsibilities {
    const double* dense = nullptr;   // n x k, row-major
    const index_t* labels = nullptr;  // n

    void fill(index_t begin, index_t count, index_t k, double* resp) const {
        std::fill(resp, resp + k * kTile, 0.0);
        for (index_t p = 0; p < count; ++p) {
            if (dense) {
                for (index_t c = 0; c < k; ++c) resp[c * kTile + p] = dense[(begin + p) * k + c];
            } else {
                resp[labels[begin + p] * kTile + p] = 1.0;
            }
        }
    }
};

// Per-thread buffers of one tile.
struct TileScratch {
    std::vector<double> tile, diff, weighted, maha, wlp, resp, log_norm;
    std::vector<double> lanes;  // lane partial sums of one component, or of all (see MixturePasses)
    TileScratch(index_t k, index_t d, index_t lane_sums)
        : tile(static_cast<size_t>(d * kTile)), diff(static_cast<size_t>(d * kTile)),
          weighted(static_cast<size_t>(d * kTile)), maha(static_cast<size_t>(kTile)),
          wlp(static_cast<size_t>(k * kTile)), resp(static_cast<size_t>(k * kTile)), log_norm(static_cast<size_t>(kTile)),
          lanes(static_cast<size_t>(lane_sums * kLanes)) {}
};

}  // namespace gmm_detail

// The passes over the points of one data set: the fused E-step + M-step sums, the sums for
// given responsibilities, and the per-point log probabilities.
template <class T>
class MixturePasses {
  public:
    MixturePasses(const T* x, index_t n, index_t d, index_t k, CovarianceType type, ThreadPool& pool)
        : x_(x), n_(n), d_(d), k_(k), type_(type), pool_(pool) {
        using gmm_detail::kTile;
        // Tasks of 16 or more tiles; fewer, larger tasks when the per-task sums would take much
        // memory. Depends on n, k and d only, never on the thread count.
        const index_t sums = gmm_detail::sums_per_component(type, d);
        const index_t sums_bytes = k * sums * 8;
        const index_t max_tasks = std::max<index_t>(16, std::min<index_t>(1024, (index_t(64) << 20) / sums_bytes));
        const index_t n_tiles = (n + kTile - 1) / kTile;
        tiles_per_task_ = std::max<index_t>(16, (n_tiles + max_tasks - 1) / max_tasks);
        n_tasks_ = (n_tiles + tiles_per_task_ - 1) / tiles_per_task_;
        // The lane partial sums are folded once per task when those of all components fit in
        // 512 KiB per thread, otherwise after every tile (fixed by k, d and the type alone).
        fold_per_task_ = k * sums * gmm_detail::kLanes * 8 <= (index_t(512) << 10);
        for (int t = 0; t < pool.size(); ++t) scratch_.emplace_back(k, d, fold_per_task_ ? k * sums : sums);
    }

    // E-step with `model`, adding every point's responsibilities and moments around
    // shifts (k x d) to `out`. Returns the sum of log p(x) over the points.
    double e_step_statistics(const gmm_detail::EStepModel& model, const double* shifts, gmm_detail::Statistics& out) {
        return accumulate(shifts, true, out, [&](index_t, index_t count, gmm_detail::TileScratch& s) {
            return e_step_tile(model, count, s);
        });
    }

    // The same sums for given responsibilities; second moments only if asked.
    void given_statistics(const gmm_detail::GivenResponsibilities& given, const double* shifts, bool second_moments,
                          gmm_detail::Statistics& out) {
        accumulate(shifts, second_moments, out, [&](index_t begin, index_t count, gmm_detail::TileScratch& s) {
            given.fill(begin, count, k_, s.resp.data());
            return 0.0;
        });
    }

    // log(weight_c) + log N(x | c) into weighted_log_prob (n x k), and its log-sum-exp over the
    // components into log_norm (n).
    void log_probabilities(const gmm_detail::EStepModel& model, double* weighted_log_prob, double* log_norm) {
        using gmm_detail::kTile;
        const index_t n_tiles = (n_ + kTile - 1) / kTile;
        pool_.run(n_tiles, [&](index_t t, int thread_id) {
            auto& s = scratch_[static_cast<size_t>(thread_id)];
            const index_t begin = t * kTile, count = std::min(kTile, n_ - begin);
            // one dispatch per tile step: its kernels are inlined into one function per level
            isa::dispatch<isa::Level::avx2>([&](auto) {
                gmm_detail::load_tile(x_ + begin * d_, count, d_, s.tile.data());
                e_step_tile(model, count, s);
            });
            for (index_t p = 0; p < count; ++p) {
                for (index_t c = 0; c < k_; ++c)
                    weighted_log_prob[(begin + p) * k_ + c] = s.wlp[static_cast<size_t>(c * kTile + p)];
                log_norm[begin + p] = s.log_norm[static_cast<size_t>(p)];
            }
        });
    }

  private:
    // From the loaded tile: fills s.wlp, s.resp and s.log_norm; returns the sum of log p(x)
    // over the tile's `count` points.
    double e_step_tile(const gmm_detail::EStepModel& model, index_t count, gmm_detail::TileScratch& s) {
        using gmm_detail::kTile;
        const MixtureParams& p = model.params;
        for (index_t c = 0; c < k_; ++c) {
            const double* mean = p.means.data() + c * d_;
            const double* chol = p.precisions_cholesky.data() + c * p.covariance_size();
            if (type_ == CovarianceType::full) {
                gmm_detail::centre_tile(s.tile.data(), d_, mean, s.diff.data());
                gmm_detail::mahalanobis_full(s.diff.data(), d_, chol, s.maha.data());
            } else {
                gmm_detail::mahalanobis_diag(s.tile.data(), d_, mean, chol, s.maha.data());
            }
            const double constant = model.constant[static_cast<size_t>(c)];
            double* wlp = s.wlp.data() + c * kTile;
            for (index_t q = 0; q < kTile; ++q) wlp[q] = constant - 0.5 * s.maha[static_cast<size_t>(q)];
        }
        gmm_detail::normalise_tile(s.wlp.data(), k_, count, s.resp.data(), s.log_norm.data());
        double sum = 0.0;
        for (index_t q = 0; q < count; ++q) sum += s.log_norm[static_cast<size_t>(q)];
        return sum;
    }

    // One pass over the tiles: `responsibilities(begin, count, scratch)` fills scratch.resp
    // from the loaded tile (and returns its log-likelihood sum), then each component's sums
    // are added to the task's, all in one dispatch per tile. Task sums are combined in task order.
    template <class Responsibilities>
    double accumulate(const double* shifts, bool second_moments, gmm_detail::Statistics& out,
                      Responsibilities&& responsibilities) {
        using gmm_detail::kTile;
        if (task_sums_.size() != static_cast<size_t>(n_tasks_))
            task_sums_.assign(static_cast<size_t>(n_tasks_), gmm_detail::Statistics(k_, d_, type_));
        task_log_likelihood_.assign(static_cast<size_t>(n_tasks_), 0.0);
        pool_.run(n_tasks_, [&](index_t task, int thread_id) {
            auto& s = scratch_[static_cast<size_t>(thread_id)];
            auto& sums = task_sums_[static_cast<size_t>(task)];
            sums.clear();
            double log_likelihood = 0.0;
            const index_t first_point = task * tiles_per_task_ * kTile;
            const index_t last_point = std::min(n_, first_point + tiles_per_task_ * kTile);
            const index_t per_component = gmm_detail::sums_per_component(type_, d_) * gmm_detail::kLanes;
            std::fill(s.lanes.begin(), s.lanes.end(), 0.0);
            for (index_t begin = first_point; begin < last_point; begin += kTile) {
                const index_t count = std::min(kTile, last_point - begin);
                isa::dispatch<isa::Level::avx2>([&](auto) {
                    gmm_detail::load_tile(x_ + begin * d_, count, d_, s.tile.data());
                    log_likelihood += responsibilities(begin, count, s);
                    for (index_t c = 0; c < k_; ++c) {
                        double* lanes = s.lanes.data() + (fold_per_task_ ? c * per_component : 0);
                        const double* resp = s.resp.data() + c * kTile;
                        if (type_ == CovarianceType::full) {
                            gmm_detail::centre_tile(s.tile.data(), d_, shifts + c * d_, s.diff.data());
                            gmm_detail::accumulate_full(s.diff.data(), resp, d_, second_moments, s.weighted.data(), lanes);
                        } else {
                            gmm_detail::accumulate_diag(s.tile.data(), shifts + c * d_, resp, d_, second_moments, lanes);
                        }
                        if (!fold_per_task_) fold_into(lanes, c, sums);
                    }
                });
            }
            if (fold_per_task_)
                for (index_t c = 0; c < k_; ++c) fold_into(s.lanes.data() + c * per_component, c, sums);
            task_log_likelihood_[static_cast<size_t>(task)] = log_likelihood;
        });
        out = gmm_detail::Statistics(k_, d_, type_);
        double total = 0.0;
        for (index_t task = 0; task < n_tasks_; ++task) {
            out.add(task_sums_[static_cast<size_t>(task)]);
            total += task_log_likelihood_[static_cast<size_t>(task)];
        }
        return total;
    }

    // Adds component c's lane partial sums, folded, to `sums`, and clears them.
    void fold_into(double* lanes, index_t c, gmm_detail::Statistics& sums) const {
        using gmm_detail::kLanes;
        sums.resp_sum[static_cast<size_t>(c)] += gmm_detail::fold(lanes);
        for (index_t i = 0; i < d_; ++i) sums.first[static_cast<size_t>(c * d_ + i)] += gmm_detail::fold(lanes + (1 + i) * kLanes);
        for (index_t e = 0; e < sums.m; ++e)
            sums.second[static_cast<size_t>(c * sums.m + e)] += gmm_detail::fold(lanes + (1 + d_ + e) * kLanes);
        std::fill(lanes, lanes + (1 + d_ + sums.m) * kLanes, 0.0);
    }

    const T* x_;
    index_t n_, d_, k_;
    CovarianceType type_;
    ThreadPool& pool_;
    bool fold_per_task_ = true;
    index_t tiles_per_task_ = 1, n_tasks_ = 0;
    std::vector<gmm_detail::TileScratch> scratch_;
    std::vector<gmm_detail::Statistics> task_sums_;
    std::vector<double> task_log_likelihood_;
};

}  // namespace vecclust
