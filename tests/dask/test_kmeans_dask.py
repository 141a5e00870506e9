"""vecclust.dask.KMeans against the in-memory KMeans(algorithm="lloyd") on a LocalCluster."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import vecclust

da = pytest.importorskip("dask.array")
vdask = pytest.importorskip("vecclust.dask")

DTYPES = [np.float32, np.float64]
CHUNKINGS = [(600,), (250, 250, 100), (1, 99, 300, 200), (37,) * 16 + (8,)]


@pytest.fixture(scope="module")
def overlapping():
    """600 x 4 points around 6 overlapping centres: runs take several iterations."""
    X, _ = make_blobs(600, n_features=4, centers=6, cluster_std=2.5, random_state=1)
    return X


def in_memory(X, init, **params):
    return vecclust.KMeans(len(init), init=init, n_init=1, algorithm="lloyd", **params).fit(X)


def assert_same(ours, theirs, dtype):
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_array_equal(ours.labels_.compute(), theirs.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=rtol, atol=rtol)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=rtol)


@pytest.mark.parametrize("chunks", CHUNKINGS, ids=lambda c: f"{len(c)}blocks")
@pytest.mark.parametrize("dtype", DTYPES)
def test_same_as_in_memory_lloyd_from_same_init(client, overlapping, dtype, chunks):
    X = overlapping.astype(dtype)
    init = X[[0, 100, 200, 300, 400, 500]].copy()
    ours = vdask.KMeans(6, init=init).fit(da.from_array(X, chunks=(chunks, 4)))
    theirs = in_memory(X, init)
    assert ours.n_iter_ > 3
    assert ours.cluster_centers_.dtype == dtype and ours.labels_.dtype == np.int64
    assert_same(ours, theirs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_as_in_memory_with_an_empty_cluster(client, overlapping, dtype):
    # A centre far from every point gets none: both move it to the point farthest from its centre.
    X = overlapping.astype(dtype)
    init = X[[0, 100, 200, 300, 400]].copy()
    init[2] = 1000.0
    ours = vdask.KMeans(5, init=init).fit(da.from_array(X, chunks=(150, 4)))
    assert_same(ours, in_memory(X, init), dtype)
    assert np.all(np.abs(ours.cluster_centers_) < 100)


def test_tol_zero_and_max_iter(client, overlapping):
    X = overlapping
    init = X[:6].copy()
    for params in ({"tol": 0.0}, {"max_iter": 2}):
        ours = vdask.KMeans(6, init=init, **params).fit(da.from_array(X, chunks=(128, 4)))
        assert_same(ours, in_memory(X, init, **params), np.float64)


@pytest.mark.parametrize("chunks", [(300, 300), (50,) * 12], ids=["2blocks", "12blocks"])
def test_one_and_two_workers_give_the_same_bits(client, one_worker, overlapping, chunks):
    X = da.from_array(overlapping.astype(np.float32), chunks=(chunks, 4))
    two = vdask.KMeans(6, random_state=3).fit(X)
    with one_worker.as_current():
        one = vdask.KMeans(6, random_state=3).fit(X)
        one_labels = one.labels_.compute()
    np.testing.assert_array_equal(one.cluster_centers_, two.cluster_centers_)
    np.testing.assert_array_equal(one_labels, two.labels_.compute())
    assert one.inertia_ == two.inertia_ and one.n_iter_ == two.n_iter_


@pytest.mark.parametrize("init", ["k-means||", "k-means++"])
def test_initialisations_find_separated_clusters(client, init):
    X, truth = make_blobs(3000, n_features=5, centers=8, cluster_std=0.3, random_state=7)
    X = X.astype(np.float32)
    fit = vdask.KMeans(8, init=init, random_state=0).fit(da.from_array(X, chunks=(700, 5)))
    labels = fit.labels_.compute()
    # Each true cluster is one found cluster.
    assert all(np.unique(labels[truth == t]).size == 1 for t in range(8))
    assert np.unique(labels).size == 8
    again = vdask.KMeans(8, init=init, random_state=0).fit(da.from_array(X, chunks=(700, 5)))
    np.testing.assert_array_equal(again.cluster_centers_, fit.cluster_centers_)


def test_predict_and_transform_take_dask_and_numpy(client, overlapping):
    X = overlapping.astype(np.float32)
    dX = da.from_array(X, chunks=(200, 4))
    fit = vdask.KMeans(6, random_state=0).fit(dX)
    memory = in_memory(X, fit.cluster_centers_)
    lazy = fit.predict(dX)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), fit.predict(X))
    np.testing.assert_array_equal(fit.predict(X), memory.predict(X))
    distances = fit.transform(dX)
    assert isinstance(distances, da.Array) and distances.dtype == np.float32
    np.testing.assert_allclose(distances.compute(), memory.transform(X), rtol=1e-6)
    assert fit.transform(X).shape == (600, 6)


def test_verbose_prints_one_line_per_pass(client, overlapping, capsys):
    fit = vdask.KMeans(6, init=overlapping[:6], verbose=True).fit(da.from_array(overlapping, chunks=(200, 4)))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Iteration")]
    assert len(lines) == fit.n_iter_
    assert "inertia" in lines[0] and lines[0].endswith(" s")


def test_bad_input(client):
    X = np.random.default_rng(0).normal(size=(100, 4))
    with pytest.raises(ValueError, match="split across its columns"):
        vdask.KMeans(3).fit(da.from_array(X, chunks=(50, 2)))
    unknown = da.from_array(X, chunks=(50, 4))
    unknown = unknown[unknown[:, 0] > -10]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        vdask.KMeans(3).fit(unknown)
    bad = X.copy()
    bad[73, 2] = np.nan
    with pytest.raises(ValueError, match="block 2 .rows 60 to 89., first at row 73"):
        vdask.KMeans(3).fit(da.from_array(bad, chunks=(30, 4)))
    with pytest.raises(TypeError, match="numeric"):
        vdask.KMeans(3).fit(da.from_array(X.astype(str), chunks=(50, 4)))
    with pytest.raises(ValueError, match="n_clusters=101"):
        vdask.KMeans(101).fit(da.from_array(X, chunks=(50, 4)))
    with pytest.raises(ValueError, match="oversampling_factor"):
        vdask.KMeans(3, oversampling_factor=0).fit(da.from_array(X, chunks=(50, 4)))
    with pytest.raises(ValueError, match="shape of the initial centers"):
        vdask.KMeans(3, init=X[:2]).fit(da.from_array(X, chunks=(50, 4)))
    fit = vdask.KMeans(3, random_state=0).fit(da.from_array(X.astype(np.int64), chunks=(50, 4)))
    assert fit.cluster_centers_.dtype == np.float64
    with pytest.raises(ValueError, match="5 features"):
        fit.predict(da.from_array(np.zeros((10, 5)), chunks=(5, 5)))


def test_import_vecclust_does_not_import_dask():
    code = "import sys, vecclust; assert not any(m == 'dask' or m.startswith('dask.') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)
