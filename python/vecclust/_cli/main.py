"""The `vecclust` command line: the parser and the dispatch to `vecclust demo` and `vecclust cluster`.

Run `vecclust --help`, or `python -m vecclust --help`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .._kmedoids.choices import METHODS as DEVIATION_METHODS
from .._kmedoids.choices import METRICS, MSC_METHODS
from .._mixture.gmm import COVARIANCE_TYPES
from .cluster import cmd_cluster
from .common import PROG, CLIError, version
from .demo import DEMO_SECTIONS, cmd_demo
from .files import OUT_SUFFIXES, TEXT_SUFFIXES
from .options import ALL_INIT_NAMES, EUCLIDEAN_ONLY, INIT_DEFAULT, INIT_NAMES, METHODS, methods_of


class Parser(argparse.ArgumentParser):
    """Usage errors as one line (`vecclust: error: ...`, status 2) instead of the usage text."""

    def error(self, message):
        raise CLIError(message)


def parse_init(text: str):
    """An init name, or comma-separated row indices ("0,17,42")."""
    if text in ALL_INIT_NAMES:
        return text
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither an initialisation ({', '.join(ALL_INIT_NAMES)}) nor comma-separated row "
            "indices") from None


def add_n_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-threads", type=int, default=None, metavar="N",
                        help="threads to use (default: all CPUs; results do not depend on it)")


def add_seed(parser: argparse.ArgumentParser, default: int | None = 0, methods: str = "") -> None:
    parser.add_argument("--seed", type=int, default=default, metavar="S", help=f"{methods}random seed (default: 0)")


def add_demo(sub) -> None:
    sections = "; ".join(section.about for section in DEMO_SECTIONS)
    demo = sub.add_parser("demo", help="run every estimator on bundled and generated data and print tables",
                          description=f"Prints one table per section: {sections}.")
    add_n_threads(demo)
    add_seed(demo)
    demo.add_argument("--plot", metavar="FILE.png", default=None,
                      help="also draw the results (speed against scikit-learn, k-medoids, PPP, the index) into "
                           "a PNG file (needs matplotlib)")
    demo.set_defaults(handler=cmd_demo)


METHOD_HELP = (
    f"{', '.join(DEVIATION_METHODS)}: exact k-medoids on the n x n distances (FasterPAM, FastPAM1, PAM, the "
    f"alternating heuristic; default: fasterpam); {', '.join(MSC_METHODS)}: k-medoids that maximise the "
    "medoid silhouette (FasterMSC, FastMSC, PAMMEDSIL) or the silhouette (PAMSIL, small data only); dynmsc: "
    "FasterMSC for every k from --max-clusters down to --min-clusters, keeping the k of the best medoid "
    "silhouette (it finds the number of clusters: no -k); clara: k-medoids on samples, scored on all points; clarans: "
    "randomised swap search with distances computed on demand (clara and clarans never store an n x n "
    "matrix); kmeans: k-means (Hamerly's exact algorithm); gmm: a Gaussian mixture fitted by EM, each row "
    "labelled with its most likely component; ppp: probabilistic partitive partitioning, which finds the "
    f"number of clusters itself ({', '.join(EUCLIDEAN_ONLY)}: euclidean only)")


def init_help() -> str:
    groups: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for method, names in INIT_NAMES.items():
        groups.setdefault((names, INIT_DEFAULT[method]), []).append(method)
    parts = [f"{'/'.join(methods) if len(methods) < 3 else 'the k-medoids methods'}: {', '.join(names)} "
             f"(default: {default})" for (names, default), methods in groups.items()]
    return ("; ".join(parts) + ". The k-medoids methods also take comma-separated initial medoid indices, "
            "kmeans the indices of the rows to start from")


def add_cluster(sub) -> None:
    text = " or ".join(TEXT_SUFFIXES)
    out_formats = ", ".join(OUT_SUFFIXES)
    cluster = sub.add_parser(
        "cluster", help="cluster the rows of a .npy or text file (k-medoids, CLARA, CLARANS, k-means, Gaussian "
                        "mixture or PPP)",
        description=f"Cluster the rows of FILE (.npy, or {text}: numbers separated by commas or whitespace, with "
                    "an optional header line). Saves the labels (int64) to --out and prints a summary; the "
                    "k-medoids methods, clara and clarans also print the medoid indices. An option that does not "
                    "apply to the chosen --method is an error.")
    cluster.add_argument("file", metavar="FILE", help=f"samples x features (.npy, {text}), or a square "
                                                      "dissimilarity matrix with --precomputed")
    cluster.add_argument("-k", "--n-clusters", dest="k", type=int, default=None, metavar="K",
                         help="number of clusters (gmm: components; required except for dynmsc and ppp, which "
                              "find it)")
    cluster.add_argument("--max-clusters", type=int, default=None, metavar="K",
                         help="dynmsc: the largest k tried (default: 10)")
    cluster.add_argument("--min-clusters", type=int, default=None, metavar="K",
                         help="dynmsc: the smallest k tried (default: 2)")
    cluster.add_argument("--method", choices=METHODS, default="fasterpam", help=METHOD_HELP)
    cluster.add_argument("--metric", choices=(*METRICS, "precomputed"), default=None,
                         help="default: euclidean (precomputed: FILE is a dissimilarity matrix; k-medoids "
                              "methods, clara and clarans)")
    cluster.add_argument("--precomputed", action="store_true", help="same as --metric precomputed")
    cluster.add_argument("--init", type=parse_init, default=None, metavar="INIT", help=init_help())
    cluster.add_argument("--n-init", type=int, default=None, metavar="N",
                         help=f"{methods_of('n_init')}: runs from different initialisations; the best is kept "
                              "(default: 1; kmeans: 1 for k-means++, 10 for random)")
    cluster.add_argument("--max-iter", type=int, default=None, metavar="N",
                         help=f"{methods_of('max_iter')}: iteration limit (default: 300; gmm: 100)")
    add_seed(cluster, None, f"{methods_of('seed')}: ")  # None: refused for ppp, see options.py
    add_n_threads(cluster)
    cluster.add_argument("--n-sampling", type=int, default=None, metavar="N",
                         help="clara: sample size (default: 80 + 4k)")
    cluster.add_argument("--n-sampling-iter", type=int, default=None, metavar="N", help="clara: samples (default: 5)")
    cluster.add_argument("--n-local", type=int, default=None, metavar="N",
                         help="clarans: local searches (default: 2)")
    cluster.add_argument("--max-neighbor", type=float, default=None, metavar="X",
                         help="clarans: tries without improvement that end a search; a fraction of n - k below 1, "
                              "else a count (default: 0.025)")
    cluster.add_argument("--max-fit-samples", type=int, default=None, metavar="N",
                         help="kmeans: fit the centres on a random subsample of N rows, then assign every row")
    cluster.add_argument("--covariance-type", choices=COVARIANCE_TYPES, default=None,
                         help="gmm: full or diagonal covariance matrices (default: full)")
    cluster.add_argument("--verbose", action="store_true", default=None,
                         help=f"{methods_of('verbose')}: report progress")
    cluster.add_argument("--out", required=True, metavar="LABELS",
                         help=f"where to save the labels, in the format its extension names ({out_formats}): .npy "
                              f"an int64 array, {text} text with one label per line; any other extension is an "
                              "error")
    cluster.add_argument("--plot", metavar="FILE.png", default=None,
                         help="also draw the rows coloured by label (on their first two principal components "
                              "when there are more than two columns), medoids or centres marked, into a PNG file "
                              "(needs matplotlib; not with --precomputed)")
    cluster.set_defaults(handler=cmd_cluster)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG, description="Clustering with a C++ core. `vecclust cluster` clusters the rows of a data file "
                               "with exact k-medoids (fasterpam, fastpam1, pam, alternate; fastermsc, fastmsc, "
                               "pammedsil and pamsil for the silhouette; dynmsc, which chooses k), CLARA and "
                               "CLARANS for "
                               "data too large for a distance matrix, k-means, a Gaussian mixture, or PPP, which "
                               "finds the number of clusters itself. `vecclust demo` runs them on bundled and "
                               "generated data and builds and searches a multi-tenant vector index; the index "
                               "itself (vecclust.MultiTenantIndex) is used from Python and has no command.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_demo(sub)
    add_cluster(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "n_threads", None) == 0:
            raise CLIError("--n-threads 0 is not allowed; omit it to use all CPUs, or give a positive count "
                           "(-1: all, -2: all but one, ...)")
        if getattr(args, "handler", None) is None:
            raise CLIError("no command given: use `vecclust demo` or `vecclust cluster ...` (see vecclust --help)")
    except CLIError as exc:
        print(f"{PROG}: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    try:
        return args.handler(args)
    except (CLIError, ValueError, TypeError) as exc:
        print(f"{PROG}: error: {one_line(str(exc)) or type(exc).__name__}", file=sys.stderr)
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


def one_line(message: str) -> str:
    return " ".join(message.split())


if __name__ == "__main__":
    sys.exit(main())
