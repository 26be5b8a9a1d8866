"""Convolutional generators and critics for 28x28 (MNIST-like) and 32x32 (CIFAR-10-like) images.

Two families:

- :class:`DCGANGenerator` / :class:`DCGANDiscriminator`: small DCGAN-style nets (Radford et
  al. 2015) following the tricks of lecture 004 (references/004_89c1d7be8a6a314f.txt,
  "DCGAN"): strided (transposed) convolutions and no pooling, batch norm in G and D but not
  at the output of G nor at the input of D, ReLU in G, LeakyReLU(0.2) in D, tanh output of G.
  The layout follows thesis 001, App. A.9.2 (references/001_dd1c9446192fd545.txt, "DCGAN
  64x64"), cut down to 28x28 and 32x32.
- :class:`StandardCNNGenerator` / :class:`StandardCNNDiscriminator`: the "standard CNN" of
  Miyato et al. (2018), transcribed in 001, App. A.9.1 and used in 001, Ch. 4 for CIFAR-10.

Conventions shared by all four classes (as in :mod:`gentoolkit.nets.mlp`):

- The layers live in ``self.net``, an ``nn.Sequential``. In the discriminators the flatten
  is inside ``net`` and the final ``Linear(F, 1)`` is its last layer, so that
  ``net[:-1](x)`` is the (n, F) feature vector used by
  :func:`gentoolkit.gan.regularizers.critic_features` (feature matching, DRS, MDGAN).
- Discriminators return raw critic values of shape (n,) (no sigmoid: the losses of
  :mod:`gentoolkit.gan.losses` take raw outputs). Generators map z of shape
  (n, latent_dim) to images of shape (n, channels, image_size, image_size) in [-1, 1].
- Generators have a ``latent_dim`` attribute (read by :class:`gentoolkit.gan.GANTrainer`).
- The weights are drawn from ``seed`` inside ``torch.random.fork_rng``: the same seed gives
  the same network and the global random state is left untouched. PyTorch's default
  initialisation is kept.
- A convolution that is directly followed by a BatchNorm has no bias (as in 001, App. A.9.2,
  "no bias"): BatchNorm subtracts the per-channel batch mean, so such a bias never changes
  the output and would only get a zero gradient.

Data are expected in [-1, 1] (the range of the tanh output), float32, on any device.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from gentoolkit._checks import positive_int

IMAGE_SIZES = (28, 32)
NORMS = ("batch", "layer", None)

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MinibatchStd",
    "StandardCNNDiscriminator",
    "StandardCNNGenerator",
    "count_parameters",
]


# --------------------------------------------------------------------------- minibatch std
class MinibatchStd(nn.Module):
    """Karras et al. 2018 (ProGAN), Sec. 3, "minibatch standard deviation": one extra feature map
    that tells the critic how varied the samples of its batch are, so that a generator which
    collapses to a few modes (a batch of near-copies) is easy to tell from data.

    For x of shape (n, C, H, W) the batch is split into n / G groups of G samples, sample k going
    to group k mod (n / G) (as in ProGAN's reshape), where G is ``group_size`` or, when n is not
    a multiple of it, the largest divisor of n below it (ProGAN needs n to be a multiple; here a
    trained critic can still score any batch, e.g. DRS proposals; training batches should be
    multiples, which :func:`gentoolkit.presets.check` asks of a preset). Within each group, the
    std over its G samples of every (c, h, w) feature (biased, sqrt(var + 1e-8)) is averaged over
    c, h and w: one number per group, appended to each of its samples as a constant (H, W) map.
    Output: (n, C + 1, H, W). The statistics are taken in float32 (also under bf16 autocast)
    and cast back to x's dtype.

    It makes a sample's output depend on its group, as batch norm does: a per-sample gradient
    penalty (WGAN-GP, R1) is then only approximately per sample.
    """

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = positive_int("group_size", group_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = next(k for k in range(min(self.group_size, n), 0, -1) if n % k == 0)
        y = x.float().reshape(g, n // g, c, h, w)
        var = (y - y.mean(dim=0)).square().mean(dim=0)  # (torch's var over dim 0 is 20x slower on CPU)
        per_group = (var + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (n / g,)
        feature = per_group.repeat(g).to(x.dtype).reshape(n, 1, 1, 1).expand(n, 1, h, w)
        return torch.cat([x, feature], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


# --------------------------------------------------------------------------- helpers
def _upsampling(mults, width) -> list[nn.Module]:
    """The generators' x2 stages: ConvTranspose2d 4x4 stride 2 (mults[i] w -> mults[i+1] w, no bias
    before BatchNorm), BatchNorm, ReLU."""
    layers: list[nn.Module] = []
    for c_in, c_out in zip(mults[:-1], mults[1:]):
        layers += [
            nn.ConvTranspose2d(c_in * width, c_out * width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c_out * width),
            nn.ReLU(),
        ]
    return layers


def count_parameters(module: nn.Module) -> int:
    """The number of trainable parameters (``requires_grad``) of ``module``.

    Spectral normalisation does not change it: the parametrized weight is stored once
    (``parametrizations.weight.original``); its power-iteration vectors are buffers.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _image_size(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value not in IMAGE_SIZES:
        raise ValueError(f"image_size must be 28 or 32, got {value!r}")
    return int(value)


def _flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r} ({type(value).__name__})")
    return value


def _seed(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"seed must be an int, got {value!r} ({type(value).__name__})")
    return int(value)


def _check_latent(z, latent_dim: int) -> torch.Tensor:
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"z must be a torch.Tensor of shape (n, {latent_dim}), got {type(z).__name__}")
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"z must have shape (n, {latent_dim}), got {tuple(z.shape)}")
    if not z.is_floating_point():
        raise TypeError(f"z must be a floating-point tensor, got dtype {z.dtype}")
    return z


def _check_images(x, channels: int, size: int) -> torch.Tensor:
    expected = f"(n, {channels}, {size}, {size})"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape {expected}, got {type(x).__name__}")
    if x.ndim != 4 or tuple(x.shape[1:]) != (channels, size, size):
        raise ValueError(f"x must have shape {expected}, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    return x


def _wrapper(spectral_norm: bool):
    return nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)


class _Generator(nn.Module):
    """Shared forward of the generators: check z, run ``net``."""

    latent_dim: int
    channels: int
    image_size: int
    net: nn.Sequential

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(_check_latent(z, self.latent_dim))


class _Discriminator(nn.Module):
    """Shared forward of the critics: check x, run ``net``, one raw value per sample."""

    channels: int
    image_size: int
    net: nn.Sequential

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(_check_images(x, self.channels, self.image_size)).squeeze(1)


# --------------------------------------------------------------------------- DCGAN
class DCGANGenerator(_Generator):
    """G_theta(z): a DCGAN generator, z ~ N(0, I) of size ``latent_dim`` -> images in [-1, 1].

    Layout (lecture 004, "DCGAN": no pooling, BN, ReLU in G, tanh output; 001, App. A.9.2),
    with w = ``width`` and C = ``channels``::

        image_size=28: Linear(latent_dim, 2w*7*7) -> (2w, 7, 7), BN, ReLU
                       ConvTranspose2d 4x4 s2 p1, 2w -> w   (14x14), BN, ReLU
                       ConvTranspose2d 4x4 s2 p1, w -> C    (28x28), tanh
        image_size=32: Linear(latent_dim, 4w*4*4) -> (4w, 4, 4), BN, ReLU
                       ConvTranspose2d 4x4 s2 p1, 4w -> 2w  (8x8), BN, ReLU
                       ConvTranspose2d 4x4 s2 p1, 2w -> w   (16x16), BN, ReLU
                       ConvTranspose2d 4x4 s2 p1, w -> C    (32x32), tanh

    Layers followed by BN have no bias (see the module docstring). BatchNorm makes a sample
    depend on the rest of its batch in training mode; call ``eval()`` to sample with the
    running statistics.

    Trainable parameters at the defaults (latent_dim=100, channels=1, width=64):
    image_size=28: 759,681; image_size=32: 1,066,881.

    Args:
        latent_dim: size of z (an attribute, read by :class:`gentoolkit.gan.GANTrainer`).
        channels: number of image channels (1 for MNIST, 3 for CIFAR-10).
        image_size: 28 or 32.
        width: number of channels of the last hidden layer; every layer scales with it.
        seed: seed of the weight initialisation.
    """

    def __init__(self, latent_dim: int = 100, channels: int = 1, image_size: int = 28, width: int = 64, *, seed=0):
        super().__init__()
        self.latent_dim = positive_int("latent_dim", latent_dim)
        self.channels = positive_int("channels", channels)
        self.image_size = _image_size(image_size)
        width = positive_int("width", width)
        seed = _seed(seed)
        start, mults = (7, [2, 1]) if self.image_size == 28 else (4, [4, 2, 1])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            c0 = mults[0] * width
            layers: list[nn.Module] = [
                nn.Linear(self.latent_dim, c0 * start * start, bias=False),
                nn.Unflatten(1, (c0, start, start)),
                nn.BatchNorm2d(c0),
                nn.ReLU(),
            ]
            layers += _upsampling(mults, width)
            layers += [nn.ConvTranspose2d(width, self.channels, 4, stride=2, padding=1), nn.Tanh()]
            self.net = nn.Sequential(*layers)


class DCGANDiscriminator(_Discriminator):
    """D_phi(x): a DCGAN critic, images (n, C, S, S) -> raw values (n,).

    Mirrors :class:`DCGANGenerator` (lecture 004, "DCGAN": strided convolutions instead of
    pooling, LeakyReLU(0.2), no normalisation at the input of D; 001, App. A.9.2), with
    w = ``width``::

        image_size=28: Conv2d 4x4 s2 p1, C -> w (14x14), LeakyReLU(0.2)
                       Conv2d 4x4 s2 p1, w -> 2w (7x7), norm, LeakyReLU(0.2)
                       Flatten, Linear(2w*7*7, 1)
        image_size=32: Conv2d 4x4 s2 p1, C -> w (16x16), LeakyReLU(0.2)
                       Conv2d 4x4 s2 p1, w -> 2w (8x8), norm, LeakyReLU(0.2)
                       Conv2d 4x4 s2 p1, 2w -> 4w (4x4), norm, LeakyReLU(0.2)
                       Flatten, Linear(4w*4*4, 1)

    ``norm``:

    - ``"batch"`` (the DCGAN default): BatchNorm2d. In training mode it normalises with the
      statistics of the batch, so a sample's output depends on the other samples of the
      batch. This breaks gradient penalties (WGAN-GP, R1), which penalise the gradient of
      each output with respect to its own input (Gulrajani et al. 2017 drop it for this
      reason; lecture 004, "layer norm for WGAN-GP").
    - ``"layer"``: layer normalisation over (C, H, W) of each sample, ``GroupNorm(1, C)``
      (with a per-channel affine). Each sample is normalised on its own: use it with
      gradient penalties.
    - ``None``: no normalisation.

    ``spectral_norm=True`` wraps every convolution and the final linear layer with
    ``torch.nn.utils.parametrizations.spectral_norm`` (Miyato et al. 2018; 001, Ch. 3). It
    can be combined with any ``norm``, but SNGAN uses ``norm=None``: a BatchNorm after a
    spectrally normalised layer rescales by 1 / std of the batch, which undoes the Lipschitz
    bound.

    ``minibatch_std`` = G > 0 inserts :class:`MinibatchStd` (groups of G) after the last
    convolution block, before the flatten: one more feature map. 0 (the default): none.

    The attribute ``features`` is F = 2w*7*7 (28) or 4w*4*4 (32), (2w + 1)*7*7 or (4w + 1)*4*4
    with the minibatch-std map, the size of the feature vector ``net[:-1](x)``
    (:func:`gentoolkit.gan.regularizers.critic_features`).

    Trainable parameters at the defaults (channels=1, width=64, norm="batch"):
    image_size=28: 138,689; image_size=32: 661,313.

    Args:
        channels: number of image channels.
        image_size: 28 or 32.
        width: channels of the first convolution; every layer scales with it.
        norm: ``"batch"``, ``"layer"`` or ``None`` (see above).
        spectral_norm: wrap every conv and linear layer with spectral normalisation.
        minibatch_std: group size of the minibatch-std feature (0: off).
        seed: seed of the weight initialisation.
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 28,
        width: int = 64,
        *,
        norm: str | None = "batch",
        spectral_norm: bool = False,
        minibatch_std: int = 0,
        seed=0,
    ):
        super().__init__()
        self.channels = positive_int("channels", channels)
        self.image_size = _image_size(image_size)
        width = positive_int("width", width)
        if norm not in NORMS:
            raise ValueError(f"norm must be 'batch', 'layer' or None, got {norm!r}")
        self.norm = norm
        self.spectral_norm = _flag("spectral_norm", spectral_norm)
        if isinstance(minibatch_std, bool) or not isinstance(minibatch_std, numbers.Integral) or minibatch_std < 0:
            raise ValueError(f"minibatch_std must be a group size >= 0 (0: off), got {minibatch_std!r}")
        self.minibatch_std = int(minibatch_std)
        seed = _seed(seed)
        wrap = _wrapper(self.spectral_norm)
        mults = [1, 2] if self.image_size == 28 else [1, 2, 4]
        final = self.image_size // 2 ** len(mults)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layers: list[nn.Module] = [
                wrap(nn.Conv2d(self.channels, width, 4, stride=2, padding=1)),
                nn.LeakyReLU(0.2),
            ]
            for c_in, c_out in zip(mults[:-1], mults[1:]):
                c = c_out * width
                layers.append(wrap(nn.Conv2d(c_in * width, c, 4, stride=2, padding=1, bias=norm != "batch")))
                if norm == "batch":
                    layers.append(nn.BatchNorm2d(c))
                elif norm == "layer":
                    layers.append(nn.GroupNorm(1, c))
                layers.append(nn.LeakyReLU(0.2))
            channels_out = mults[-1] * width
            if self.minibatch_std:
                layers.append(MinibatchStd(self.minibatch_std))
                channels_out += 1
            self.features = channels_out * final * final
            layers += [nn.Flatten(), wrap(nn.Linear(self.features, 1))]
            self.net = nn.Sequential(*layers)


# --------------------------------------------------------------------------- standard CNN
class StandardCNNGenerator(_Generator):
    """G_theta(z): the "standard CNN" generator of Miyato et al. (2018), as in thesis 001,
    App. A.9.1 (references/001_dd1c9446192fd545.txt), used in 001, Ch. 4 for CIFAR-10.

    image_size=32 is the appendix at width=64 (w = ``width``, C = ``channels``)::

        Linear(128, 8w*4*4), reshape to (8w, 4, 4)
        ConvTranspose2d 4x4 s2 p1, 8w -> 4w (8x8), BN, ReLU
        ConvTranspose2d 4x4 s2 p1, 4w -> 2w (16x16), BN, ReLU
        ConvTranspose2d 4x4 s2 p1, 2w -> w (32x32), BN, ReLU
        ConvTranspose2d 3x3 s1 p1, w -> C, tanh

    image_size=28 (MNIST; not in the appendix): the 4x4 -> 8x8 stage is dropped and the
    linear layer produces the (4w, 7, 7) map that plays the role of the 8x8 one::

        Linear(128, 4w*7*7), reshape to (4w, 7, 7)
        ConvTranspose2d 4x4 s2 p1, 4w -> 2w (14x14), BN, ReLU
        ConvTranspose2d 4x4 s2 p1, 2w -> w (28x28), BN, ReLU
        ConvTranspose2d 3x3 s1 p1, w -> C, tanh

    so every resolution keeps the channel count of the corresponding 32x32 stage (7 ~ 8,
    14 ~ 16, 28 ~ 32) and the output block is the same. As in the appendix, there is no BN
    or ReLU right after the linear layer. The transposed convolutions followed by BN have no
    bias (unlike Miyato et al.'s code; it changes no output, see the module docstring).

    Trainable parameters at the defaults (latent_dim=128, width=64, channels=3):
    image_size=32: 3,811,907; image_size=28: 2,275,651.

    Args:
        latent_dim: size of z (128 in the appendix).
        channels: number of image channels.
        image_size: 28 or 32.
        width: channels of the last hidden layer (64 in the appendix, 512 = 8 * width).
        seed: seed of the weight initialisation.
    """

    def __init__(self, latent_dim: int = 128, channels: int = 3, image_size: int = 32, width: int = 64, *, seed=0):
        super().__init__()
        self.latent_dim = positive_int("latent_dim", latent_dim)
        self.channels = positive_int("channels", channels)
        self.image_size = _image_size(image_size)
        width = positive_int("width", width)
        seed = _seed(seed)
        start, mults = (7, [4, 2, 1]) if self.image_size == 28 else (4, [8, 4, 2, 1])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            c0 = mults[0] * width
            layers: list[nn.Module] = [
                nn.Linear(self.latent_dim, c0 * start * start),
                nn.Unflatten(1, (c0, start, start)),
            ]
            layers += _upsampling(mults, width)
            layers += [nn.ConvTranspose2d(width, self.channels, 3, stride=1, padding=1), nn.Tanh()]
            self.net = nn.Sequential(*layers)


class StandardCNNDiscriminator(_Discriminator):
    """D_phi(x): the "standard CNN" critic of Miyato et al. (2018), as in thesis 001,
    App. A.9.1 (references/001_dd1c9446192fd545.txt), images (n, C, S, S) -> raw values (n,).

    image_size=32 is the appendix at width=64 (w = ``width``)::

        Conv2d 3x3 s1 p1, C -> w,    LeakyReLU(0.1)
        Conv2d 4x4 s2 p1, w -> w,    LeakyReLU(0.1)   (16x16)
        Conv2d 3x3 s1 p1, w -> 2w,   LeakyReLU(0.1)
        Conv2d 4x4 s2 p1, 2w -> 2w,  LeakyReLU(0.1)   (8x8)
        Conv2d 3x3 s1 p1, 2w -> 4w,  LeakyReLU(0.1)
        Conv2d 4x4 s2 p1, 4w -> 4w,  LeakyReLU(0.1)   (4x4)
        Conv2d 3x3 s1 p1, 4w -> 8w,  LeakyReLU(0.1)
        Flatten, Linear(8w*4*4, 1)

    The LeakyReLU after the last convolution is missing from the appendix's transcription
    but is in Miyato et al. (2018, Table 3) and in the thesis' code
    (AlexiaJM/relativistic-f-divergences, ``GAN.py``, ``--arch 1``); without it the last
    convolution and the linear layer would compose into a single linear map.

    image_size=28 (MNIST; not in the appendix): the third downsampling convolution
    (4x4 s2, 4w -> 4w) is dropped, since 7x7 does not halve; the last feature map is
    (8w, 7, 7) and the final layer is Linear(8w*7*7, 1). Mirror of the 28x28
    :class:`StandardCNNGenerator`.

    ``batch_norm=True`` puts a BatchNorm2d after every convolution, before its LeakyReLU
    (as the thesis' code does when spectral normalisation is off; 001, App. A.6 uses "batch
    norm in G and D" on CIFAR-10); those convolutions then have no bias. BatchNorm in
    training mode makes a sample's output depend on the rest of the batch, which breaks
    gradient penalties (see :class:`DCGANDiscriminator`). ``spectral_norm=True`` wraps every
    convolution and the final linear layer with spectral normalisation (SNGAN: with
    ``batch_norm=False``).

    The attribute ``features`` is F = 8w*4*4 (32) or 8w*7*7 (28), the size of the feature
    vector ``net[:-1](x)`` (:func:`gentoolkit.gan.regularizers.critic_features`).

    Trainable parameters at the defaults (channels=3, width=64, no batch norm):
    image_size=32: 2,935,873; image_size=28: 1,903,937.

    Args:
        channels: number of image channels.
        image_size: 28 or 32.
        width: channels of the first convolution (64 in the appendix, 512 = 8 * width).
        spectral_norm: wrap every conv and linear layer with spectral normalisation.
        batch_norm: add BatchNorm2d after every convolution.
        seed: seed of the weight initialisation.
    """

    def __init__(
        self,
        channels: int = 3,
        image_size: int = 32,
        width: int = 64,
        *,
        spectral_norm: bool = False,
        batch_norm: bool = False,
        seed=0,
    ):
        super().__init__()
        self.channels = positive_int("channels", channels)
        self.image_size = _image_size(image_size)
        width = positive_int("width", width)
        self.spectral_norm = _flag("spectral_norm", spectral_norm)
        self.batch_norm = _flag("batch_norm", batch_norm)
        seed = _seed(seed)
        wrap = _wrapper(self.spectral_norm)
        # (in, out, kernel, stride, padding) in units of width (in=0 stands for the image channels)
        spec = [(0, 1, 3, 1, 1), (1, 1, 4, 2, 1), (1, 2, 3, 1, 1), (2, 2, 4, 2, 1), (2, 4, 3, 1, 1)]
        spec += [(4, 4, 4, 2, 1)] if self.image_size == 32 else []
        spec += [(4, 8, 3, 1, 1)]
        final = 4 if self.image_size == 32 else 7
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layers: list[nn.Module] = []
            for c_in, c_out, k, s, p in spec:
                c_in = c_in * width if c_in else self.channels
                layers.append(wrap(nn.Conv2d(c_in, c_out * width, k, stride=s, padding=p, bias=not self.batch_norm)))
                if self.batch_norm:
                    layers.append(nn.BatchNorm2d(c_out * width))
                layers.append(nn.LeakyReLU(0.1))
            self.features = 8 * width * final * final
            layers += [nn.Flatten(), wrap(nn.Linear(self.features, 1))]
            self.net = nn.Sequential(*layers)
