"""A noise-conditional MLP score network s_theta(x, sigma) for low-dimensional data.

Conditioning (thesis 001, Sec. 8.3.1): the network sees the noise level through an
embedding of log(sigma) (``cond="sigma"``) or of a diffusion time t in [0, 1]
(``cond="time"``, for the SDE models of report 000). With ``cond="sigma"`` the output is
divided by sigma, as in the unconditional parametrisation s(x, sigma) = s(x) / sigma of
001 Sec. 8.3.1: the optimal score has magnitude about |x - x_clean| / sigma^2, so the
network only has to learn an O(1 / sigma) quantity that does not blow up as sigma -> 0.
The input is scaled by 1 / sqrt(data_std^2 + sigma^2) so that it has roughly unit
variance at every noise level (the c_in preconditioning of Karras et al. 2022).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gentoolkit._checks import positive_float, positive_int


class FourierEmbedding(nn.Module):
    """Random Fourier features of a scalar: [sin(2 pi f c), cos(2 pi f c)], f ~ N(0, scale^2).

    The frequencies are a fixed buffer drawn from ``seed``, so two embeddings built with the
    same seed are identical.
    """

    def __init__(self, dim: int = 32, scale: float = 4.0, seed: int = 0):
        super().__init__()
        dim = positive_int("dim", dim)
        if dim % 2:
            raise ValueError(f"dim must be even (sin and cos pairs), got {dim}")
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("freqs", torch.randn(dim // 2, generator=g) * scale)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        a = 2 * math.pi * c[:, None] * self.freqs[None, :]
        return torch.cat([a.sin(), a.cos()], dim=1)


class ScoreMLP(nn.Module):
    """s_theta(x, c): an MLP with SiLU activations conditioned on a noise level or time.

    Args:
        dim: data dimension (2 for the toy mixtures).
        hidden: width of the hidden layers.
        depth: number of hidden layers (>= 1).
        cond: ``"sigma"`` (c is the noise level sigma > 0, embedded through log sigma) or
            ``"time"`` (c is a diffusion time, embedded as it is).
        embed_dim: size of the Fourier embedding of the condition.
        data_std: rough std of the clean data, used to scale inputs (``cond="sigma"``).
        seed: seed of the weight initialisation and of the embedding frequencies.

    ``forward(x, c)`` takes x of shape (n, dim) and c as a float or a tensor of shape (n,)
    (one level per sample) and returns a tensor of shape (n, dim).
    """

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 128,
        depth: int = 3,
        *,
        cond: str = "sigma",
        embed_dim: int = 32,
        data_std: float = 1.0,
        seed: int = 0,
    ):
        super().__init__()
        self.dim = positive_int("dim", dim)
        hidden = positive_int("hidden", hidden)
        depth = positive_int("depth", depth)
        if cond not in ("sigma", "time"):
            raise ValueError(f"cond must be 'sigma' or 'time', got {cond!r}")
        self.cond = cond
        self.data_std = positive_float("data_std", data_std)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embed = FourierEmbedding(embed_dim, scale=1.0 if cond == "sigma" else 4.0, seed=seed)
            layers: list[nn.Module] = [nn.Linear(self.dim + embed_dim, hidden), nn.SiLU()]
            for _ in range(depth - 1):
                layers += [nn.Linear(hidden, hidden), nn.SiLU()]
            layers.append(nn.Linear(hidden, self.dim))
            self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.dim:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a tensor of shape (n, {self.dim}), got {shape}")
        c = torch.as_tensor(c, dtype=x.dtype, device=x.device)
        if c.ndim == 0:
            c = c.expand(x.shape[0])
        if c.shape != (x.shape[0],):
            raise ValueError(f"the condition must be a float or have shape ({x.shape[0]},), got {tuple(c.shape)}")
        if self.cond == "sigma":
            if bool((c <= 0).any()):
                raise ValueError("sigma must be > 0 for a noise-conditional score network")
            x_in = x / torch.sqrt(self.data_std**2 + c[:, None] ** 2)
            h = self.net(torch.cat([x_in, self.embed(c.log() / 4)], dim=1))
            return h / c[:, None]
        return self.net(torch.cat([x, self.embed(c)], dim=1))


class MLPDiscriminator(nn.Module):
    """D_phi(x): an MLP critic for low-dimensional data, one real number per sample.

    LeakyReLU(0.2) activations as in DCGAN-style discriminators (lectures 004); with
    ``spectral_norm=True`` every linear layer is spectrally normalised (001, Sec. 3 background),
    a common way to keep the critic Lipschitz.
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, *, spectral_norm: bool = False, seed: int = 0):
        super().__init__()
        self.dim = positive_int("dim", dim)
        hidden = positive_int("hidden", hidden)
        depth = positive_int("depth", depth)
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layers: list[nn.Module] = [wrap(nn.Linear(self.dim, hidden)), nn.LeakyReLU(0.2)]
            for _ in range(depth - 1):
                layers += [wrap(nn.Linear(hidden, hidden)), nn.LeakyReLU(0.2)]
            layers.append(wrap(nn.Linear(hidden, 1)))
            self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.dim:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a tensor of shape (n, {self.dim}), got {shape}")
        return self.net(x).squeeze(1)


class MLPGenerator(nn.Module):
    """G_theta(z): an MLP generator for low-dimensional data, z ~ N(0, I) of size ``latent_dim``.

    ReLU hidden activations as in DCGAN-style generators (lectures 004) and a linear output
    (the toy data are not confined to [-1, 1], so there is no tanh). ``latent_dim`` is an
    attribute: :class:`gentoolkit.gan.GANTrainer` reads it to draw the noise.
    """

    def __init__(self, latent_dim: int = 2, dim: int = 2, hidden: int = 128, depth: int = 3, *, seed: int = 0):
        super().__init__()
        self.latent_dim = positive_int("latent_dim", latent_dim)
        self.dim = positive_int("dim", dim)
        hidden = positive_int("hidden", hidden)
        depth = positive_int("depth", depth)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layers: list[nn.Module] = [nn.Linear(self.latent_dim, hidden), nn.ReLU()]
            for _ in range(depth - 1):
                layers += [nn.Linear(hidden, hidden), nn.ReLU()]
            layers.append(nn.Linear(hidden, self.dim))
            self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != self.latent_dim:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"z must be a tensor of shape (n, {self.latent_dim}), got {shape}")
        return self.net(z)
