import pytest

distributed = pytest.importorskip("distributed")


def local_cluster(n_workers):
    """A LocalCluster of n_workers processes with one thread each, dashboard on a free port."""
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                    dashboard_address=":0", memory_limit="1GiB")


@pytest.fixture(scope="session")
def client():
    """A client of a LocalCluster with 2 workers of 1 thread each, current for the session (the
    workers' imports are paid once)."""
    with local_cluster(2) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="session")
def one_worker():
    """A second cluster of 1 worker; a test makes its client current with `as_current()`."""
    with local_cluster(1) as cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c
