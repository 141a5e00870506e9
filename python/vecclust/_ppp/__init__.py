"""PPP, probabilistic partitive partitioning."""
