"""k-medoids over the whole finite range of the dtype: data scaled by a power of two gives the
same medoids and labels, and losses and distances scaled exactly; a value the dtype cannot
hold is a clear error, never an inf (float32 data around 1e19 used to return inertia_ = inf
with wrong clusters, cosine at 1e160 every distance 1, a matrix near 1e307 other medoids)."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

import vecclust as vc
from vecclust import _core, fasterpam
from vecclust._utils.scaling import DISTANCE_POWER, scale_for

METRICS = ("euclidean", "sqeuclidean", "manhattan", "cosine")
# Exponents that take float32 / float64 data near either end of the dtype's range.
EXPONENTS = {np.float32: (-120, -70, 60, 100), np.float64: (-1000, -500, 480, 960)}


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(240, 5, centers=3, cluster_std=0.8, random_state=4)
    return X, y


def fits_range(value, dtype, exponent):
    with np.errstate(over="ignore"):
        return np.all(np.isfinite(np.ldexp(np.asarray(value, dtype=np.float64), exponent).astype(dtype)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("estimator", [vc.KMedoids, vc.CLARA, vc.CLARANS])
def test_power_of_two_scaling_changes_nothing_but_units(blobs, estimator, metric, dtype):
    X = blobs[0].astype(dtype)
    reference = estimator(3, metric=metric, random_state=0, n_threads=2).fit(X)
    distances = reference.transform(X[:20])
    power = DISTANCE_POWER[metric]
    for exponent in EXPONENTS[dtype]:
        scaled = np.ldexp(X, exponent).astype(dtype)
        model = estimator(3, metric=metric, random_state=0, n_threads=2)
        if not fits_range(reference.inertia_, np.float64, power * exponent):
            with pytest.raises(ValueError, match="the loss would exceed the range of float64"):
                model.fit(scaled)
            continue
        model.fit(scaled)
        np.testing.assert_array_equal(model.medoid_indices_, reference.medoid_indices_)
        np.testing.assert_array_equal(model.labels_, reference.labels_)
        assert model.inertia_ == np.ldexp(reference.inertia_, power * exponent)
        if fits_range(distances, dtype, power * exponent):
            np.testing.assert_array_equal(model.transform(scaled[:20]), np.ldexp(distances, power * exponent))
        else:
            with pytest.raises(ValueError, match=f"the distances would exceed the range of {np.dtype(dtype)}"):
                model.transform(scaled[:20])


def test_float32_near_1e19_is_clustered_right(blobs):
    X, y = blobs
    for estimator in (vc.KMedoids, vc.CLARA, vc.CLARANS):
        for metric in ("euclidean", "sqeuclidean"):
            model = estimator(3, metric=metric, random_state=0).fit((X * 1e19).astype(np.float32))
            assert adjusted_rand_score(y, model.labels_) == 1.0
            assert np.isfinite(model.inertia_)


@pytest.mark.parametrize("scale", [1e160, 1e-170])
def test_cosine_at_extreme_float64_scales(blobs, scale):
    X, _ = blobs
    reference = vc.KMedoids(3, metric="cosine", random_state=0).fit(X)
    model = vc.KMedoids(3, metric="cosine", random_state=0).fit(X * scale)
    np.testing.assert_array_equal(model.medoid_indices_, reference.medoid_indices_)
    np.testing.assert_allclose(model.transform(X[:10] * scale), reference.transform(X[:10]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_and_tiny_weights(blobs, dtype):
    X = blobs[0].astype(dtype)
    reference = vc.KMedoids(3, random_state=0).fit(X, sample_weight=np.ones(len(X), dtype))
    for weight in (np.finfo(dtype).max / 1e6, np.finfo(dtype).tiny, 2.0**-1000 if dtype == np.float64 else 2.0**-140):
        weights = np.full(len(X), weight, dtype=dtype)
        model = vc.KMedoids(3, random_state=0).fit(X, sample_weight=weights)
        np.testing.assert_array_equal(model.medoid_indices_, reference.medoid_indices_)
        assert model.inertia_ == pytest.approx(reference.inertia_ * float(weights[0]), rel=1e-6)
    with pytest.raises(ValueError, match="rescale X or sample_weight"):  # 240 x 1e308 x distance
        vc.KMedoids(3).fit(X.astype(np.float64), sample_weight=np.full(len(X), 1e308))


def test_matrix_near_the_top_of_float64(blobs):
    X, _ = blobs
    D = np.abs(X[:, None, 0] - X[None, :, 0]) + np.abs(X[:, None, 1] - X[None, :, 1])
    reference = vc.fasterpam(D, 3, random_state=0)
    for exponent in (900, -1000):
        result = vc.fasterpam(np.ldexp(D, exponent), 3, random_state=0)
        np.testing.assert_array_equal(result.medoids, reference.medoids)
        assert result.loss == np.ldexp(reference.loss, exponent)
    top = int(np.floor(np.log2(np.finfo(np.float64).max / D.max())))  # D's largest entry still finite
    assert not fits_range(reference.loss, np.float64, top)
    with pytest.raises(ValueError, match="the loss would exceed the range of float64"):
        vc.fasterpam(np.ldexp(D, top), 3, random_state=0)


def test_ordinary_data_is_passed_unchanged(blobs):
    X, _ = blobs
    for dtype in (np.float32, np.float64):
        for metric in (*METRICS, "precomputed"):
            data = np.abs(X.astype(dtype)) if metric == "precomputed" else X.astype(dtype)
            scale = scale_for(data, metric, np.ones(len(X), dtype))
            assert (scale.x_exponent, scale.weight_exponent) == (0, 0)
            assert scale.data(data) is data


@pytest.mark.parametrize("scale", [1e306, 1e-300])
def test_the_matrix_check_finds_the_scale_without_a_pass_of_its_own(scale, monkeypatch):
    # The core's validation pass reports the largest entry: out of range, nothing runs and the
    # call is repeated on the scaled matrix; in range, the core runs once.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 3))
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    calls = []
    original = _core.kmedoids_matrix

    def counting(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append(sorted(out))
        return out

    monkeypatch.setattr(_core, "kmedoids_matrix", counting)
    reference = fasterpam(D, 3, random_state=0)
    assert calls == [sorted(["loss", "labels", "medoids", "n_iter", "n_swaps", "converged"])]
    calls.clear()
    scaled = fasterpam(D * scale, 3, random_state=0)
    assert calls[0] == ["largest"] and len(calls) == 2
    np.testing.assert_array_equal(scaled.medoids, reference.medoids)
    assert scaled.loss == pytest.approx(reference.loss * scale, rel=1e-12)
