// Bindings for the multi-tenant vector index. The Python class (vecclust.MultiTenantIndex)
// converts and checks arguments; this layer checks dtypes and shapes once more (so a bad array
// can never reach the core) and releases the GIL in every call that takes the index's lock, so a
// thread waiting for a writer never blocks other Python threads.
#include <pybind11/stl.h>

#include "numpy_helpers.hpp"
#include "vecclust/index/multitenant_index.hpp"

namespace vecclust_bindings {

using namespace vecclust;

namespace {

// A C-contiguous float32 (n, dim) array.
const float* rows_of(const py::array& a, index_t dim, const char* name) {
    require_c_contiguous(a, name, 2);
    if (!py::isinstance<py::array_t<float>>(a)) throw py::type_error(std::string(name) + " must be a float32 array");
    if (a.shape(1) != dim)
        throw py::value_error(std::string(name) + " has " + std::to_string(a.shape(1)) + " columns, the index has dim " +
                              std::to_string(dim));
    return static_cast<const float*>(a.data());
}

// A C-contiguous int64 1-d array.
const std::int64_t* ids_of(const py::array& a, const char* name) {
    require_c_contiguous(a, name, 1);
    if (!py::isinstance<py::array_t<std::int64_t>>(a)) throw py::type_error(std::string(name) + " must be an int64 array");
    return static_cast<const std::int64_t*>(a.data());
}

py::array_t<std::int64_t> int64_array(const std::vector<std::int64_t>& values) {
    return py::array_t<std::int64_t>(static_cast<py::ssize_t>(values.size()), values.data());
}

// Threads a batch search of m queries can use.
int search_threads(int n_threads, index_t m) {
    return static_cast<int>(std::min<index_t>(n_threads, MultiTenantIndex::search_tasks(m)));
}

py::dict memory_dict(const IndexMemory& m) {
    py::dict out;
    out["vectors"] = m.vectors;
    out["tree"] = m.tree;
    out["filters"] = m.filters;
    out["shortlists"] = m.shortlists;
    out["access_lists"] = m.access_lists;
    out["ids"] = m.ids;
    out["total"] = m.total();
    return out;
}

}  // namespace

void bind_index(py::module_& m) {
    py::register_exception<UnknownId>(m, "UnknownIdError", PyExc_KeyError);
    py::register_exception<IoError>(m, "IndexIOError", PyExc_OSError);

    using Index = MultiTenantIndex;
    py::class_<Index>(m, "MultiTenantIndexCore", "The C++ multi-tenant index (private; use vecclust.MultiTenantIndex).")
        .def(py::init([](index_t dim, const std::string& metric, index_t branching_factor, index_t split_threshold,
                         double bloom_fpr, std::uint64_t seed) {
                 IndexOptions options;
                 options.dim = dim;
                 options.metric = parse_index_metric(metric);
                 options.branching_factor = branching_factor;
                 options.split_threshold = split_threshold;
                 options.bloom_fpr = bloom_fpr;
                 options.seed = seed;
                 return std::make_unique<Index>(options);
             }),
             py::arg("dim"), py::arg("metric"), py::arg("branching_factor"), py::arg("split_threshold"), py::arg("bloom_fpr"),
             py::arg("seed"))
        .def_property_readonly("dim", [](const Index& self) { return self.options().dim; })
        .def_property_readonly("metric", [](const Index& self) { return std::string(metric_name(self.options().metric)); })
        .def_property_readonly("branching_factor", [](const Index& self) { return self.options().branching_factor; })
        .def_property_readonly("split_threshold", [](const Index& self) { return self.options().split_threshold; })
        .def_property_readonly("bloom_fpr", [](const Index& self) { return self.options().bloom_fpr; })
        .def_property_readonly("trained", [](const Index& self) {
            py::gil_scoped_release release;
            return self.trained();
        })
        .def(
            "train",
            [](Index& self, const py::array& x, int n_threads) {
                const float* data = rows_of(x, self.options().dim, "X");
                without_gil([&] {
                    Control control = make_control(n_threads);
                    self.train(data, x.shape(0), control);
                    return 0;
                });
            },
            py::arg("X"), py::arg("n_threads"), "Builds the clustering tree by hierarchical k-means.")
        .def(
            "add",
            [](Index& self, const py::array& x, const py::array& ids, std::int64_t tenant, int n_threads) {
                const float* data = rows_of(x, self.options().dim, "X");
                const std::int64_t* id = ids_of(ids, "ids");
                if (ids.shape(0) != x.shape(0)) throw py::value_error("ids must have one entry per row of X");
                without_gil([&] {
                    Control control = make_control(n_threads);
                    self.add(data, x.shape(0), id, tenant, control);
                    return 0;
                });
            },
            py::arg("X"), py::arg("ids"), py::arg("tenant"), py::arg("n_threads"))
        .def(
            "grant",
            [](Index& self, const py::array& ids, std::int64_t tenant) {
                const std::int64_t* id = ids_of(ids, "ids");
                py::gil_scoped_release release;
                self.grant(id, ids.shape(0), tenant);
            },
            py::arg("ids"), py::arg("tenant"))
        .def(
            "revoke",
            [](Index& self, const py::array& ids, std::int64_t tenant) {
                const std::int64_t* id = ids_of(ids, "ids");
                py::gil_scoped_release release;
                self.revoke(id, ids.shape(0), tenant);
            },
            py::arg("ids"), py::arg("tenant"))
        .def(
            "remove",
            [](Index& self, const py::array& ids) {
                const std::int64_t* id = ids_of(ids, "ids");
                py::gil_scoped_release release;
                self.remove(id, ids.shape(0));
            },
            py::arg("ids"))
        .def("remove_tenant", &Index::remove_tenant, py::arg("tenant"), py::call_guard<py::gil_scoped_release>())
        .def(
            "search",
            [](const Index& self, const py::array& queries, const py::array& tenants, index_t k, index_t budget, int n_threads) {
                const float* q = rows_of(queries, self.options().dim, "queries");
                const std::int64_t* t = ids_of(tenants, "tenants");
                if (k < 1) throw py::value_error("k must be >= 1");
                const index_t n_queries = queries.shape(0);
                auto distances = new_matrix<float>(n_queries, k);
                auto ids = new_matrix<std::int64_t>(n_queries, k);
                float* d_out = distances.mutable_data();
                std::int64_t* i_out = ids.mutable_data();
                without_gil([&] {
                    Control control = make_control(search_threads(n_threads, n_queries));
                    self.search(q, n_queries, t, tenants.shape(0), k, budget, d_out, i_out, control);
                    return 0;
                });
                return py::make_tuple(distances, ids);
            },
            py::arg("queries"), py::arg("tenants"), py::arg("k"), py::arg("budget"), py::arg("n_threads"))
        .def(
            "search_tenant",
            [](const Index& self, const py::array& queries, std::int64_t tenant, index_t k, index_t budget, int n_threads) {
                const float* q = rows_of(queries, self.options().dim, "queries");
                if (k < 1) throw py::value_error("k must be >= 1");
                const index_t n_queries = queries.shape(0);
                auto distances = new_matrix<float>(n_queries, k);
                auto ids = new_matrix<std::int64_t>(n_queries, k);
                float* d_out = distances.mutable_data();
                std::int64_t* i_out = ids.mutable_data();
                without_gil([&] {
                    Control control = make_control(search_threads(n_threads, n_queries));
                    self.search(q, n_queries, &tenant, 1, k, budget, d_out, i_out, control);
                    return 0;
                });
                return py::make_tuple(distances, ids);
            },
            py::arg("queries"), py::arg("tenant"), py::arg("k"), py::arg("budget"), py::arg("n_threads"),
            "search() with one tenant for every query.")
        .def("__len__", &Index::size, py::call_guard<py::gil_scoped_release>())
        .def("n_nodes", &Index::n_nodes, py::call_guard<py::gil_scoped_release>())
        .def("tenants",
             [](const Index& self) {
                 std::vector<std::int64_t> tenants;
                 {
                     py::gil_scoped_release release;
                     tenants = self.tenant_ids();
                 }
                 return int64_array(tenants);
             })
        .def("tenant_size", &Index::tenant_size, py::arg("tenant"), py::call_guard<py::gil_scoped_release>())
        .def(
            "access_of",
            [](const Index& self, std::int64_t id) {
                std::pair<std::vector<std::int64_t>, std::int64_t> access;
                {
                    py::gil_scoped_release release;
                    access = self.access_of(id);
                }
                auto& [tenants, owner] = access;
                return py::make_tuple(int64_array(tenants), owner);
            },
            py::arg("id"))
        .def(
            "shortlists_of",
            [](const Index& self, std::int64_t tenant) {
                std::vector<std::pair<std::uint32_t, std::vector<std::int64_t>>> lists;
                {
                    py::gil_scoped_release release;
                    lists = self.shortlists_of(tenant);
                }
                py::list out;
                for (const auto& [node, ids] : lists) out.append(py::make_tuple(node, int64_array(ids)));
                return out;
            },
            py::arg("tenant"))
        .def("tree_description",
             [](const Index& self) {
                 std::pair<std::vector<std::uint32_t>, std::vector<float>> tree;
                 {
                     py::gil_scoped_release release;
                     tree = self.tree_description();
                 }
                 auto& [parents, centers] = tree;
                 const auto n = static_cast<py::ssize_t>(parents.size());
                 py::array_t<std::int64_t> parent_array(n);
                 for (py::ssize_t i = 0; i < n; ++i)
                     parent_array.mutable_at(i) =
                         parents[static_cast<size_t>(i)] == Index::kNone ? std::int64_t(-1) : std::int64_t(parents[static_cast<size_t>(i)]);
                 auto center_array = new_matrix<float>(n, self.options().dim);
                 std::copy(centers.begin(), centers.end(), center_array.mutable_data());
                 return py::make_tuple(parent_array, center_array);
             })
        .def("memory_usage",
             [](const Index& self) {
                 IndexMemory usage;
                 {
                     py::gil_scoped_release release;
                     usage = self.memory_usage();
                 }
                 return memory_dict(usage);
             })
        .def("check_invariants", &Index::check_invariants, py::call_guard<py::gil_scoped_release>())
        .def(
            "save",
            [](const Index& self, const std::string& path) {
                py::gil_scoped_release release;
                save_file_atomically(path, [&](ByteSink& sink) { self.save(sink); });
            },
            py::arg("path"))
        .def_static(
            "load",
            [](const std::string& path) {
                py::gil_scoped_release release;
                return load_file(path, [](ByteSource& source, std::uint64_t size) { return Index::load(source, size); });
            },
            py::arg("path"))
        .def("to_bytes",
             [](const Index& self) {
                 StringSink sink;
                 {
                     py::gil_scoped_release release;
                     self.save(sink);
                 }
                 return py::bytes(sink.out);
             })
        .def_static(
            "from_bytes",
            [](const py::bytes& data) {
                char* buffer = nullptr;
                Py_ssize_t size = 0;
                if (PyBytes_AsStringAndSize(data.ptr(), &buffer, &size) != 0) throw py::error_already_set();
                py::gil_scoped_release release;
                MemorySource source(buffer);
                return Index::load(source, static_cast<std::uint64_t>(size));
            },
            py::arg("data"));
}

}  // namespace vecclust_bindings
