"""The `vecclust` command line: the parser and the dispatch to `vecclust demo` and `vecclust cluster`.

Run `vecclust --help`, or `python -m vecclust --help`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .._kmeans.estimator import KMEANS_INITS
from .._kmedoids.choices import METHODS as KMEDOIDS_METHODS
from .._kmedoids.choices import INITS, METRICS
from .cluster import EUCLIDEAN_ONLY, METHODS, OTHER_METHODS, cmd_cluster
from .common import PROG, CLIError, version
from .demo import DEMO_SECTIONS, cmd_demo
from .files import TEXT_SUFFIXES


def parse_init(text: str):
    """An init name, or comma-separated initial medoid indices ("0,17,42")."""
    if text in INITS or text in KMEANS_INITS:
        return text
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither one of {', '.join(INITS)} nor comma-separated medoid indices") from None


def add_n_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-threads", type=int, default=None, metavar="N",
                        help="threads to use (default: all CPUs; results do not depend on it)")


def add_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default: 0)")


def add_demo(sub) -> None:
    sections = "; ".join(section.about for section in DEMO_SECTIONS)
    demo = sub.add_parser("demo", help="run every estimator on bundled and generated data and print tables",
                          description=f"Prints one table per section: {sections}.")
    add_n_threads(demo)
    add_seed(demo)
    demo.set_defaults(handler=cmd_demo)


def add_cluster(sub) -> None:
    text = " or ".join(TEXT_SUFFIXES)
    cluster = sub.add_parser(
        "cluster", help="cluster the rows of a .npy or text file (k-medoids, CLARA, CLARANS, k-means or PPP)",
        description=f"Cluster the rows of FILE (.npy, or comma-separated {text} with an optional header line). "
                    "Saves the labels (int64) to --out and prints a summary; the k-medoids methods, clara and clarans "
                    "also print the medoid indices.")
    cluster.add_argument("file", metavar="FILE", help=f"samples x features (.npy, {text}), or a square "
                                                      "dissimilarity matrix with --precomputed")
    cluster.add_argument("-k", "--n-clusters", dest="k", type=int, default=None, metavar="K",
                         help="number of clusters (required except for ppp, which finds it)")
    cluster.add_argument("--method", choices=METHODS, default="fasterpam",
                         help=f"{', '.join(KMEDOIDS_METHODS)}: exact k-medoids (default: fasterpam); "
                              "clara and clarans never store an n x n matrix; kmeans is k-means; ppp finds the "
                              f"number of clusters ({' and '.join(EUCLIDEAN_ONLY)}: euclidean only)")
    cluster.add_argument("--metric", choices=(*METRICS, "precomputed"), default=None,
                         help="default: euclidean (precomputed: FILE is a dissimilarity matrix)")
    cluster.add_argument("--precomputed", action="store_true", help="same as --metric precomputed")
    cluster.add_argument("--init", type=parse_init, default=None, metavar="INIT",
                         help=f"one of {', '.join(INITS)}, or comma-separated initial medoid indices "
                              f"(default: random; clara: a name only; clarans: none); kmeans: one of "
                              f"{', '.join(KMEANS_INITS)} (default: k-means++), or the indices of the rows to "
                              "start from")
    cluster.add_argument("--n-init", type=int, default=None, metavar="N",
                         help="k-medoids methods and kmeans: restarts with random initialisations; the lowest "
                              "loss is kept (default: 1; kmeans: 1 for k-means++, 10 for random)")
    cluster.add_argument("--max-iter", type=int, default=300, metavar="N",
                         help="k-medoids methods, clara, kmeans: iteration limit (default: 300)")
    add_seed(cluster)
    add_n_threads(cluster)
    cluster.add_argument("--n-sampling", type=int, default=None, metavar="N",
                         help="clara: sample size (default: 80 + 4k)")
    cluster.add_argument("--n-sampling-iter", type=int, default=5, metavar="N", help="clara: samples (default: 5)")
    cluster.add_argument("--n-local", type=int, default=2, metavar="N", help="clarans: local searches (default: 2)")
    cluster.add_argument("--max-neighbor", type=float, default=0.025, metavar="X",
                         help="clarans: tries without improvement that end a search; a fraction of n - k below 1, "
                              "else a count (default: 0.025)")
    cluster.add_argument("--max-fit-samples", type=int, default=None, metavar="N",
                         help="kmeans: fit the centres on a random subsample of N rows, then assign every row")
    cluster.add_argument("--verbose", action="store_true",
                         help=f"{', '.join(OTHER_METHODS)}: report progress")
    cluster.add_argument("--out", required=True, metavar="LABELS",
                         help=f"where to save the labels: .npy (int64), or text, one per line, if it ends in {text}")
    cluster.set_defaults(handler=cmd_cluster)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Clustering with a C++ core: exact k-medoids, CLARA and CLARANS for data too large "
                               "for a distance matrix, k-means, and PPP, which finds the number of clusters itself.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_demo(sub)
    add_cluster(sub)
    return parser


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
