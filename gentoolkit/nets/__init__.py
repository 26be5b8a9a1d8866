"""Networks: ``ScoreMLP`` (a noise- or time-conditional MLP score model), ``MLPDiscriminator``
(an MLP critic) and ``MLPGenerator`` (an MLP generator) for low-dimensional data."""

from gentoolkit.nets.mlp import FourierEmbedding, MLPDiscriminator, MLPGenerator, ScoreMLP

__all__ = ["FourierEmbedding", "MLPDiscriminator", "MLPGenerator", "ScoreMLP"]
