"""Ctrl-C stops a long fit promptly, even with the GIL released and worker threads running."""

import signal
import subprocess
import sys
import time

import pytest

LONG_FIT = """
import sys, numpy as np, vecclust
rng = np.random.default_rng(0)
X = rng.standard_normal((3000, 16))
D = vecclust._core.pairwise_distances(X, X, metric="euclidean", n_threads=1)
print("ready", flush=True)
try:
    vecclust.pam(D, 200, max_iter=1000, n_threads=int(sys.argv[1]))  # runs for minutes
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0)
sys.exit(3)
"""


LONG_EM = """
import sys, numpy as np
from vecclust._mixture.gmm import fit_em
rng = np.random.default_rng(0)
X = rng.standard_normal((50_000, 24))
k = 16
print("ready", flush=True)
try:  # tol=0: EM runs all 100000 iterations, for many minutes
    fit_em(X, np.full(k, 1 / k), X[:k], np.stack([np.eye(24)] * k), covariance_type="full", reg_covar=1e-6,
           tol=0.0, max_iter=100_000, n_threads=int(sys.argv[1]))
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0)
sys.exit(3)
"""


@pytest.mark.parametrize("script", [LONG_FIT, LONG_EM], ids=["pam", "gaussian-mixture-em"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_ctrl_c_interrupts_a_long_fit(script, n_threads):
    proc = subprocess.Popen([sys.executable, "-c", script, str(n_threads)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # well inside the fit
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
        elapsed = time.perf_counter() - sent
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert "interrupted" in out
    assert elapsed < 1.5, f"took {elapsed:.2f} s to stop after Ctrl-C"
