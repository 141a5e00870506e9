"""The KMedoids estimator as a scikit-learn citizen."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

import vecclust
from strategies import euclidean_matrix, separated_blobs
from vecclust import CLARA, CLARANS, GaussianMixture, KMeans, KMedoids


def _expected_failed_checks(estimator):
    if isinstance(estimator, KMeans):
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "k-means++ draws its initial centres from the rows, so repeating samples (more rows) "
                "changes the draws and Lloyd's iterations settle in another local optimum "
                "(scikit-learn expects the same failure of its KMeans). test_kmeans checks weights "
                "against repeated points from the same initial centres."
            ),
        }
    if isinstance(estimator, CLARANS):
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "CLARANS is randomised by design: its initial medoids are drawn sample indices and "
                "its candidates are tried in a random permutation of the samples, so repeating "
                "samples (more rows) changes both and the search stops elsewhere; there is no "
                "deterministic variant to check instead. test_clarans checks weighted losses and "
                "weighted swap-local optimality against the NumPy oracles."
            ),
        }
    if isinstance(estimator, CLARA) and estimator.init == "random":
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "The check's 15 samples are fewer than CLARA's sample size, so CLARA is KMedoids "
                "with init='random' here and fails for the same reason (repeated rows change the "
                "drawn initial medoids). The check passes with the deterministic init='build' (the "
                "CLARA estimator after it)."
            ),
        }
    if getattr(estimator, "init", None) == "random":
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "init='random' draws sample indices, so repeating samples (more rows) changes which "
                "medoids are drawn and FasterPAM can settle in another local optimum (scikit-learn "
                "expects the same failure of KMeans for the same reason). The check passes with the "
                "deterministic init='build' (the second estimator); test_kmedoids_exactness checks "
                "weights against duplicated points from identical initial medoids."
            ),
        }
    return {}


@parametrize_with_checks(
    [
        KMedoids(n_clusters=3),
        KMedoids(n_clusters=3, metric="manhattan", init="build"),
        CLARA(n_clusters=3),
        CLARA(n_clusters=3, metric="manhattan", init="build"),
        CLARANS(n_clusters=3),
        KMeans(n_clusters=3),
        GaussianMixture(),
        GaussianMixture(n_components=2, covariance_type="diag", init_params="random_from_data"),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- unpickled / memory-mapped arrays


def assert_same_result(a, b):
    np.testing.assert_array_equal(a.medoids, b.medoids)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.loss == b.loss


def test_core_accepts_unpickled_and_memory_mapped_arrays(tmp_path):
    # Unpickled and memory-mapped arrays carry a dtype object equal to, but not the same object
    # as, numpy's canonical float64 (the core once compared dtypes by identity and refused them).
    diss = euclidean_matrix(np.random.default_rng(0).normal(size=(40, 2)))
    weights = np.arange(40, dtype=np.float64) % 3 + 1
    expected = vecclust.fasterpam(diss, [0, 1, 2], sample_weight=weights)
    unpickled = pickle.loads(pickle.dumps(diss))
    assert_same_result(expected, vecclust.fasterpam(unpickled, [0, 1, 2], sample_weight=weights))
    assert_same_result(expected, vecclust.fasterpam(diss, [0, 1, 2], sample_weight=pickle.loads(pickle.dumps(weights))))
    np.save(tmp_path / "diss.npy", diss)
    mapped = np.load(tmp_path / "diss.npy", mmap_mode="r")
    assert_same_result(expected, vecclust.fasterpam(mapped, [0, 1, 2], sample_weight=weights))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_native_byte_order(dtype, blobs):
    X, _ = blobs
    X = X.astype(dtype)
    swapped = X.astype(X.dtype.newbyteorder("S"))
    assert not swapped.dtype.isnative
    native = KMedoids(4, random_state=0).fit(X)
    other = KMedoids(4, random_state=0).fit(swapped)
    np.testing.assert_array_equal(other.medoid_indices_, native.medoid_indices_)
    assert other.inertia_ == native.inertia_
    assert other.cluster_centers_.dtype == dtype
    np.testing.assert_array_equal(other.transform(swapped), native.transform(X))
    diss = euclidean_matrix(X.astype(np.float64)).astype(dtype)
    swapped_diss = diss.astype(diss.dtype.newbyteorder("S"))
    assert_same_result(vecclust.fasterpam(diss, [0, 1]), vecclust.fasterpam(swapped_diss, [0, 1]))


# ---------------------------------------------------------------- pickling


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine", "sqeuclidean"])
def test_pickle_round_trip(metric, blobs):
    X, _ = blobs
    km = KMedoids(4, metric=metric, random_state=0).fit(X)
    restored = pickle.loads(pickle.dumps(km))
    np.testing.assert_array_equal(restored.medoid_indices_, km.medoid_indices_)
    np.testing.assert_array_equal(restored.predict(X), km.predict(X))
    np.testing.assert_array_equal(restored.transform(X), km.transform(X))


def test_pickle_round_trip_precomputed(blobs):
    # transform/predict with a precomputed metric only index the new matrix, so this works
    X, _ = blobs
    diss = euclidean_matrix(X)
    km = KMedoids(4, metric="precomputed", random_state=0).fit(diss)
    restored = pickle.loads(pickle.dumps(km))
    np.testing.assert_array_equal(restored.predict(diss), km.labels_)
    assert restored.get_params() == km.get_params()


def test_unfitted_pickle_and_clone_keep_parameters():
    km = KMedoids(5, metric="cosine", method="pam", init=[0, 1, 2, 3, 4], max_iter=7, n_init=2,
                  precompute=False, random_state=3, n_threads=1)
    for copy in (pickle.loads(pickle.dumps(km)), clone(km)):
        assert copy.get_params() == km.get_params()


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "manhattan", "cosine"])
@pytest.mark.parametrize("precompute", [True, False])
def test_float32_is_preserved(metric, precompute, blobs):
    X, _ = blobs
    X32 = X.astype(np.float32)
    km = KMedoids(4, metric=metric, precompute=precompute, random_state=0).fit(X32)
    assert km.cluster_centers_.dtype == np.float32
    assert km.transform(X32).dtype == np.float32
    assert km.transform(X).dtype == np.float64
    km64 = KMedoids(4, metric=metric, precompute=precompute, random_state=0).fit(X)
    assert km64.cluster_centers_.dtype == np.float64
    assert km64.transform(X).dtype == np.float64
    np.testing.assert_array_equal(km.medoid_indices_, km64.medoid_indices_)
    np.testing.assert_allclose(km.transform(X32), km64.transform(X), rtol=1e-5, atol=1e-5)


def test_integer_features_are_accepted(blobs):
    X, _ = blobs
    Xi = np.rint(X * 10).astype(np.int64)
    km = KMedoids(4, random_state=0).fit(Xi)
    assert km.cluster_centers_.dtype == np.float64
    np.testing.assert_array_equal(km.predict(Xi), km.labels_)


# ---------------------------------------------------------------- predict / transform


@pytest.mark.parametrize("method", ["fasterpam", "fastpam1", "pam", "alternate"])
@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "manhattan", "cosine"])
def test_predict_on_training_data_equals_labels(method, metric):
    X = np.random.default_rng(3).normal(size=(200, 5)) + 2.0  # overlapping clusters, no ties
    km = KMedoids(6, metric=metric, method=method, random_state=1).fit(X)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    np.testing.assert_array_equal(km.fit_predict(X), km.labels_)
    distances = km.transform(X)
    assert distances.shape == (200, 6)
    assert km.inertia_ == pytest.approx(distances.min(axis=1).sum(), rel=1e-12)
    # a medoid is at distance 0 from itself (cosine: 1 - <u, u> may round to a few ulps)
    np.testing.assert_allclose(distances[km.medoid_indices_, np.arange(6)], 0, atol=1e-12 if metric == "cosine" else 0)
    np.testing.assert_array_equal(km.cluster_centers_, X[km.medoid_indices_])


def test_labels_are_zero_based_cluster_numbers(blobs):
    X, y = blobs
    km = KMedoids(4, random_state=0, n_init=3).fit(X)
    assert set(km.labels_) == {0, 1, 2, 3}
    # the clusters are the true blobs (up to renaming)
    pairs = set(zip(km.labels_.tolist(), y.tolist()))
    assert len(pairs) == 4
    assert km.n_features_in_ == 3


def test_precomputed_predict_and_transform_with_new_points(blobs):
    X, _ = blobs
    train, new = X[:100], X[100:]
    km = KMedoids(4, metric="precomputed", random_state=0, n_init=3).fit(euclidean_matrix(train))
    assert km.cluster_centers_ is None
    to_train = np.sqrt(((new[:, None, :] - train[None, :, :]) ** 2).sum(axis=-1))  # (20, 100)
    distances = km.transform(to_train)
    np.testing.assert_array_equal(distances, to_train[:, km.medoid_indices_])
    np.testing.assert_array_equal(km.predict(to_train), np.argmin(to_train[:, km.medoid_indices_], axis=1))
    # the same as the features estimator on the same medoids
    features = KMedoids(4, init=km.medoid_indices_, max_iter=1).fit(train)
    np.testing.assert_array_equal(features.medoid_indices_, km.medoid_indices_)
    np.testing.assert_array_equal(features.predict(new), km.predict(to_train))
    np.testing.assert_allclose(features.transform(new), distances, rtol=1e-12)


def test_precomputed_float32_transform_keeps_dtype(blobs):
    X, _ = blobs
    diss = euclidean_matrix(X).astype(np.float32)
    km = KMedoids(4, metric="precomputed", random_state=0).fit(diss)
    assert km.transform(diss).dtype == np.float32
    np.testing.assert_array_equal(km.predict(diss), km.labels_)


def test_attributes_and_tags(blobs):
    X, _ = blobs
    km = KMedoids(4, random_state=0).fit(X)
    assert km.medoid_indices_.shape == (4,) and km.labels_.shape == (len(X),)
    assert isinstance(km.inertia_, float) and km.n_iter_ >= 1 and km.n_swaps_ >= 0
    assert not km.__sklearn_tags__().input_tags.pairwise
    assert KMedoids(metric="precomputed").__sklearn_tags__().input_tags.pairwise


def test_convergence_warning_at_max_iter():
    from sklearn.exceptions import ConvergenceWarning

    X, _ = separated_blobs(50, seed=4)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        KMedoids(8, method="pam", init="first", max_iter=1).fit(X)


# ---------------------------------------------------------------- CLARA and CLARANS


SAMPLERS = [
    CLARA(4, n_sampling=40, n_sampling_iter=3, random_state=0),
    CLARA(4, metric="manhattan", method="pam", init="build", random_state=0),
    CLARANS(4, n_local=3, random_state=0),
    CLARANS(4, metric="cosine", max_neighbor=10, random_state=0),
]


@pytest.mark.parametrize("estimator", SAMPLERS, ids=repr)
def test_sampler_pickle_round_trip(estimator, blobs):
    X, _ = blobs
    fitted = clone(estimator).fit(X)
    restored = pickle.loads(pickle.dumps(fitted))
    assert restored.get_params() == fitted.get_params()
    for name in ("medoid_indices_", "labels_", "inertia_", "n_iter_", "n_swaps_", "sample_losses_", "best_sample_",
                 "local_losses_", "best_local_", "swap_losses_"):
        if hasattr(fitted, name):
            np.testing.assert_array_equal(getattr(restored, name), getattr(fitted, name))
    np.testing.assert_array_equal(restored.predict(X), fitted.labels_)
    np.testing.assert_array_equal(restored.transform(X), fitted.transform(X))


@pytest.mark.parametrize("cls", [CLARA, CLARANS])
def test_sampler_pickle_round_trip_precomputed(cls, blobs):
    X, _ = blobs
    diss = euclidean_matrix(X)
    fitted = cls(4, metric="precomputed", random_state=0).fit(diss)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict(diss), fitted.labels_)
    assert restored.cluster_centers_ is None


def test_sampler_unfitted_pickle_and_clone_keep_parameters():
    for estimator in (
        CLARA(5, metric="cosine", n_sampling=50, n_sampling_iter=3, method="pam", init="lab", keep_medoids=False,
              max_iter=7, random_state=3, n_threads=1, verbose=True),
        CLARANS(5, metric="manhattan", n_local=4, max_neighbor=12, random_state=3, n_threads=1, verbose=True),
    ):
        for copy in (pickle.loads(pickle.dumps(estimator)), clone(estimator)):
            assert copy.get_params() == estimator.get_params()


@pytest.mark.parametrize("cls", [CLARA, CLARANS])
def test_sampler_attributes_and_tags(cls, blobs):
    X, y = blobs
    fitted = cls(4, random_state=0).fit(X)
    assert fitted.medoid_indices_.shape == (4,) and fitted.labels_.shape == (len(X),)
    assert isinstance(fitted.inertia_, float) and fitted.n_iter_ >= 1 and fitted.n_swaps_ >= 0
    assert fitted.n_features_in_ == 3
    assert set(fitted.labels_) == {0, 1, 2, 3}
    assert len(set(zip(fitted.labels_.tolist(), y.tolist()))) == 4  # the true blobs, up to renaming
    assert not fitted.__sklearn_tags__().input_tags.pairwise
    assert cls(metric="precomputed").__sklearn_tags__().input_tags.pairwise


@pytest.mark.parametrize("cls", [CLARA, CLARANS])
@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "manhattan", "cosine"])
def test_sampler_float32_is_preserved(cls, metric, blobs):
    X, _ = blobs
    X32 = X.astype(np.float32)
    fitted = cls(4, metric=metric, random_state=0).fit(X32)
    assert fitted.cluster_centers_.dtype == np.float32
    assert fitted.transform(X32).dtype == np.float32
    assert fitted.transform(X).dtype == np.float64
    np.testing.assert_array_equal(fitted.predict(X32), fitted.labels_)
