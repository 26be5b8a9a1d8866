"""Networks. Low-dimensional data: ``ScoreMLP`` (a noise- or time-conditional MLP score model),
``MLPDiscriminator`` and ``MLPGenerator``. Images (28x28 and 32x32): ``DCGANGenerator`` /
``DCGANDiscriminator`` (with ProGAN's ``MinibatchStd`` feature as an option), the standard CNN
of thesis 001 App. A.9.1 (``StandardCNNGenerator`` / ``StandardCNNDiscriminator``) and
``ScoreUNet``, a DDPM-style U-Net score model with the same conditioning as ``ScoreMLP``."""

from gentoolkit.nets.conv import (
    DCGANDiscriminator,
    DCGANGenerator,
    MinibatchStd,
    StandardCNNDiscriminator,
    StandardCNNGenerator,
    count_parameters,
)
from gentoolkit.nets.mlp import FourierEmbedding, MLPDiscriminator, MLPGenerator, ScoreMLP
from gentoolkit.nets.unet import ScoreUNet

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "FourierEmbedding",
    "MLPDiscriminator",
    "MLPGenerator",
    "MinibatchStd",
    "ScoreMLP",
    "ScoreUNet",
    "StandardCNNDiscriminator",
    "StandardCNNGenerator",
    "count_parameters",
]
