// Bindings for PPP's passes over all points: row hashes, the two split rules, group means.
#include <pybind11/stl.h>

#include "numpy_helpers.hpp"
#include "vecclust/ppp/ppp.hpp"

namespace vecclust_bindings {

using namespace vecclust;

namespace {

using Rows = py::array_t<index_t, py::array::c_style>;
using Doubles = py::array_t<double, py::array::c_style | py::array::forcecast>;

// Runs body(pool) without the GIL.
template <class Body>
void in_pool(int n_threads, Body&& body) {
    without_gil([&] {
        Control control = make_control(n_threads);
        ThreadPool pool(control);
        body(pool);
        return 0;
    });
}

void check_rows(const py::array& x, const Rows& rows) {
    require_c_contiguous(x, "X", 2);
    const index_t n = x.shape(0);
    const index_t* r = rows.data();
    for (py::ssize_t i = 0; i < rows.size(); ++i)
        if (r[i] < 0 || r[i] >= n) throw py::index_error("row index out of range");
}

py::array_t<std::uint64_t> row_hashes_binding(const py::array& x, int n_threads) {
    require_c_contiguous(x, "X", 2);
    const index_t n = x.shape(0), d = x.shape(1);
    py::array_t<std::uint64_t> out(n);
    std::uint64_t* o = out.mutable_data();
    with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        in_pool(n_threads, [&](ThreadPool& pool) { row_hashes<T>(data_of<T>(x), n, d, o, pool); });
    });
    return out;
}

py::array_t<std::uint8_t> split_by_centers_binding(const py::array& x, const Rows& rows, const py::array& centers,
                                                   int n_threads) {
    check_rows(x, rows);
    py::array_t<std::uint8_t> out(rows.size());
    std::uint8_t* o = out.mutable_data();
    with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        if (!py::isinstance<py::array_t<T>>(centers) || centers.ndim() != 2 || centers.shape(0) != 2 ||
            centers.shape(1) != x.shape(1) || !(centers.flags() & py::array::c_style))
            throw py::value_error("centers must be a C-contiguous (2, n_features) array of the data's dtype");
        const T* c = data_of<T>(centers);
        in_pool(n_threads, [&](ThreadPool& pool) {
            split_by_centers<T>(data_of<T>(x), x.shape(1), rows.data(), rows.size(), c, o, pool);
        });
    });
    return out;
}

py::array_t<std::uint8_t> split_by_mixture_binding(const py::array& x, const Rows& rows, const Doubles& mean,
                                                   const Doubles& components, const Doubles& log_weights,
                                                   const Doubles& means, const Doubles& precisions_cholesky, int n_threads) {
    check_rows(x, rows);
    PcaMixture g;
    g.d = x.shape(1);
    g.q = components.ndim() == 2 ? components.shape(0) : 0;
    if (mean.size() != g.d || components.ndim() != 2 || components.shape(1) != g.d || g.q < 1 || log_weights.size() != 2 ||
        means.size() != 2 * g.q || precisions_cholesky.size() != 2 * g.q * g.q)
        throw py::value_error("inconsistent mixture parameters");
    auto copy = [](const Doubles& a) { return std::vector<double>(a.data(), a.data() + a.size()); };
    g.mean = copy(mean), g.components = copy(components), g.log_weights = copy(log_weights), g.means = copy(means);
    g.precisions_cholesky = copy(precisions_cholesky);
    py::array_t<std::uint8_t> out(rows.size());
    std::uint8_t* o = out.mutable_data();
    with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        in_pool(n_threads, [&](ThreadPool& pool) { split_by_mixture<T>(data_of<T>(x), rows.data(), rows.size(), g, o, pool); });
    });
    return out;
}

py::array_t<double> group_means_binding(const py::array& x, const Rows& labels, index_t n_clusters, int n_threads) {
    require_c_contiguous(x, "X", 2);
    const index_t n = x.shape(0), d = x.shape(1);
    if (labels.size() != n) throw py::value_error("one label per row is needed");
    const index_t* l = labels.data();
    for (index_t i = 0; i < n; ++i)
        if (l[i] < 0 || l[i] >= n_clusters) throw py::value_error("labels must lie in [0, n_clusters)");
    std::vector<double> means;
    with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        in_pool(n_threads, [&](ThreadPool& pool) { means = group_means<T>(data_of<T>(x), n, d, l, n_clusters, pool); });
    });
    return to_numpy(std::move(means), {n_clusters, d});
}

}  // namespace

void bind_ppp(py::module_& m) {
    m.def("row_hashes", &row_hashes_binding, py::arg("X"), py::kw_only(), py::arg("n_threads"),
          "64-bit hash of each row's values (independent of its position).");
    m.def("split_by_centers", &split_by_centers_binding, py::arg("X"), py::arg("rows"), py::arg("centers"),
          py::kw_only(), py::arg("n_threads"),
          "For X[rows]: 1 where the second of two centres is strictly nearer, else 0.");
    m.def("split_by_mixture", &split_by_mixture_binding, py::arg("X"), py::arg("rows"), py::arg("mean"),
          py::arg("components"), py::arg("log_weights"), py::arg("means"), py::arg("precisions_cholesky"),
          py::kw_only(), py::arg("n_threads"),
          "For X[rows]: MAP component (0/1) of a 2-component full GMM in PCA coordinates.");
    m.def("group_means", &group_means_binding, py::arg("X"), py::arg("labels"), py::kw_only(), py::arg("n_clusters"),
          py::arg("n_threads"), "Mean of the rows of each group.");
}

}  // namespace vecclust_bindings
