"""vecclust.KMeans: NumPy oracles, parity with scikit-learn's KMeans from the same initial
centres, Lloyd == Hamerly == Elkan, determinism, the Lloyd fixed point, the subsample mode, the
command line and bad input."""

import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from strategies import separated_blobs
from vecclust import KMeans, _core
from vecclust._cli import main as cli_main

ALGORITHMS = ["lloyd", "hamerly", "elkan"]
BOUNDED = ["hamerly", "elkan"]
DTYPES = [np.float64, np.float32]


# ---------------------------------------------------------------- oracles


def squared_distances(X, centers):
    """(n, k) squared Euclidean distances in float64."""
    diff = np.asarray(X, dtype=np.float64)[:, None, :] - np.asarray(centers, dtype=np.float64)[None, :, :]
    return (diff**2).sum(axis=-1)


def oracle_inertia(X, centers, labels, weights=None):
    sq = squared_distances(X, centers)[np.arange(len(X)), labels]
    return float(sq.sum() if weights is None else sq @ np.asarray(weights, dtype=np.float64))


def assert_identical(a, b):
    """Bit for bit, not approximately."""
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_
    assert a.n_iter_ == b.n_iter_


@pytest.fixture(scope="module")
def overlapping():
    """600 x 4 float64 points around 6 overlapping centres: runs take several iterations."""
    X, _ = make_blobs(600, n_features=4, centers=6, cluster_std=2.5, random_state=1)
    return X


# ---------------------------------------------------------------- Lloyd's descent


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_inertia_never_increases_across_iterations(algorithm, dtype, overlapping):
    X = overlapping.astype(dtype)
    init = X[:8].copy()  # a poor start: many iterations until convergence
    weights = np.random.default_rng(0).uniform(0.5, 2.0, size=len(X)).astype(dtype)
    inertias = []
    for max_iter in range(1, 16):
        km = KMeans(8, init=init, max_iter=max_iter, tol=0.0, algorithm=algorithm).fit(X, sample_weight=weights)
        assert km.inertia_ == pytest.approx(oracle_inertia(X, km.cluster_centers_, km.labels_, weights), rel=1e-5)
        inertias.append(km.inertia_)
    steps = np.diff(inertias)
    assert np.all(steps <= 1e-6 * np.abs(inertias[:-1])), inertias
    assert np.sum(steps < 0) >= 5  # it really descends for several iterations


# ---------------------------------------------------------------- parity with scikit-learn


def sklearn_fit(X, init, weights=None, algorithm="lloyd", **params):
    return SklearnKMeans(len(init), init=init, n_init=1, algorithm=algorithm, **params).fit(X, sample_weight=weights)


def assert_same_as_sklearn(ours, theirs):
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    rtol = 1e-5 if ours.cluster_centers_.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=rtol, atol=rtol)
    assert ours.cluster_centers_.dtype == theirs.cluster_centers_.dtype
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-6)
    assert ours.n_iter_ == theirs.n_iter_


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_same_as_sklearn_from_same_init(algorithm, dtype, weighted, overlapping):
    X = overlapping.astype(dtype)
    rng = np.random.default_rng(3)
    weights = rng.integers(0, 4, size=len(X)).astype(dtype) if weighted else None
    for seed in range(3):
        init = X[np.random.default_rng(seed).choice(len(X), 6, replace=False)]
        ours = KMeans(6, init=init, algorithm=algorithm).fit(X, sample_weight=weights)
        theirs = sklearn_fit(X, init, weights)
        assert ours.n_iter_ > 3
        assert_same_as_sklearn(ours, theirs)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_same_as_sklearn_with_an_empty_cluster(algorithm, dtype, weighted, overlapping):
    # A centre far from every point gets no point in the first assignment; both libraries
    # move it to the point farthest from its own centre.
    X = overlapping.astype(dtype)
    weights = np.random.default_rng(4).uniform(0.5, 3.0, size=len(X)).astype(dtype) if weighted else None
    init = X[[0, 100, 200, 300, 400]].copy()
    init[2] = 1000.0
    ours = KMeans(5, init=init, algorithm=algorithm, verbose=0).fit(X, sample_weight=weights)
    theirs = sklearn_fit(X, init, weights)
    assert_same_as_sklearn(ours, theirs)
    assert np.all(np.abs(ours.cluster_centers_) < 100)  # the far centre moved into the data
    assert np.bincount(ours.labels_, minlength=5).min() > 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_as_sklearn_with_tol_zero_and_max_iter(dtype, overlapping):
    X = overlapping.astype(dtype)
    init = X[:6].copy()
    for max_iter in (1, 2, 5):
        assert_same_as_sklearn(KMeans(6, init=init, tol=0.0, max_iter=max_iter).fit(X),
                               sklearn_fit(X, init, tol=0.0, max_iter=max_iter))


def test_sklearn_kmeans_plus_plus_inertia_comparable(overlapping):
    # Different generators, so not the same centres: only the quality is comparable.
    ours = np.median([KMeans(6, random_state=s).fit(overlapping).inertia_ for s in range(5)])
    theirs = np.median([SklearnKMeans(6, random_state=s).fit(overlapping).inertia_ for s in range(5)])
    assert ours <= theirs * 1.02


# ---------------------------------------------------------------- consistency


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", BOUNDED)
def test_bounded_variants_agree_with_lloyd(algorithm, dtype, weighted):
    X, _ = make_blobs(5000, n_features=8, centers=30, cluster_std=3.0, random_state=2)
    X = X.astype(dtype)
    weights = np.random.default_rng(5).uniform(0.0, 2.0, size=len(X)).astype(dtype) if weighted else None
    for seed in range(2):
        lloyd = KMeans(25, algorithm="lloyd", random_state=seed).fit(X, sample_weight=weights)
        bounded = KMeans(25, algorithm=algorithm, random_state=seed).fit(X, sample_weight=weights)
        assert lloyd.n_iter_ > 5
        assert_identical(lloyd, bounded)


def elkan_datasets():
    """Data on which Elkan's bounds are tested against Lloyd, from easy to hard."""
    rng = np.random.default_rng(8)
    diffuse, _ = make_blobs(4000, n_features=32, centers=40, cluster_std=8.0, random_state=3)
    wide, _ = make_blobs(1500, n_features=200, centers=10, cluster_std=4.0, random_state=4)
    return {
        # overlapping clusters: most points stay near the bound, many centres are candidates
        "diffuse": (diffuse.astype(np.float32), 60),
        # a large offset: float32 distances lose digits, so rounding matters
        "offset": ((diffuse[:2000] + 3e3).astype(np.float32), 30),
        # many features: the rounding slack grows with d
        "wide": (wide, 12),
        # a grid of integers: many exactly tied distances, decided by the first centre index
        "ties": (rng.integers(-3, 4, size=(3000, 3)).astype(np.float64), 20),
        # uniform noise in 2-d, k close to the number of grid points the noise looks like
        "uniform": (rng.uniform(size=(3000, 2)).astype(np.float32), 90),
    }


@pytest.mark.parametrize("name", ["diffuse", "offset", "wide", "ties", "uniform"])
def test_elkan_equals_lloyd_bit_for_bit(name):
    X, k = elkan_datasets()[name]
    weights = np.random.default_rng(9).integers(0, 3, size=len(X)).astype(X.dtype)
    for sample_weight, init in [(None, "k-means++"), (weights, "random")]:
        params = dict(init=init, n_init=1, tol=0.0, random_state=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # ties: duplicated centres are possible
            lloyd = KMeans(k, algorithm="lloyd", **params).fit(X, sample_weight=sample_weight)
            elkan = KMeans(k, algorithm="elkan", **params).fit(X, sample_weight=sample_weight)
        assert lloyd.n_iter_ > 3
        assert_identical(lloyd, elkan)
        assert elkan.inertia_ == pytest.approx(oracle_inertia(X, elkan.cluster_centers_, elkan.labels_, sample_weight),
                                               rel=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_elkan_equals_lloyd_with_empty_clusters(dtype, overlapping):
    # Several centres far from the data: empty in the first assignment, then relocated onto
    # the farthest points, which moves them a long way (their bounds must follow).
    X = overlapping.astype(dtype)
    init = X[[0, 100, 200, 300, 400, 500, 50]].copy()
    init[[2, 4, 5]] = np.array([1e3, -1e3, 5e2])[:, None]
    weights = np.random.default_rng(4).uniform(0.0, 3.0, size=len(X)).astype(dtype)
    for sample_weight in (None, weights):
        lloyd = KMeans(7, init=init, algorithm="lloyd", tol=0.0).fit(X, sample_weight=sample_weight)
        elkan = KMeans(7, init=init, algorithm="elkan", tol=0.0).fit(X, sample_weight=sample_weight)
        assert_identical(lloyd, elkan)
        assert np.bincount(elkan.labels_, minlength=7).min() > 0


@given(st.tuples(
    arrays(np.float64, st.tuples(st.integers(2, 60), st.integers(1, 3)), elements=st.integers(-5, 5).map(float)),
    st.integers(1, 8), st.booleans(), st.sampled_from(DTYPES), st.integers(0, 1000)))
def test_bounded_variants_equal_lloyd_on_small_integer_data(problem):
    # Small integer coordinates: duplicates, exact ties and empty clusters are common, and
    # every variant must decide them exactly as Lloyd does.
    X, k, weighted, dtype, seed = problem
    assume(k <= len(X))
    X = X.astype(dtype)
    weights = np.random.default_rng(seed).integers(0, 3, size=len(X)).astype(dtype) if weighted else None
    assume(weights is None or weights.any())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lloyd = KMeans(k, algorithm="lloyd", tol=0.0, random_state=seed).fit(X, sample_weight=weights)
        for algorithm in BOUNDED:
            assert_identical(lloyd, KMeans(k, algorithm=algorithm, tol=0.0, random_state=seed).fit(
                X, sample_weight=weights))


def test_float32_and_float64_agree_on_separated_data():
    X, y = separated_blobs(50, seed=2)
    init = X[[np.flatnonzero(y == c)[0] for c in range(4)]]
    wide = KMeans(4, init=init).fit(X)
    narrow = KMeans(4, init=init.astype(np.float32)).fit(X.astype(np.float32))
    assert narrow.cluster_centers_.dtype == np.float32 and wide.cluster_centers_.dtype == np.float64
    np.testing.assert_array_equal(narrow.labels_, wide.labels_)
    np.testing.assert_array_equal(wide.labels_, y)
    np.testing.assert_allclose(narrow.cluster_centers_, wide.cluster_centers_, rtol=1e-5)
    assert narrow.inertia_ == pytest.approx(wide.inertia_, rel=1e-5)
    assert narrow.n_iter_ == wide.n_iter_


@pytest.mark.parametrize("dtype", DTYPES)
def test_predict_transform_score_match_numpy(dtype, overlapping):
    X = overlapping.astype(dtype)
    km = KMeans(7, random_state=0).fit(X[:400])
    new = X[400:]
    sq = squared_distances(new, km.cluster_centers_)
    distances = km.transform(new)
    assert distances.dtype == dtype and distances.shape == (200, 7)
    np.testing.assert_allclose(distances, np.sqrt(sq), rtol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_array_equal(km.predict(new), sq.argmin(axis=1))
    weights = np.linspace(0.5, 2.0, 200)
    expected = -(sq.min(axis=1) @ weights)
    assert km.score(new, sample_weight=weights) == pytest.approx(expected, rel=1e-5)
    assert km.score(new) == pytest.approx(-sq.min(axis=1).sum(), rel=1e-5)
    # On the training data: the labels are the nearest centres and the inertia is -score.
    np.testing.assert_array_equal(km.predict(X[:400]), km.labels_)
    assert km.inertia_ == pytest.approx(-km.score(X[:400]), rel=1e-6)
    assert km.inertia_ == pytest.approx(oracle_inertia(X[:400], km.cluster_centers_, km.labels_), rel=1e-6)
    np.testing.assert_array_equal(KMeans(7, random_state=0).fit_predict(X[:400]), km.labels_)
    np.testing.assert_array_equal(KMeans(7, random_state=0).fit_transform(X[:400]), km.transform(X[:400]))


def test_float32_input_is_not_copied():
    X = np.random.default_rng(0).normal(size=(50_000, 16)).astype(np.float32)
    KMeans(10, random_state=0, max_iter=5).fit(X)  # warm-up: imports and caches
    tracemalloc.start()
    try:
        km = KMeans(10, random_state=0, max_iter=5).fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert km.cluster_centers_.dtype == np.float32
    assert peak < X.nbytes // 2  # a copy of X (or a float64 version of it) would be at least X.nbytes


# ---------------------------------------------------------------- determinism


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("params", [
    {"init": "k-means++"},
    {"init": "random", "n_init": 3},
    {"init": "k-means++", "max_fit_samples": 6000},
], ids=["k-means++", "random", "subsample"])
def test_same_result_for_any_thread_count(params, algorithm):
    X, _ = make_blobs(12_000, n_features=6, centers=20, cluster_std=2.0, random_state=7)
    X = X.astype(np.float32)
    weights = np.random.default_rng(1).uniform(0.1, 3.0, size=len(X)).astype(np.float32)

    def fit(n_threads):
        return KMeans(20, algorithm=algorithm, random_state=11, n_threads=n_threads, **params).fit(
            X, sample_weight=weights)

    one, two, all_cpus = fit(1), fit(2), fit(None)
    assert one.n_iter_ > 3
    assert_identical(one, two)
    assert_identical(one, all_cpus)


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_result_for_every_instruction_set(instruction_sets, dtype):
    # k = 45 and 100 pad to 48 and 112 centres: the wide kernels run full groups of centres and
    # a shorter last one. Every level must give the same bits, labels and iterations.
    X, _ = make_blobs(6000, n_features=19, centers=40, cluster_std=5.0, random_state=6)
    X = X.astype(dtype)
    new = X[:500] * 1.5

    def run(level):
        _core.set_isa_limit(level)
        assert _core.isa_level() == level
        fits = [KMeans(k, algorithm=algorithm, random_state=3, n_threads=1).fit(X) for k in (45, 100)
                for algorithm in ALGORITHMS]
        sq_distances = _core.nearest_centers(new, fits[0].cluster_centers_, n_threads=1)["sq_distances"]
        return fits, [fit.predict(new) for fit in fits], sq_distances

    reference, labels, sq_distances = run(instruction_sets[0])
    assert reference[0].n_iter_ > 5
    for level in instruction_sets[1:]:
        fits, other_labels, other_sq = run(level)
        for a, b in zip(reference, fits):
            assert_identical(a, b)
        for a, b in zip(labels, other_labels):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(sq_distances, other_sq)


def test_unknown_instruction_set():
    with pytest.raises(ValueError, match="unknown instruction set 'sse9'"):
        _core.set_isa_limit("sse9")


def test_elkan_same_result_for_any_thread_count():
    # Diffuse data with many centres: points take every path of Elkan's pass (kept by the
    # bounds, a few distances computed, a full scan).
    X, _ = make_blobs(20_000, n_features=16, centers=60, cluster_std=6.0, random_state=5)
    X = X.astype(np.float32)
    fits = [KMeans(60, algorithm="elkan", random_state=2, n_threads=t).fit(X) for t in (1, 2, 3)]
    assert fits[0].n_iter_ > 10
    for other in fits[1:]:
        assert_identical(fits[0], other)
    assert_identical(fits[0], KMeans(60, algorithm="lloyd", random_state=2, n_threads=1).fit(X))


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_fixed_random_state_is_reproducible(init, overlapping):
    first = KMeans(6, init=init, random_state=42).fit(overlapping)
    assert_identical(first, KMeans(6, init=init, random_state=42).fit(overlapping))
    assert_identical(first, KMeans(6, init=init, random_state=np.random.RandomState(42)).fit(overlapping))
    others = [KMeans(6, init=init, random_state=seed).fit(overlapping).cluster_centers_ for seed in range(3)]
    assert any(not np.array_equal(first.cluster_centers_, other) for other in others)


def test_n_init_keeps_the_lowest_inertia(overlapping):
    best = KMeans(6, init="random", n_init=8, random_state=0).fit(overlapping)
    singles = []
    rng = np.random.default_rng(0)
    for _ in range(8):
        singles.append(KMeans(6, init="random", n_init=1, random_state=int(rng.integers(1 << 30))).fit(overlapping))
    # More restarts never do worse than the worst single run, and here beat the median one.
    assert best.inertia_ <= max(s.inertia_ for s in singles)
    assert best.inertia_ <= np.median([s.inertia_ for s in singles])


def test_random_init_draws_only_positive_weight_samples():
    X = np.arange(40, dtype=np.float64).reshape(20, 2)
    weights = np.zeros(20)
    weights[[3, 7, 11]] = 1.0
    km = KMeans(3, init="random", n_init=1, max_iter=1, tol=0.0, random_state=0).fit(X, sample_weight=weights)
    # From centres at the three weighted points, every weighted point keeps its own centre.
    assert sorted(km.cluster_centers_[:, 0].tolist()) == [6.0, 14.0, 22.0]


# ---------------------------------------------------------------- the Lloyd fixed point


@st.composite
def clustering_problems(draw):
    n = draw(st.integers(2, 40))
    d = draw(st.integers(1, 3))
    # Small integer coordinates: duplicates, ties and empty clusters are common.
    X = draw(arrays(np.float64, (n, d), elements=st.integers(-6, 6).map(float)))
    k = draw(st.integers(1, min(n, 6)))
    weights = None
    if draw(st.booleans()):
        weights = draw(arrays(np.float64, n, elements=st.integers(0, 3).map(float)))
        assume(weights.any())
    return X, k, weights, draw(st.sampled_from(ALGORITHMS)), draw(st.integers(0, 1000))


@given(clustering_problems())
def test_converged_result_is_a_lloyd_fixed_point(problem):
    X, k, weights, algorithm, seed = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # duplicates may leave fewer than k clusters
        km = KMeans(k, tol=0.0, algorithm=algorithm, random_state=seed).fit(X, sample_weight=weights)
    assume(km.n_iter_ < km.max_iter)  # converged
    w = np.ones(len(X)) if weights is None else weights
    sq = squared_distances(X, km.cluster_centers_)
    own = sq[np.arange(len(X)), km.labels_]
    # Every point's label is a nearest centre ...
    assert np.all(own <= sq.min(axis=1) * (1 + 1e-12) + 1e-12)
    # ... and every cluster with weight is centred on its weighted mean.
    for c in range(k):
        members = km.labels_ == c
        if w[members].sum() > 0:
            mean = (w[members, None] * X[members]).sum(axis=0) / w[members].sum()
            np.testing.assert_allclose(km.cluster_centers_[c], mean, rtol=1e-12, atol=1e-12)
    assert km.inertia_ == pytest.approx(float(own @ w), rel=1e-12, abs=1e-12)



# ---------------------------------------------------------------- fitting on a subsample


def test_max_fit_samples_assigns_all_points():
    X, y = make_blobs(20_000, n_features=5, centers=8, cluster_std=0.5, random_state=3)
    X = X.astype(np.float32)
    weights = np.random.default_rng(2).uniform(0.5, 1.5, size=len(X)).astype(np.float32)
    km = KMeans(8, max_fit_samples=2000, random_state=0).fit(X, sample_weight=weights)
    sq = squared_distances(X, km.cluster_centers_)
    np.testing.assert_array_equal(km.labels_, sq.argmin(axis=1))
    assert km.labels_.shape == (20_000,)
    assert km.inertia_ == pytest.approx(sq.min(axis=1) @ weights.astype(np.float64), rel=1e-5)
    full = KMeans(8, random_state=0).fit(X, sample_weight=weights)
    assert km.inertia_ <= full.inertia_ * 1.01  # well-separated clusters: the subsample finds them
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(y, km.labels_) == 1.0
    # A different random_state draws another subsample.
    other = KMeans(8, max_fit_samples=2000, random_state=1).fit(X, sample_weight=weights)
    assert not np.array_equal(other.cluster_centers_, km.cluster_centers_)


def test_max_fit_samples_at_least_n_is_the_full_fit(overlapping):
    full = KMeans(6, random_state=3).fit(overlapping)
    assert_identical(full, KMeans(6, random_state=3, max_fit_samples=len(overlapping)).fit(overlapping))
    assert_identical(full, KMeans(6, random_state=3, max_fit_samples=10 * len(overlapping)).fit(overlapping))


# ---------------------------------------------------------------- command line


def test_cli_kmeans(tmp_path, capsys):
    X, y = separated_blobs(40, seed=1, dtype=np.float32)
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "labels.npy"
    assert cli_main(["cluster", str(tmp_path / "X.npy"), "-k", "4", "--method", "kmeans", "--seed", "3",
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    labels = np.load(out)
    expected = KMeans(4, random_state=3).fit(X)
    np.testing.assert_array_equal(labels, expected.labels_)
    assert f"inertia={expected.inertia_:.6g}" in printed and "kmeans" in printed
    # Initial centres given as sample indices, and the subsample mode.
    first = [int(np.flatnonzero(y == c)[0]) for c in range(4)]
    assert cli_main(["cluster", str(tmp_path / "X.npy"), "-k", "4", "--method", "kmeans", "--init",
                     ",".join(map(str, first)), "--max-fit-samples", "100", "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out), y)


@pytest.mark.parametrize("extra, message", [
    (["--metric", "manhattan"], "euclidean"),
    (["--init", "build"], "init"),
    (["--max-fit-samples", "2"], "max_fit_samples"),
])
def test_cli_kmeans_errors(tmp_path, capsys, extra, message):
    np.save(tmp_path / "X.npy", np.random.default_rng(0).normal(size=(30, 2)))
    code = cli_main(["cluster", str(tmp_path / "X.npy"), "-k", "3", "--method", "kmeans",
                     "--out", str(tmp_path / "l.npy"), *extra])
    assert code == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------- bad input


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(30, 3))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_data(bad, X):
    fitted = KMeans(3, random_state=0).fit(X)
    X[4, 1] = bad
    for call in (KMeans(3).fit, fitted.predict, fitted.transform, fitted.score):
        with pytest.raises(ValueError, match="NaN|infinity"):
            call(X)
    init = X[:3].copy()
    init[0, 0] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        KMeans(3, init=init).fit(np.random.default_rng(1).normal(size=(30, 3)))


@pytest.mark.parametrize("data, message", [
    (np.zeros((0, 3)), "0 sample"),
    (np.zeros((5, 0)), "0 feature"),
    (np.zeros(5), "2D array"),
    (np.array([["a", "b"], ["c", "d"]]), "convert|numeric|float"),
])
def test_bad_data_shape_or_type(data, message):
    with pytest.raises(ValueError, match=message):
        KMeans(1).fit(data)


@pytest.mark.parametrize("params, error, message", [
    ({"n_clusters": 0}, ValueError, "n_clusters"),
    ({"n_clusters": 31}, ValueError, "n_clusters=31"),
    ({"n_clusters": 2.5}, TypeError, "n_clusters"),
    ({"n_clusters": True}, TypeError, "n_clusters"),
    ({"init": "build"}, ValueError, "init"),
    ({"init": None}, TypeError, "init"),
    ({"init": 3}, TypeError, "init"),
    ({"init": np.zeros((4, 3))}, ValueError, "number of clusters"),
    ({"init": np.zeros((3, 2))}, ValueError, "number of features"),
    ({"init": np.zeros(9)}, ValueError, "2D array"),
    ({"n_init": 0}, ValueError, "n_init"),
    ({"n_init": "many"}, ValueError, "n_init"),
    ({"n_init": 1.5}, TypeError, "n_init"),
    ({"max_iter": 0}, ValueError, "max_iter"),
    ({"tol": -1e-3}, ValueError, "tol"),
    ({"tol": float("nan")}, ValueError, "tol"),
    ({"tol": "small"}, TypeError, "tol"),
    ({"algorithm": "full"}, ValueError, "algorithm"),
    ({"max_fit_samples": 0}, ValueError, "max_fit_samples"),
    ({"max_fit_samples": 2}, ValueError, "max_fit_samples=2 must be >= n_clusters=3"),
    ({"max_fit_samples": 10.0}, TypeError, "max_fit_samples"),
    ({"n_threads": 0}, ValueError, "n_threads"),
    ({"n_threads": "two"}, TypeError, "n_threads"),
    ({"verbose": "yes"}, TypeError, "verbose"),
])
def test_bad_parameters(params, error, message, X):
    params = {"n_clusters": 3, **params}
    with pytest.raises(error, match=message):
        KMeans(**params).fit(X)


def test_core_takes_exactly_the_algorithm_names(X):
    """The estimator's choice list is the one the C++ parser accepts; arguments after the data are
    keyword-only."""
    from vecclust._kmeans.estimator import ALGORITHMS as NAMES

    options = {"sample_weight": None, "max_iter": 5, "tol": 0.0, "n_threads": 1}
    results = [_core.kmeans(X, X[:3].copy(), algorithm=name, **options) for name in NAMES]
    for result in results[1:]:
        np.testing.assert_array_equal(result["centers"], results[0]["centers"])
    with pytest.raises(ValueError, match="unknown k-means algorithm 'full'"):
        _core.kmeans(X, X[:3].copy(), algorithm="full", **options)
    with pytest.raises(TypeError):
        _core.kmeans(X, X[:3].copy(), None, 5, 0.0, "lloyd", 1)


@pytest.mark.parametrize("weights, message", [
    (-np.ones(30), "non-negative"),
    (np.zeros(30), "all zero"),
    (np.ones(29), "shape"),
    (np.full(30, np.nan), "NaN"),
])
def test_bad_sample_weight(weights, message, X):
    with pytest.raises(ValueError, match=message):
        KMeans(3).fit(X, sample_weight=weights)


def test_random_init_needs_enough_positive_weights(X):
    weights = np.zeros(30)
    weights[:2] = 1.0
    with pytest.raises(ValueError, match="only 2 samples have a positive weight"):
        KMeans(3, init="random").fit(X, sample_weight=weights)


def test_subsample_with_zero_weights_only(X):
    weights = np.zeros(30)
    weights[0] = 1.0
    km = KMeans(1, max_fit_samples=5, random_state=0)
    with pytest.raises(ValueError, match="weight zero|increase max_fit_samples"):
        for seed in range(50):  # some subsample of 5 misses the one weighted point
            km.set_params(random_state=seed).fit(X, sample_weight=weights)


def test_init_array_with_n_init_warns_and_runs_once(X):
    with pytest.warns(RuntimeWarning, match="only one init"):
        km = KMeans(3, init=X[:3], n_init=4).fit(X)
    assert_identical(km, KMeans(3, init=X[:3]).fit(X))


def test_predict_before_fit_and_wrong_width(X):
    with pytest.raises(NotFittedError):
        KMeans(3).predict(X)
    km = KMeans(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        km.predict(X[:, :2])
    with pytest.raises(ValueError, match="features"):
        km.transform(np.zeros((2, 4)))


def test_fewer_distinct_points_than_clusters_warns():
    X = np.repeat([[0.0, 0.0], [1.0, 1.0]], 5, axis=0)
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        km = KMeans(3, random_state=0).fit(X)
    assert np.isfinite(km.cluster_centers_).all() and km.inertia_ == 0.0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_integer_weights_equal_repeated_points(algorithm, overlapping):
    weights = np.random.default_rng(6).integers(0, 4, size=len(overlapping))
    init = overlapping[[1, 2, 3, 4, 5, 6]]
    weighted = KMeans(6, init=init, tol=0.0, algorithm=algorithm).fit(overlapping, sample_weight=weights)
    repeated = KMeans(6, init=init, tol=0.0, algorithm=algorithm).fit(np.repeat(overlapping, weights, axis=0))
    np.testing.assert_array_equal(np.repeat(weighted.labels_, weights), repeated.labels_)
    np.testing.assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_, rtol=1e-12)
    assert weighted.inertia_ == pytest.approx(repeated.inertia_, rel=1e-12)
    assert weighted.n_iter_ == repeated.n_iter_ > 3
