"""Networks: ``ScoreMLP`` (a noise- or time-conditional MLP score model) and
``MLPDiscriminator`` (an MLP critic) for low-dimensional data."""

from gentoolkit.nets.mlp import FourierEmbedding, MLPDiscriminator, ScoreMLP

__all__ = ["FourierEmbedding", "MLPDiscriminator", "ScoreMLP"]
