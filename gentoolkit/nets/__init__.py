"""Networks. ``ScoreMLP``: a noise- (or time-) conditional MLP score model for low-dimensional data."""

from gentoolkit.nets.mlp import FourierEmbedding, ScoreMLP

__all__ = ["FourierEmbedding", "ScoreMLP"]
