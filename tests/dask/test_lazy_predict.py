"""The in-memory estimators' predict/transform on dask arrays: lazy (one task per block), equal to
the numpy results, the same dtype."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import vecclust

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(900, n_features=4, centers=4, cluster_std=1.5, random_state=4)[0]


ESTIMATORS = {
    "KMeans": lambda: vecclust.KMeans(4, random_state=0),
    "KMedoids": lambda: vecclust.KMedoids(4, metric="manhattan", random_state=0),
    "CLARA": lambda: vecclust.CLARA(4, random_state=0),
    "CLARANS": lambda: vecclust.CLARANS(4, random_state=0),
    "PPP": lambda: vecclust.PPP(max_fit_samples=300),
    "GaussianMixture": lambda: vecclust.GaussianMixture(3, random_state=0),
}
METHODS = ["predict", "transform", "predict_proba", "score_samples"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_methods_are_lazy_on_dask_arrays_and_equal_to_numpy(client, blobs, name, dtype):
    X = blobs.astype(dtype)
    fitted = ESTIMATORS[name]().fit(X)
    lazy_X = da.from_array(X, chunks=(200, 4))
    methods = [m for m in METHODS if hasattr(fitted, m)]
    assert "predict" in methods
    lazy = [getattr(fitted, method)(lazy_X) for method in methods]
    for method, result, computed in zip(methods, lazy, dask.compute(*lazy)):
        expected = getattr(fitted, method)(X)
        assert isinstance(result, da.Array) and result.numblocks[0] == 5
        assert result.dtype == computed.dtype == expected.dtype and result.shape == expected.shape
        np.testing.assert_array_equal(computed, expected)


def test_bad_dask_input_is_refused_before_computing(client, blobs):
    fitted = vecclust.KMeans(4, random_state=0).fit(blobs)
    with pytest.raises(ValueError, match="split across its columns"):
        fitted.predict(da.from_array(blobs, chunks=(300, 2)))
    with pytest.raises(ValueError, match="3 features"):
        fitted.transform(da.from_array(blobs[:, :3], chunks=(300, 3)))
    with pytest.raises(ValueError, match="NaN or infinity in block 1"):
        bad = blobs.copy()
        bad[400, 0] = np.nan
        fitted.predict(da.from_array(bad, chunks=(300, 4))).compute()
