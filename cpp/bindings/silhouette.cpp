// Bindings for choosing k: the silhouette, the medoid silhouette, and the k-medoids methods
// that maximise the (medoid) silhouette (FasterMSC, FastMSC, PAMMEDSIL, PAMSIL, DynMSC).
#include "kmedoids_result.hpp"
#include "numpy_helpers.hpp"
#include "vecclust/base/memory.hpp"
#include "vecclust/kmedoids/distance.hpp"
#include "vecclust/kmedoids/dynmsc.hpp"
#include "vecclust/kmedoids/kmedoids.hpp"  // check_initial_medoids, initial_medoids
#include "vecclust/kmedoids/medoid_silhouette.hpp"
#include "vecclust/kmedoids/pammedsil.hpp"
#include "vecclust/kmedoids/pamsil.hpp"
#include "vecclust/kmedoids/silhouette.hpp"

namespace vecclust_bindings {

using namespace vecclust;

namespace {

// Labels 0..k-1 (Python makes them so), one per row; returns k.
index_t cluster_count(const py::array& labels, index_t n) {
    require_c_contiguous(labels, "labels", 1);
    if (!py::isinstance<py::array_t<index_t>>(labels)) throw py::type_error("labels must be an int64 array");
    if (labels.shape(0) != n) throw py::value_error("labels must have one entry per sample");
    const index_t* values = data_of<index_t>(labels);
    index_t k = 0;
    for (index_t i = 0; i < n; ++i) {
        if (values[i] < 0) throw py::value_error("labels must be in [0, k)");
        k = std::max(k, values[i] + 1);
    }
    return k;
}

void require_square(const py::array& x) {
    require_c_contiguous(x, "X", 2);
    if (x.shape(0) != x.shape(1)) throw py::value_error("with metric='precomputed' X must be square");
}

py::array silhouette_samples(const py::array& x, const py::array& labels, const std::string& metric,
                             const py::object& sample_weight, int n_threads) {
    const bool precomputed = metric == "precomputed";
    precomputed ? require_square(x) : require_c_contiguous(x, "X", 2);
    const index_t n = x.shape(0), d = x.shape(1);
    const index_t k = cluster_count(labels, n);
    const Metric m = precomputed ? Metric::euclidean : parse_metric(metric);
    const index_t* label_data = data_of<index_t>(labels);
    return with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        const T* data = data_of<T>(x);
        const T* w = weights_of<T>(sample_weight, n);
        return to_numpy(without_gil([&] {
            Control control = make_control(n_threads);
            ThreadPool pool(control);
            const std::vector<double> sums = precomputed ? cluster_distance_sums(data, n, label_data, k, w, pool)
                                                         : cluster_distance_sums(data, n, d, m, label_data, k, w, pool);
            return silhouette_from_sums(sums, n, label_data, k, w);
        }));
    });
}

std::vector<index_t> medoid_indices(const py::object& medoids) {
    auto array = py::array_t<index_t, py::array::c_style | py::array::forcecast>::ensure(medoids);
    if (!array || array.ndim() != 1) throw py::value_error("medoids must be a 1-d array of indices");
    return std::vector<index_t>(array.data(), array.data() + array.size());
}

// Runs body(source, pool) without the GIL on the distances of X: a validated matrix with
// metric="precomputed"; from features either the n x n matrix computed first (precompute) or
// distances computed on demand.
template <class T, class Body>
auto on_distances(const py::array& x, const std::string& metric, bool precompute, int n_threads, Body&& body) {
    const bool precomputed = metric == "precomputed";
    precomputed ? require_square(x) : require_c_contiguous(x, "X", 2);
    const index_t n = x.shape(0), d = x.shape(1);
    const T* data = data_of<T>(x);
    const Metric m = precomputed ? Metric::euclidean : parse_metric(metric);
    return without_gil([&] {
        Control control = make_control(n_threads);
        ThreadPool pool(control);
        if (precomputed) {
            check_dissimilarity_matrix(data, n, pool);
            return body(MatrixSource<T>(data, n), pool);
        }
        FeatureSource<T> features(data, n, d, m);
        if (!precompute) return body(features, pool);
        LargeBuffer<T> matrix(static_cast<size_t>(n) * static_cast<size_t>(n));
        full_matrix(features, matrix.data(), pool);
        return body(MatrixSource<T>(matrix.data(), n), pool);
    });
}

// Initial medoids: the given indices, or k of them chosen by `init`.
template <class T, class Source>
std::vector<index_t> starting_medoids(const Source& source, const std::vector<index_t>& given, index_t k, Init init,
                                      std::uint64_t seed, ThreadPool& pool) {
    if (!given.empty()) {
        check_initial_medoids(given, source.size());
        return given;
    }
    require(k >= 1 && k <= source.size(), "the number of medoids must be in [1, n_samples]");
    Rng rng(seed);
    return initial_medoids<T>(source, k, init, nullptr, rng, pool);
}

// The result of a run, its average medoid silhouette and, as "loss", its total deviation.
struct MscRun {
    KMedoidsResult result;
    double silhouette = 0.0, deviation = 0.0;
};

py::dict msc_dict(MscRun&& run) {
    py::dict out = result_dict(std::move(run.result));
    out["silhouette"] = run.silhouette;
    out["loss"] = run.deviation;
    return out;
}

py::array medoid_silhouette(const py::array& x, const py::object& medoids, const std::string& metric, int n_threads) {
    const std::vector<index_t> chosen = medoid_indices(medoids);
    return with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        const bool check = metric == "precomputed";  // only the rows read are checked: O(n k)
        if (check) require_square(x);
        else require_c_contiguous(x, "X", 2);
        const index_t n = x.shape(0), d = x.shape(1);
        return to_numpy(without_gil([&] {
            check_initial_medoids(chosen, n);
            require(chosen.size() >= 2, "the medoid silhouette needs at least 2 medoids");
            Control control = make_control(n_threads);
            ThreadPool pool(control);
            if (check) return medoid_silhouette_samples<T>(MatrixSource<T>(data_of<T>(x), n), chosen, true, pool);
            return medoid_silhouette_samples<T>(FeatureSource<T>(data_of<T>(x), n, d, parse_metric(metric)),
                                                chosen, false, pool);
        }));
    });
}

// A run's average medoid silhouette, as medoid_silhouette computes it, and total deviation.
template <class T, class Source>
MscRun score_run(const Source& source, KMedoidsResult&& result, ThreadPool& pool) {
    MscRun run;
    const std::vector<double> s = medoid_silhouette_samples<T>(source, result.medoids, false, pool, &run.deviation);
    for (double v : s) run.silhouette += v;
    run.silhouette /= static_cast<double>(s.size());
    run.result = std::move(result);
    return run;
}

// The names are MSC_METHODS in Python (vecclust/_kmedoids/choices.py).
enum class MscMethod { fastermsc, fastmsc, pammedsil, pamsil };

MscMethod parse_msc_method(const std::string& name) {
    if (name == "fastermsc") return MscMethod::fastermsc;
    if (name == "fastmsc") return MscMethod::fastmsc;
    if (name == "pammedsil") return MscMethod::pammedsil;
    if (name == "pamsil") return MscMethod::pamsil;
    throw std::invalid_argument("unknown method '" + name + "'");
}

template <class T, class Source>
MscRun run_msc(MscMethod method, const Source& source, const std::vector<index_t>& start, int max_iter,
               ThreadPool& pool) {
    switch (method) {
        case MscMethod::fastmsc: return score_run<T>(source, fastmsc<T>(source, start, max_iter, pool), pool);
        case MscMethod::pammedsil: return score_run<T>(source, pammedsil<T>(source, start, max_iter, pool), pool);
        case MscMethod::pamsil: {
            // The objective is the silhouette itself: n minus the loss, over n.
            KMedoidsResult result = pamsil<T>(source, start, max_iter, pool);
            const double n = static_cast<double>(source.size()), silhouette = (n - result.loss) / n;
            MscRun run = score_run<T>(source, std::move(result), pool);
            run.silhouette = silhouette;
            return run;
        }
        case MscMethod::fastermsc: break;
    }
    return score_run<T>(source, fastermsc<T>(source, start, max_iter, pool), pool);
}

py::dict msc_kmedoids_binding(const py::array& x, const std::string& method, const std::string& metric,
                              bool precompute, const std::string& init, index_t n_clusters,
                              const py::object& initial_medoids, int max_iter, std::uint64_t seed, int n_threads) {
    const std::vector<index_t> given = initial_medoids.is_none() ? std::vector<index_t>{} : medoid_indices(initial_medoids);
    const Init how = parse_init(init);
    const MscMethod which = parse_msc_method(method);
    return with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        return msc_dict(on_distances<T>(x, metric, precompute, n_threads, [&](const auto& source, ThreadPool& pool) {
            const auto start = starting_medoids<T>(source, given, n_clusters, how, seed, pool);
            return run_msc<T>(which, source, start, max_iter, pool);
        }));
    });
}

py::dict dynmsc_binding(const py::array& x, const std::string& metric, bool precompute, const std::string& init,
                        index_t max_clusters, index_t min_clusters, const py::object& initial_medoids, int max_iter,
                        std::uint64_t seed, int n_threads) {
    const std::vector<index_t> given = initial_medoids.is_none() ? std::vector<index_t>{} : medoid_indices(initial_medoids);
    const Init how = parse_init(init);
    return with_float_type(x, "X", [&](auto tag) {
        using T = decltype(tag);
        DynMscResult r;
        MscRun best = on_distances<T>(x, metric, precompute, n_threads, [&](const auto& source, ThreadPool& pool) {
            const auto start = starting_medoids<T>(source, given, max_clusters, how, seed, pool);
            r = dynmsc<T>(source, start, min_clusters, max_iter, pool);
            return score_run<T>(source, std::move(r.best), pool);
        });
        py::dict out = msc_dict(std::move(best));
        out["best_k"] = r.best_k;
        out["silhouettes"] = to_numpy(std::move(r.silhouettes));
        out["n_iter"] = r.n_iter;
        out["n_swaps"] = r.n_swaps;
        return out;
    });
}

}  // namespace

void bind_silhouette(py::module_& m) {
    m.def("silhouette_samples", &silhouette_samples, py::arg("X"), py::arg("labels"), py::kw_only(), py::arg("metric"),
          py::arg("sample_weight"), py::arg("n_threads"),
          "The silhouette of every sample (float64), from features or a precomputed matrix; labels in [0, k).");
    m.def("medoid_silhouette", &medoid_silhouette, py::arg("X"), py::arg("medoids"), py::kw_only(), py::arg("metric"),
          py::arg("n_threads"), "The medoid silhouette of every sample (float64) for the given medoids.");
    m.def("msc_kmedoids", &msc_kmedoids_binding, py::arg("X"), py::kw_only(), py::arg("method"), py::arg("metric"),
          py::arg("precompute"), py::arg("init"), py::arg("n_clusters"), py::arg("initial_medoids"),
          py::arg("max_iter"), py::arg("seed"), py::arg("n_threads"),
          "k-medoids maximising the medoid silhouette (fastermsc, fastmsc, pammedsil) or the silhouette (pamsil); "
          "metric may be 'precomputed'.");
    m.def("dynmsc", &dynmsc_binding, py::arg("X"), py::kw_only(), py::arg("metric"), py::arg("precompute"),
          py::arg("init"), py::arg("max_clusters"), py::arg("min_clusters"), py::arg("initial_medoids"),
          py::arg("max_iter"), py::arg("seed"), py::arg("n_threads"),
          "DynMSC: FasterMSC for k = max_clusters down to min_clusters, keeping the best medoid silhouette.");
}

}  // namespace vecclust_bindings
