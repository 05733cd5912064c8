"""Extraction methods, one per file; each registers itself under the name the CLI uses."""

from latentspace.steer.methods import logistic, mean_diff, pca_center, pca_diff  # noqa: F401 (registers)
from latentspace.steer.methods.base import METHODS, get_method, orient_and_scale

__all__ = ["METHODS", "get_method", "orient_and_scale"]
