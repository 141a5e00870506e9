// Bindings for k-medoids and the distance kernels.
#include <pybind11/stl.h>

#include "numpy_helpers.hpp"
#include "vecclust/kmedoids/distance.hpp"
#include "vecclust/kmedoids/kmedoids.hpp"
#include "vecclust/base/memory.hpp"

namespace vecclust_bindings {

using namespace vecclust;

namespace {

KMedoidsOptions make_options(const std::string& method, const std::string& init, index_t k,
                             const py::object& initial_medoids, int max_iter, int n_init, std::uint64_t seed) {
    KMedoidsOptions options;
    options.method = parse_method(method);
    options.init = parse_init(init);
    options.k = k;
    if (!initial_medoids.is_none()) {
        auto medoids = py::array_t<index_t, py::array::c_style | py::array::forcecast>::ensure(initial_medoids);
        if (!medoids || medoids.ndim() != 1) throw py::value_error("initial medoids must be a 1-d array of indices");
        options.initial_medoids.assign(medoids.data(), medoids.data() + medoids.size());
    }
    options.max_iter = max_iter;
    options.n_init = n_init;
    options.seed = seed;
    return options;
}

template <class T>
KMedoidsResult fit_on_matrix(const py::array& diss, const py::object& weights, const KMedoidsOptions& options,
                             int n_threads) {
    const index_t n = diss.shape(0);
    const T* data = data_of<T>(diss);
    const T* w = weights_of<T>(weights, n);
    return without_gil([&] {
        Control control = make_control(n_threads);
        validate_matrix(data, n, options.initial_medoids.empty() ? options.k : static_cast<index_t>(options.initial_medoids.size()),
                        control);
        return fit_kmedoids<T>(MatrixSource<T>(data, n), w, options, control);
    });
}

template <class T>
KMedoidsResult fit_on_features(const py::array& x, const std::string& metric, bool store_matrix,
                               const py::object& weights, const KMedoidsOptions& options, int n_threads) {
    const index_t n = x.shape(0), d = x.shape(1);
    const T* data = data_of<T>(x);
    const T* w = weights_of<T>(weights, n);
    const Metric m = parse_metric(metric);
    return without_gil([&] {
        Control control = make_control(n_threads);
        FeatureSource<T> features(data, n, d, m);
        if (!store_matrix) return fit_kmedoids<T>(features, w, options, control);
        LargeBuffer<T> matrix(static_cast<size_t>(n) * static_cast<size_t>(n));
        {
            ThreadPool pool(control);
            full_matrix(features, matrix.data(), pool);
        }
        return fit_kmedoids<T>(MatrixSource<T>(matrix.data(), n), w, options, control);
    });
}

py::dict kmedoids_matrix(const py::array& diss, const std::string& method, const std::string& init, index_t k,
                         const py::object& initial_medoids, int max_iter, int n_init, std::uint64_t seed,
                         const py::object& sample_weight, int n_threads) {
    require_c_contiguous(diss, "the dissimilarity matrix", 2);
    if (diss.shape(0) != diss.shape(1))
        throw py::value_error("the dissimilarity matrix must be square, got shape (" + std::to_string(diss.shape(0)) + ", " +
                              std::to_string(diss.shape(1)) + ")");
    auto options = make_options(method, init, k, initial_medoids, max_iter, n_init, seed);
    return result_dict(float_dtype(diss, "the dissimilarity matrix") == Dtype::f32
                       ? fit_on_matrix<float>(diss, sample_weight, options, n_threads)
                       : fit_on_matrix<double>(diss, sample_weight, options, n_threads));
}

py::dict kmedoids_features(const py::array& x, const std::string& metric, bool store_matrix, const std::string& method,
                           const std::string& init, index_t k, const py::object& initial_medoids, int max_iter,
                           int n_init, std::uint64_t seed, const py::object& sample_weight, int n_threads) {
    require_c_contiguous(x, "X", 2);
    auto options = make_options(method, init, k, initial_medoids, max_iter, n_init, seed);
    return result_dict(float_dtype(x, "X") == Dtype::f32
                       ? fit_on_features<float>(x, metric, store_matrix, sample_weight, options, n_threads)
                       : fit_on_features<double>(x, metric, store_matrix, sample_weight, options, n_threads));
}

template <class T>
py::array pairwise_typed(const py::array& x, const py::array& y, Metric metric, int n_threads) {
    const index_t m = x.shape(0), n = y.shape(0), d = y.shape(1);
    auto out = new_matrix<T>(m, n);
    T* out_data = out.mutable_data();
    const T* xd = data_of<T>(x);
    const T* yd = data_of<T>(y);
    without_gil([&] {
        Control control = make_control(n_threads);
        ThreadPool pool(control);
        FeatureSource<T> points(yd, n, d, metric);
        pairwise_to_source(points, xd, m, out_data, pool);
        return 0;
    });
    return out;
}

py::array pairwise_distances(const py::array& x, const py::array& y, const std::string& metric, int n_threads) {
    require_c_contiguous(x, "X", 2);
    require_c_contiguous(y, "Y", 2);
    const Dtype dtype = float_dtype(x, "X");
    if (float_dtype(y, "Y") != dtype) throw py::type_error("X and Y must have the same dtype");
    if (x.shape(1) != y.shape(1)) throw py::value_error("X and Y must have the same number of features");
    const Metric m = parse_metric(metric);
    return dtype == Dtype::f32 ? pairwise_typed<float>(x, y, m, n_threads) : pairwise_typed<double>(x, y, m, n_threads);
}

}  // namespace

void bind_kmedoids(py::module_& m) {
    m.def("kmedoids_matrix", &kmedoids_matrix, py::arg("diss"), py::kw_only(), py::arg("method"), py::arg("init"),
          py::arg("k"), py::arg("initial_medoids"), py::arg("max_iter"), py::arg("n_init"), py::arg("seed"),
          py::arg("sample_weight"), py::arg("n_threads"),
          "k-medoids on a precomputed symmetric dissimilarity matrix (validated first).");
    m.def("kmedoids_features", &kmedoids_features, py::arg("X"), py::kw_only(), py::arg("metric"),
          py::arg("store_matrix"), py::arg("method"), py::arg("init"), py::arg("k"), py::arg("initial_medoids"),
          py::arg("max_iter"), py::arg("n_init"), py::arg("seed"), py::arg("sample_weight"), py::arg("n_threads"),
          "k-medoids from feature vectors; distances computed in C++, stored as a matrix or computed on demand.");
    m.def("pairwise_distances", &pairwise_distances, py::arg("X"), py::arg("Y"), py::kw_only(), py::arg("metric"),
          py::arg("n_threads"), "Distances between the rows of X and the rows of Y.");
}

}  // namespace vecclust_bindings
