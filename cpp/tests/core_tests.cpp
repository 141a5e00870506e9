// Brute-force checks of each area's core (distances, k-medoids, k-means, Gaussian mixtures, the
// multi-tenant index) with no Python, so that the core can be built and checked for any target
// (cross-compiled and run under an emulator) and with the portable kernels forced. On x86-64
// every check also runs at each instruction-set level, whose results must be bit-identical.
// Exits with status 1 if any check fails.
#include <algorithm>  // std::sort, std::min
#include <cmath>      // std::sqrt, std::log, std::fabs
#include <cstdint>    // std::int64_t, std::uint64_t
#include <cstdio>     // std::printf
#include <cstring>    // std::memcmp
#include <limits>     // std::numeric_limits
#include <numeric>    // std::iota
#include <string>     // std::string
#include <utility>    // std::pair
#include <vector>     // std::vector

#include "vecclust/base/random.hpp"
#include "vecclust/cpu/isa.hpp"
#include "vecclust/index/multitenant_index.hpp"
#include "vecclust/kmeans/kmeans.hpp"
#include "vecclust/kmedoids/distance.hpp"
#include "vecclust/kmedoids/kmedoids.hpp"
#include "vecclust/mixture/gmm.hpp"

using namespace vecclust;

namespace {

int g_checks = 0, g_failures = 0;

void check(bool ok, const std::string& what) {
    ++g_checks;
    if (!ok) {
        ++g_failures;
        std::printf("FAILED: %s\n", what.c_str());
    }
}

bool close(double a, double b, double rtol) { return std::fabs(a - b) <= rtol * std::max({1.0, std::fabs(a), std::fabs(b)}); }

// n points of d features, point i around centre i mod `centers` (uniform in the box [-center_box, center_box]^d), with
// standard deviation sigma.
template <class T>
std::vector<T> blobs(index_t n, index_t d, index_t centers, double center_box, double sigma, std::uint64_t seed,
                     std::vector<index_t>* labels = nullptr) {
    Rng rng(seed);
    std::vector<double> c(static_cast<size_t>(centers * d));
    for (auto& v : c) v = center_box * (2.0 * rng.uniform() - 1.0);
    std::vector<T> x(static_cast<size_t>(n * d));
    if (labels) labels->resize(static_cast<size_t>(n));
    for (index_t i = 0; i < n; ++i) {
        const index_t label = i % centers;
        if (labels) (*labels)[static_cast<size_t>(i)] = label;
        for (index_t j = 0; j < d; ++j) {
            const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();  // Box-Muller
            const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
            x[static_cast<size_t>(i * d + j)] = static_cast<T>(c[static_cast<size_t>(label * d + j)] + sigma * z);
        }
    }
    return x;
}

template <class T>
double squared(const T* a, const T* b, index_t d) {
    double s = 0.0;
    for (index_t j = 0; j < d; ++j) s += (static_cast<double>(a[j]) - b[j]) * (static_cast<double>(a[j]) - b[j]);
    return s;
}

template <class T>
const char* type_name() {
    return sizeof(T) == 4 ? "float" : "double";
}

// ------------------------------------------------------------------ distances

template <class T>
std::vector<T> distance_matrix(const std::vector<T>& x, index_t n, index_t d, Metric metric) {
    Control control(2);
    ThreadPool pool(control);
    FeatureSource<T> source(x.data(), n, d, metric);
    std::vector<T> out(static_cast<size_t>(n * n));
    full_matrix(source, out.data(), pool);
    return out;
}

// The matrix of every metric against sums in feature order (the core's order, so exact for
// all but cosine, which normalises first).
template <class T>
std::vector<std::vector<T>> test_distances() {
    const index_t n = 150, d = 13;  // partial blocks and a vector tail
    const auto x = blobs<T>(n, d, 4, 5.0, 1.0, 1);
    std::vector<std::vector<T>> all;
    for (Metric metric : {Metric::euclidean, Metric::sqeuclidean, Metric::manhattan, Metric::cosine}) {
        const auto D = distance_matrix(x, n, d, metric);
        bool exact = true, symmetric = true, cosine_ok = true;
        for (index_t i = 0; i < n; ++i)
            for (index_t j = 0; j < n; ++j) {
                const T* a = x.data() + i * d;
                const T* b = x.data() + j * d;
                T expected = 0;
                if (metric == Metric::cosine) {
                    double dot = 0, na = 0, nb = 0;
                    for (index_t t = 0; t < d; ++t) dot += double(a[t]) * b[t], na += double(a[t]) * a[t], nb += double(b[t]) * b[t];
                    const double want = i == j ? 0.0 : 1.0 - dot / std::sqrt(na * nb);
                    cosine_ok &= std::fabs(D[static_cast<size_t>(i * n + j)] - want) <= (sizeof(T) == 4 ? 1e-5 : 1e-12);
                } else if (i != j) {
                    for (index_t t = 0; t < d; ++t) {
                        const T diff = a[t] - b[t];
                        expected += metric == Metric::manhattan ? std::fabs(diff) : diff * diff;
                    }
                    if (metric == Metric::euclidean) expected = std::sqrt(expected);
                }
                if (metric != Metric::cosine) exact &= D[static_cast<size_t>(i * n + j)] == expected;
                symmetric &= D[static_cast<size_t>(i * n + j)] == D[static_cast<size_t>(j * n + i)];
            }
        const std::string name = std::string("distances<") + type_name<T>() + "> metric " + std::to_string(static_cast<int>(metric));
        check(exact && cosine_ok, name + ": entries equal the sums in feature order");
        check(symmetric, name + ": the matrix is exactly symmetric");
        all.push_back(D);
    }
    return all;
}

// ------------------------------------------------------------------ k-medoids

template <class T>
double medoid_loss(const std::vector<T>& D, index_t n, const std::vector<index_t>& medoids) {
    double loss = 0.0;
    for (index_t o = 0; o < n; ++o) {
        T best = std::numeric_limits<T>::infinity();
        for (index_t m : medoids) best = std::min(best, D[static_cast<size_t>(o * n + m)]);
        loss += best;
    }
    return loss;
}

// The lowest loss over every k-subset of [0, n).
template <class T>
double best_loss(const std::vector<T>& D, index_t n, index_t k) {
    std::vector<index_t> pick(static_cast<size_t>(k));
    std::iota(pick.begin(), pick.end(), 0);
    double best = std::numeric_limits<double>::infinity();
    while (true) {
        best = std::min(best, medoid_loss(D, n, pick));
        index_t i = k - 1;
        while (i >= 0 && pick[static_cast<size_t>(i)] == n - k + i) --i;
        if (i < 0) return best;
        ++pick[static_cast<size_t>(i)];
        for (index_t j = i + 1; j < k; ++j) pick[static_cast<size_t>(j)] = pick[static_cast<size_t>(j - 1)] + 1;
    }
}

template <class T>
std::vector<index_t> test_kmedoids() {
    const index_t n = 40, d = 3, k = 3;
    const double rtol = sizeof(T) == 4 ? 1e-5 : 1e-12;
    std::vector<index_t> all_medoids;
    // Spread blobs: a local optimum need not be the global one, but no swap may improve it.
    // Separated blobs: every method must reach the global optimum.
    for (double sigma : {3.0, 0.3}) {
        const auto x = blobs<T>(n, d, k, 10.0, sigma, 2);
        const auto D = distance_matrix(x, n, d, Metric::euclidean);
        const double optimum = best_loss(D, n, k);
        for (Method method : {Method::fasterpam, Method::fastpam1, Method::pam, Method::alternate}) {
            KMedoidsOptions options;
            options.method = method;
            options.init = method == Method::pam ? Init::build : Init::random;
            options.n_clusters = k;
            options.n_init = 3;
            options.seed = 7;
            Control control(2);
            const KMedoidsResult r = fit_kmedoids<T>(MatrixSource<T>(D.data(), n), nullptr, options, control);
            const std::string name = std::string("kmedoids<") + type_name<T>() + "> method " + std::to_string(static_cast<int>(method)) +
                                     " sigma " + std::to_string(sigma);
            check(static_cast<index_t>(r.medoids.size()) == k, name + ": k medoids");
            check(close(r.loss, medoid_loss(D, n, r.medoids), rtol), name + ": the loss is the sum of nearest distances");
            bool nearest = true;
            for (index_t o = 0; o < n; ++o) {
                const T own = D[static_cast<size_t>(o * n + r.medoids[static_cast<size_t>(r.labels[static_cast<size_t>(o)])])];
                for (index_t m : r.medoids) nearest &= own <= D[static_cast<size_t>(o * n + m)];
            }
            check(nearest, name + ": every label is a nearest medoid");
            check(r.loss >= optimum * (1 - rtol), name + ": no lower than the brute-force optimum");
            if (method != Method::alternate) {  // the swap methods stop at a swap-local optimum
                bool local = true;
                for (index_t slot = 0; slot < k; ++slot)
                    for (index_t x_new = 0; x_new < n; ++x_new) {
                        auto swapped = r.medoids;
                        if (std::find(swapped.begin(), swapped.end(), x_new) != swapped.end()) continue;
                        swapped[static_cast<size_t>(slot)] = x_new;
                        local &= medoid_loss(D, n, swapped) >= r.loss * (1 - rtol);
                    }
                check(local, name + ": no single swap lowers the loss");
            }
            if (sigma < 1.0) check(close(r.loss, optimum, rtol), name + ": the global optimum on separated blobs");
            all_medoids.insert(all_medoids.end(), r.medoids.begin(), r.medoids.end());
        }
    }
    return all_medoids;
}

// ------------------------------------------------------------------ k-means

template <class T>
std::vector<T> test_kmeans() {
    const index_t n = 600, d = 7, k = 5;
    const auto x = blobs<T>(n, d, k, 6.0, 1.5, 3);
    std::vector<T> init(x.begin(), x.begin() + k * d);
    std::vector<T> out;
    KMeansResult<T> first;
    for (KMeansAlgorithm algorithm : {KMeansAlgorithm::lloyd, KMeansAlgorithm::hamerly, KMeansAlgorithm::elkan}) {
        KMeansOptions options;
        options.algorithm = algorithm;
        Control control(2);
        ThreadPool pool(control);
        const KMeansResult<T> r = kmeans_fit<T>(x.data(), n, d, nullptr, init, k, options, pool);
        const std::string name = std::string("kmeans<") + type_name<T>() + "> algorithm " + std::to_string(static_cast<int>(algorithm));
        check(r.converged, name + ": converges");
        bool nearest = true, means = true;
        double inertia = 0.0;
        for (index_t i = 0; i < n; ++i) {
            const index_t own = r.labels[static_cast<size_t>(i)];
            const double own_distance = squared(x.data() + i * d, r.centers.data() + own * d, d);
            inertia += own_distance;
            for (index_t c = 0; c < k; ++c)
                nearest &= own_distance <= squared(x.data() + i * d, r.centers.data() + c * d, d) * (1 + 1e-5);
        }
        for (index_t c = 0; c < k; ++c) {
            std::vector<double> sum(static_cast<size_t>(d), 0.0);
            index_t count = 0;
            for (index_t i = 0; i < n; ++i)
                if (r.labels[static_cast<size_t>(i)] == c) {
                    ++count;
                    for (index_t j = 0; j < d; ++j) sum[static_cast<size_t>(j)] += x[static_cast<size_t>(i * d + j)];
                }
            for (index_t j = 0; j < d; ++j)
                means &= count > 0 && close(r.centers[static_cast<size_t>(c * d + j)], sum[static_cast<size_t>(j)] / count, 1e-5);
        }
        check(nearest, name + ": every label is a nearest centre");
        check(means, name + ": every centre is the mean of its points");
        check(close(r.inertia, inertia, 1e-5), name + ": the inertia is the sum of squared distances");
        if (algorithm == KMeansAlgorithm::lloyd) {
            first = r;
        } else {
            check(r.labels == first.labels && r.centers == first.centers && r.n_iter == first.n_iter,
                  name + ": bit-identical to lloyd");
        }
        out.insert(out.end(), r.centers.begin(), r.centers.end());
    }
    return out;
}

// ------------------------------------------------------------------ Gaussian mixtures

// log N(x | mean, cov) by a plain Cholesky factorisation of cov.
double log_density(const double* x, const double* mean, const double* cov, index_t d) {
    std::vector<double> L(static_cast<size_t>(d * d), 0.0);
    for (index_t i = 0; i < d; ++i)
        for (index_t j = 0; j <= i; ++j) {
            double s = cov[i * d + j];
            for (index_t t = 0; t < j; ++t) s -= L[static_cast<size_t>(i * d + t)] * L[static_cast<size_t>(j * d + t)];
            L[static_cast<size_t>(i * d + j)] = i == j ? std::sqrt(s) : s / L[static_cast<size_t>(j * d + j)];
        }
    std::vector<double> z(static_cast<size_t>(d));
    double maha = 0.0, log_det = 0.0;
    for (index_t i = 0; i < d; ++i) {
        double s = x[i] - mean[i];
        for (index_t t = 0; t < i; ++t) s -= L[static_cast<size_t>(i * d + t)] * z[static_cast<size_t>(t)];
        z[static_cast<size_t>(i)] = s / L[static_cast<size_t>(i * d + i)];
        maha += z[static_cast<size_t>(i)] * z[static_cast<size_t>(i)];
        log_det += 2.0 * std::log(L[static_cast<size_t>(i * d + i)]);
    }
    return -0.5 * (static_cast<double>(d) * std::log(2.0 * 3.141592653589793) + log_det + maha);
}

template <class T>
std::vector<double> test_gmm() {
    const index_t n = 900, d = 3, k = 3;
    const double reg = 1e-6, rtol = sizeof(T) == 4 ? 1e-4 : 1e-9;
    std::vector<index_t> labels;
    const auto x = blobs<T>(n, d, k, 5.0, 1.0, 4, &labels);
    Control control(2);
    ThreadPool pool(control);
    const std::string name = std::string("gmm<") + type_name<T>() + ">";

    // Parameters from labels against the per-cluster weights, means and covariances.
    gmm_detail::GivenResponsibilities given;
    given.labels = labels.data();
    const MixtureParams p = parameters_from_responsibilities<T>(x.data(), n, d, k, CovarianceType::full, given, reg, pool);
    bool params_ok = true;
    for (index_t c = 0; c < k; ++c) {
        std::vector<double> mean(static_cast<size_t>(d), 0.0), cov(static_cast<size_t>(d * d), 0.0);
        index_t count = 0;
        for (index_t i = 0; i < n; ++i)
            if (labels[static_cast<size_t>(i)] == c) {
                ++count;
                for (index_t j = 0; j < d; ++j) mean[static_cast<size_t>(j)] += x[static_cast<size_t>(i * d + j)];
            }
        for (auto& m : mean) m /= static_cast<double>(count);
        for (index_t i = 0; i < n; ++i)
            if (labels[static_cast<size_t>(i)] == c)
                for (index_t a = 0; a < d; ++a)
                    for (index_t b = 0; b < d; ++b)
                        cov[static_cast<size_t>(a * d + b)] += (x[static_cast<size_t>(i * d + a)] - mean[static_cast<size_t>(a)]) *
                                                              (x[static_cast<size_t>(i * d + b)] - mean[static_cast<size_t>(b)]);
        params_ok &= close(p.weights[static_cast<size_t>(c)], static_cast<double>(count) / n, 1e-12);
        for (index_t a = 0; a < d; ++a) {
            params_ok &= close(p.means[static_cast<size_t>(c * d + a)], mean[static_cast<size_t>(a)], rtol);
            for (index_t b = 0; b < d; ++b)
                params_ok &= close(p.covariances[static_cast<size_t>(c * d * d + a * d + b)],
                                   cov[static_cast<size_t>(a * d + b)] / count + (a == b ? reg : 0.0), rtol);
        }
    }
    check(params_ok, name + ": parameters from labels are the clusters' weights, means and covariances");

    // EM never lowers the likelihood, and the final log densities match a plain evaluation.
    EmOptions options;
    options.tol = 1e-10;
    options.max_iter = 60;
    options.reg_covar = reg;
    MixtureParams start = p;
    for (index_t j = 0; j < d; ++j) start.means[static_cast<size_t>(j)] += 1.0;  // somewhere to climb from
    compute_precisions_cholesky(start);
    const EmResult em = fit_em<T>(x.data(), n, start, options, pool);
    bool monotone = true;
    for (size_t i = 1; i < em.lower_bounds.size(); ++i) monotone &= em.lower_bounds[i] >= em.lower_bounds[i - 1] - 1e-9;
    check(monotone, name + ": EM never lowers the mean log-likelihood");
    double total = 0.0;
    for (double w : em.params.weights) total += w;
    check(close(total, 1.0, 1e-12), name + ": the weights sum to 1");

    std::vector<double> weighted(static_cast<size_t>(n * k)), norm(static_cast<size_t>(n));
    mixture_log_probabilities<T>(x.data(), n, em.params, weighted.data(), norm.data(), pool);
    bool densities = true;
    double mean_log_norm = 0.0;
    for (index_t i = 0; i < n; ++i) {
        std::vector<double> xi(x.begin() + i * d, x.begin() + (i + 1) * d);
        double peak = -std::numeric_limits<double>::infinity();
        std::vector<double> terms(static_cast<size_t>(k));
        for (index_t c = 0; c < k; ++c) {
            terms[static_cast<size_t>(c)] = std::log(em.params.weights[static_cast<size_t>(c)]) +
                                            log_density(xi.data(), em.params.means.data() + c * d,
                                                        em.params.covariances.data() + c * d * d, d);
            peak = std::max(peak, terms[static_cast<size_t>(c)]);
            densities &= close(weighted[static_cast<size_t>(i * k + c)], terms[static_cast<size_t>(c)], 1e-8);
        }
        double sum = 0.0;
        for (double t : terms) sum += std::exp(t - peak);
        densities &= close(norm[static_cast<size_t>(i)], peak + std::log(sum), 1e-8);
        mean_log_norm += norm[static_cast<size_t>(i)] / n;
    }
    check(densities, name + ": log densities equal a plain Cholesky evaluation");
    check(em.lower_bound <= mean_log_norm + 1e-6, name + ": the last E-step's bound is below the final likelihood");
    std::vector<double> out = em.params.means;
    out.insert(out.end(), weighted.begin(), weighted.end());
    return out;
}

// ------------------------------------------------------------------ the index

struct SearchOutput {
    std::vector<float> distances;
    std::vector<std::int64_t> ids;
    bool operator==(const SearchOutput& o) const {
        return ids == o.ids && distances.size() == o.distances.size() &&
               std::memcmp(distances.data(), o.distances.data(), distances.size() * sizeof(float)) == 0;
    }
};

SearchOutput search(const MultiTenantIndex& index, const std::vector<float>& q, index_t m, std::int64_t tenant, index_t k,
                    index_t budget) {
    SearchOutput out;
    out.distances.resize(static_cast<size_t>(m * k));
    out.ids.resize(static_cast<size_t>(m * k));
    Control control(2);
    index.search(q.data(), m, &tenant, 1, k, budget, /*exact=*/true, out.distances.data(), out.ids.data(), control);
    return out;
}

std::string test_index() {
    const index_t n = 3000, d = 24, m = 40, k = 10;
    const auto x = blobs<float>(n, d, 12, 4.0, 1.0, 5);
    const auto q = blobs<float>(m, d, 12, 4.0, 1.0, 6);
    IndexOptions options;
    options.dim = d;
    options.branching_factor = 8;
    options.split_threshold = 32;
    options.seed = 3;
    MultiTenantIndex index(options);
    Control control(2);
    index.train(x.data(), n, control);
    // Tenant t owns the rows i = t (mod 5); tenant 9 is granted every third row.
    std::vector<std::vector<std::int64_t>> visible(10);
    for (std::int64_t t = 0; t < 5; ++t) {
        std::vector<float> rows;
        std::vector<std::int64_t> ids;
        for (index_t i = t; i < n; i += 5) {
            rows.insert(rows.end(), x.begin() + i * d, x.begin() + (i + 1) * d);
            ids.push_back(1000 + i);
            visible[static_cast<size_t>(t)].push_back(i);
        }
        index.add(rows.data(), static_cast<index_t>(ids.size()), ids.data(), t, control);
    }
    std::vector<std::int64_t> shared;
    for (index_t i = 0; i < n; i += 3) shared.push_back(1000 + i), visible[9].push_back(i);
    index.grant(shared.data(), static_cast<index_t>(shared.size()), 9);
    bool invariants = true;
    try {
        index.check_invariants();
    } catch (const std::exception&) {
        invariants = false;
    }
    check(invariants, "index: invariants hold after add and grant");

    std::string digest;
    for (std::int64_t tenant : {2, 9}) {
        const auto& rows = visible[static_cast<size_t>(tenant)];
        const SearchOutput exact = search(index, q, m, tenant, k, n);  // budget >= the tenant's size
        bool same = true, distances = true;
        for (index_t i = 0; i < m; ++i) {
            std::vector<std::pair<double, std::int64_t>> all;
            for (index_t r : rows) all.push_back({squared(q.data() + i * d, x.data() + r * d, d), 1000 + r});
            std::sort(all.begin(), all.end());
            for (index_t j = 0; j < k; ++j) {
                same &= exact.ids[static_cast<size_t>(i * k + j)] == all[static_cast<size_t>(j)].second;
                distances &= close(exact.distances[static_cast<size_t>(i * k + j)], all[static_cast<size_t>(j)].first, 1e-4);
            }
        }
        const std::string name = "index: tenant " + std::to_string(tenant);
        check(same, name + ": a full budget gives the brute-force top k");
        check(distances, name + ": distances are the squared L2 distances");
        const SearchOutput small = search(index, q, m, tenant, k, 64);
        bool allowed = true;
        for (std::int64_t id : small.ids)
            allowed &= id == -1 || std::binary_search(rows.begin(), rows.end(), static_cast<index_t>(id - 1000));
        check(allowed, name + ": a small budget returns only the tenant's vectors");
        digest.append(reinterpret_cast<const char*>(exact.distances.data()), exact.distances.size() * sizeof(float));
        digest.append(reinterpret_cast<const char*>(small.distances.data()), small.distances.size() * sizeof(float));
    }

    // A saved and loaded index gives the same bits.
    StringSink sink;
    index.save(sink);
    MemorySource source(sink.out.data());
    const auto loaded = MultiTenantIndex::load(source, sink.out.size());
    check(search(*loaded, q, m, 9, k, 200) == search(index, q, m, 9, k, 200), "index: a loaded copy searches alike");
    StringSink again;
    loaded->save(again);
    check(again.out == sink.out, "index: a loaded copy saves the same bytes");
    return digest + sink.out;
}

// ------------------------------------------------------------------ every area, at one level

// Sign codes: the probable bound holds for all but a few of the pairs (kConfidence = 3 standard
// deviations: about 0.1% expected), is never far below the distance, and rotates without
// changing a vector's norm. Returns the bounds (for the bit-identity check across levels).
std::vector<double> test_sign_codes() {
    using mt_detail::SignQuantizer;
    const index_t n = 1000, d = 200;
    Rng rng(5);
    std::vector<float> x(static_cast<size_t>(n * d));
    for (float& v : x) v = static_cast<float>(rng.uniform() - 0.5);
    SignQuantizer codes;
    codes.fit(x.data(), n, d, 11);
    const size_t line = codes.line_bytes();
    check(line == 64, "sign codes: 200 dimensions take one cache line");
    std::vector<unsigned char> lines(static_cast<size_t>(n) * line);
    std::vector<const unsigned char*> pointers(static_cast<size_t>(n));
    for (index_t i = 0; i < n; ++i) {
        pointers[static_cast<size_t>(i)] = lines.data() + static_cast<size_t>(i) * line;
        codes.encode(x.data() + i * d, lines.data() + static_cast<size_t>(i) * line);
    }
    std::vector<double> all, bounds(static_cast<size_t>(n));
    mt_detail::SignQuery query;
    index_t above = 0, pairs = 0;
    double gap = 0.0;
    for (index_t qi = 0; qi < 20; ++qi) {
        const float* q = x.data() + (qi * 37 % n) * d;
        double norm2 = 0.0, offset2 = 0.0;
        for (index_t j = 0; j < d; ++j) norm2 += double(q[j]) * q[j], offset2 += std::pow(double(q[j]) - codes.centre()[size_t(j)], 2);
        codes.prepare(q, norm2, query);
        check(close(query.norm, std::sqrt(offset2), 1e-5), "sign codes: the rotation keeps norms");
        codes.l2_lower_bounds(pointers.data(), static_cast<size_t>(n), query, bounds.data());
        for (index_t i = 0; i < n; ++i) {
            double exact = 0.0;
            for (index_t j = 0; j < d; ++j) exact += std::pow(double(x[size_t(i * d + j)]) - q[j], 2);
            above += bounds[size_t(i)] > exact;
            gap += exact - bounds[size_t(i)];
            ++pairs;
        }
        all.insert(all.end(), bounds.begin(), bounds.end());
    }
    check(above * 200 <= pairs, "sign codes: the probable bound holds for 99.5% of pairs");
    check(gap / static_cast<double>(pairs) < 0.25 * 2.0 * d / 12.0, "sign codes: the bound is within a quarter of the mean distance");
    return all;
}

struct Results {
    std::vector<std::vector<float>> distances_f;
    std::vector<std::vector<double>> distances_d;
    std::vector<index_t> medoids_f, medoids_d;
    std::vector<float> kmeans_f;
    std::vector<double> kmeans_d, gmm_f, gmm_d;
    std::string index;
    std::vector<double> sign_codes;
    bool operator==(const Results& o) const {
        return distances_f == o.distances_f && distances_d == o.distances_d && medoids_f == o.medoids_f &&
               medoids_d == o.medoids_d && kmeans_f == o.kmeans_f && kmeans_d == o.kmeans_d && gmm_f == o.gmm_f &&
               gmm_d == o.gmm_d && index == o.index && sign_codes == o.sign_codes;
    }
};

Results run_all() {
    Results r;
    r.distances_f = test_distances<float>();
    r.distances_d = test_distances<double>();
    r.medoids_f = test_kmedoids<float>();
    r.medoids_d = test_kmedoids<double>();
    r.kmeans_f = test_kmeans<float>();
    r.kmeans_d = test_kmeans<double>();
    r.gmm_f = test_gmm<float>();
    r.gmm_d = test_gmm<double>();
    r.index = test_index();
    r.sign_codes = test_sign_codes();
    return r;
}

}  // namespace

int main() {
    static const char* const kNames[] = {"baseline", "avx2", "avx512"};
    const int best = static_cast<int>(isa::detected());
    std::printf("core tests: instruction sets up to %s\n", kNames[best]);
    Results baseline;
    for (int level = 0; level <= best; ++level) {
        isa::limit().store(level);
        const int before = g_failures;
        const Results results = run_all();
        std::printf("core tests at %s: %s\n", kNames[level], g_failures == before ? "passed" : "FAILED");
        if (level == 0) baseline = results;
        else check(results == baseline, std::string(kNames[level]) + " gives the same bits as baseline");
    }
    std::printf("core tests: %d checks, %d failed\n", g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}
