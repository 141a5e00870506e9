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
// The parts: params.hpp (types), tile_kernels.hpp (per-tile kernels), passes.hpp (the passes
// over the points), m_step.hpp (M-step, precision Cholesky factors); here, the EM run.
#pragma once

#include <cmath>   // std::abs
#include <string>  // std::to_string
#include <vector>  // std::vector

#include "vecclust/base/common.hpp"
#include "vecclust/base/parallel.hpp"
#include "vecclust/mixture/m_step.hpp"
#include "vecclust/mixture/params.hpp"
#include "vecclust/mixture/passes.hpp"

namespace vecclust {

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
