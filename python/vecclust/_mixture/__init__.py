"""Gaussian mixtures: the GaussianMixture estimator and the EM helpers PPP uses."""
