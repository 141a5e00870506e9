// Bindings for k-medoids, CLARA, CLARANS and the distance kernels.
#include "kmedoids_result.hpp"
#include "numpy_helpers.hpp"
#include <optional>
#include "vecclust/base/memory.hpp"
#include "vecclust/kmedoids/block_swap_prices.hpp"
#include "vecclust/kmedoids/clara.hpp"
#include "vecclust/kmedoids/clarans.hpp"
#include "vecclust/kmedoids/distance.hpp"
#include "vecclust/kmedoids/kmedoids.hpp"

namespace vecclust_bindings {

using namespace vecclust;

namespace {

// Validates a precomputed matrix (see check_dissimilarity_matrix) and returns its largest
// entry; an all-zero matrix cannot hold k > 1 distinct clusters. Call without the GIL.
template <class T>
T validate_matrix(const T* data, index_t n, index_t k, Control& control) {
    ThreadPool pool(control);
    const T largest = check_dissimilarity_matrix(data, n, pool).largest;
    if (largest == T(0) && k > 1)
        throw std::invalid_argument("all samples are identical (every dissimilarity is 0), so " + std::to_string(k) +
                                    " distinct clusters cannot be formed");
    return largest;
}

void require_square(const py::array& diss) {
    require_c_contiguous(diss, "the dissimilarity matrix", 2);
    if (diss.shape(0) != diss.shape(1))
        throw py::value_error("the dissimilarity matrix must be square, got shape (" + std::to_string(diss.shape(0)) + ", " +
                              std::to_string(diss.shape(1)) + ")");
}

// ---------------------------------------------------------------- k-medoids

KMedoidsOptions make_options(const std::string& method, const std::string& init, index_t n_clusters,
                             const py::object& initial_medoids, int max_iter, int n_init, std::uint64_t seed) {
    KMedoidsOptions options;
    options.method = parse_method(method);
    options.init = parse_init(init);
    options.n_clusters = n_clusters;
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

// The validation pass also finds the largest entry: outside (unscaled_low, unscaled_high), where
// the losses would overflow or lose their precision, nothing runs and the result is {"largest"},
// for Python to call again on the matrix scaled by a power of two (no extra pass over the data).
py::dict kmedoids_matrix(const py::array& diss, const std::string& method, const std::string& init, index_t n_clusters,
                         const py::object& initial_medoids, int max_iter, int n_init, std::uint64_t seed,
                         const py::object& sample_weight, int n_threads, double unscaled_low, double unscaled_high) {
    require_square(diss);
    const KMedoidsOptions options = make_options(method, init, n_clusters, initial_medoids, max_iter, n_init, seed);
    const index_t k = options.initial_medoids.empty() ? n_clusters : static_cast<index_t>(options.initial_medoids.size());
    return with_float_type(diss, "the dissimilarity matrix", [&](auto tag) {
        using T = decltype(tag);
        const index_t n = diss.shape(0);
        const T* data = data_of<T>(diss);
        const T* w = weights_of<T>(sample_weight, n);
        double largest = 0.0;
        auto result = without_gil([&]() -> std::optional<KMedoidsResult> {
            Control control = make_control(n_threads);
            largest = static_cast<double>(validate_matrix(data, n, k, control));
            if (largest != 0.0 && !(largest > unscaled_low && largest < unscaled_high)) return std::nullopt;
            return fit_kmedoids<T>(MatrixSource<T>(data, n), w, options, control);
        });
        if (!result) {
            py::dict out;
            out["largest"] = largest;
            return out;
        }
        return result_dict(std::move(*result));
    });
}

// With precompute, the n x n matrix is computed once and the algorithms read it; otherwise
// every distance is computed when needed.
py::dict kmedoids_features(const py::array& x, const std::string& metric, bool precompute, const std::string& method,
                           const std::string& init, index_t n_clusters, const py::object& initial_medoids, int max_iter,
                           int n_init, std::uint64_t seed, const py::object& sample_weight, int n_threads) {
    require_c_contiguous(x, "X", 2);
    const KMedoidsOptions options = make_options(method, init, n_clusters, initial_medoids, max_iter, n_init, seed);
    const Metric m = parse_metric(metric);
    return with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        const index_t n = x.shape(0), d = x.shape(1);
        const T* data = data_of<T>(x);
        const T* w = weights_of<T>(sample_weight, n);
        return result_dict(without_gil([&] {
            Control control = make_control(n_threads);
            FeatureSource<T> features(data, n, d, m);
            if (!precompute) return fit_kmedoids<T>(features, w, options, control);
            LargeBuffer<T> matrix(static_cast<size_t>(n) * static_cast<size_t>(n));
            {
                ThreadPool pool(control);
                full_matrix(features, matrix.data(), pool);
            }
            return fit_kmedoids<T>(MatrixSource<T>(matrix.data(), n), w, options, control);
        }));
    });
}

py::array pairwise_distances(const py::array& x, const py::array& y, const std::string& metric, int n_threads) {
    require_c_contiguous(x, "X", 2);
    require_c_contiguous(y, "Y", 2);
    const Dtype dtype = float_dtype(x, "X");
    if (float_dtype(y, "Y") != dtype) throw py::type_error("X and Y must have the same dtype");
    if (x.shape(1) != y.shape(1)) throw py::value_error("X and Y must have the same number of features");
    const Metric m = parse_metric(metric);
    return with_float_type(x, "X", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const index_t rows = x.shape(0), n = y.shape(0), d = y.shape(1);
        auto out = new_matrix<T>(rows, n);
        T* out_data = out.mutable_data();
        const T* xd = data_of<T>(x);
        const T* yd = data_of<T>(y);
        without_gil([&] {
            Control control = make_control(n_threads);
            ThreadPool pool(control);
            const FeatureSource<T> points(yd, n, d, m);
            pairwise_to_source(points, xd, rows, out_data, pool);
            return 0;
        });
        return out;
    });
}

// ---------------------------------------------------------------- CLARA and CLARANS

// Runs fit(view, weights, control) without the GIL, on the feature view or, with
// metric="precomputed" and after validating it, on the matrix view of X; Features and Matrix
// are the view types the algorithm takes.
template <class T, template <class> class Features, template <class> class Matrix, class Fit>
auto fit_on(const py::array& x, const std::string& metric, const py::object& sample_weight, index_t n_clusters,
            int n_threads, bool verbose, Fit&& fit) {
    const bool precomputed = metric == "precomputed";
    const index_t n = x.shape(0), d = x.shape(1);
    const T* data = data_of<T>(x);
    const T* w = weights_of<T>(sample_weight, n);
    const Metric m = precomputed ? Metric::euclidean : parse_metric(metric);
    return without_gil([&] {
        Control control = make_control(n_threads, verbose);
        if (!precomputed) return fit(Features<T>(data, n, d, m), w, control);
        validate_matrix(data, n, n_clusters, control);
        return fit(Matrix<T>(data, n), w, control);
    });
}

void require_data(const py::array& x, const std::string& metric) {
    metric == "precomputed" ? require_square(x) : require_c_contiguous(x, "X", 2);
}

py::dict clara_binding(const py::array& x, const std::string& metric, index_t n_clusters, index_t n_sampling,
                       int n_sampling_iter, const std::string& method, const std::string& init, bool keep_medoids,
                       int max_iter, std::uint64_t seed, bool refine, index_t swap_candidates, const py::object& sample_weight, int n_threads,
                       bool verbose) {
    require_data(x, metric);
    ClaraOptions options;
    options.n_clusters = n_clusters;
    options.n_sampling = n_sampling;
    options.n_sampling_iter = n_sampling_iter;
    options.method = parse_method(method);
    options.init = parse_init(init);
    options.keep_medoids = keep_medoids;
    options.max_iter = max_iter;
    options.seed = seed;
    options.refine = refine;
    options.swap_candidates = swap_candidates;
    return with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        ClaraResult r = fit_on<T, ClaraFeatures, ClaraMatrix>(
            x, metric, sample_weight, n_clusters, n_threads, verbose,
            [&](const auto& view, const T* w, Control& control) { return clara<T>(view, w, options, control); });
        py::dict out = result_dict(std::move(r.best));
        out["best_sample"] = r.best_sample;
        out["sample_losses"] = to_numpy(std::move(r.sample_losses));
        out["refine_losses"] = to_numpy(std::move(r.refine_losses));
        return out;
    });
}

py::dict clarans_binding(const py::array& x, const std::string& metric, index_t n_clusters, int n_local,
                         index_t max_neighbor, std::uint64_t seed, bool refine, index_t swap_candidates, const py::object& sample_weight,
                         int n_threads, bool verbose) {
    require_data(x, metric);
    ClaransOptions options;
    options.n_clusters = n_clusters;
    options.n_local = n_local;
    options.max_neighbor = max_neighbor;
    options.seed = seed;
    options.refine = refine;
    options.swap_candidates = swap_candidates;
    return with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        ClaransResult r = fit_on<T, ClaransFeatures, ClaransMatrix>(
            x, metric, sample_weight, n_clusters, n_threads, verbose,
            [&](const auto& view, const T* w, Control& control) { return fastclarans<T>(view, w, options, control); });
        py::dict out = result_dict(std::move(r.best));
        out["best_local"] = r.best_local;
        out["local_losses"] = to_numpy(std::move(r.local_losses));
        out["swap_losses"] = to_numpy(std::move(r.swap_losses));
        out["refine_losses"] = to_numpy(std::move(r.refine_losses));
        return out;
    });
}

// The distributed swap pass's block kernel: a (medoids, candidates) float64 table.
py::array swap_prices(const py::array& x, const py::array& medoids, const py::array& candidates,
                      const std::string& metric, int n_threads) {
    require_c_contiguous(x, "X", 2);
    require_c_contiguous(medoids, "medoids", 2);
    require_c_contiguous(candidates, "candidates", 2);
    const Dtype dtype = float_dtype(x, "X");
    if (float_dtype(medoids, "medoids") != dtype || float_dtype(candidates, "candidates") != dtype)
        throw py::type_error("X, medoids and candidates must have the same dtype");
    if (medoids.shape(1) != x.shape(1) || candidates.shape(1) != x.shape(1))
        throw py::value_error("X, medoids and candidates must have the same number of features");
    if (medoids.shape(0) == 0) throw py::value_error("there must be at least one medoid");
    const Metric m = parse_metric(metric);
    return with_float_type(x, "X", [&](auto tag) -> py::array {
        using T = decltype(tag);
        const index_t n = x.shape(0), k = medoids.shape(0), c = candidates.shape(0), d = x.shape(1);
        std::vector<double> table = without_gil([&] {
            Control control = make_control(n_threads);
            ThreadPool pool(control);
            return block_swap_prices<T>(data_of<T>(x), n, data_of<T>(medoids), k, data_of<T>(candidates), c, d, m, pool);
        });
        return to_numpy(std::move(table), {static_cast<py::ssize_t>(k), static_cast<py::ssize_t>(c)});
    });
}

}  // namespace

void bind_kmedoids(py::module_& m) {
    m.def("kmedoids_matrix", &kmedoids_matrix, py::arg("diss"), py::kw_only(), py::arg("method"), py::arg("init"),
          py::arg("n_clusters"), py::arg("initial_medoids"), py::arg("max_iter"), py::arg("n_init"), py::arg("seed"),
          py::arg("sample_weight"), py::arg("n_threads"), py::arg("unscaled_low"), py::arg("unscaled_high"),
          "k-medoids on a precomputed symmetric dissimilarity matrix (validated first).");
    m.def("kmedoids_features", &kmedoids_features, py::arg("X"), py::kw_only(), py::arg("metric"), py::arg("precompute"),
          py::arg("method"), py::arg("init"), py::arg("n_clusters"), py::arg("initial_medoids"), py::arg("max_iter"),
          py::arg("n_init"), py::arg("seed"), py::arg("sample_weight"), py::arg("n_threads"),
          "k-medoids from feature vectors; distances computed in C++, stored as a matrix or computed on demand.");
    m.def("pairwise_distances", &pairwise_distances, py::arg("X"), py::arg("Y"), py::kw_only(), py::arg("metric"),
          py::arg("n_threads"), "Distances between the rows of X and the rows of Y.");
    m.def("swap_prices", &swap_prices, py::arg("X"), py::arg("medoids"), py::arg("candidates"), py::kw_only(),
          py::arg("metric"), py::arg("n_threads"),
          "FasterPAM's swap prices over the rows of X: entry (i, j) is the change of their loss if candidate j "
          "replaces medoid i.");
    m.def("clara", &clara_binding, py::arg("X"), py::kw_only(), py::arg("metric"), py::arg("n_clusters"),
          py::arg("n_sampling"), py::arg("n_sampling_iter"), py::arg("method"), py::arg("init"), py::arg("keep_medoids"),
          py::arg("max_iter"), py::arg("seed"), py::arg("refine"), py::arg("swap_candidates"), py::arg("sample_weight"), py::arg("n_threads"),
          py::arg("verbose"), "CLARA: k-medoids on samples, scored on all points, then refined on all points; metric "
          "may be 'precomputed'.");
    m.def("clarans", &clarans_binding, py::arg("X"), py::kw_only(), py::arg("metric"), py::arg("n_clusters"),
          py::arg("n_local"), py::arg("max_neighbor"), py::arg("seed"), py::arg("refine"), py::arg("swap_candidates"), py::arg("sample_weight"),
          py::arg("n_threads"), py::arg("verbose"),
          "FastCLARANS: randomised swap search with distances on demand, then refined on all points; metric may be "
          "'precomputed'.");
}

}  // namespace vecclust_bindings
