"""Which `vecclust cluster` options apply to which --method, and their defaults per method.

The parser leaves every method-specific option at None, so that an option the user gave for a
method it does not apply to is an error rather than silently ignored.
"""

from __future__ import annotations

from .._kmeans.estimator import KMEANS_INITS
from .._kmedoids.choices import INITS as KMEDOIDS_INITS
from .._kmedoids.choices import METHODS as DEVIATION_METHODS
from .._kmedoids.choices import MSC_METHODS
from .._mixture.gmm import INIT_PARAMS as GMM_INITS
from .common import CLIError

# The KMedoids methods: the total deviation's, the silhouette's, and dynmsc (KMedoids("auto")).
KMEDOIDS_METHODS = (*DEVIATION_METHODS, *MSC_METHODS, "dynmsc")
# Every --method, the k-medoids methods first.
METHODS = (*KMEDOIDS_METHODS, "clara", "clarans", "kmeans", "gmm", "ppp")
EUCLIDEAN_ONLY = ("kmeans", "gmm", "ppp")
FINDS_K = ("dynmsc", "ppp")  # they find the number of clusters themselves
WITH_K = tuple(m for m in METHODS if m not in FINDS_K)

# The initialisation names each method takes, its default, and whether it takes row indices
# (initial medoids for k-medoids, the rows to start from for k-means).
INIT_NAMES = {**{m: KMEDOIDS_INITS for m in KMEDOIDS_METHODS}, "clara": KMEDOIDS_INITS, "kmeans": KMEANS_INITS,
              "gmm": GMM_INITS}
INIT_DEFAULT = {**{m: "random" for m in KMEDOIDS_METHODS}, "clara": "random", "kmeans": "k-means++",
                "gmm": "kmeans"}
INIT_INDICES = (*KMEDOIDS_METHODS, "kmeans")
ALL_INIT_NAMES = tuple(dict.fromkeys(name for names in INIT_NAMES.values() for name in names))

# option (argparse dest) -> (its flag, the methods it applies to, its default there).
APPLIES = {
    "init": ("--init", tuple(INIT_NAMES), None),  # per method: INIT_DEFAULT
    "n_init": ("--n-init", (*KMEDOIDS_METHODS, "kmeans", "gmm"), None),  # per method: n_init_default
    "max_iter": ("--max-iter", (*KMEDOIDS_METHODS, "clara", "kmeans", "gmm"), None),  # per method: max_iter_default
    "seed": ("--seed", (*WITH_K, "dynmsc"), 0),
    "max_clusters": ("--max-clusters", ("dynmsc",), 10),
    "min_clusters": ("--min-clusters", ("dynmsc",), 2),
    "n_sampling": ("--n-sampling", ("clara",), None),
    "n_sampling_iter": ("--n-sampling-iter", ("clara",), 5),
    "n_local": ("--n-local", ("clarans",), 2),
    "max_neighbor": ("--max-neighbor", ("clarans",), 0.025),
    "max_fit_samples": ("--max-fit-samples", ("kmeans",), None),
    "covariance_type": ("--covariance-type", ("gmm",), "full"),
    "verbose": ("--verbose", ("clara", "clarans", "kmeans", "gmm", "ppp"), False),
}


def methods_of(option: str) -> str:
    """The methods an option applies to, for help texts."""
    methods = APPLIES[option][1]
    if set(KMEDOIDS_METHODS) <= set(methods):
        methods = ("the k-medoids methods", *(m for m in methods if m not in KMEDOIDS_METHODS))
    return ", ".join(methods)


def n_init_default(method: str):
    return "auto" if method == "kmeans" else 1


def max_iter_default(method: str) -> int:
    return 100 if method == "gmm" else 300


def apply_method_options(args) -> None:
    """Refuses options that do not apply to args.method, then fills in the method's defaults."""
    method = args.method
    for dest, (flag, methods, default) in APPLIES.items():
        value = getattr(args, dest)
        if value is not None and method not in methods:
            raise CLIError(f"{flag} does not apply to --method {method} (only to {methods_of(dest)})")
        if value is None:
            setattr(args, dest, default)
    if method in INIT_NAMES:
        check_init(args)
    if args.n_init is None and method in APPLIES["n_init"][1]:
        args.n_init = n_init_default(method)
    if args.max_iter is None and method in APPLIES["max_iter"][1]:
        args.max_iter = max_iter_default(method)


def check_init(args) -> None:
    method, init = args.method, args.init
    if init is None:
        args.init = INIT_DEFAULT[method]
    elif isinstance(init, str) and init not in INIT_NAMES[method]:
        indices = " or row indices" if method in INIT_INDICES else ""
        raise CLIError(f"--init {init} is not an initialisation of --method {method}: use one of "
                       f"{', '.join(INIT_NAMES[method])}{indices}")
    elif not isinstance(init, str) and method not in INIT_INDICES:
        raise CLIError(f"--init with row indices is not available for --method {method}: use one of "
                       f"{', '.join(INIT_NAMES[method])}")
