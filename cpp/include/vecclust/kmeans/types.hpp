// The options and result of a k-means run.
#pragma once

#include <stdexcept>  // std::invalid_argument
#include <string>     // std::string
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"

namespace vecclust {

// How the assignment skips distances: not at all (lloyd), or with Hamerly's or Elkan's bounds.
enum class KMeansAlgorithm { lloyd, hamerly, elkan };

// Accepts exactly the names of vecclust._kmeans.estimator.ALGORITHMS.
inline KMeansAlgorithm parse_kmeans_algorithm(const std::string& name) {
    if (name == "lloyd") return KMeansAlgorithm::lloyd;
    if (name == "hamerly") return KMeansAlgorithm::hamerly;
    if (name == "elkan") return KMeansAlgorithm::elkan;
    throw std::invalid_argument("unknown k-means algorithm '" + name + "' (use 'lloyd', 'hamerly' or 'elkan')");
}

struct KMeansOptions {
    index_t max_iter = 300;
    double tol = 0.0;  // absolute: stop once the sum of squared centre shifts is <= tol
    KMeansAlgorithm algorithm = KMeansAlgorithm::hamerly;
};

template <class T>
struct KMeansResult {
    std::vector<T> centers;       // k x d, row-major
    std::vector<index_t> labels;  // n
    double inertia = 0.0;         // sum of weight * squared distance to the own centre
    index_t n_iter = 0;
    bool converged = false;
};

}  // namespace vecclust
