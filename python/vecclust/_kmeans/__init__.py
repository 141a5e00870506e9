"""k-means: the KMeans estimator."""
