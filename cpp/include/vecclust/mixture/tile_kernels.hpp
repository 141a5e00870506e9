// The per-tile kernels of the mixture passes: loading a tile, log densities through the
// precision Cholesky factors, log-sum-exp responsibilities and the lane partial sums of the
// M-step. A tile holds kTile points dimension by dimension, so every per-point loop vectorises
// across points without reordering a sum. The kernels are plain loops, called inside one
// isa::dispatch per tile step (passes.hpp), so they are inlined and vectorised together at the
// chosen level, with the same IEEE operations at every level.
#pragma once

#include <algorithm>  // std::fill
#include <cmath>      // std::log
#include <cstdint>    // std::uint64_t
#include <cstring>    // std::memcpy

#include "vecclust/base/common.hpp"
#include "vecclust/mixture/params.hpp"

namespace vecclust::gmm_detail {

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
void load_tile(const T* x, index_t count, index_t d, double* tile) {
    if (count < kTile) std::fill(tile, tile + d * kTile, 0.0);
    for (index_t p = 0; p < count; ++p)
        for (index_t j = 0; j < d; ++j) tile[j * kTile + p] = static_cast<double>(x[p * d + j]);
}

// diff = tile - center, feature by feature.
inline void centre_tile(const double* tile, index_t d, const double* center, double* diff) {
    for (index_t j = 0; j < d; ++j) {
        const double c = center[j];
        for (index_t p = 0; p < kTile; ++p) diff[j * kTile + p] = tile[j * kTile + p] - c;
    }
}

// maha[p] = |diff_p U|^2 for an upper-triangular U: y_j = sum_{i <= j} diff_i U_ij, summed in
// order of i; kLanes points at a time so the partial results stay in registers.
inline void mahalanobis_full(const double* diff, index_t d, const double* chol, double* maha) {
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
inline void mahalanobis_diag(const double* tile, index_t d, const double* mean, const double* chol, double* maha) {
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
inline void accumulate_full(const double* diff, const double* resp, index_t d, bool second_moments, double* weighted,
                            double* lanes) {
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
inline void accumulate_diag(const double* tile, const double* shift, const double* resp, index_t d,
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
inline void normalise_tile(const double* wlp, index_t k, index_t count, double* resp,
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

}  // namespace vecclust::gmm_detail
