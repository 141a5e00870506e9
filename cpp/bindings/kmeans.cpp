// Bindings for k-means: k-means++ seeding, the fit (algorithm lloyd, hamerly or elkan),
// nearest-centre assignment and one block's Lloyd sums (for a distributed fit).
#include "numpy_helpers.hpp"
#include "vecclust/kmeans/block_sums.hpp"
#include "vecclust/kmeans/kmeans.hpp"

namespace vecclust_bindings {

using namespace vecclust;

namespace {

// The rows of `centers`, which must match the data's dtype and width.
template <class T>
const T* centers_of(const py::array& centers, const char* name, index_t d) {
    require_c_contiguous(centers, name, 2);
    if (!py::isinstance<py::array_t<T>>(centers))
        throw py::type_error(std::string(name) + " must have the dtype of the data");
    if (centers.shape(1) != d)
        throw py::value_error(std::string(name) + " have " + std::to_string(centers.shape(1)) + " features, the data " +
                              std::to_string(d));
    return data_of<T>(centers);
}

py::array kmeans_plusplus_binding(const py::array& x, index_t n_clusters, std::uint64_t seed,
                                  const py::object& sample_weight, int n_threads) {
    require_c_contiguous(x, "X", 2);
    return with_float_type(x, "X", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const index_t n = x.shape(0), d = x.shape(1);
        const T* data = data_of<T>(x);
        const T* weights = weights_of<T>(sample_weight, n);
        auto centers = without_gil([&] {
            Control control = make_control(n_threads);
            ThreadPool pool(control);
            return kmeans_plusplus<T>(data, n, d, weights, n_clusters, seed, pool);
        });
        return to_numpy(std::move(centers), {static_cast<py::ssize_t>(n_clusters), static_cast<py::ssize_t>(d)});
    });
}

py::dict kmeans_binding(const py::array& x, const py::array& init, const py::object& sample_weight, index_t max_iter,
                        double tol, const std::string& algorithm, int n_threads, bool verbose) {
    require_c_contiguous(x, "X", 2);
    KMeansOptions options;
    options.max_iter = max_iter;
    options.tol = tol;
    options.algorithm = parse_kmeans_algorithm(algorithm);
    return with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        const index_t n = x.shape(0), d = x.shape(1), k = init.ndim() == 2 ? init.shape(0) : 0;
        const T* data = data_of<T>(x);
        const T* weights = weights_of<T>(sample_weight, n);
        const T* first = centers_of<T>(init, "the initial centres", d);
        std::vector<T> centers(first, first + k * d);
        auto result = without_gil([&] {
            Control control = make_control(n_threads, verbose);
            ThreadPool pool(control);
            return kmeans_fit<T>(data, n, d, weights, std::move(centers), k, options, pool);
        });
        py::dict out;
        out["centers"] = to_numpy(std::move(result.centers), {static_cast<py::ssize_t>(k), static_cast<py::ssize_t>(d)});
        out["labels"] = to_numpy(std::move(result.labels));
        out["inertia"] = result.inertia;
        out["n_iter"] = result.n_iter;
        out["converged"] = result.converged;
        return out;
    });
}

// body(T{}, data, n, d, centres, k) for the points X and at least one centre of X's dtype and width.
template <class Body>
py::dict with_points_and_centers(const py::array& x, const py::array& centers, Body&& body) {
    require_c_contiguous(x, "X", 2);
    return with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        const index_t n = x.shape(0), d = x.shape(1);
        const T* rows = centers_of<T>(centers, "the centres", d);
        const index_t k = centers.shape(0);
        if (k < 1) throw py::value_error("at least one centre is needed");
        return body(tag, data_of<T>(x), n, d, rows, k);
    });
}

py::dict nearest_centers_binding(const py::array& x, const py::array& centers, int n_threads) {
    return with_points_and_centers(x, centers, [&](auto tag, const auto* data, index_t n, index_t d, const auto* rows,
                                                   index_t k) {
        using T = decltype(tag);
        py::array_t<index_t> labels(n);
        py::array_t<T> sq_distances(n);
        index_t* l = labels.mutable_data();
        T* s = sq_distances.mutable_data();
        without_gil([&] {
            Control control = make_control(n_threads);
            ThreadPool pool(control);
            nearest_centers<T>(data, n, d, rows, k, l, s, pool);
            return 0;
        });
        py::dict out;
        out["labels"] = labels;
        out["sq_distances"] = sq_distances;
        return out;
    });
}

py::dict block_sums_binding(const py::array& x, const py::array& centers, int n_threads) {
    return with_points_and_centers(x, centers, [&](auto tag, const auto* data, index_t n, index_t d, const auto* rows,
                                                   index_t k) {
        using T = decltype(tag);
        BlockSums result = without_gil([&] {
            Control control = make_control(n_threads);
            ThreadPool pool(control);
            return lloyd_block_sums<T>(data, n, d, rows, k, pool);
        });
        py::dict out;
        out["sums"] = to_numpy(std::move(result.sums), {static_cast<py::ssize_t>(k), static_cast<py::ssize_t>(d)});
        out["counts"] = to_numpy(std::move(result.counts));
        out["inertia"] = result.inertia;
        return out;
    });
}

}  // namespace

void bind_kmeans(py::module_& m) {
    m.def("kmeans_plusplus", &kmeans_plusplus_binding, py::arg("X"), py::kw_only(), py::arg("n_clusters"),
          py::arg("seed"), py::arg("sample_weight"), py::arg("n_threads"),
          "Greedy k-means++ initial centres, drawn with weight * squared distance; an (n_clusters, n_features) "
          "array.");
    m.def("kmeans", &kmeans_binding, py::arg("X"), py::arg("init"), py::kw_only(), py::arg("sample_weight"),
          py::arg("max_iter"), py::arg("tol"), py::arg("algorithm"), py::arg("n_threads"), py::arg("verbose") = false,
          "k-means (algorithm 'lloyd', 'hamerly' or 'elkan', same result) from the initial centres `init`, stopping "
          "when no label changes or the summed squared centre shift is <= tol (absolute); a dict of centers, labels, "
          "inertia, n_iter and converged.");
    m.def("nearest_centers", &nearest_centers_binding, py::arg("X"), py::arg("centers"), py::kw_only(),
          py::arg("n_threads"),
          "Label and squared distance of each row's nearest centre (first on ties); a dict of labels and "
          "sq_distances.");
    m.def("kmeans_block_sums", &block_sums_binding, py::arg("X"), py::arg("centers"), py::kw_only(),
          py::arg("n_threads"),
          "One block's share of a Lloyd iteration: each row assigned to its nearest centre, a dict of the float64 "
          "per-centre sums (k x d), counts (k) and inertia.");
}

}  // namespace vecclust_bindings
