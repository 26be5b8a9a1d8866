"""Sample-quality metrics. ``mode_stats``: mode coverage and quality on Gaussian-mixture data."""

from gentoolkit.metrics.modes import mode_stats

__all__ = ["mode_stats"]
