// Bindings for the multi-tenant vector index (see numpy_helpers.hpp for the contract). The
// index holds float32 vectors only, so there is no dtype choice: the Python class converts. Every
// call that takes the index's lock runs without the GIL, so a thread waiting for a writer never
// blocks other Python threads.
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

// Threads a batch search of m queries can use.
int search_threads(int n_threads, index_t m) {
    return static_cast<int>(std::min<index_t>(n_threads, MultiTenantIndex::search_tasks(m)));
}

// The k nearest of each query, for one tenant (n_tenants == 1) or one per query.
py::dict search(const MultiTenantIndex& index, const py::array& queries, const std::int64_t* tenants, index_t n_tenants,
                index_t k, index_t budget, bool exact, int n_threads) {
    const float* q = rows_of(queries, index.options().dim, "Q");
    const index_t n_queries = queries.shape(0);
    auto distances = new_matrix<float>(n_queries, k);
    auto ids = new_matrix<std::int64_t>(n_queries, k);
    float* d_out = distances.mutable_data();
    std::int64_t* i_out = ids.mutable_data();
    without_gil([&] {
        Control control = make_control(search_threads(n_threads, n_queries));
        index.search(q, n_queries, tenants, n_tenants, k, budget, exact, d_out, i_out, control);
        return 0;
    });
    py::dict out;
    out["distances"] = distances;
    out["ids"] = ids;
    return out;
}

// Runs a read-only query of the index without the GIL.
template <class Query>
auto unlocked(Query&& query) {
    py::gil_scoped_release release;
    return query();
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
    auto& io_error = py::register_exception<IoError>(m, "IndexIOError", PyExc_OSError);
    // A corrupt or crafted index file: both an index I/O error and, as before, a ValueError.
    py::register_exception<CorruptIndex>(m, "CorruptIndexError", py::make_tuple(io_error, py::handle(PyExc_ValueError)));

    using Index = MultiTenantIndex;
    py::class_<Index>(m, "MultiTenantIndexCore", "The C++ multi-tenant index (private; use vecclust.MultiTenantIndex).")
        .def(py::init([](index_t dim, const std::string& metric, index_t branching_factor, index_t split_threshold,
                         double bloom_fpr, std::uint64_t seed, const std::string& sign_codes) {
                 IndexOptions options;
                 options.dim = dim;
                 options.metric = parse_index_metric(metric);
                 options.branching_factor = branching_factor;
                 options.split_threshold = split_threshold;
                 options.bloom_fpr = bloom_fpr;
                 options.seed = seed;
                 options.sign_codes = parse_sign_codes(sign_codes);
                 return std::make_unique<Index>(options);
             }),
             py::kw_only(), py::arg("dim"), py::arg("metric"), py::arg("branching_factor"), py::arg("split_threshold"),
             py::arg("bloom_fpr"), py::arg("seed"), py::arg("sign_codes"))
        .def_property_readonly("dim", [](const Index& self) { return self.options().dim; })
        .def_property_readonly("metric", [](const Index& self) { return std::string(metric_name(self.options().metric)); })
        .def_property_readonly("branching_factor", [](const Index& self) { return self.options().branching_factor; })
        .def_property_readonly("split_threshold", [](const Index& self) { return self.options().split_threshold; })
        .def_property_readonly("bloom_fpr", [](const Index& self) { return self.options().bloom_fpr; })
        .def_property_readonly("sign_codes", [](const Index& self) { return std::string(sign_codes_name(unlocked([&] { return self.options(); }).sign_codes)); })
        .def_property_readonly("trained", [](const Index& self) { return unlocked([&] { return self.trained(); }); })
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
            py::arg("X"), py::kw_only(), py::arg("n_threads"), "Builds the clustering tree by hierarchical k-means.")
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
            py::arg("X"), py::arg("ids"), py::kw_only(), py::arg("tenant"), py::arg("n_threads"))
        .def(
            "grant",
            [](Index& self, const py::array& ids, std::int64_t tenant) {
                const std::int64_t* id = ids_of(ids, "ids");
                unlocked([&] { self.grant(id, ids.shape(0), tenant); });
            },
            py::arg("ids"), py::kw_only(), py::arg("tenant"))
        .def(
            "revoke",
            [](Index& self, const py::array& ids, std::int64_t tenant) {
                const std::int64_t* id = ids_of(ids, "ids");
                unlocked([&] { self.revoke(id, ids.shape(0), tenant); });
            },
            py::arg("ids"), py::kw_only(), py::arg("tenant"))
        .def(
            "remove",
            [](Index& self, const py::array& ids) {
                const std::int64_t* id = ids_of(ids, "ids");
                unlocked([&] { self.remove(id, ids.shape(0)); });
            },
            py::arg("ids"))
        .def("remove_tenant", &Index::remove_tenant, py::kw_only(), py::arg("tenant"), py::call_guard<py::gil_scoped_release>())
        .def(
            "search",
            [](const Index& self, const py::array& queries, const py::array& tenants, index_t k, index_t budget, bool exact, int n_threads) {
                return search(self, queries, ids_of(tenants, "tenants"), tenants.shape(0), k, budget, exact, n_threads);
            },
            py::arg("Q"), py::arg("tenants"), py::kw_only(), py::arg("k"), py::arg("budget"), py::arg("exact"), py::arg("n_threads"),
            "The k nearest vectors of each query for its tenant: a dict of distances and ids (m x k).")
        .def(
            "search_tenant",
            [](const Index& self, const py::array& queries, std::int64_t tenant, index_t k, index_t budget, bool exact, int n_threads) {
                return search(self, queries, &tenant, 1, k, budget, exact, n_threads);
            },
            py::arg("Q"), py::kw_only(), py::arg("tenant"), py::arg("k"), py::arg("budget"), py::arg("exact"), py::arg("n_threads"),
            "search() with one tenant for every query.")
        .def("__len__", &Index::size, py::call_guard<py::gil_scoped_release>())
        .def("n_nodes", &Index::n_nodes, py::call_guard<py::gil_scoped_release>())
        .def("tenants", [](const Index& self) { return to_numpy(unlocked([&] { return self.tenant_ids(); })); })
        .def("tenant_size", &Index::tenant_size, py::kw_only(), py::arg("tenant"), py::call_guard<py::gil_scoped_release>())
        .def(
            "access_of",
            [](const Index& self, std::int64_t id) {
                auto [tenants, owner] = unlocked([&] { return self.access_of(id); });
                py::dict out;
                out["tenants"] = to_numpy(std::move(tenants));
                out["owner"] = owner;
                return out;
            },
            py::kw_only(), py::arg("id"), "The tenants that can see vector id, ascending, and its owner.")
        .def(
            "shortlists_of",
            [](const Index& self, std::int64_t tenant) {
                auto lists = unlocked([&] { return self.shortlists_of(tenant); });
                std::vector<std::int64_t> nodes, sizes, ids;
                for (auto& [node, list_ids] : lists) {
                    nodes.push_back(node);
                    sizes.push_back(static_cast<std::int64_t>(list_ids.size()));
                    ids.insert(ids.end(), list_ids.begin(), list_ids.end());
                }
                py::dict out;
                out["nodes"] = to_numpy(std::move(nodes));
                out["sizes"] = to_numpy(std::move(sizes));
                out["ids"] = to_numpy(std::move(ids));
                return out;
            },
            py::kw_only(), py::arg("tenant"),
            "The tenant's shortlists in search order: their nodes, sizes and the ids they list, concatenated.")
        .def(
            "tree_description",
            [](const Index& self) {
                auto [parents, centers] = unlocked([&] { return self.tree_description(); });
                std::vector<std::int64_t> parent_ids(parents.size());
                for (size_t i = 0; i < parents.size(); ++i)
                    parent_ids[i] = parents[i] == Index::kNone ? std::int64_t(-1) : std::int64_t(parents[i]);
                const auto n = static_cast<py::ssize_t>(parents.size());
                py::dict out;
                out["parents"] = to_numpy(std::move(parent_ids));
                out["centers"] = to_numpy(std::move(centers), {n, static_cast<py::ssize_t>(self.options().dim)});
                return out;
            },
            "The tree's nodes in level order: their parents (-1 for the root) and centroids.")
        .def("memory_usage", [](const Index& self) { return memory_dict(unlocked([&] { return self.memory_usage(); })); })
        .def("check_invariants", &Index::check_invariants, py::call_guard<py::gil_scoped_release>())
        .def(
            "save",
            [](const Index& self, const std::string& path) {
                unlocked([&] { save_file_atomically(path, [&](ByteSink& sink) { self.save(sink); }); });
            },
            py::kw_only(), py::arg("path"))
        .def_static(
            "load",
            [](const std::string& path) {
                return unlocked([&] {
                    return load_file(path, [](ByteSource& source, std::uint64_t size) { return Index::load(source, size); });
                });
            },
            py::kw_only(), py::arg("path"))
        .def("to_bytes",
             [](const Index& self) {
                 StringSink sink;
                 unlocked([&] { self.save(sink); });
                 return py::bytes(sink.out);
             })
        .def_static(
            "from_bytes",
            [](const py::bytes& data) {
                char* buffer = nullptr;
                Py_ssize_t size = 0;
                if (PyBytes_AsStringAndSize(data.ptr(), &buffer, &size) != 0) throw py::error_already_set();
                return unlocked([&] {
                    MemorySource source(buffer);
                    return Index::load(source, static_cast<std::uint64_t>(size));
                });
            },
            py::arg("data"));
}

}  // namespace vecclust_bindings
