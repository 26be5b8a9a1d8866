"""GANs, on 2D data and on images.

- :mod:`gentoolkit.gan.losses`: the loss zoo, ``losses.get(name)`` and ``losses.names()``
  (minimax, ns, lsgan, hinge, wgan, the relativistic rsgan / rasgan / ralsgan / rahinge and
  the f-GANs f:kl, f:reverse_kl, f:js, f:pearson, f:hellinger).
- :mod:`gentoolkit.gan.regularizers`: weight clipping, gradient penalty, R1, spectral
  normalization, feature matching, one-sided label smoothing, PacGAN packing, the
  mixture-density GAN loss and discriminator rejection sampling.
- :mod:`gentoolkit.gan.train`: the trainer, and :func:`~gentoolkit.gan.train.train_critic` (a critic for a
  fixed generator, as DRS and latent Langevin need).
- :mod:`gentoolkit.gan.latent`: Langevin sampling in a trained GAN's latent space (DDLS, 000 Sec. 4).
"""

from gentoolkit.gan import latent, losses, regularizers
from gentoolkit.gan.latent import latent_energy, latent_langevin, latent_langevin_samples
from gentoolkit.gan.losses import FGANLoss, GANLoss, f_gan
from gentoolkit.gan.regularizers import (
    DRSResult,
    MDGANLoss,
    clip_weights,
    critic_features,
    drs,
    drs_accept_prob,
    feature_matching_loss,
    gradient_penalty,
    label_smoothed_d_loss,
    pack,
    r1_penalty,
    simplex_vertices,
    spectral_normalize,
)
from gentoolkit.gan.train import SETUPS, GANHistory, GANTrainer, train_critic, train_gan  # noqa: F401 (re-exported)

__all__ = [
    "DRSResult",
    "FGANLoss",
    "GANLoss",
    "MDGANLoss",
    "clip_weights",
    "critic_features",
    "drs",
    "drs_accept_prob",
    "f_gan",
    "feature_matching_loss",
    "gradient_penalty",
    "label_smoothed_d_loss",
    "latent",
    "latent_energy",
    "latent_langevin",
    "latent_langevin_samples",
    "losses",
    "pack",
    "r1_penalty",
    "regularizers",
    "simplex_vertices",
    "spectral_normalize",
]
