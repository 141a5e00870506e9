"""vecclust: fast exact clustering with a C++17 core and scikit-learn estimators."""

from ._core import __version__
from ._index.multitenant_index import IndexIOError, MultiTenantIndex
from ._kmeans.estimator import KMeans
from ._kmedoids.clara import CLARA
from ._kmedoids.clarans import CLARANS
from ._kmedoids.estimator import KMedoids
from ._kmedoids.functions import KMedoidsResult, alternating, fastpam1, fasterpam, pam, pam_build
from ._kmedoids.msc import MSCResult, dynmsc, fastermsc, fastmsc, medoid_silhouette, pammedsil, pamsil
from ._kmedoids.silhouette import silhouette_samples, silhouette_score
from ._mixture.gmm import GaussianMixture
from ._ppp.estimator import PPP

__all__ = [
    "CLARA",
    "CLARANS",
    "GaussianMixture",
    "IndexIOError",
    "KMeans",
    "KMedoids",
    "KMedoidsResult",
    "MSCResult",
    "MultiTenantIndex",
    "PPP",
    "__version__",
    "alternating",
    "dynmsc",
    "fastpam1",
    "fastermsc",
    "fastmsc",
    "fasterpam",
    "medoid_silhouette",
    "pam",
    "pam_build",
    "pammedsil",
    "pamsil",
    "silhouette_samples",
    "silhouette_score",
]
