"""vecclust: fast exact clustering with a C++17 core and scikit-learn estimators."""

from ._core import __version__
from ._clara import CLARA
from ._clarans import CLARANS
from ._gmm import GaussianMixture
from ._kmeans_estimator import KMeans
from ._kmedoids import KMedoids
from ._kmedoids_functions import KMedoidsResult, alternating, fastpam1, fasterpam, pam, pam_build
from ._multitenant_index import MultiTenantIndex
from ._ppp import PPP

__all__ = [
    "CLARA",
    "CLARANS",
    "GaussianMixture",
    "KMeans",
    "KMedoids",
    "KMedoidsResult",
    "MultiTenantIndex",
    "PPP",
    "__version__",
    "alternating",
    "fastpam1",
    "fasterpam",
    "pam",
    "pam_build",
]
