"""Peak resident memory and CPU time of each Dask worker over one timed step.

The workers' own resident set is sampled every few milliseconds by a thread in each worker
(ru_maxrss would include the worker's start-up and every earlier step); CPU time is the
worker process's user + system time, read before and after the step. The client's CPU time
(PPP's tree search, CLARA's FasterPAM runs) is measured separately by the caller.
"""

from __future__ import annotations

import threading
import time

PERIOD = 0.005  # seconds between samples


class _Sampler:
    def __init__(self):
        import psutil

        self.process = psutil.Process()
        self.peak = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            rss = self.process.memory_info().rss
            with self.lock:
                self.peak = max(self.peak, rss)
            time.sleep(PERIOD)

    def restart(self):
        """The resident set now, which becomes the peak so far; the process's CPU seconds."""
        with self.lock:
            self.peak = self.process.memory_info().rss
            rest = self.peak
        times = self.process.cpu_times()
        return rest, times.user + times.system

    def read(self):
        times = self.process.cpu_times()
        with self.lock:
            return self.peak, times.user + times.system


def _restart(dask_worker):
    if not hasattr(dask_worker, "vecclust_bench_sampler"):
        dask_worker.vecclust_bench_sampler = _Sampler()
    return dask_worker.vecclust_bench_sampler.restart()


def _read(dask_worker):
    return dask_worker.vecclust_bench_sampler.read()


class Step:
    """with Step(client) as step: ...; then step.row(): wall seconds, worker CPU seconds summed
    over the workers, client CPU seconds, and each worker's peak resident memory (MiB), also
    above its resident set at the start of the step."""

    def __init__(self, client):
        self.client = client

    def __enter__(self):
        self.start = self.client.run(_restart)
        self.client_cpu = time.process_time()
        self.wall = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.client_cpu = time.process_time() - self.client_cpu
        self.end = self.client.run(_read)
        return False

    def row(self):
        mib = 2.0**20
        peaks = {w: self.end[w][0] for w in self.end}
        return {
            "seconds": round(self.wall, 3),
            "worker_cpu_seconds": round(sum(self.end[w][1] - self.start[w][1] for w in self.end), 3),
            "client_cpu_seconds": round(self.client_cpu, 3),
            "peak_worker_rss_mib": round(max(peaks.values()) / mib, 1),
            "peak_worker_rss_above_start_mib": round(max(peaks[w] - self.start[w][0] for w in peaks) / mib, 1),
        }
