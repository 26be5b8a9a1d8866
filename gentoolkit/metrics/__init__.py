"""Measurements: how good a score, a sample or a chain is.

- ``score_error`` (relative L2 error of a score against the exact one of a 2D mixture) and
  ``effective_noise`` (the noise level a sample looks like): :mod:`gentoolkit.metrics.score`;
- ``mode_stats`` (mode coverage and quality on Gaussian-mixture data): ``metrics.modes``;
- ``autocorrelation`` and ``mean_squared_jump`` (Markov chains): ``metrics.mixing``;
- ``sliced_wasserstein`` and ``SlicedWasserstein`` (between two samples, or many samples and
  one reference): ``metrics.distances``.
"""

from gentoolkit.metrics.distances import SlicedWasserstein, sliced_wasserstein
from gentoolkit.metrics.mixing import autocorrelation, mean_squared_jump, mode_hops
from gentoolkit.metrics.modes import mode_stats, within_mode_variance
from gentoolkit.metrics.score import effective_noise, score_error

__all__ = [
    "SlicedWasserstein",
    "autocorrelation",
    "effective_noise",
    "mean_squared_jump",
    "mode_hops",
    "mode_stats",
    "score_error",
    "sliced_wasserstein",
    "within_mode_variance",
]
