"""The choice lists of k-medoids, one tuple each; the C++ parsers (parse_method, parse_init,
parse_metric) accept exactly these names."""

METHODS = ("fasterpam", "fastpam1", "pam", "alternate")
INITS = ("random", "first", "build", "lab", "k-medoids++")
METRICS = ("euclidean", "sqeuclidean", "manhattan", "cosine")
# maximise the medoid silhouette, or (pamsil) the silhouette (_kmedoids/msc.py), KMedoids only
MSC_METHODS = ("fastermsc", "fastmsc", "pammedsil", "pamsil")
