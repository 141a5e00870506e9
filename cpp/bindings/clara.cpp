// Bindings for CLARA and CLARANS, from features or a precomputed matrix.
#include <pybind11/stl.h>

#include "numpy_helpers.hpp"
#include "vecclust/kmedoids/clara.hpp"
#include "vecclust/kmedoids/clarans.hpp"

namespace vecclust_bindings {

using namespace vecclust;

namespace {


void require_square(const py::array& diss) {
    require_c_contiguous(diss, "the dissimilarity matrix", 2);
    if (diss.shape(0) != diss.shape(1)) throw py::value_error("the dissimilarity matrix must be square");
}

py::dict clara_dict(const ClaraResult& r) {
    py::dict out = result_dict(r.best);
    out["best_sample"] = r.best_sample;
    out["sample_losses"] = r.sample_losses;
    return out;
}

py::dict clarans_dict(const ClaransResult& r) {
    py::dict out = result_dict(r.best);
    out["best_local"] = r.best_local;
    out["local_losses"] = r.local_losses;
    out["swap_losses"] = r.swap_losses;
    return out;
}

// Runs fit(view, weights, control) without the GIL, on the feature view or, after validating it,
// on the matrix view of the data; Features and Matrix are the view types the algorithm takes.
template <class T, template <class> class Features, template <class> class Matrix, class Fit>
auto fit_on(const py::array& data, bool precomputed, const std::string& metric, const py::object& weights, index_t k,
            int n_threads, bool verbose, Fit&& fit) {
    const index_t n = data.shape(0), d = data.shape(1);
    const T* x = data_of<T>(data);
    const T* w = weights_of<T>(weights, n);
    const Metric m = precomputed ? Metric::euclidean : parse_metric(metric);
    return without_gil([&] {
        Control control = make_control(n_threads, verbose);
        if (!precomputed) return fit(Features<T>(x, n, d, m), w, control);
        validate_matrix(x, n, k, control);
        return fit(Matrix<T>(x, n), w, control);
    });
}

template <class T>
ClaraResult clara_typed(const py::array& data, bool precomputed, const std::string& metric, const py::object& weights,
                        const ClaraOptions& options, int n_threads, bool verbose) {
    return fit_on<T, ClaraFeatures, ClaraMatrix>(data, precomputed, metric, weights, options.k, n_threads, verbose,
                                                 [&](const auto& view, const T* w, Control& control) {
                                                     return clara<T>(view, w, options, control);
                                                 });
}

template <class T>
ClaransResult clarans_typed(const py::array& data, bool precomputed, const std::string& metric, const py::object& weights,
                            const ClaransOptions& options, int n_threads, bool verbose) {
    return fit_on<T, FeatureSource, MatrixSource>(data, precomputed, metric, weights, options.k, n_threads, verbose,
                                                  [&](const auto& source, const T* w, Control& control) {
                                                      return fastclarans<T>(source, w, options, control);
                                                  });
}

py::dict clara_binding(const py::array& data, bool precomputed, const std::string& metric, index_t k, index_t sample_size,
                       int n_samples, const std::string& method, const std::string& init, bool keep_medoids, int max_iter,
                       std::uint64_t seed, const py::object& sample_weight, int n_threads, bool verbose) {
    precomputed ? require_square(data) : require_c_contiguous(data, "X", 2);
    ClaraOptions options;
    options.k = k;
    options.sample_size = std::min(sample_size, static_cast<index_t>(data.shape(0)));
    options.n_samples = n_samples;
    options.method = parse_method(method);
    options.init = parse_init(init);
    options.keep_medoids = keep_medoids;
    options.max_iter = max_iter;
    options.seed = seed;
    return clara_dict(float_dtype(data, "X") == Dtype::f32
                          ? clara_typed<float>(data, precomputed, metric, sample_weight, options, n_threads, verbose)
                          : clara_typed<double>(data, precomputed, metric, sample_weight, options, n_threads, verbose));
}

py::dict clarans_binding(const py::array& data, bool precomputed, const std::string& metric, index_t k, int n_local,
                         index_t patience, std::uint64_t seed, const py::object& sample_weight, int n_threads, bool verbose) {
    precomputed ? require_square(data) : require_c_contiguous(data, "X", 2);
    ClaransOptions options;
    options.k = k;
    options.n_local = n_local;
    options.patience = patience;
    options.seed = seed;
    return clarans_dict(float_dtype(data, "X") == Dtype::f32
                            ? clarans_typed<float>(data, precomputed, metric, sample_weight, options, n_threads, verbose)
                            : clarans_typed<double>(data, precomputed, metric, sample_weight, options, n_threads, verbose));
}

}  // namespace

void bind_clara(py::module_& m) {
    m.def("clara", &clara_binding, py::arg("data"), py::kw_only(), py::arg("precomputed"), py::arg("metric"), py::arg("k"),
          py::arg("sample_size"), py::arg("n_samples"), py::arg("method"), py::arg("init"), py::arg("keep_medoids"),
          py::arg("max_iter"), py::arg("seed"), py::arg("sample_weight"), py::arg("n_threads"), py::arg("verbose"),
          "CLARA: k-medoids on samples, scored on all points.");
    m.def("clarans", &clarans_binding, py::arg("data"), py::kw_only(), py::arg("precomputed"), py::arg("metric"),
          py::arg("k"), py::arg("n_local"), py::arg("patience"), py::arg("seed"), py::arg("sample_weight"),
          py::arg("n_threads"), py::arg("verbose"), "FastCLARANS: randomised swap search with distances on demand.");
}

}  // namespace vecclust_bindings
