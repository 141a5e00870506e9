"""The refinement of sampled medoids on all points (CLARA(refine=True)) against brute-force
NumPy oracles.

A refinement step moves every medoid to the member of its cluster with the least total
distance to the cluster and is kept only if the loss over all points drops, so: the loss never
rises; from a swap-local optimum no step can be kept (a better member would be an improving
swap); the result does not depend on the thread count; and refine=False is plain CLARA, pinned
here to the results CLARA gave before refinement existed.
"""

import zlib

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import reference as ref
from strategies import integer_matrices
from sklearn.metrics import adjusted_rand_score

from vecclust import CLARA, CLARANS, KMedoids, _core

METRICS = ["euclidean", "sqeuclidean", "manhattan", "cosine"]


def numpy_distances(X, metric):
    """All pairwise distances of the rows of X in float64, written out in NumPy."""
    X = np.asarray(X, dtype=np.float64)
    if metric == "cosine":
        unit = X / np.linalg.norm(X, axis=1, keepdims=True)
        return np.maximum(1.0 - unit @ unit.T, 0.0)
    diff = X[:, None, :] - X[None, :, :]
    if metric == "manhattan":
        return np.abs(diff).sum(axis=-1)
    squared = (diff**2).sum(axis=-1)
    return squared if metric == "sqeuclidean" else np.sqrt(squared)


def assert_history(refined, plain):
    """The refinement starts at plain CLARA's result and every kept step lowers the loss."""
    np.testing.assert_array_equal(refined.sample_losses_, plain.sample_losses_)
    assert refined.best_sample_ == plain.best_sample_
    steps = np.concatenate([[plain.inertia_], refined.refine_losses_])
    assert np.all(np.diff(steps) < 0), steps
    assert refined.inertia_ == steps[-1] <= plain.inertia_
    assert plain.refine_losses_.size == 0


def fit_both(data, weights=None, **params):
    plain = CLARA(refine=False, **params).fit(data, sample_weight=weights)
    refined = CLARA(refine=True, **params).fit(data, sample_weight=weights)
    return plain, refined


# ---------------------------------------------------------------- the loss never rises


@st.composite
def feature_problems(draw):
    """(X, weights, CLARA parameters): small continuous data in general position."""
    n = draw(st.integers(8, 70))
    dim = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.normal(size=(n, dim)) + rng.integers(0, 3, size=(n, 1)) * draw(st.sampled_from([0.0, 1.0, 4.0]))
    weights = rng.uniform(0.2, 3.0, size=n) if draw(st.booleans()) else None
    k = draw(st.integers(1, min(6, n - 1)))
    params = dict(n_clusters=k, metric=draw(st.sampled_from(METRICS)), n_sampling=draw(st.integers(k + 1, n)),
                  n_sampling_iter=draw(st.integers(1, 3)), random_state=draw(st.integers(0, 2**31 - 1)), n_threads=1)
    return X, weights, params


@given(problem=feature_problems())
def test_refinement_never_raises_the_loss_on_features(problem):
    X, weights, params = problem
    plain, refined = fit_both(X, weights, **params)
    assert_history(refined, plain)
    medoids = refined.medoid_indices_
    assert np.unique(medoids).size == params["n_clusters"]
    # the loss over all points, recomputed in NumPy, for both results
    diss = numpy_distances(X, params["metric"])
    loss = ref.total_deviation(diss, medoids, weights)
    assert refined.inertia_ == pytest.approx(loss, rel=1e-9, abs=1e-12)
    assert loss <= ref.total_deviation(diss, plain.medoid_indices_, weights) * (1 + 1e-9) + 1e-12
    # labels: the nearest medoid, by the core's own distances (no rounding-level disagreements)
    core = _core.pairwise_distances(X, X, metric=params["metric"], n_threads=1)
    np.fill_diagonal(core, 0.0)
    assert ref.labels_are_nearest(core, medoids, refined.labels_)


@given(data=st.data())
def test_refinement_never_raises_the_loss_on_integer_matrices(data):
    diss = data.draw(integer_matrices(min_n=3, max_n=30))
    n = len(diss)
    k = data.draw(st.integers(1, min(n - 1, 5)))
    weights = data.draw(st.one_of(st.none(), st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    if weights is not None:
        weights = np.array(weights, dtype=np.float64)
        assume(weights.any())
    params = dict(n_clusters=k, metric="precomputed", n_sampling=data.draw(st.integers(k + 1, n)),
                  n_sampling_iter=data.draw(st.integers(1, 3)), random_state=data.draw(st.integers(0, 2**31 - 1)))
    plain, refined = fit_both(diss, weights, **params)
    assert_history(refined, plain)
    # integer distances and weights: every loss is exact
    assert refined.inertia_ == ref.total_deviation(diss, refined.medoid_indices_, weights)
    assert ref.labels_are_nearest(diss, refined.medoid_indices_, refined.labels_, weights)


def test_refinement_improves_a_small_sample():
    # 4 sampled points per cluster: the sampled medoids are rarely the clusters' exact medoids
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 5)) + rng.integers(0, 10, size=(2000, 1)) * 3.0
    plain, refined = fit_both(X, n_clusters=10, n_sampling=40, random_state=0)
    assert_history(refined, plain)
    assert refined.refine_losses_.size >= 1
    assert refined.inertia_ < 0.99 * plain.inertia_


# ---------------------------------------------------------------- from a swap-local optimum


def full_fasterpam_then_refine(data, k, seed, weights=None, metric="precomputed"):
    """KMedoids (FasterPAM on all points) and CLARA with one sample of all points, which is the
    same run, followed by the refinement."""
    km = KMedoids(k, metric=metric, random_state=seed).fit(data, sample_weight=weights)
    clara = CLARA(k, metric=metric, n_sampling=len(data), n_sampling_iter=1, random_state=seed).fit(
        data, sample_weight=weights)
    return km, clara


@given(data=st.data())
def test_a_step_from_a_swap_local_optimum_changes_nothing(data):
    diss = data.draw(integer_matrices(min_n=3, max_n=30))
    k = data.draw(st.integers(1, min(len(diss) - 1, 5)))
    seed = data.draw(st.integers(0, 2**31 - 1))
    km, clara = full_fasterpam_then_refine(diss, k, seed)
    assume(ref.is_swap_local_optimum(diss, km.medoid_indices_, rtol=0.0))  # FasterPAM converged
    assert clara.refine_losses_.size == 0
    np.testing.assert_array_equal(clara.medoid_indices_, km.medoid_indices_)
    assert ref.labels_are_nearest(diss, clara.medoid_indices_, clara.labels_)  # ties may be labelled either way
    assert clara.inertia_ == km.inertia_


@pytest.mark.parametrize("metric", ["manhattan", "sqeuclidean"])
@pytest.mark.parametrize("seed", range(3))
def test_a_step_from_a_swap_local_optimum_changes_nothing_on_features(metric, seed):
    # small integer coordinates: manhattan and squared euclidean distances are exact integers
    rng = np.random.default_rng(seed)
    X = (rng.integers(0, 30, size=(150, 3)) + rng.integers(0, 3, size=(150, 1)) * 40).astype(np.float64)
    weights = rng.integers(1, 4, size=150).astype(np.float64)
    km, clara = full_fasterpam_then_refine(X, 5, seed, weights, metric)
    diss = numpy_distances(X, metric)
    assert ref.is_swap_local_optimum(diss, km.medoid_indices_, weights, rtol=0.0)
    assert clara.refine_losses_.size == 0
    np.testing.assert_array_equal(clara.medoid_indices_, km.medoid_indices_)
    assert clara.inertia_ == km.inertia_ == ref.total_deviation(diss, km.medoid_indices_, weights)


# ---------------------------------------------------------------- threads


def assert_identical(a, b):
    np.testing.assert_array_equal(a.medoid_indices_, b.medoid_indices_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_
    np.testing.assert_array_equal(a.refine_losses_, b.refine_losses_)
    np.testing.assert_array_equal(a.sample_losses_, b.sample_losses_)


def assert_same_for_1_2_3_threads(fit):
    fits = [fit(t) for t in (1, 2, 3)]
    assert fits[0].refine_losses_.size >= 1
    for other in fits[1:]:
        assert_identical(fits[0], other)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_bit_identical_for_any_thread_count(dtype, metric):
    # two clusters of 4500: candidates and members are then seeded samples of each cluster
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(9000, 3)) + rng.integers(0, 2, size=(9000, 1)) * 4.0 + 1.0).astype(dtype)
    weights = rng.uniform(0.5, 2.0, size=9000).astype(dtype)
    assert_same_for_1_2_3_threads(lambda t: CLARA(2, metric=metric, n_sampling=30, random_state=5, n_threads=t).fit(
        X, sample_weight=weights))


def test_bit_identical_for_any_thread_count_on_a_matrix():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1500, 2)) + rng.integers(0, 3, size=(1500, 1)) * 3.0
    diss = _core.pairwise_distances(X, X, metric="euclidean", n_threads=1)
    np.fill_diagonal(diss, 0.0)
    assert_same_for_1_2_3_threads(lambda t: CLARA(3, metric="precomputed", n_sampling=20, random_state=6,
                                                  n_threads=t).fit(diss))


# ---------------------------------------------------------------- refine=False is plain CLARA


def pinned_cases():
    """The inputs of the results below (recorded with CLARA as it was before `refine`)."""
    rng = np.random.default_rng(20)
    X = rng.normal(size=(500, 4)) + rng.integers(0, 4, size=(500, 1)) * 2.0
    w = rng.uniform(0.5, 2.0, size=500)
    D = np.sqrt(((X[:200, None, :] - X[None, :200, :]) ** 2).sum(-1))
    D = (D + D.T) / 2
    return {
        "euclidean-f64": (X, None, dict(n_clusters=6, n_sampling=60, random_state=1)),
        "manhattan-f32-weighted": (X.astype(np.float32), w.astype(np.float32),
                                   dict(n_clusters=5, metric="manhattan", n_sampling=50, random_state=2)),
        "cosine-f64-build": (X + 1.0, None, dict(n_clusters=4, metric="cosine", init="build", n_sampling_iter=3,
                                                 random_state=3)),
        "sqeuclidean-f32-default": (X.astype(np.float32), None, dict(n_clusters=8, metric="sqeuclidean",
                                                                      random_state=4)),
        "precomputed-f64": (D, None, dict(n_clusters=5, metric="precomputed", n_sampling=40, random_state=5,
                                          keep_medoids=False)),
    }


PINNED = {  # medoids, inertia and sample losses (float.hex), best sample, n_iter, n_swaps, CRC-32 of the labels
    "euclidean-f64": dict(
        medoids=[410, 233, 433, 435, 186, 409], inertia="0x1.c4974366c4078p+9",
        sample_losses=["0x1.eb6946f750aa8p+9", "0x1.d9375618e54e5p+9", "0x1.d801424ee8133p+9",
                       "0x1.dd898299c222ep+9", "0x1.c4974366c4078p+9"],
        best_sample=4, n_iter=3, n_swaps=16, labels_crc=812659306),
    "manhattan-f32-weighted": dict(
        medoids=[105, 263, 203, 20, 19], inertia="0x1.f697b1b080000p+10",
        sample_losses=["0x1.f697b1b080000p+10", "0x1.facde5d680000p+10", "0x1.01c8d4ba90000p+11",
                       "0x1.0cd1275640000p+11", "0x1.002fafeb00000p+11"],
        best_sample=0, n_iter=3, n_swaps=16, labels_crc=3173431647),
    "cosine-f64-build": dict(
        medoids=[112, 404, 278, 85], inertia="0x1.fa7705f5ab91ep+4",
        sample_losses=["0x1.fa7705f5ab91ep+4", "0x1.14bacdbaacf17p+5", "0x1.0b271f428e3bbp+5"],
        best_sample=0, n_iter=2, n_swaps=2, labels_crc=1906481774),
    "sqeuclidean-f32-default": dict(
        medoids=[230, 315, 320, 290, 241, 57, 487, 318], inertia="0x1.9fba195238000p+10",
        sample_losses=["0x1.a3b5fb3f60000p+10", "0x1.aae9fdf250000p+10", "0x1.af3c1cad50000p+10",
                       "0x1.9fba195238000p+10", "0x1.d889e04690000p+10"],
        best_sample=3, n_iter=2, n_swaps=19, labels_crc=549559102),
    "precomputed-f64": dict(
        medoids=[83, 193, 136, 100, 186], inertia="0x1.8abdf1134a7a3p+8",
        sample_losses=["0x1.996edf261dd85p+8", "0x1.8b104ee6b176cp+8", "0x1.8abdf1134a7a3p+8",
                       "0x1.9f160842340eap+8", "0x1.8acb99c55dd47p+8"],
        best_sample=2, n_iter=2, n_swaps=15, labels_crc=149256062),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_refine_false_is_plain_clara(name):
    X, weights, params = pinned_cases()[name]
    expected = PINNED[name]
    clara = CLARA(refine=False, **params).fit(X, sample_weight=weights)
    assert clara.medoid_indices_.tolist() == expected["medoids"]
    assert float(clara.inertia_).hex() == expected["inertia"]
    assert [float(v).hex() for v in clara.sample_losses_] == expected["sample_losses"]
    assert (clara.best_sample_, clara.n_iter_, clara.n_swaps_) == (
        expected["best_sample"], expected["n_iter"], expected["n_swaps"])
    assert zlib.crc32(np.asarray(clara.labels_, dtype=np.int64).tobytes()) == expected["labels_crc"]
    assert clara.refine_losses_.size == 0


# ---------------------------------------------------------------- k = 1 and bad input


def test_one_medoid_is_refined_to_the_exact_optimum():
    X = np.random.default_rng(7).normal(size=(300, 3))
    diss = numpy_distances(X, "euclidean")
    clara = CLARA(1, n_sampling=5, n_sampling_iter=1, random_state=0).fit(X)
    assert clara.medoid_indices_.tolist() == [int(np.argmin(diss.sum(axis=0)))]
    assert clara.inertia_ == pytest.approx(diss.sum(axis=0).min(), rel=1e-12)


@pytest.mark.parametrize("refine", [True, False])
def test_bad_input_is_a_clear_error(refine):
    X = np.random.default_rng(8).normal(size=(20, 3))
    with pytest.raises(ValueError, match="n_clusters=20 < n_samples=20"):
        CLARA(20, refine=refine).fit(X)
    with pytest.raises(ValueError, match="n_clusters=21 must be <= n_samples=20"):
        CLARA(21, refine=refine).fit(X)
    with pytest.raises(ValueError, match="all samples are identical"):
        CLARA(3, refine=refine).fit(np.ones((20, 3)))
    for bad in (np.nan, np.inf):
        Y = X.copy()
        Y[4, 1] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            CLARA(3, refine=refine).fit(Y)
        diss = numpy_distances(X, "euclidean")
        diss[2, 5] = diss[5, 2] = bad
        with pytest.raises(ValueError, match="NaN or infinity"):
            CLARA(3, metric="precomputed", refine=refine).fit(diss)
        with pytest.raises(ValueError, match="sample_weight contains NaN or infinity"):
            CLARA(3, refine=refine).fit(X, sample_weight=np.where(np.arange(20) == 3, bad, 1.0))
    with pytest.raises(ValueError, match="n_sampling=3 must be larger than n_clusters=3"):
        CLARA(3, n_sampling=3, refine=refine).fit(X)


@pytest.mark.parametrize("value", ["yes", 1, None, 0.5])
def test_refine_must_be_a_bool(value):
    X = np.random.default_rng(8).normal(size=(20, 3))
    with pytest.raises(TypeError, match="refine must be True or False"):
        CLARA(3, refine=value).fit(X)


# ---------------------------------------------------------------- CLARANS(refine=True)


def fit_clarans_both(data, weights=None, **params):
    plain = CLARANS(refine=False, **params).fit(data, sample_weight=weights)
    refined = CLARANS(refine=True, **params).fit(data, sample_weight=weights)
    return plain, refined


def assert_clarans_history(refined, plain):
    """The refinement starts at the best search's result (plain CLARANS's) and lowers the loss."""
    np.testing.assert_array_equal(refined.local_losses_, plain.local_losses_)
    np.testing.assert_array_equal(refined.swap_losses_, plain.swap_losses_)
    steps = np.concatenate([[plain.inertia_], refined.refine_losses_])
    assert np.all(np.diff(steps) < 0), steps
    assert refined.inertia_ == steps[-1] <= plain.inertia_
    assert plain.refine_losses_.size == 0


@given(problem=feature_problems())
def test_clarans_refinement_never_raises_the_loss_on_features(problem):
    X, weights, params = problem
    params = dict(n_clusters=params["n_clusters"], metric=params["metric"], random_state=params["random_state"],
                  n_local=params["n_sampling_iter"], max_neighbor=0.1, n_threads=1)
    plain, refined = fit_clarans_both(X, weights, **params)
    assert_clarans_history(refined, plain)
    diss = numpy_distances(X, params["metric"])
    loss = ref.total_deviation(diss, refined.medoid_indices_, weights)
    assert refined.inertia_ == pytest.approx(loss, rel=1e-9, abs=1e-12)
    assert loss <= ref.total_deviation(diss, plain.medoid_indices_, weights) * (1 + 1e-9) + 1e-12


@given(data=st.data())
def test_clarans_refinement_on_integer_matrices(data):
    diss = data.draw(integer_matrices(min_n=3, max_n=30))
    n = len(diss)
    k = data.draw(st.integers(1, min(n, 5)))
    exhaustive = data.draw(st.booleans())
    plain, refined = fit_clarans_both(diss, n_clusters=k, metric="precomputed", n_local=data.draw(st.integers(1, 2)),
                                      max_neighbor=10**9 if exhaustive else 0.05,
                                      random_state=data.draw(st.integers(0, 2**31 - 1)))
    assert_clarans_history(refined, plain)
    assert refined.inertia_ == ref.total_deviation(diss, refined.medoid_indices_)
    if exhaustive:  # a swap-local optimum: no refinement step can be kept
        assert ref.is_swap_local_optimum(diss, plain.medoid_indices_, rtol=0.0)
        assert refined.refine_losses_.size == 0
        np.testing.assert_array_equal(refined.medoid_indices_, plain.medoid_indices_)


def test_clarans_refinement_is_bit_identical_for_any_thread_count():
    rng = np.random.default_rng(9)
    X = (rng.normal(size=(6000, 3)) + rng.integers(0, 3, size=(6000, 1)) * 3.0).astype(np.float32)
    fits = [CLARANS(3, n_local=1, max_neighbor=20, random_state=2, n_threads=t).fit(X) for t in (1, 2, 3)]
    for other in fits[1:]:
        np.testing.assert_array_equal(fits[0].medoid_indices_, other.medoid_indices_)
        np.testing.assert_array_equal(fits[0].labels_, other.labels_)
        assert fits[0].inertia_ == other.inertia_
        np.testing.assert_array_equal(fits[0].refine_losses_, other.refine_losses_)


def test_clarans_bad_input_is_a_clear_error():
    X = np.random.default_rng(8).normal(size=(20, 3))
    with pytest.raises(ValueError, match="n_clusters=21 must be <= n_samples=20"):
        CLARANS(21).fit(X)
    with pytest.raises(ValueError, match="all samples are identical"):
        CLARANS(3).fit(np.ones((20, 3)))
    X[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        CLARANS(3).fit(X)
    with pytest.raises(TypeError, match="refine must be True or False"):
        CLARANS(3, refine="no").fit(X)


# ---------------------------------------------------------------- the swap pass


def three_blobs():
    """Blobs A, B and C on a line, C next to B and smaller: with two medoids in A and one in B,
    C joins B's cluster, whose medoid stays in B, an alternating optimum."""
    rng = np.random.default_rng(11)
    centres = np.array([[0.0, 0.0], [100.0, 0.0], [120.0, 0.0]])
    y = np.repeat(np.arange(3), [100, 150, 60])
    return rng.normal(size=(len(y), 2)) + centres[y], y


def test_swaps_move_a_medoid_to_a_cluster_without_one():
    X, y = three_blobs()
    params = dict(n_sampling=4, n_sampling_iter=1)
    stuck = [s for s in range(100) if np.unique(y[CLARA(3, swap_candidates=0, random_state=s, **params).fit(
        X).medoid_indices_]).size < 3]
    assert len(stuck) >= 3
    for seed in stuck[:3]:
        alternating = CLARA(3, swap_candidates=0, random_state=seed, **params).fit(X)
        swapped = CLARA(3, random_state=seed, **params).fit(X)
        assert np.unique(y[swapped.medoid_indices_]).size == 3
        assert adjusted_rand_score(y, swapped.labels_) == 1.0
        assert swapped.inertia_ < 0.5 * alternating.inertia_


def swap_lines(out):
    return [line for line in out.splitlines() if line.startswith("refinement step") and "swaps" in line]


def test_verbose_reports_every_step_with_its_loss(capsys):
    X, _ = three_blobs()
    clara = CLARA(3, n_sampling=4, n_sampling_iter=1, random_state=next(
        s for s in range(100) if CLARA(3, n_sampling=4, n_sampling_iter=1, swap_candidates=0, random_state=s)
        .fit(X).inertia_ > 3000), verbose=True).fit(X)
    out = capsys.readouterr().out
    steps = [line for line in out.splitlines() if line.startswith("refinement step")]
    assert swap_lines(out)
    assert [f"refinement step {i + 1}:" for i in range(len(clara.refine_losses_))] == [
        line.split(":")[0] + ":" for line in steps if not line.endswith("discarded)")]
    np.testing.assert_allclose([float(line.split()[-1]) for line in steps if not line.endswith("discarded)")],
                               clara.refine_losses_, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_swap_pass_is_bit_identical_for_any_thread_count(dtype, capsys):
    # overlapping clusters, more points than are priced (a seeded sample) and clusters above
    # the screening size: every part of the swap pass runs
    rng = np.random.default_rng(12)
    X = (rng.normal(size=(12000, 4)) + rng.integers(0, 6, size=(12000, 1)) * 1.5).astype(dtype)
    weights = rng.uniform(0.5, 2.0, size=12000).astype(dtype)
    fits = []
    for t in (1, 2, 3):
        fits.append(CLARA(8, n_sampling=40, random_state=3, n_threads=t, verbose=True).fit(X, sample_weight=weights))
        assert swap_lines(capsys.readouterr().out)
    for other in fits[1:]:
        assert_identical(fits[0], other)


@given(data=st.data())
def test_swap_pass_never_raises_the_loss_on_integer_matrices(data):
    diss = data.draw(integer_matrices(min_n=4, max_n=30))
    n = len(diss)
    k = data.draw(st.integers(2, min(n - 1, 5)))
    params = dict(n_clusters=k, metric="precomputed", n_sampling=data.draw(st.integers(k + 1, n)),
                  n_sampling_iter=1, random_state=data.draw(st.integers(0, 2**31 - 1)))
    plain = CLARA(refine=False, **params).fit(diss)
    for candidates in (1, 3, 100):
        refined = CLARA(swap_candidates=candidates, **params).fit(diss)
        steps = np.concatenate([[plain.inertia_], refined.refine_losses_])
        assert np.all(np.diff(steps) < 0), steps
        assert refined.inertia_ == ref.total_deviation(diss, refined.medoid_indices_)
        assert ref.labels_are_nearest(diss, refined.medoid_indices_, refined.labels_)


@pytest.mark.parametrize("estimator", [CLARA, CLARANS])
@pytest.mark.parametrize("value, error", [(-1, ValueError), (2**31, ValueError), (1.5, TypeError), ("8", TypeError)])
def test_swap_candidates_must_be_a_non_negative_int(estimator, value, error):
    X = np.random.default_rng(8).normal(size=(20, 3))
    with pytest.raises(error, match="swap_candidates"):
        estimator(3, swap_candidates=value).fit(X)
