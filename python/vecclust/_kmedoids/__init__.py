"""k-medoids: KMedoids, CLARA, CLARANS and the functions on a dissimilarity matrix."""
