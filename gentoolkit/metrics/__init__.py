"""Sample-quality and mixing metrics: ``mode_stats`` (mode coverage and quality on
Gaussian-mixture data), ``autocorrelation`` and ``mean_squared_jump`` (Markov chains),
``sliced_wasserstein`` (between two samples)."""

from gentoolkit.metrics.distances import sliced_wasserstein
from gentoolkit.metrics.mixing import autocorrelation, mean_squared_jump
from gentoolkit.metrics.modes import mode_stats

__all__ = ["autocorrelation", "mean_squared_jump", "mode_stats", "sliced_wasserstein"]
