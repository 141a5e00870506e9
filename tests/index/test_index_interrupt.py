"""Ctrl-C stops a long index train and a long batch search promptly (the GIL is released)."""

import signal
import subprocess
import sys
import time

import pytest

LONG_TRAIN = """
import sys, numpy as np
from vecclust import MultiTenantIndex
X = np.random.default_rng(0).standard_normal((1_000_000, 32), dtype=np.float32)
index = MultiTenantIndex(32, split_threshold=16, branching_factor=64, random_state=0, n_threads=int(sys.argv[1]))
print("ready", flush=True)
try:
    index.train(X)  # runs for tens of seconds
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0 if not index.is_trained else 4)
sys.exit(3)
"""

LONG_SEARCH = """
import sys, numpy as np
from vecclust import MultiTenantIndex
X = np.random.default_rng(0).standard_normal((20_000, 32), dtype=np.float32)
index = MultiTenantIndex(32, split_threshold=64, random_state=0, n_threads=int(sys.argv[1]))
index.train(X[:5000])
index.add(X, np.arange(len(X)), 0)
Q = np.tile(X, (5, 1))
print("ready", flush=True)
try:  # every query scans all 20000 vectors: a minute or more
    index.search(Q, 0, k=10, budget=len(X))
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0)
sys.exit(3)
"""


@pytest.mark.parametrize("script", [LONG_TRAIN, LONG_SEARCH], ids=["train", "batch-search"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_ctrl_c_interrupts_the_index(script, n_threads):
    with subprocess.Popen([sys.executable, "-c", script, str(n_threads)], stdout=subprocess.PIPE, text=True) as proc:
        ready = proc.stdout.readline().strip()
        time.sleep(0.5)  # well inside the call
        proc.send_signal(signal.SIGINT)
        start = time.perf_counter()
        try:
            out = proc.communicate(timeout=10)[0]
        finally:
            proc.kill()
        took = time.perf_counter() - start
    assert ready == "ready"
    assert proc.returncode == 0 and "interrupted" in out, out
    assert took < 1.5, f"took {took:.2f} s to stop after Ctrl-C"
