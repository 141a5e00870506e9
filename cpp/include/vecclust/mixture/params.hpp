// The mixture's parameters, EM's options and result, as scikit-learn lays them out.
#pragma once

#include <limits>     // std::numeric_limits
#include <stdexcept>  // std::invalid_argument
#include <string>     // std::string
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"

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

}  // namespace vecclust
