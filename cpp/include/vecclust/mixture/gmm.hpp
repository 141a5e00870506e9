// Gaussian mixture models fitted by expectation-maximisation, with scikit-learn's conventions
// (GaussianMixture with covariance_type "full" or "diag").
//
// Each EM iteration is one fused pass over the points: the E-step (log densities through the
// Cholesky factor of each precision, log-sum-exp responsibilities, the log-likelihood) feeds
// the M-step sums of the same points while they are in cache. The sums are taken around a
// shift per component (the means the E-step used), so the covariances come out centred without
// a second pass; only when a mean moves so far that the shifted second moments would lose
// precision to cancellation is the pass repeated around the new means.
//
// Points are processed in tiles of kTile points stored dimension by dimension, so that every
// per-point loop vectorises across points without reordering any sum (no -ffast-math): a
// point's values do not depend on its position in a tile. Sums over points are kept as 8 lane
// partial sums within a fixed task, folded in a fixed order, and the task sums combined in task
// order, so results are bit-identical for any thread count.
#pragma once

#include <algorithm>  // std::min, std::max, std::fill
#include <cmath>      // std::log, std::sqrt, std::isfinite
#include <cstdint>    // std::uint64_t
#include <cstring>    // std::memcpy
#include <limits>     // std::numeric_limits
#include <string>     // std::string
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"
#include "vecclust/cpu/isa.hpp"
#include "vecclust/base/parallel.hpp"

namespace vecclust {

enum class CovarianceType { full, diag };

inline CovarianceType parse_covariance_type(const std::string& name) {
    if (name == "full") return CovarianceType::full;
    if (name == "diag") return CovarianceType::diag;
    throw std::invalid_argument("covariance_type='" + name + "' is not supported (use 'full' or 'diag')");
}

// A mixture of k Gaussians in d dimensions, laid out as scikit-learn stores it.
struct MixtureParams {
    index_t k = 0, d = 0;
    CovarianceType type = CovarianceType::full;
    std::vector<double> weights;              // k
    std::vector<double> means;                // k x d
    std::vector<double> covariances;          // k x d x d (full) or k x d (diag); reg_covar included
    std::vector<double> precisions_cholesky;  // same shape; full: upper-triangular U, U U^T = precision

    index_t covariance_size() const { return type == CovarianceType::full ? d * d : d; }
};

struct EmOptions {
    double tol = 1e-3;        // stop once |change of the mean log-likelihood| < tol
    double reg_covar = 1e-6;  // added to the diagonal of every covariance
    index_t max_iter = 100;
    // The lower bound the first iteration's change is measured from (a warm start passes the
    // previous fit's).
    double previous_lower_bound = -std::numeric_limits<double>::infinity();
};

struct EmResult {
    MixtureParams params;  // after the last M-step
    double lower_bound = -std::numeric_limits<double>::infinity();  // of the last E-step
    std::vector<double> lower_bounds;                              // one per iteration
    index_t n_iter = 0;
    bool converged = false;
};

// scikit-learn's wording, so that callers catching it see the familiar message.
inline const char* ill_defined_covariance_message() {
    return "Fitting the mixture model failed because some components have ill-defined empirical covariance "
           "(for instance caused by singleton or collapsed samples). Try to decrease the number of components, "
           "increase reg_covar, or scale the input data.";
}

namespace gmm_detail {

constexpr index_t kTile = 64;   // points per tile
constexpr index_t kLanes = 8;   // partial sums per sum over points (point p goes to lane p mod 8)
constexpr double kLog2Pi = 1.8378770664093453;  // log(2 pi)
// When the shifted second moment of a feature exceeds the centred variance by this factor, the
// centring subtracts numbers that large and the pass is redone around the new means.
constexpr double kMaxCancellation = 1e3;

// The number of second-moment entries per component: the upper triangle (full) or the diagonal.
inline index_t second_moment_size(CovarianceType type, index_t d) {
    return type == CovarianceType::full ? d * (d + 1) / 2 : d;
}

// Copies `count` points (row-major) into a tile (dimension-major), in double; padding is zero.
template <class T>
VECCLUST_MULTIVERSION void load_tile(const T* x, index_t count, index_t d, double* tile) {
    if (count < kTile) std::fill(tile, tile + d * kTile, 0.0);
    for (index_t p = 0; p < count; ++p)
        for (index_t j = 0; j < d; ++j) tile[j * kTile + p] = static_cast<double>(x[p * d + j]);
}

// diff = tile - center, feature by feature.
VECCLUST_MULTIVERSION inline void centre_tile(const double* tile, index_t d, const double* center, double* diff) {
    for (index_t j = 0; j < d; ++j) {
        const double c = center[j];
        for (index_t p = 0; p < kTile; ++p) diff[j * kTile + p] = tile[j * kTile + p] - c;
    }
}

// maha[p] = |diff_p U|^2 for an upper-triangular U: y_j = sum_{i <= j} diff_i U_ij, summed in
// order of i; kLanes points at a time so the partial results stay in registers.
VECCLUST_MULTIVERSION inline void mahalanobis_full(const double* diff, index_t d, const double* chol, double* maha) {
    for (index_t g = 0; g < kTile; g += kLanes) {
        double total[kLanes] = {};
        for (index_t j = 0; j < d; ++j) {
            double y[kLanes] = {};
            for (index_t i = 0; i <= j; ++i) {
                const double u = chol[i * d + j];
                const double* row = diff + i * kTile + g;
                for (index_t l = 0; l < kLanes; ++l) y[l] += row[l] * u;
            }
            for (index_t l = 0; l < kLanes; ++l) total[l] += y[l] * y[l];
        }
        for (index_t l = 0; l < kLanes; ++l) maha[g + l] = total[l];
    }
}

// maha[p] = sum_j ((x_pj - mean_j) u_j)^2 for diagonal precision Cholesky factors u, straight
// from the tile (centring on the fly saves a pass through memory).
VECCLUST_MULTIVERSION inline void mahalanobis_diag(const double* tile, index_t d, const double* mean, const double* chol,
                                                   double* maha) {
    for (index_t p = 0; p < kTile; ++p) maha[p] = 0.0;
    for (index_t j = 0; j < d; ++j) {
        const double m = mean[j], u = chol[j];
        for (index_t p = 0; p < kTile; ++p) {
            const double y = (tile[j * kTile + p] - m) * u;
            maha[p] += y * y;
        }
    }
}

// The kLanes partial sums of a sum over points, added pairwise: a fixed order, the same on every
// thread and in every kernel variant.
inline double fold(const double* lanes) {
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// lanes[l] += sum of a[p] over the tile's points p = l (mod kLanes).
inline void add_to_lanes(const double* a, double* lanes) {
    double partial[kLanes];
    for (index_t l = 0; l < kLanes; ++l) partial[l] = lanes[l];
    for (index_t g = 0; g < kTile; g += kLanes)
        for (index_t l = 0; l < kLanes; ++l) partial[l] += a[g + l];
    for (index_t l = 0; l < kLanes; ++l) lanes[l] = partial[l];
}
// lanes[l] += sum of a[p] * b[p] over the tile's points p = l (mod kLanes).
inline void add_products_to_lanes(const double* a, const double* b, double* lanes) {
    double partial[kLanes];
    for (index_t l = 0; l < kLanes; ++l) partial[l] = lanes[l];
    for (index_t g = 0; g < kTile; g += kLanes)
        for (index_t l = 0; l < kLanes; ++l) partial[l] += a[g + l] * b[g + l];
    for (index_t l = 0; l < kLanes; ++l) lanes[l] = partial[l];
}

// The sums one component collects, each kept as kLanes partial sums: sum r, sum r diff_i
// (d of them), then sum r diff_i diff_j (second_moment_size of them).
inline index_t sums_per_component(CovarianceType type, index_t d) { return 1 + d + second_moment_size(type, d); }

// Adds one component's sums over a tile to its lane partial sums (sums_per_component entries
// of kLanes): sum r, sum r diff_i, sum r diff_i diff_j (the upper triangle row by row), where
// diff = x - shift is given. `weighted` is scratch.
VECCLUST_MULTIVERSION inline void accumulate_full(const double* diff, const double* resp, index_t d, bool second_moments,
                                                  double* weighted, double* lanes) {
    add_to_lanes(resp, lanes);
    lanes += kLanes;
    for (index_t i = 0; i < d; ++i)
        for (index_t p = 0; p < kTile; ++p) weighted[i * kTile + p] = resp[p] * diff[i * kTile + p];
    for (index_t i = 0; i < d; ++i, lanes += kLanes) add_to_lanes(weighted + i * kTile, lanes);
    if (!second_moments) return;
    for (index_t i = 0; i < d; ++i)
        for (index_t j = i; j < d; ++j, lanes += kLanes) add_products_to_lanes(weighted + i * kTile, diff + j * kTile, lanes);
}

// The same for diagonal covariances (sum r, sum r diff_i, sum r diff_i^2), centring the tile
// on the fly.
VECCLUST_MULTIVERSION inline void accumulate_diag(const double* tile, const double* shift, const double* resp, index_t d,
                                                  bool second_moments, double* lanes) {
    add_to_lanes(resp, lanes);
    double* first = lanes + kLanes;
    double* second = first + d * kLanes;
    for (index_t i = 0; i < d; ++i, first += kLanes, second += kLanes) {
        const double* row = tile + i * kTile;
        const double s = shift[i];
        double diff[kTile], weighted[kTile];
        for (index_t p = 0; p < kTile; ++p) {
            diff[p] = row[p] - s;
            weighted[p] = resp[p] * diff[p];
        }
        add_to_lanes(weighted, first);
        if (second_moments) add_products_to_lanes(weighted, diff, second);
    }
}

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

// exp(x) for x <= 0 in plain IEEE and integer operations, so that it vectorises across points
// (libm's exp is a scalar call without -ffast-math, and was the largest cost of the E-step for
// small d). Round x / ln 2 to n, reduce r = x - n ln 2 (ln 2 split in two for an exact product),
// |r| <= ln(2) / 2, then the Taylor polynomial of degree 13 (remainder below 1e-17) times 2^n
// built in the exponent bits: within 2 ulps of exp. Results below 2^-1022 (x < -708), negligible
// as responsibilities, are flushed to zero; a NaN stays NaN.
//
// Comparisons are made on the bits (those of a non-positive double grow with its magnitude):
// a floating-point select would not vectorise, as the compiler must assume comparisons can trap.
inline double exp_non_positive(double x) {
    constexpr double kLog2e = 1.4426950408889634, kLn2Hi = 0.693147180369123816490, kLn2Lo = 1.90821492927058770002e-10;
    constexpr double kRound = 6755399441055744.0;             // 1.5 * 2^52: adding it rounds to an integer...
    constexpr std::uint64_t kRoundBits = 0x4338000000000000;  // ...which then sits in the low bits
    constexpr std::uint64_t kLowestBits = 0xC086200000000000;  // -708.0
    std::uint64_t x_bits;
    std::memcpy(&x_bits, &x, sizeof x_bits);
    const bool underflows = x_bits > kLowestBits;  // x < -708 (or -inf)
    const std::uint64_t clamped_bits = underflows ? kLowestBits : x_bits;
    double clamped;
    std::memcpy(&clamped, &clamped_bits, sizeof clamped);
    const double shifted = clamped * kLog2e + kRound;
    const double n = shifted - kRound;
    const double r = (clamped - n * kLn2Hi) - n * kLn2Lo;
    double p = 1.0 / 6227020800.0;  // 1/13!
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // 2^n: n + 1023 in the exponent field (n in [-1022, 0] after the clamp), with n read from
    // the low bits of `shifted` (AVX2 cannot convert doubles to 64-bit integers)
    std::uint64_t shifted_bits;
    std::memcpy(&shifted_bits, &shifted, sizeof shifted_bits);
    const std::uint64_t scale_bits = (shifted_bits - kRoundBits + 1023) << 52;
    double scale;
    std::memcpy(&scale, &scale_bits, sizeof scale);
    const double value = p * scale;
    std::uint64_t value_bits;
    std::memcpy(&value_bits, &value, sizeof value_bits);
    value_bits &= underflows ? std::uint64_t(0) : ~std::uint64_t(0);
    double result;
    std::memcpy(&result, &value_bits, sizeof result);
    return result;
}

// Log-sum-exp over the components of each point, and the responsibilities exp(wlp - lse).
// Padding points (p >= count) get zero responsibility.
VECCLUST_MULTIVERSION inline void normalise_tile(const double* wlp, index_t k, index_t count, double* resp,
                                                 double* log_norm) {
    double top[kTile], sum[kTile];
    for (index_t p = 0; p < kTile; ++p) top[p] = wlp[p], sum[p] = 0.0;
    for (index_t c = 1; c < k; ++c)
        for (index_t p = 0; p < kTile; ++p) {
            const double value = wlp[c * kTile + p];
            top[p] = value > top[p] ? value : top[p];
        }
    for (index_t c = 0; c < k; ++c) {
        for (index_t p = 0; p < kTile; ++p) {
            const double e = exp_non_positive(wlp[c * kTile + p] - top[p]);
            resp[c * kTile + p] = e;
            sum[p] += e;
        }
    }
    double inverse[kTile];
    for (index_t p = 0; p < kTile; ++p) inverse[p] = p < count ? 1.0 / sum[p] : 0.0;
    for (index_t c = 0; c < k; ++c)
        for (index_t p = 0; p < kTile; ++p) resp[c * kTile + p] *= inverse[p];
    for (index_t p = 0; p < count; ++p) log_norm[p] = top[p] + std::log(sum[p]);
    for (index_t p = count; p < kTile; ++p) log_norm[p] = 0.0;
}

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
            gmm_detail::load_tile(x_ + begin * d_, count, d_, s.tile.data());
            e_step_tile(model, count, s);
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
    // are added to the task's. Task sums are combined in task order.
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

namespace gmm_detail {

// scikit-learn adds 10 machine epsilons to every component's responsibility sum, so that an
// empty component divides by a tiny number rather than zero.
inline double regularised_count(double resp_sum) { return resp_sum + 10 * std::numeric_limits<double>::epsilon(); }

// Component means from sums taken around `shifts`: (sum r x) / nk = (R s + S) / nk.
inline void means_from(const Statistics& s, const double* shifts, std::vector<double>& means) {
    means.assign(static_cast<size_t>(s.k * s.d), 0.0);
    for (index_t c = 0; c < s.k; ++c) {
        const double r = s.resp_sum[static_cast<size_t>(c)], nk = regularised_count(r);
        for (index_t j = 0; j < s.d; ++j)
            means[static_cast<size_t>(c * s.d + j)] =
                (r * shifts[c * s.d + j] + s.first[static_cast<size_t>(c * s.d + j)]) / nk;
    }
}

// The M-step from sums taken around `shifts`: weights (the regularised counts nk, not yet
// normalised), means, and centred covariances plus reg_covar on the diagonal. With delta =
// mean - shift, sum r (x - mean)(x - mean)^T = C - delta S^T - S delta^T + R delta delta^T.
// Returns false when that subtraction cancelled too many digits of a variance (the sums should
// then be taken again around the new means).
inline bool m_step(const Statistics& s, const double* shifts, double reg_covar, MixtureParams& out) {
    const index_t k = s.k, d = s.d;
    means_from(s, shifts, out.means);
    out.weights.assign(static_cast<size_t>(k), 0.0);
    out.covariances.assign(static_cast<size_t>(k * out.covariance_size()), 0.0);
    bool accurate = true;
    std::vector<double> delta(static_cast<size_t>(d));
    for (index_t c = 0; c < k; ++c) {
        const double r = s.resp_sum[static_cast<size_t>(c)], nk = regularised_count(r);
        out.weights[static_cast<size_t>(c)] = nk;
        const double* first = s.first.data() + c * d;
        const double* second = s.second.data() + c * s.m;
        for (index_t j = 0; j < d; ++j) delta[static_cast<size_t>(j)] = out.means[static_cast<size_t>(c * d + j)] - shifts[c * d + j];
        auto centred = [&](index_t i, index_t j, double moment) {
            const double di = delta[static_cast<size_t>(i)], dj = delta[static_cast<size_t>(j)];
            return (moment - di * first[j] - dj * first[i] + r * di * dj) / nk;
        };
        auto check = [&](double moment, double variance) {
            if (moment / nk > kMaxCancellation * variance) accurate = false;
        };
        if (out.type == CovarianceType::diag) {
            double* cov = out.covariances.data() + c * d;
            for (index_t j = 0; j < d; ++j) {
                const double variance = centred(j, j, second[j]);
                check(second[j], variance);
                cov[j] = variance + reg_covar;
            }
            continue;
        }
        double* cov = out.covariances.data() + c * d * d;
        index_t entry = 0;
        for (index_t i = 0; i < d; ++i) {
            for (index_t j = i; j < d; ++j, ++entry) {
                const double value = centred(i, j, second[entry]);
                if (i == j) {
                    check(second[entry], value);
                    cov[i * d + i] = value + reg_covar;
                } else {
                    cov[i * d + j] = cov[j * d + i] = value;
                }
            }
        }
    }
    return accurate;
}

// Lower Cholesky factor (row-major) of a symmetric d x d matrix; false unless it is
// numerically positive definite (a pivot <= 0 or not finite).
inline bool cholesky_lower(const double* a, index_t d, double* lower) {
    std::fill(lower, lower + d * d, 0.0);
    for (index_t i = 0; i < d; ++i) {
        for (index_t j = 0; j <= i; ++j) {
            double sum = a[i * d + j];
            for (index_t m = 0; m < j; ++m) sum -= lower[i * d + m] * lower[j * d + m];
            if (i == j) {
                if (!(sum > 0.0) || !std::isfinite(sum)) return false;
                lower[i * d + i] = std::sqrt(sum);
            } else {
                lower[i * d + j] = sum / lower[j * d + j];
            }
        }
    }
    return true;
}

// upper = (lower^-1)^T, by forward substitution of the identity, column by column.
inline void inverse_transpose_lower(const double* lower, index_t d, double* upper) {
    std::fill(upper, upper + d * d, 0.0);
    for (index_t j = 0; j < d; ++j) {
        // column j of lower^-1, stored as row j of upper
        double* z = upper + j * d;
        z[j] = 1.0 / lower[j * d + j];
        for (index_t i = j + 1; i < d; ++i) {
            double sum = 0.0;
            for (index_t m = j; m < i; ++m) sum += lower[i * d + m] * z[m];
            z[i] = -sum / lower[i * d + i];
        }
    }
}

}  // namespace gmm_detail

// precisions_cholesky from covariances, as scikit-learn defines it: for full covariances
// C = L L^T, U = (L^-1)^T (so U U^T = C^-1); for diagonal ones 1 / sqrt(C). Throws
// std::invalid_argument (scikit-learn's message) when a covariance is not positive definite,
// or when a variance is no larger than the resolution of doubles near its mean, (eps |mean|)^2:
// such a component sits on repeated points, and only rounding decides the sign of its variance.
//
// The k factorisations are written out here rather than left to LAPACK: they cost O(k d^3)
// against the O(n k d^2) of every pass over the points, and doing them in C++ keeps the whole EM
// loop in one call without the GIL. A round trip to numpy/scipy per iteration would cost more
// than they do (measured at k=2, d=10: ~34 us for numpy's Cholesky and scipy's triangular
// solves, 40% of a whole iteration on 2,000 points, ~88 us).
inline void compute_precisions_cholesky(MixtureParams& p) {
    const index_t k = p.k, d = p.d;
    const bool full = p.type == CovarianceType::full;
    for (index_t c = 0; c < k; ++c) {
        for (index_t j = 0; j < d; ++j) {
            const double variance = full ? p.covariances[static_cast<size_t>((c * d + j) * d + j)]
                                         : p.covariances[static_cast<size_t>(c * d + j)];
            const double resolution = std::numeric_limits<double>::epsilon() * std::abs(p.means[static_cast<size_t>(c * d + j)]);
            if (!(variance > resolution * resolution) || !std::isfinite(variance))
                throw std::invalid_argument(ill_defined_covariance_message());
        }
    }
    p.precisions_cholesky.assign(p.covariances.size(), 0.0);
    if (!full) {
        for (size_t e = 0; e < p.covariances.size(); ++e) p.precisions_cholesky[e] = 1.0 / std::sqrt(p.covariances[e]);
        return;
    }
    std::vector<double> lower(static_cast<size_t>(d * d));
    for (index_t c = 0; c < k; ++c) {
        if (!gmm_detail::cholesky_lower(p.covariances.data() + c * d * d, d, lower.data()))
            throw std::invalid_argument(ill_defined_covariance_message());
        gmm_detail::inverse_transpose_lower(lower.data(), d, p.precisions_cholesky.data() + c * d * d);
    }
}

// Mixture parameters from given responsibilities (scikit-learn's initialisation): weights
// nk / n, means, centred covariances + reg_covar, and their precisions_cholesky. Two passes:
// the means, then the moments around them.
template <class T>
MixtureParams parameters_from_responsibilities(const T* x, index_t n, index_t d, index_t k, CovarianceType type,
                                               const gmm_detail::GivenResponsibilities& given, double reg_covar,
                                               ThreadPool& pool) {
    MixturePasses<T> passes(x, n, d, k, type, pool);
    gmm_detail::Statistics sums;
    const std::vector<double> origin(static_cast<size_t>(k * d), 0.0);
    passes.given_statistics(given, origin.data(), false, sums);
    std::vector<double> means;
    gmm_detail::means_from(sums, origin.data(), means);
    passes.given_statistics(given, means.data(), true, sums);
    MixtureParams params;
    params.k = k, params.d = d, params.type = type;
    gmm_detail::m_step(sums, means.data(), reg_covar, params);
    for (auto& w : params.weights) w /= static_cast<double>(n);
    compute_precisions_cholesky(params);
    return params;
}

// Weighted log probabilities (n x k) and their log-sum-exp (n) for `params`.
template <class T>
void mixture_log_probabilities(const T* x, index_t n, const MixtureParams& params, double* weighted_log_prob,
                               double* log_norm, ThreadPool& pool) {
    MixturePasses<T> passes(x, n, params.d, params.k, params.type, pool);
    const gmm_detail::EStepModel model(params);
    passes.log_probabilities(model, weighted_log_prob, log_norm);
}

// EM from `params` (weights, means and precisions_cholesky are read; covariances need not be
// set), in scikit-learn's order: each iteration runs the E-step, then the M-step, and records
// the mean log-likelihood of that E-step; it stops once that changes by less than tol.
template <class T>
EmResult fit_em(const T* x, index_t n, MixtureParams params, const EmOptions& options, ThreadPool& pool) {
    const index_t k = params.k, d = params.d;
    require(n >= 1 && k >= 1 && d >= 1, "EM needs at least one sample, component and feature");
    MixturePasses<T> passes(x, n, d, k, params.type, pool);
    EmResult result;
    double lower_bound = options.previous_lower_bound;
    gmm_detail::Statistics sums;
    for (index_t iteration = 1; iteration <= options.max_iter; ++iteration) {
        const double previous = lower_bound;
        const gmm_detail::EStepModel model(params);
        lower_bound = passes.e_step_statistics(model, params.means.data(), sums) / static_cast<double>(n);
        MixtureParams next;
        next.k = k, next.d = d, next.type = params.type;
        if (!gmm_detail::m_step(sums, params.means.data(), options.reg_covar, next)) {
            const std::vector<double> shifts = next.means;
            passes.e_step_statistics(model, shifts.data(), sums);
            gmm_detail::m_step(sums, shifts.data(), options.reg_covar, next);
        }
        double total = 0.0;
        for (double w : next.weights) total += w;
        for (double& w : next.weights) w /= total;
        compute_precisions_cholesky(next);
        params = std::move(next);
        result.lower_bounds.push_back(lower_bound);
        result.n_iter = iteration;
        const double change = lower_bound - previous;
        if (pool.control().verbose())
            pool.control().report("  Iteration " + std::to_string(iteration) + "\t lower bound " +
                                  std::to_string(lower_bound) + "\t change " + std::to_string(change));
        if (std::abs(change) < options.tol) {
            result.converged = true;
            break;
        }
    }
    result.params = std::move(params);
    result.lower_bound = lower_bound;
    return result;
}

}  // namespace vecclust
