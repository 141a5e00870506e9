"""KMeans over the whole finite range of the dtype: data scaled by a power of two gives the same
labels and iterations, centres, inertia and distances scaled exactly; a value the dtype cannot
hold is a clear error (float32 data around 1e19 used to give inertia_ = inf and wrong clusters,
weights of 1e308 NaN centres). Also duplicated points with k above their distinct count, which
used to trade labels between copies of a centre until max_iter."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

import vecclust as vc

EXPONENTS = {np.float32: (-120, -70, 60, 100), np.float64: (-1000, -500, 480, 960)}


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(240, 5, centers=3, cluster_std=0.8, random_state=4)


def scaled_or_none(value, exponent, dtype):
    """value * 2**exponent in dtype, or None where the dtype cannot hold it."""
    with np.errstate(over="ignore"):
        out = np.ldexp(np.asarray(value, dtype=np.float64), exponent).astype(dtype)
    return out if np.all(np.isfinite(out)) else None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "elkan"])
def test_power_of_two_scaling_changes_nothing_but_units(blobs, algorithm, dtype):
    X = blobs[0].astype(dtype)
    weights = np.linspace(0.5, 2.0, len(X))
    reference = vc.KMeans(3, algorithm=algorithm, random_state=0, n_threads=2).fit(X, sample_weight=weights)
    distances = reference.transform(X[:20])
    for exponent in EXPONENTS[dtype]:
        scaled = np.ldexp(X, exponent).astype(dtype)
        model = vc.KMeans(3, algorithm=algorithm, random_state=0, n_threads=2)
        inertia = scaled_or_none(reference.inertia_, 2 * exponent, np.float64)
        if inertia is None:
            with pytest.raises(ValueError, match="the loss would exceed the range of float64"):
                model.fit(scaled, sample_weight=weights)
            continue
        model.fit(scaled, sample_weight=weights)
        np.testing.assert_array_equal(model.labels_, reference.labels_)
        assert model.n_iter_ == reference.n_iter_
        assert model.inertia_ == inertia
        np.testing.assert_array_equal(model.cluster_centers_, np.ldexp(reference.cluster_centers_, exponent))
        np.testing.assert_array_equal(model.predict(scaled[:20]), reference.labels_[:20])
        expected = scaled_or_none(distances, exponent, dtype)
        if expected is None:
            with pytest.raises(ValueError, match="the distances would exceed the range"):
                model.transform(scaled[:20])
        else:
            np.testing.assert_array_equal(model.transform(scaled[:20]), expected)


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "elkan"])
def test_float32_near_1e19_is_clustered_right(blobs, algorithm):
    X, y = blobs
    model = vc.KMeans(3, algorithm=algorithm, random_state=0).fit((X * 1e19).astype(np.float32))
    assert adjusted_rand_score(y, model.labels_) == 1.0
    assert np.isfinite(model.inertia_) and np.isfinite(model.score((X[:10] * 1e19).astype(np.float32)))
    assert np.all(np.isfinite(model.transform((X[:10] * 1e19).astype(np.float32))))


def test_huge_weights_give_the_same_centres(blobs):
    X = blobs[0]
    reference = vc.KMeans(3, random_state=0).fit(X, sample_weight=np.ones(len(X)))
    model = vc.KMeans(3, random_state=0).fit(X, sample_weight=np.full(len(X), 2.0**1000))
    np.testing.assert_array_equal(model.labels_, reference.labels_)
    np.testing.assert_array_equal(model.cluster_centers_, reference.cluster_centers_)
    assert model.inertia_ == np.ldexp(reference.inertia_, 1000)
    with pytest.raises(ValueError, match="the loss would exceed the range of float64"):
        vc.KMeans(3, random_state=0).fit(X, sample_weight=np.full(len(X), 1e308))


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "elkan"])
def test_duplicates_with_more_clusters_than_distinct_points_converge(algorithm):
    X = np.repeat(np.random.default_rng(0).normal(size=(2, 3)), 20, axis=0)
    with pytest.warns(Warning, match="Number of distinct clusters"):
        model = vc.KMeans(5, init=X[[0, 20, 1, 2, 21]], algorithm=algorithm).fit(X)
    assert model.n_iter_ <= 2  # scikit-learn stops after 2 from the same centres
    assert model.inertia_ == 0.0
    assert np.unique(model.labels_).size == 2
    with pytest.warns(Warning, match="Number of distinct clusters"):
        model = vc.KMeans(5, algorithm=algorithm, random_state=0).fit(X)
    assert model.n_iter_ <= 2 and model.inertia_ == 0.0
