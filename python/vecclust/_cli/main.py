"""The `vecclust` command line: `vecclust demo` and `vecclust cluster`.

Run `vecclust --help`, or `python -m vecclust --help`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

PROG = "vecclust"


class CLIError(Exception):
    """A user-facing error: printed as `vecclust: error: <message>`, exit status 2."""


# --------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DemoRun:
    """One row of a demo table.

    `make(k, seed, n_threads)` returns an unfitted estimator; after `fit(X)` it must have
    `labels_` and `inertia_` (the total deviation). New algorithms (CLARA, CLARANS, PPP, ...)
    add rows by appending DemoRun entries to a section's list.
    """

    method: str
    init: str
    make: Callable[[int, "int | None", "int | None"], object]


def kmedoids_run(method: str, init: str) -> DemoRun:
    def make(k, seed, n_threads):
        from .. import KMedoids

        return KMedoids(k, method=method, init=init, random_state=seed, n_threads=n_threads)

    return DemoRun(method, init, make)


def sampling_run(name: str) -> DemoRun:
    """CLARA or CLARANS with their default settings."""
    def make(k, seed, n_threads):
        from .. import CLARA, CLARANS

        estimator = CLARA if name == "clara" else CLARANS
        return estimator(k, random_state=seed, n_threads=n_threads)

    return DemoRun(name, "random", make)


# k-medoids on the digits data (k = 10, one cluster per digit, ideally).
DIGITS_RUNS: list[DemoRun] = [
    kmedoids_run("fasterpam", "random"),
    kmedoids_run("fasterpam", "k-medoids++"),
    kmedoids_run("fasterpam", "build"),
    kmedoids_run("fastpam1", "build"),
    kmedoids_run("pam", "build"),
    kmedoids_run("alternate", "k-medoids++"),
    sampling_run("clara"),
    sampling_run("clarans"),
]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool], file=None) -> None:
    file = file or sys.stdout
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    print(line(headers), file=file)
    print("  ".join("-" * w for w in widths), file=file)
    for row in rows:
        print(line(row), file=file)


def run_table(runs: Sequence[DemoRun], X, y, k: int, args) -> None:
    """Fits every run on X and prints method, init, k, loss, ARI against y and the fit time."""
    from sklearn.metrics import adjusted_rand_score

    rows = []
    for run in runs:
        estimator = run.make(k, args.seed, args.n_threads)
        start = time.perf_counter()
        estimator.fit(X)
        elapsed = time.perf_counter() - start
        rows.append([run.method, run.init, str(k), f"{estimator.inertia_:.1f}",
                     f"{adjusted_rand_score(y, estimator.labels_):.3f}", f"{elapsed:.3f}"])
    print_table(["method", "init", "k", "loss", "ARI", "time [s]"], rows,
                right=[False, False, True, True, True, True])


def demo_digits(args) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = digits.data, digits.target
    k = len(np.unique(y))
    print(f"scikit-learn digits: {X.shape[0]} samples x {X.shape[1]} features ({X.dtype}), {k} classes, "
          f"euclidean distance")
    print("loss = total deviation; ARI = adjusted Rand index against the digit labels")
    run_table(DIGITS_RUNS, X, y, k, args)


def ppp_datasets():
    """(name, X, true labels) for the PPP demo: generated blobs, a null set and bundled real data."""
    from sklearn.datasets import load_digits, load_iris, load_wine, make_blobs
    from sklearn.preprocessing import StandardScaler

    separated = make_blobs(n_samples=2000, centers=8, n_features=10, cluster_std=1.0, random_state=0)
    X, y = make_blobs(n_samples=1500, centers=3, random_state=170)
    anisotropic = (X @ np.array([[0.6, -0.6], [-0.4, 0.8]]), y)
    varied = make_blobs(n_samples=1500, centers=3, cluster_std=[1.0, 2.5, 0.5], random_state=170)
    gaussian = (np.random.default_rng(0).normal(size=(2000, 10)), np.zeros(2000, dtype=int))
    sets = [("blobs, 8 in 10-d", *separated), ("anisotropic", *anisotropic), ("varied spreads", *varied),
            ("one Gaussian (null)", *gaussian)]
    for name, loader in (("iris", load_iris), ("wine", load_wine), ("digits", load_digits)):
        data = loader()
        sets.append((f"{name} (standardised)", StandardScaler().fit_transform(data.data), data.target))
    return sets


def demo_ppp(args) -> None:
    from sklearn.metrics import adjusted_rand_score

    from .. import PPP

    print("PPP finds the number of clusters itself; its result does not depend on the seed, threads or row order")
    rows = []
    for name, X, y in ppp_datasets():
        model = PPP(n_threads=args.n_threads)
        start = time.perf_counter()
        model.fit(X)
        elapsed = time.perf_counter() - start
        order = np.random.default_rng(args.seed).permutation(len(X))
        again = PPP(n_threads=args.n_threads, random_state=args.seed).fit(X[order]).labels_
        stable = adjusted_rand_score(model.labels_[order], again)
        rows.append([name, f"{X.shape[0]}x{X.shape[1]}", str(len(np.unique(y))), str(model.n_clusters_),
                     f"{adjusted_rand_score(y, model.labels_):.3f}", f"{stable:.3f}", f"{elapsed:.3f}"])
    print_table(["data", "shape", "true k", "PPP k", "ARI", "same on shuffled rows", "time [s]"], rows,
                right=[False, True, True, True, True, True, True])
def demo_index(args) -> None:
    """MultiTenantIndex on generated clustered vectors shared by Zipf-sized tenants."""
    from .. import MultiTenantIndex

    rng = np.random.default_rng(args.seed)
    n, dim, n_tenants, n_queries = 20_000, 64, 6, 100
    centers = rng.normal(scale=4.0, size=(100, dim))
    X = (centers[rng.integers(0, 100, n)] + rng.normal(size=(n, dim))).astype(np.float32)
    ids = np.arange(n, dtype=np.int64)
    owners = np.minimum(rng.zipf(1.5, n) - 1, n_tenants - 1)  # tenant 0 the largest
    shared = rng.random(n) < 0.05  # the last tenant also sees 5% of everyone's vectors
    start = time.perf_counter()
    index = MultiTenantIndex(dim, random_state=args.seed, n_threads=args.n_threads).train(X)
    for t in range(n_tenants):
        index.add(X[owners == t], ids[owners == t], t)
    index.grant(ids[shared & (owners != n_tenants - 1)], n_tenants - 1)
    build = time.perf_counter() - start
    memory = index.memory_usage()
    print(f"{n} clustered vectors x {dim} (float32), {n_tenants} tenants; built in {build:.2f} s, "
          f"{memory['total'] / 2**20:.1f} MiB ({memory['vectors'] / 2**20:.1f} MiB of vectors)")
    Q = X[rng.integers(0, n, n_queries)] + rng.normal(scale=0.5, size=(n_queries, dim)).astype(np.float32)
    distances, found = index.search(Q[:1], 0, k=5)
    print(f"tenant 0, nearest 5 to a query: ids {found[0].tolist()}, squared distances "
          f"[{', '.join(f'{d:.1f}' for d in distances[0])}]")
    print("recall@10 against brute force; latency of one-query calls (default budget)")
    rows = []
    for t in range(n_tenants):
        visible = ids[(owners == t) | (shared & (t == n_tenants - 1))]
        start = time.perf_counter()
        found = np.concatenate([index.search(q, t, k=10)[1] for q in Q])
        latency = (time.perf_counter() - start) / n_queries
        truth = [visible[np.argsort(((X[visible] - q) ** 2).sum(axis=1), kind="stable")[:10]] for q in Q]
        recall = np.mean([len(set(f.tolist()) & set(r.tolist())) / len(r) for f, r in zip(found, truth)])
        rows.append([str(t), str(index.tenant_size(t)), f"{recall:.3f}", f"{latency * 1e6:.0f}"])
    print_table(["tenant", "vectors", "recall@10", "us/query"], rows, right=[True, True, True, True])


@dataclass(frozen=True)
class DemoSection:
    title: str
    run: Callable[[argparse.Namespace], None]


# Sections of `vecclust demo`, in order; later algorithms and the index demo add theirs here.
DEMO_SECTIONS: list[DemoSection] = [
    DemoSection("k-medoids", demo_digits),
    DemoSection("PPP: probabilistic partitive partitioning", demo_ppp),
    DemoSection("multi-tenant vector index", demo_index),
]


def cmd_demo(args) -> int:
    from .._utils.validation import effective_n_threads

    n_threads = effective_n_threads(args.n_threads)  # validates --n-threads before any work
    print(f"vecclust {_version()} demo (seed {args.seed}, {n_threads} thread{'s' if n_threads != 1 else ''})")
    for section in DEMO_SECTIONS:
        print()
        print(f"== {section.title} ==")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            section.run(args)
        report_warnings(caught)
    return 0


# --------------------------------------------------------------------------------------------
# cluster
# --------------------------------------------------------------------------------------------

TEXT_SUFFIXES = (".csv", ".txt")


def load_matrix(path: Path) -> np.ndarray:
    """A 2-d float array from .npy (float32 stays float32) or comma-separated text."""
    if not path.exists():
        raise CLIError(f"{path}: no such file")
    if path.is_dir():
        raise CLIError(f"{path}: is a directory")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise CLIError(f"{path}: cannot read as .npy: {exc}") from None
        if not isinstance(data, np.ndarray):
            raise CLIError(f"{path}: expected a single array")
    elif suffix in TEXT_SUFFIXES:
        data = load_text(path)
    else:
        raise CLIError(f"{path}: unsupported file type {path.suffix!r}; use .npy or .csv")

    if data.dtype.kind in "biu":
        data = data.astype(np.float64)
    elif data.dtype.kind == "f":
        # float16 and float32 of either byte order become native float32, wider floats float64
        native = np.float32 if data.dtype.itemsize <= 4 else np.float64
        if data.dtype != native:
            data = data.astype(native)
    else:
        raise CLIError(f"{path}: expected a numeric array, got dtype {data.dtype}")
    if data.ndim != 2:
        raise CLIError(f"{path}: expected a 2-d array (samples x features), got shape {data.shape}")
    if data.size == 0:
        raise CLIError(f"{path}: the array is empty (shape {data.shape})")
    return data


def load_text(path: Path) -> np.ndarray:
    """Comma-separated numbers; a first line that does not parse as numbers is a header."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"{path}: cannot read: {exc}") from None
    first = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), None)
    if first is None:
        raise CLIError(f"{path}: contains no data")
    skip = 0
    try:
        [float(field) for field in lines[first].split(",")]
    except ValueError:
        skip = first + 1  # a header line
    body = lines[skip:]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data" is reported below
            data = np.loadtxt(body, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise CLIError(f"{path}: cannot parse as comma-separated numbers: {exc}") from None
    if data.size == 0:
        raise CLIError(f"{path}: contains no data" + (" after the header line" if skip else ""))
    return data


def parse_init(text: str):
    """An init name, or comma-separated initial medoid indices ("0,17,42")."""
    from .._kmeans.estimator import KMEANS_INITS
    from .._kmedoids.choices import INITS

    if text in INITS or text in KMEANS_INITS:
        return text
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither one of {', '.join(INITS)} nor comma-separated medoid indices") from None


def save_labels(labels: np.ndarray, out: Path) -> None:
    labels = np.asarray(labels, dtype=np.int64)
    try:
        if out.suffix.lower() in TEXT_SUFFIXES:
            np.savetxt(out, labels, fmt="%d")
        else:
            with open(out, "wb") as handle:  # exactly this name (np.save would append .npy)
                np.save(handle, labels)
    except OSError as exc:
        raise CLIError(f"cannot write {out}: {exc.strerror or exc}") from None


def cmd_cluster(args) -> int:
    from .. import CLARA, CLARANS, PPP, KMeans, KMedoids

    metric = args.metric
    if args.precomputed:
        if metric not in (None, "precomputed"):
            raise CLIError(f"--precomputed conflicts with --metric {metric}")
        metric = "precomputed"
    metric = metric or "euclidean"
    if args.method in ("kmeans", "ppp") and metric != "euclidean":
        raise CLIError(f"--method {args.method} works with the euclidean metric only, not {metric}")
    if (args.k is None) != (args.method == "ppp"):
        raise CLIError("--method ppp finds the number of clusters itself: do not give -k"
                       if args.method == "ppp" else f"-k is required for --method {args.method}")

    out = Path(args.out)
    if out.is_dir():
        raise CLIError(f"--out {out} is a directory")
    if not out.parent.is_dir():
        raise CLIError(f"--out {out}: directory {out.parent} does not exist")

    path = Path(args.file)
    X = load_matrix(path)
    if metric == "precomputed":
        if X.shape[0] != X.shape[1]:
            raise CLIError(f"{path}: with a precomputed metric the file must hold a square dissimilarity "
                           f"matrix, got shape {X.shape}")
    else:
        bad = ~np.isfinite(X)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            count = int(bad.sum())
            raise CLIError(f"{path}: contains NaN or infinity ({count} entr{'ies' if count > 1 else 'y'}; first at "
                           f"row {row}, column {col})")

    if args.init is None:
        args.init = "k-means++" if args.method == "kmeans" else "random"
    common = dict(metric=metric, random_state=args.seed, n_threads=args.n_threads)
    if args.method in ("clara", "clarans") and not isinstance(args.init, str):
        raise CLIError(f"--init with medoid indices is not available for {args.method}")
    if args.method == "ppp":
        model = PPP(verbose=int(args.verbose), n_threads=args.n_threads)
    elif args.method == "kmeans":
        init = args.init if isinstance(args.init, str) else X[np.asarray(args.init)]  # indices: those rows
        model = KMeans(args.k, init=init, n_init="auto" if args.n_init is None else args.n_init,
                       max_iter=args.max_iter, max_fit_samples=args.max_fit_samples, verbose=int(args.verbose),
                       random_state=args.seed, n_threads=args.n_threads)
    elif args.method == "clara":
        model = CLARA(args.k, n_sampling=args.n_sampling, n_sampling_iter=args.n_sampling_iter, init=args.init,
                      max_iter=args.max_iter, verbose=args.verbose, **common)
    elif args.method == "clarans":
        model = CLARANS(args.k, n_local=args.n_local, max_neighbor=args.max_neighbor, verbose=args.verbose, **common)
    else:
        model = KMedoids(args.k, method=args.method, init=args.init, max_iter=args.max_iter,
                         n_init=1 if args.n_init is None else args.n_init, **common)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(X)
        elapsed = time.perf_counter() - start
    report_warnings(caught)
    save_labels(model.labels_, out)

    n = X.shape[0]
    if args.method == "ppp":
        print(f"n={n} clusters found={model.n_clusters_} splits={len(model.splits_)} merges={len(model.merges_)} "
              f"time={elapsed:.3f}s (ppp, {X.shape[1]} features, {X.dtype}) -> {out}")
        return 0
    if args.method == "kmeans":
        print(f"n={n} k={args.k} inertia={model.inertia_:.6g} iterations={model.n_iter_} time={elapsed:.3f}s "
              f"(kmeans, init {args.init if isinstance(args.init, str) else 'given'}, {X.shape[1]} features, "
              f"{X.dtype}) -> {out}")
        return 0
    what = "dissimilarity matrix" if metric == "precomputed" else f"{X.shape[1]} features, {metric}"
    print(f"n={n} k={args.k} loss={model.inertia_:.6g} iterations={model.n_iter_} swaps={model.n_swaps_} "
          f"time={elapsed:.3f}s ({args.method}, init {args.init if isinstance(args.init, str) else 'given'}, "
          f"{what}, {X.dtype}) -> {out}")
    print("medoids:", " ".join(str(int(m)) for m in model.medoid_indices_))
    return 0


# --------------------------------------------------------------------------------------------
# parser and entry point
# --------------------------------------------------------------------------------------------

def _version() -> str:
    try:
        from .. import __version__

        return __version__
    except ImportError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    from .._kmedoids.choices import METHODS
    from .._kmedoids.choices import INITS, METRICS

    parser = argparse.ArgumentParser(prog=PROG, description="Fast exact k-medoids clustering, and CLARA and "
                                                            "CLARANS for data too large for a distance matrix.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="cluster scikit-learn's digits data with every method and print a table",
                          description="Cluster scikit-learn's bundled digits data (1797 x 64) with k=10 using each "
                                      "method and print loss, adjusted Rand index and time.")
    demo.add_argument("--n-threads", type=int, default=None, metavar="N",
                      help="threads to use (default: all CPUs; results do not depend on it)")
    demo.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default: 0)")
    demo.set_defaults(handler=cmd_demo)

    cluster = sub.add_parser(
        "cluster", help="k-medoids clustering of the rows of a .npy or .csv file",
        description="k-medoids clustering of the rows of FILE (.npy, or comma-separated .csv with an optional "
                    "header line). Saves the labels (int64) to --out and prints a summary and the medoid indices.")
    cluster.add_argument("file", metavar="FILE", help="samples x features (.npy or .csv), or a square "
                                                      "dissimilarity matrix with --precomputed")
    cluster.add_argument("-k", "--n-clusters", dest="k", type=int, default=None, metavar="K",
                         help="number of clusters (required except for ppp, which finds it)")
    cluster.add_argument("--method", choices=(*METHODS, "clara", "clarans", "kmeans", "ppp"), default="fasterpam",
                         help="default: fasterpam; clara and clarans never store an n x n matrix; kmeans is "
                              "k-means (euclidean); ppp finds the number of clusters (euclidean)")
    cluster.add_argument("--metric", choices=(*METRICS, "precomputed"), default=None,
                         help="default: euclidean (precomputed: FILE is a dissimilarity matrix)")
    cluster.add_argument("--precomputed", action="store_true", help="same as --metric precomputed")
    cluster.add_argument("--init", type=parse_init, default=None, metavar="INIT",
                         help=f"one of {', '.join(INITS)}, or comma-separated initial medoid indices "
                              "(default: random); kmeans: k-means++ (default) or random, or the indices of the "
                              "rows to start from")
    cluster.add_argument("--n-init", type=int, default=None, metavar="N",
                         help="restarts with random initialisations; the lowest loss is kept (default: 1; "
                              "kmeans: 1 for k-means++, 10 for random)")
    cluster.add_argument("--max-iter", type=int, default=300, metavar="N", help="default: 300")
    cluster.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default: 0)")
    cluster.add_argument("--n-threads", type=int, default=None, metavar="N",
                         help="threads to use (default: all CPUs; results do not depend on it)")
    cluster.add_argument("--n-sampling", type=int, default=None, metavar="N",
                         help="clara: sample size (default: 80 + 4k)")
    cluster.add_argument("--n-sampling-iter", type=int, default=5, metavar="N", help="clara: samples (default: 5)")
    cluster.add_argument("--n-local", type=int, default=2, metavar="N", help="clarans: local searches (default: 2)")
    cluster.add_argument("--max-neighbor", type=float, default=0.025, metavar="X",
                         help="clarans: tries without improvement that end a search; a fraction of n - k below 1, "
                              "else a count (default: 0.025)")
    cluster.add_argument("--max-fit-samples", type=int, default=None, metavar="N",
                         help="kmeans: fit the centres on a random subsample of N rows, then assign every row")
    cluster.add_argument("--verbose", action="store_true", help="clara, clarans, kmeans: report progress")
    cluster.add_argument("--out", required=True, metavar="LABELS",
                         help="where to save the labels: .npy (int64), or text if it ends in .csv")
    cluster.set_defaults(handler=cmd_cluster)
    return parser


def report_warnings(caught) -> None:
    for warning in caught:
        print(f"{PROG}: warning: {warning.message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "n_threads", None) == 0:
        parser.exit(2, f"{PROG}: error: --n-threads 0 is not allowed; omit it to use all CPUs, or give a "
                       "positive count (-1: all, -2: all but one, ...)\n")
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args)
    except (CLIError, ValueError, TypeError) as exc:
        message = str(exc).strip() or type(exc).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"{PROG}: error: out of memory (for large n, a precomputed matrix takes n*n values)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `vecclust demo | head -3`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the final flush at exit does not fail
        return 141


if __name__ == "__main__":
    sys.exit(main())
