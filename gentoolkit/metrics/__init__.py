"""Sample-quality and mixing metrics: ``mode_stats`` (mode coverage and quality on
Gaussian-mixture data), ``autocorrelation`` and ``mean_squared_jump`` (Markov chains),
``sliced_wasserstein`` and ``SlicedWasserstein`` (between two samples, or many samples and one
reference)."""

from gentoolkit.metrics.distances import SlicedWasserstein, sliced_wasserstein
from gentoolkit.metrics.mixing import autocorrelation, mean_squared_jump
from gentoolkit.metrics.modes import mode_stats

__all__ = ["SlicedWasserstein", "autocorrelation", "mean_squared_jump", "mode_stats", "sliced_wasserstein"]
