"""vecclust.dask.PPP: the labels, tree and merges of the in-memory PPP on the same rows, whatever
the chunking, the number of workers or the row order."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import vecclust

da = pytest.importorskip("dask.array")
vdask = pytest.importorskip("vecclust.dask")

# Fit samples smaller than the nodes, so every level's samples come from several blocks.
PARAMS = dict(max_fit_samples=400, min_cluster_size=20)


@pytest.fixture(scope="module")
def overlapping():
    """2400 x 3 points around 7 overlapping centres: a tree several levels deep, merges and
    points that the refinement moves."""
    X, _ = make_blobs(2400, n_features=3, centers=7, cluster_std=1.6, random_state=11)
    return X


def assert_same_fit(ours, theirs, rtol=1e-12):
    np.testing.assert_array_equal(ours.labels_.compute(), theirs.labels_)
    assert ours.n_clusters_ == theirs.n_clusters_
    assert ours.tree_ == theirs.tree_
    assert ours.merges_ == theirs.merges_ and ours.splits_ == theirs.splits_
    np.testing.assert_array_equal(ours.leaf_clusters_, theirs.leaf_clusters_)
    assert ours.cluster_centers_.dtype == theirs.cluster_centers_.dtype
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("chunks", [(2400,), (1000, 1000, 400), (1, 599, 0, 800, 1000), (197,) * 12 + (36,)],
                         ids=lambda c: f"{len(c)}blocks")
def test_same_fit_as_in_memory_for_any_chunking(client, overlapping, chunks):
    theirs = vecclust.PPP(**PARAMS).fit(overlapping)
    assert len(theirs.splits_) >= 4 and theirs.merges_ and theirs.n_clusters_ >= 3
    ours = vdask.PPP(**PARAMS).fit(da.from_array(overlapping, chunks=(chunks, 3)))
    assert_same_fit(ours, theirs)
    np.testing.assert_array_equal(ours.predict(overlapping), theirs.predict(overlapping))


@pytest.mark.parametrize("params", [dict(refine="none"), dict(refine="gmm", max_fit_samples=5000),
                                    dict(on_disagreement="gmm", agreement_threshold=0.999, refine="none"),
                                    dict(n_extra_starts=2, merge="icl"), dict(max_clusters=4), dict(max_depth=1)],
                         ids=["none", "gmm", "mixture-rules", "extra-starts", "max-clusters", "max-depth"])
def test_options_give_the_in_memory_fit(client, overlapping, params):
    params = {**PARAMS, **params}
    theirs = vecclust.PPP(**params).fit(overlapping)
    ours = vdask.PPP(**params).fit(da.from_array(overlapping, chunks=(500, 3)))
    assert_same_fit(ours, theirs)


def test_one_and_two_workers_and_shuffled_rows(client, one_worker, overlapping):
    X = overlapping.astype(np.float32)
    theirs = vecclust.PPP(**PARAMS).fit(X)
    order = np.random.default_rng(5).permutation(len(X))
    with one_worker.as_current():
        one = vdask.PPP(**PARAMS).fit(da.from_array(X[order], chunks=(300, 3)))
        np.testing.assert_array_equal(one.labels_.compute(), theirs.labels_[order])
    two = vdask.PPP(**PARAMS).fit(da.from_array(X[order], chunks=(700, 3)))
    np.testing.assert_array_equal(two.labels_.compute(), theirs.labels_[order])
    assert one.tree_ == two.tree_ == theirs.tree_
    assert two.cluster_centers_.dtype == np.float32
    np.testing.assert_allclose(two.cluster_centers_, theirs.cluster_centers_, rtol=1e-6)


def test_predict_is_lazy_and_verbose_prints_each_pass(client, overlapping, capsys):
    X = da.from_array(overlapping, chunks=(800, 3))
    fit = vdask.PPP(**PARAMS, verbose=True).fit(X)
    passes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Pass ")]
    assert len(passes) == fit.n_passes_ >= 3 and passes[0].endswith(" s")
    lazy = fit.predict(X)
    assert isinstance(lazy, da.Array) and lazy.dtype == np.int64
    np.testing.assert_array_equal(lazy.compute(), fit.predict(overlapping))


def test_bad_input_names_the_block(client, overlapping):
    bad = overlapping.copy()
    bad[1234, 1] = np.nan
    with pytest.raises(ValueError, match=r"block 2 \(rows 1000 to 1499\), first at row 1234"):
        vdask.PPP().fit(da.from_array(bad, chunks=(500, 3)))
    with pytest.raises(ValueError, match="split across its columns"):
        vdask.PPP().fit(da.from_array(overlapping, chunks=(500, 2)))
    unknown = da.from_array(overlapping, chunks=(500, 3))
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        vdask.PPP().fit(unknown[unknown[:, 0] > 0])
    with pytest.raises(TypeError, match="numeric"):
        vdask.PPP().fit(da.from_array(overlapping.astype(str), chunks=(500, 3)))
    with pytest.raises(ValueError, match="min_cluster_size"):
        vdask.PPP(min_cluster_size=0).fit(da.from_array(overlapping, chunks=(500, 3)))
    with pytest.raises(ValueError, match="0 sample"):
        vdask.PPP().fit(da.zeros((0, 3), chunks=(10, 3)))
    fit = vdask.PPP(**PARAMS).fit(da.from_array(overlapping, chunks=(500, 3)))
    with pytest.raises(ValueError, match="4 features"):
        fit.predict(da.zeros((10, 4), chunks=(5, 4)))


def test_samples_found_short_are_collected_again(client, overlapping, monkeypatch, capsys):
    # Hash thresholds far too low for every group: each pass is followed by the retries that
    # complete the samples, and the fit is unchanged.
    from vecclust._dask import ppp as dask_ppp

    threshold = dask_ppp._threshold
    monkeypatch.setattr(dask_ppp, "_threshold", lambda limit, estimate: threshold(limit, estimate * 3))
    ours = vdask.PPP(**PARAMS, verbose=True).fit(da.from_array(overlapping, chunks=(500, 3)))
    assert "short samples again" in capsys.readouterr().out
    assert_same_fit(ours, vecclust.PPP(**PARAMS).fit(overlapping))
