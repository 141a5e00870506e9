"""Data on disk 3x the workers' combined memory_limit: KMeans, CLARA and PPP fit and predict
without a worker being restarted, and no worker's peak memory reaches its limit."""

import os
import threading
import time

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
vdask = pytest.importorskip("vecclust.dask")

WORKERS = 1
# A worker at rest (Python, NumPy, scikit-learn, Dask, vecclust) holds about 270-285 MB and
# peaked 15 MB above that on these 4 MB blocks; Dask kills it at 95% of the limit.
MEMORY_LIMIT = 340 * 2**20
D, ROWS, K = 32, 32768, 5  # float32 blocks of 4 MB


def write_blocks(path, n_blocks):
    """K Gaussian blobs as .npy blocks (each seeded by its index); the blob of each row."""
    centres = np.random.default_rng(0).normal(scale=8, size=(K, D)).astype(np.float32)
    truth = []
    for b in range(n_blocks):
        rng = np.random.default_rng([1, b])
        labels = rng.integers(K, size=ROWS)
        block = rng.standard_normal(size=(ROWS, D), dtype=np.float32)
        block += centres[labels]
        np.save(os.path.join(path, f"{b}.npy"), block)
        truth.append(labels)
    return np.concatenate(truth)


def start_sampling(dask_worker):
    """In the worker: a thread recording its largest resident memory every 5 ms (ru_maxrss would
    include the process start-up)."""
    import psutil

    process, state = psutil.Process(), {"peak": 0}

    def sample():
        while True:
            state["peak"] = max(state["peak"], process.memory_info().rss)
            time.sleep(0.005)

    threading.Thread(target=sample, daemon=True).start()
    dask_worker.sampled_memory = state


def worker_state(dask_worker):
    """The worker's process id and largest resident memory sampled so far (bytes)."""
    return os.getpid(), dask_worker.sampled_memory["peak"]


def same_partition(a, b):
    pairs = np.unique(np.stack([a, b]), axis=1)
    return len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]


@pytest.mark.slow
def test_kmeans_clara_and_ppp_on_data_three_times_the_workers_memory(tmp_path):
    n_blocks = int(np.ceil(3 * WORKERS * MEMORY_LIMIT / (ROWS * D * 4)))
    truth = write_blocks(tmp_path, n_blocks)
    X = da.concatenate([da.from_delayed(dask.delayed(np.load)(os.path.join(tmp_path, f"{b}.npy")), (ROWS, D),
                                        np.float32) for b in range(n_blocks)])
    assert X.nbytes >= 3 * WORKERS * MEMORY_LIMIT
    # No spilling to disk and no pausing: a worker's only way out is the limit's kill.
    config = {"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False,
              "distributed.worker.memory.pause": False}
    with dask.config.set(config), distributed.LocalCluster(
            n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=":0",
            memory_limit=MEMORY_LIMIT) as cluster, distributed.Client(cluster) as client:
        client.run(start_sampling)
        time.sleep(0.1)
        started = client.run(worker_state)
        head = slice(0, 2 * ROWS)
        peaks = {"at rest": max(peak for _, peak in started.values())}
        for estimator in (vdask.KMeans(K, init="k-means++", random_state=0, max_iter=5), vdask.CLARA(K, random_state=0),
                          vdask.PPP(max_clusters=8)):
            name = type(estimator).__name__
            estimator.fit(X)
            peaks[f"{name} fit"] = max(peak for _, peak in client.run(worker_state).values())
            sizes = da.bincount(estimator.predict(X), minlength=K).compute()
            assert sizes.sum() == X.shape[0]
            assert same_partition(estimator.labels_[head].compute(), truth[head])
            peaks[f"{name} predict"] = max(peak for _, peak in client.run(worker_state).values())
        after = client.run(worker_state)
    print({step: f"{peak / 2**20:.0f} MB" for step, peak in peaks.items()})
    assert sorted(pid for pid, _ in after.values()) == sorted(pid for pid, _ in started.values())
    assert max(peaks.values()) < 0.95 * MEMORY_LIMIT, peaks
