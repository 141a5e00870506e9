// Bindings for Gaussian mixtures: the EM loop, per-sample log probabilities, and parameters
// from given responsibilities (initialisation).
#include "numpy_helpers.hpp"
#include "vecclust/mixture/gmm.hpp"

namespace vecclust_bindings {

using namespace vecclust;

namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

void require_shape(const DoubleArray& a, const std::vector<index_t>& shape, const char* name) {
    bool same = a.ndim() == static_cast<py::ssize_t>(shape.size());
    for (size_t i = 0; same && i < shape.size(); ++i) same = a.shape(static_cast<py::ssize_t>(i)) == shape[i];
    if (same) return;
    std::string expected = "(";
    for (size_t i = 0; i < shape.size(); ++i) expected += (i ? ", " : "") + std::to_string(shape[i]);
    throw py::value_error(std::string(name) + " must have shape " + expected + (shape.size() == 1 ? ",)" : ")"));
}

// Mixture parameters from Python arrays, checked against the data's width.
MixtureParams params_of(const DoubleArray& weights, const DoubleArray& means, const DoubleArray& precisions_cholesky,
                        const std::string& covariance_type, index_t d) {
    MixtureParams p;
    p.type = parse_covariance_type(covariance_type);
    if (means.ndim() != 2) throw py::value_error("means must be 2-dimensional");
    p.k = means.shape(0), p.d = d;
    if (p.k < 1) throw py::value_error("at least one component is needed");
    require_shape(weights, {p.k}, "weights");
    require_shape(means, {p.k, d}, "means");
    if (p.type == CovarianceType::full) require_shape(precisions_cholesky, {p.k, d, d}, "precisions_cholesky");
    else require_shape(precisions_cholesky, {p.k, d}, "precisions_cholesky");
    p.weights.assign(weights.data(), weights.data() + p.k);
    p.means.assign(means.data(), means.data() + p.k * d);
    p.precisions_cholesky.assign(precisions_cholesky.data(), precisions_cholesky.data() + p.k * p.covariance_size());
    return p;
}

// The parameters as numpy arrays (moved, not copied); covariances is None when no M-step has
// computed them (EM with max_iter=0).
py::dict dict_of(MixtureParams&& p) {
    const std::vector<py::ssize_t> cov_shape =
        p.type == CovarianceType::full ? std::vector<py::ssize_t>{p.k, p.d, p.d} : std::vector<py::ssize_t>{p.k, p.d};
    py::dict out;
    out["weights"] = to_numpy(std::move(p.weights));
    out["means"] = to_numpy(std::move(p.means), {p.k, p.d});
    out["covariances"] =
        p.covariances.empty() ? py::object(py::none()) : py::object(to_numpy(std::move(p.covariances), cov_shape));
    out["precisions_cholesky"] = to_numpy(std::move(p.precisions_cholesky), cov_shape);
    return out;
}

// At most one thread per 4096 points: below that, waking a thread costs more than it saves
// (measured: 2 threads were slower than 1 on 2,000 points). Results do not depend on it.
int threads_for(index_t n, int n_threads) {
    return static_cast<int>(std::max<index_t>(1, std::min<index_t>(n_threads, n / 4096)));
}

index_t check_data(const py::array& x) {
    require_c_contiguous(x, "X", 2);
    if (x.shape(0) < 1 || x.shape(1) < 1) throw py::value_error("X must have at least one sample and one feature");
    float_dtype(x, "X");
    return x.shape(1);
}

py::dict em_binding(const py::array& x, const DoubleArray& weights, const DoubleArray& means,
                    const DoubleArray& precisions_cholesky, const std::string& covariance_type, double reg_covar,
                    double tol, index_t max_iter, double previous_lower_bound, int n_threads, bool verbose) {
    const index_t d = check_data(x), n = x.shape(0);
    MixtureParams params = params_of(weights, means, precisions_cholesky, covariance_type, d);
    EmOptions options;
    options.tol = tol, options.reg_covar = reg_covar, options.max_iter = max_iter;
    options.previous_lower_bound = previous_lower_bound;
    EmResult result = with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        return without_gil([&] {
            Control control = make_control(threads_for(n, n_threads), verbose);
            ThreadPool pool(control);
            return fit_em(data_of<T>(x), n, std::move(params), options, pool);
        });
    });
    py::dict out = dict_of(std::move(result.params));
    out["lower_bound"] = result.lower_bound;
    out["lower_bounds"] = to_numpy(std::move(result.lower_bounds));
    out["n_iter"] = result.n_iter;
    out["converged"] = result.converged;
    return out;
}

py::dict log_prob_binding(const py::array& x, const DoubleArray& weights, const DoubleArray& means,
                           const DoubleArray& precisions_cholesky, const std::string& covariance_type, int n_threads) {
    const index_t d = check_data(x), n = x.shape(0);
    const MixtureParams params = params_of(weights, means, precisions_cholesky, covariance_type, d);
    py::array_t<double> weighted({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(params.k)});
    py::array_t<double> log_norm(static_cast<py::ssize_t>(n));
    double* w = weighted.mutable_data();
    double* l = log_norm.mutable_data();
    with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        return without_gil([&] {
            Control control = make_control(threads_for(n, n_threads));
            ThreadPool pool(control);
            mixture_log_probabilities(data_of<T>(x), n, params, w, l, pool);
            return 0;
        });
    });
    py::dict out;
    out["weighted_log_prob"] = weighted;
    out["log_prob_norm"] = log_norm;
    return out;
}

py::dict from_responsibilities_binding(const py::array& x, const py::object& resp, const py::object& labels,
                                       index_t n_components, const std::string& covariance_type, double reg_covar,
                                       int n_threads) {
    const index_t d = check_data(x), n = x.shape(0);
    const CovarianceType type = parse_covariance_type(covariance_type);
    if (n_components < 1) throw py::value_error("n_components must be >= 1");
    if (resp.is_none() == labels.is_none()) throw py::value_error("give exactly one of resp and labels");
    gmm_detail::GivenResponsibilities given;
    DoubleArray dense;
    py::array_t<index_t, py::array::c_style | py::array::forcecast> label_array;
    if (!resp.is_none()) {
        dense = resp.cast<DoubleArray>();
        require_shape(dense, {n, n_components}, "resp");
        given.dense = dense.data();
    } else {
        label_array = labels.cast<py::array_t<index_t, py::array::c_style | py::array::forcecast>>();
        if (label_array.ndim() != 1 || label_array.shape(0) != n) throw py::value_error("labels must have shape (n_samples,)");
        const index_t* l = label_array.data();
        for (index_t i = 0; i < n; ++i)
            if (l[i] < 0 || l[i] >= n_components)
                throw py::value_error("labels must be in [0, n_components), got " + std::to_string(l[i]));
        given.labels = l;
    }
    MixtureParams params = with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        return without_gil([&] {
            Control control = make_control(threads_for(n, n_threads));
            ThreadPool pool(control);
            return parameters_from_responsibilities(data_of<T>(x), n, d, n_components, type, given, reg_covar, pool);
        });
    });
    return dict_of(std::move(params));
}

}  // namespace

void bind_mixture(py::module_& m) {
    m.def("gmm_em", &em_binding, py::arg("X"), py::arg("weights"), py::arg("means"), py::arg("precisions_cholesky"),
          py::kw_only(), py::arg("covariance_type"), py::arg("reg_covar"), py::arg("tol"), py::arg("max_iter"),
          py::arg("previous_lower_bound"), py::arg("n_threads"), py::arg("verbose") = false,
          "Gaussian mixture EM from the given parameters; a dict of the parameters, lower_bound, "
          "lower_bounds, n_iter and converged.");
    m.def("gmm_log_prob", &log_prob_binding, py::arg("X"), py::arg("weights"), py::arg("means"),
          py::arg("precisions_cholesky"), py::kw_only(), py::arg("covariance_type"), py::arg("n_threads"),
          "A dict of the weighted log probabilities (n, k) of a Gaussian mixture (weighted_log_prob) and their "
          "log-sum-exp over the components (log_prob_norm, (n,)).");
    m.def("gmm_parameters_from_responsibilities", &from_responsibilities_binding, py::arg("X"), py::kw_only(),
          py::arg("resp") = py::none(), py::arg("labels") = py::none(), py::arg("n_components"),
          py::arg("covariance_type"), py::arg("reg_covar"), py::arg("n_threads"),
          "Weights (nk / n), means, covariances and precisions_cholesky from dense responsibilities (resp) or "
          "labels, one of them given.");
}

}  // namespace vecclust_bindings
