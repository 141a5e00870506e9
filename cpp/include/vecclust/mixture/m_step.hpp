// The M-step from the sums of a pass, and the precision Cholesky factors of the covariances.
#pragma once

#include <algorithm>  // std::fill
#include <cmath>      // std::sqrt, std::isfinite, std::abs
#include <limits>     // std::numeric_limits
#include <stdexcept>  // std::invalid_argument
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"
#include "vecclust/mixture/params.hpp"
#include "vecclust/mixture/passes.hpp"

namespace vecclust {

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

}  // namespace vecclust
