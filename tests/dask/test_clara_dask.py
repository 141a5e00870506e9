"""vecclust.dask.CLARA: per-block samples, FasterPAM in memory, one scoring pass."""

import re

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.datasets import make_blobs

import vecclust

da = pytest.importorskip("dask.array")
vdask = pytest.importorskip("vecclust.dask")


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(2000, n_features=3, centers=5, cluster_std=1.5, random_state=2)
    return X


def total_distance(X, medoids, metric):
    return cdist(X, medoids, metric=metric).min(axis=1).sum()


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
@pytest.mark.parametrize("chunks", [(2000,), (500, 700, 800), (100,) * 20], ids=lambda c: f"{len(c)}blocks")
def test_one_sample_equals_kmedoids_on_that_sample(client, blobs, chunks, metric):
    fit = vdask.CLARA(5, n_sampling=150, n_sampling_iter=1, metric=metric, refine=False, random_state=0).fit(
        da.from_array(blobs, chunks=(chunks, 3)))
    sample = fit.sample_indices_[0]
    assert sample.size == 150 and np.all(np.diff(sample) > 0)
    memory = vecclust.KMedoids(5, metric=metric, init="build").fit(blobs[sample])
    np.testing.assert_array_equal(fit.medoid_indices_, sample[memory.medoid_indices_])
    np.testing.assert_array_equal(fit.cluster_centers_, blobs[fit.medoid_indices_])
    cdist_metric = "cityblock" if metric == "manhattan" else metric
    assert fit.inertia_ == pytest.approx(total_distance(blobs, fit.cluster_centers_, cdist_metric), rel=1e-10)
    np.testing.assert_array_equal(fit.labels_.compute(), memory.predict(blobs))


def test_samples_depend_on_the_seed_and_blocks_only(client, one_worker, blobs):
    X = da.from_array(blobs.astype(np.float32), chunks=(400, 3))
    two = vdask.CLARA(5, random_state=4).fit(X)
    with one_worker.as_current():
        one = vdask.CLARA(5, random_state=4).fit(X)
    for a, b in zip(one.sample_indices_, two.sample_indices_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(one.medoid_indices_, two.medoid_indices_)
    np.testing.assert_array_equal(one.sample_losses_, two.sample_losses_)
    assert two.cluster_centers_.dtype == np.float32
    np.testing.assert_array_equal(one.refine_losses_, two.refine_losses_)
    assert two.sample_losses_.min() == two.sample_losses_[two.best_sample_]
    assert two.inertia_ == (two.refine_losses_[-1] if two.refine_losses_.size else two.sample_losses_.min())
    assert len({tuple(s[:5]) for s in two.sample_indices_}) == 5


def test_predict_transform_and_bad_input(client, blobs):
    X = da.from_array(blobs, chunks=(600, 3))
    fit = vdask.CLARA(5, random_state=0).fit(X)
    np.testing.assert_array_equal(fit.predict(X).compute(), fit.predict(blobs))
    np.testing.assert_allclose(fit.transform(X).compute(), cdist(blobs, fit.cluster_centers_), rtol=1e-12)
    with pytest.raises(ValueError, match="n_sampling=5 must be larger"):
        vdask.CLARA(5, n_sampling=5).fit(X)
    with pytest.raises(ValueError, match="n_clusters=2000 < n_samples=2000"):
        vdask.CLARA(2000).fit(X)
    bad = blobs.copy()
    bad[1300] = np.inf
    with pytest.raises(ValueError, match="block 2"):
        vdask.CLARA(5).fit(da.from_array(bad, chunks=(600, 3)))
    with pytest.raises(ValueError, match="metric"):
        vdask.CLARA(5, metric="precomputed").fit(X)


@pytest.mark.parametrize("chunks", [(2000,), (100,) * 20], ids=lambda c: f"{len(c)}blocks")
def test_refinement_lowers_the_loss_step_by_step(client, blobs, chunks, capsys):
    X = da.from_array(blobs, chunks=(chunks, 3))
    plain = vdask.CLARA(5, n_sampling=30, random_state=1, refine=False).fit(X)
    refined = vdask.CLARA(5, n_sampling=30, random_state=1, verbose=True).fit(X)
    np.testing.assert_array_equal(plain.sample_losses_, refined.sample_losses_)
    assert plain.refine_losses_.size == 0 and refined.refine_losses_.size >= 1
    steps = np.concatenate([[plain.inertia_], refined.refine_losses_])
    assert np.all(np.diff(steps) < 0), steps
    np.testing.assert_array_equal(refined.cluster_centers_, blobs[refined.medoid_indices_])
    assert refined.inertia_ == refined.refine_losses_[-1]
    assert refined.inertia_ == pytest.approx(total_distance(blobs, refined.cluster_centers_, "euclidean"), rel=1e-10)
    np.testing.assert_array_equal(refined.labels_.compute(),
                                  cdist(blobs, refined.cluster_centers_).argmin(axis=1))
    # verbose: the loss after every step, the kept ones being refine_losses_
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("refinement step")]
    kept = [float(re.search(r"points ([0-9.]+)", line)[1]) for line in lines if "discarded" not in line]
    np.testing.assert_allclose(kept, refined.refine_losses_, atol=1e-6)
    with pytest.raises(TypeError, match="refine"):
        vdask.CLARA(5, refine="yes").fit(X)
