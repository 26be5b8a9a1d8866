"""Datasets. ``toy2d``: 2D Gaussian mixtures, exact densities and scores; ``images``: MNIST, StackedMNIST."""

from gentoolkit.data import images, toy2d
from gentoolkit.data.images import MNIST, StackedMNIST
from gentoolkit.data.toy2d import Mixture2D

__all__ = ["toy2d", "Mixture2D", "images", "MNIST", "StackedMNIST"]
