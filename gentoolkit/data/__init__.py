"""Datasets. ``toy2d``: 2D Gaussian mixtures with exact log-densities and scores."""

from gentoolkit.data import toy2d
from gentoolkit.data.toy2d import Mixture2D

__all__ = ["toy2d", "Mixture2D"]
