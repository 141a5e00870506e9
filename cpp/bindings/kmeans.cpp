// Bindings for k-means: k-means++ seeding, the Lloyd/Hamerly fit, and nearest-centre assignment.
#include "numpy_helpers.hpp"
#include "vecclust/kmeans/kmeans.hpp"

namespace vecclust_bindings {

using namespace vecclust;

namespace {

// The centres must match the data's dtype and width.
template <class T>
std::vector<T> centers_of(const py::array& centers, index_t d) {
    require_c_contiguous(centers, "the centres", 2);
    if (!py::isinstance<py::array_t<T>>(centers)) throw py::type_error("the centres must have the dtype of the data");
    if (centers.shape(1) != d)
        throw py::value_error("the centres have " + std::to_string(centers.shape(1)) + " features, the data " +
                              std::to_string(d));
    const T* c = data_of<T>(centers);
    return std::vector<T>(c, c + centers.shape(0) * d);
}

template <class T>
py::array_t<T> matrix_of(const std::vector<T>& values, index_t rows, index_t cols) {
    auto out = new_matrix<T>(rows, cols);
    std::copy(values.begin(), values.end(), out.mutable_data());
    return out;
}

template <class T>
py::array plusplus_typed(const py::array& x, index_t k, std::uint64_t seed, const py::object& weights, int n_threads) {
    const index_t n = x.shape(0), d = x.shape(1);
    const T* data = data_of<T>(x);
    const T* w = weights_of<T>(weights, n);
    auto centers = without_gil([&] {
        Control control = make_control(n_threads);
        ThreadPool pool(control);
        return kmeans_plusplus<T>(data, n, d, w, k, seed, pool);
    });
    return matrix_of(centers, k, d);
}

template <class T>
py::dict fit_typed(const py::array& x, const py::array& init, const py::object& weights, const KMeansOptions& options,
                   int n_threads, bool verbose) {
    const index_t n = x.shape(0), d = x.shape(1);
    const T* data = data_of<T>(x);
    const T* w = weights_of<T>(weights, n);
    auto centers = centers_of<T>(init, d);
    const index_t k = init.shape(0);
    auto result = without_gil([&] {
        Control control = make_control(n_threads, verbose);
        ThreadPool pool(control);
        return kmeans_fit<T>(data, n, d, w, std::move(centers), k, options, pool);
    });
    py::dict out;
    out["centers"] = matrix_of(result.centers, k, d);
    out["labels"] = index_array(result.labels);
    out["inertia"] = result.inertia;
    out["n_iter"] = result.n_iter;
    out["converged"] = result.converged;
    return out;
}

template <class T>
py::tuple nearest_typed(const py::array& x, const py::array& centers_array, int n_threads) {
    const index_t n = x.shape(0), d = x.shape(1);
    const T* data = data_of<T>(x);
    auto centers = centers_of<T>(centers_array, d);
    const index_t k = centers_array.shape(0);
    if (k < 1) throw py::value_error("at least one centre is needed");
    py::array_t<index_t> labels(n);
    py::array_t<T> sq_distances(n);
    index_t* l = labels.mutable_data();
    T* s = sq_distances.mutable_data();
    without_gil([&] {
        Control control = make_control(n_threads);
        ThreadPool pool(control);
        nearest_centers<T>(data, n, d, centers.data(), k, l, s, pool);
        return 0;
    });
    return py::make_tuple(labels, sq_distances);
}

py::array kmeans_plusplus_binding(const py::array& x, index_t k, std::uint64_t seed, const py::object& sample_weight,
                                  int n_threads) {
    require_c_contiguous(x, "X", 2);
    if (k < 1 || k > x.shape(0)) throw py::value_error("k-means++ needs 1 <= n_clusters <= n_samples");
    return float_dtype(x, "X") == Dtype::f32 ? plusplus_typed<float>(x, k, seed, sample_weight, n_threads)
                                             : plusplus_typed<double>(x, k, seed, sample_weight, n_threads);
}

py::dict kmeans_binding(const py::array& x, const py::array& init, const py::object& sample_weight, index_t max_iter,
                        double tol, const std::string& algorithm, int n_threads, bool verbose) {
    require_c_contiguous(x, "X", 2);
    if (init.ndim() != 2 || init.shape(0) < 1 || init.shape(0) > x.shape(0))
        throw py::value_error("the initial centres must be a (n_clusters, n_features) array with 1 <= n_clusters <= n_samples");
    KMeansOptions options;
    options.max_iter = max_iter;
    options.tol = tol;
    options.algorithm = parse_kmeans_algorithm(algorithm);
    return float_dtype(x, "X") == Dtype::f32 ? fit_typed<float>(x, init, sample_weight, options, n_threads, verbose)
                                             : fit_typed<double>(x, init, sample_weight, options, n_threads, verbose);
}

py::tuple nearest_centers_binding(const py::array& x, const py::array& centers, int n_threads) {
    require_c_contiguous(x, "X", 2);
    return float_dtype(x, "X") == Dtype::f32 ? nearest_typed<float>(x, centers, n_threads)
                                             : nearest_typed<double>(x, centers, n_threads);
}

}  // namespace

void bind_kmeans(py::module_& m) {
    m.def("kmeans_plusplus", &kmeans_plusplus_binding, py::arg("X"), py::arg("n_clusters"), py::arg("seed"),
          py::arg("sample_weight"), py::arg("n_threads"),
          "Greedy k-means++ initial centres, drawn with weight * squared distance.");
    m.def("kmeans", &kmeans_binding, py::arg("X"), py::arg("init"), py::arg("sample_weight"), py::arg("max_iter"),
          py::arg("tol"), py::arg("algorithm"), py::arg("n_threads"), py::arg("verbose") = false,
          "k-means (Lloyd or Hamerly) from the given initial centres; returns a dict.");
    m.def("nearest_centers", &nearest_centers_binding, py::arg("X"), py::arg("centers"), py::arg("n_threads"),
          "Label and squared distance of each row's nearest centre (first on ties).");
}

}  // namespace vecclust_bindings
