import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from strategies import separated_blobs
from vecclust import _core

# Examples per property; raise with VECCLUST_HYPOTHESIS_EXAMPLES=1000 for a deeper run.
settings.register_profile(
    "vecclust",
    max_examples=int(os.environ.get("VECCLUST_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("vecclust")


def pytest_configure(config):
    # Hypothesis imports libcst to write patch files when a property fails, and libcst trips a
    # DeprecationWarning of mypy_extensions; with filterwarnings=error that would turn every
    # falsified property into a pytest INTERNALERROR instead of a readable failure.
    config.addinivalue_line("filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")


@pytest.fixture
def blobs():
    """(X, true labels): 4 well-separated clusters of 30 points in 3-d, float64."""
    return separated_blobs(30, seed=0)


@pytest.fixture
def fixture_matrix():
    """The 5-point matrix of the Rust `kmedoids` tests (kmedoids.md section 13)."""
    return np.array(
        [[0, 1, 2, 4, 7], [1, 0, 3, 5, 8], [2, 3, 0, 6, 9], [4, 5, 6, 0, 1], [7, 8, 9, 1, 0]], dtype=np.float64
    )


@pytest.fixture
def instruction_sets():
    """The kernels' instruction sets this CPU has, lowest first; the cap is lifted afterwards."""
    levels = ["baseline", "avx2", "avx512"]
    _core.set_isa_limit("avx512")
    yield levels[:levels.index(_core.isa_level()) + 1]
    _core.set_isa_limit("avx512")
