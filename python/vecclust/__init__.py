"""vecclust: fast exact clustering with a C++17 core and scikit-learn estimators."""

from ._core import __version__
from ._clara import CLARA
from ._clarans import CLARANS
from ._gmm import GaussianMixture
from ._kmedoids import KMedoids
from ._kmedoids_functions import KMedoidsResult, alternating, fastpam1, fasterpam, pam, pam_build

__all__ = [
    "CLARA",
    "CLARANS",
    "GaussianMixture",
    "KMedoids",
    "KMedoidsResult",
    "__version__",
    "alternating",
    "fastpam1",
    "fasterpam",
    "pam",
    "pam_build",
]
