"""Measurements: how good a score, a sample or a chain is.

- ``score_error`` (relative L2 error of a score against the exact one of a 2D mixture) and
  ``effective_noise`` (the noise level a sample looks like): :mod:`gentoolkit.metrics.score`;
- ``mode_count`` (mode coverage, quality and histogram KL around any centres) and ``mode_stats``
  (the same on a Gaussian mixture): ``metrics.modes``;
- ``autocorrelation`` and ``mean_squared_jump`` (Markov chains): ``metrics.mixing``;
- ``sliced_wasserstein`` and ``SlicedWasserstein`` (between two samples, or many samples and
  one reference): ``metrics.distances``;
- ``DigitClassifier``, ``load_digit_classifier``, ``digit_quality`` (the fraction of samples a
  trained MNIST classifier is confident about, and the class histogram), ``quality_table``
  (those results as a markdown table) and
  ``stacked_mode_count`` (StackedMNIST modes and KL), ``fid_mnist`` (the Frechet distance on the
  classifier's features; not comparable with an Inception FID): ``metrics.digits``;
- ``frechet_distance``, ``fid`` (of two feature sets), ``feature_statistics`` and
  ``save_statistics`` / ``load_statistics`` (pytorch-fid's .npz layout): ``metrics.frechet``;
- ``mmd`` (unbiased or biased, RBF or polynomial kernel) and ``kid``: ``metrics.kernel``;
- ``precision_recall`` and ``density_coverage`` (k-NN manifolds): ``metrics.manifold``;
- ``FIDInceptionV3`` (the FID graph's Inception-v3, native), ``load_fid_inception`` (pytorch-fid's
  published weights, cached and checked) and ``inception_score``: ``metrics.inception``.
"""

from gentoolkit.metrics.digits import (
    DigitClassifier,
    digit_quality,
    fid_mnist,
    load_digit_classifier,
    quality_table,
    stacked_mode_count,
)
from gentoolkit.metrics.distances import SlicedWasserstein, sliced_wasserstein
from gentoolkit.metrics.frechet import (
    feature_statistics,
    fid,
    frechet_distance,
    load_statistics,
    save_statistics,
)
from gentoolkit.metrics.inception import FIDInceptionV3, inception_score, load_fid_inception
from gentoolkit.metrics.kernel import kid, mmd
from gentoolkit.metrics.manifold import density_coverage, precision_recall
from gentoolkit.metrics.mixing import autocorrelation, mean_squared_jump, mode_hops
from gentoolkit.metrics.modes import mode_count, mode_stats, within_mode_variance
from gentoolkit.metrics.score import effective_noise, score_error

__all__ = [
    "DigitClassifier",
    "FIDInceptionV3",
    "SlicedWasserstein",
    "autocorrelation",
    "density_coverage",
    "digit_quality",
    "effective_noise",
    "feature_statistics",
    "fid",
    "fid_mnist",
    "frechet_distance",
    "load_statistics",
    "inception_score",
    "kid",
    "load_digit_classifier",
    "load_fid_inception",
    "quality_table",
    "mean_squared_jump",
    "mmd",
    "mode_hops",
    "mode_count",
    "mode_stats",
    "precision_recall",
    "save_statistics",
    "score_error",
    "sliced_wasserstein",
    "stacked_mode_count",
    "within_mode_variance",
]
