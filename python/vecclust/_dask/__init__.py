"""The distributed estimators on Dask (public as vecclust.dask); imported only on request."""
