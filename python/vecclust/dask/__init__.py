"""vecclust on Dask: KMeans, CLARA and PPP for dask arrays chunked by rows, run on Dask's scheduler
(the distributed one when a client is active). Needs the extra: pip install "vecclust[dask]"."""

from .._dask.clara import CLARA
from .._dask.kmeans import KMeans
from .._dask.ppp import PPP

__all__ = ["CLARA", "KMeans", "PPP"]
