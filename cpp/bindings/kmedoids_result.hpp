// A k-medoids run's result as the dict the Python layer reads (kmedoids.cpp, silhouette.cpp).
#pragma once

#include "numpy_helpers.hpp"
#include "vecclust/kmedoids/kmedoids.hpp"

namespace vecclust_bindings {

inline pybind11::dict result_dict(vecclust::KMedoidsResult&& r) {
    pybind11::dict out;
    out["loss"] = r.loss;
    out["medoids"] = to_numpy(std::move(r.medoids));
    out["labels"] = to_numpy(std::move(r.labels));
    out["n_iter"] = r.n_iter;
    out["n_swaps"] = r.n_swaps;
    out["converged"] = r.converged;
    return out;
}

}  // namespace vecclust_bindings
