"""Regularizers and tricks for GAN critics and generators (issue 16, item 2).

``critic`` is any callable ``x -> C(x)`` returning one raw output per sample, shape (n,) or
(n, 1) (a :class:`gentoolkit.nets.MLPDiscriminator`, or a functional copy of one); inputs
have shape (n, ...) with a leading batch axis. Randomness comes from an optional
``torch.Generator`` (drawn on its device and moved to the inputs', so a CPU generator gives
the same numbers for a CUDA model).

- Lipschitz constraints for the Wasserstein critic (lecture 002; thesis 001, Sec. 2.4 /
  Ch. 3 background): :func:`clip_weights` (WGAN), :func:`gradient_penalty` (WGAN-GP,
  001 App. A.7.8, two-sided or one-sided), :func:`spectral_normalize` (Miyato et al. 2018,
  torch's ``spectral_norm``).
- :func:`r1_penalty` (assignment 003, "R1-regularization"; Mescheder et al. 2018).
- :func:`feature_matching_loss` and :func:`critic_features` (lecture 004, "Feature matching").
- :func:`label_smoothed_d_loss` (004, "One-sided label smoothing").
- :func:`pack` (PacGAN, Lin et al. 2018; 001, Sec. 3 and 4.6.2: the critic sees m samples at once).
- :class:`MDGANLoss` (003, "Mixture density GAN"; Eghbal-zadeh et al. 2019).
- :func:`drs` (003, "Discriminator rejection sampling"; Azadi et al. 2019).

The unrolled discriminator lives in :mod:`gentoolkit.gan.train` (it needs the optimizer).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gentoolkit._checks import batch, per_sample, points, positive_float, positive_int, uniform
from gentoolkit.gan.losses import critic_outputs


# --------------------------------------------------------------------------- Lipschitz constraints
def clip_weights(module: nn.Module, c: float) -> nn.Module:
    """Clamp every parameter of ``module`` to [-c, c] in place (WGAN, Arjovsky et al. 2017;
    002: "if the clipping parameter c is too large, it is hard to train the critic till
    optimality ... too small, it could lead to vanishing gradients"). Call it after each
    critic step. Returns ``module``."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    c = positive_float("c", c)
    with torch.no_grad():
        for p in module.parameters():
            p.clamp_(-c, c)
    return module


def _input_grad(critic, x: torch.Tensor) -> torch.Tensor:
    """grad_x C(x) per sample, shape (n, prod(sample shape)), kept in the graph (create_graph)
    so that a penalty on it trains the critic."""
    x = x.detach().requires_grad_(True)
    out = critic_outputs("critic(x)", critic(x))
    if out.shape[0] != x.shape[0]:
        raise ValueError(f"critic(x) must return one output per sample ({x.shape[0]}), got {out.shape[0]}")
    (g,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return g.reshape(x.shape[0], -1)


def gradient_penalty(
    critic, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None, *, one_sided=False
) -> torch.Tensor:
    """The WGAN-GP penalty (Gulrajani et al. 2017; 001, App. A.7.8), unweighted:

        E[(||grad C(x^)|| - 1)^2]          (two-sided, the default)
        E[max(0, ||grad C(x^)|| - 1)^2]    (``one_sided=True``, Petzka et al. 2018)

    at x^ = eps x_r + (1 - eps) x_f with one eps ~ U(0, 1) per sample (from ``generator``).
    Real and fake are detached: the penalty trains the critic only. The caller adds
    lambda times it to the critic's loss (lambda = 10 in Gulrajani et al.).
    """
    real, fake = batch("real", real), batch("fake", fake)
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    eps = per_sample(uniform((real.shape[0],), generator, like=real), real)
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    excess = _input_grad(critic, x_hat).norm(dim=1) - 1
    if one_sided:
        excess = F.relu(excess)
    return (excess**2).mean()


def r1_penalty(critic, real: torch.Tensor, gamma: float) -> torch.Tensor:
    """R1 (Mescheder et al. 2018; 003): gamma / 2 * E_real ||grad_x C(x_r)||^2, on the real
    batch only (``gamma`` is part of the definition, so it is an argument here)."""
    gamma = positive_float("gamma", gamma, allow_zero=True)
    g = _input_grad(critic, batch("real", real))
    return gamma / 2 * (g**2).sum(dim=1).mean()


_SN_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def spectral_normalize(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Apply ``torch.nn.utils.parametrizations.spectral_norm`` (Miyato et al. 2018; 001, Ch. 3:
    "normalizing the weight matrix's spectral norm at each layer ... to be Lipschitz-1") to
    every Linear and (transposed) Conv layer of ``module``, in place; layers that already
    have a parametrized weight are left as they are. The estimate of the largest singular
    value is refined by ``n_power_iterations`` power iterations at each forward pass in
    training mode. Returns ``module``."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    n_power_iterations = positive_int("n_power_iterations", n_power_iterations)
    layers = [m for m in module.modules() if isinstance(m, _SN_LAYERS)]
    for m in layers:
        if not nn.utils.parametrize.is_parametrized(m, "weight"):
            nn.utils.parametrizations.spectral_norm(m, n_power_iterations=n_power_iterations)
    return module


# --------------------------------------------------------------------------- generator-side tricks
def critic_features(critic: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The critic's last hidden layer d(x): ``critic.net`` (an ``nn.Sequential``, as in
    :class:`gentoolkit.nets.MLPDiscriminator`) without its final layer. For an
    MLPDiscriminator this is the output of the last LeakyReLU, shape (n, hidden)."""
    net = getattr(critic, "net", None)
    if not isinstance(net, nn.Sequential) or len(net) < 2:
        raise TypeError(
            f"critic must have a .net attribute that is an nn.Sequential of at least two layers "
            f"(as MLPDiscriminator), got {type(critic).__name__} with .net = {type(net).__name__}"
        )
    return net[:-1](batch("x", x))


def feature_matching_loss(features_real: torch.Tensor, features_fake: torch.Tensor) -> torch.Tensor:
    """Feature matching (Salimans et al. 2016; 004): the generator's loss
    ||E_real d(x) - E_fake d(G(z))||_2^2, the squared distance between the batch means of
    the critic's intermediate features (e.g. :func:`critic_features`), summed over features.
    Detach ``features_real`` if the critic's parameters should get no gradient from it."""
    fr, ff = batch("features_real", features_real), batch("features_fake", features_fake)
    if fr.shape[1:] != ff.shape[1:]:
        raise ValueError(
            f"features_real and features_fake must have the same feature shape, "
            f"got {tuple(fr.shape[1:])} and {tuple(ff.shape[1:])}"
        )
    return ((fr.mean(dim=0) - ff.mean(dim=0)) ** 2).sum()


def label_smoothed_d_loss(real_out, fake_out, real_label: float = 0.9) -> torch.Tensor:
    """The minimax / non-saturating critic loss (``get("ns").d_loss``) with one-sided label
    smoothing (Salimans et al. 2016; 004): the real samples' target is ``real_label`` (1 - alpha)
    instead of 1, the fake ones' stays 0,

        D = -E_r[a log s(C_r) + (1 - a) log(1 - s(C_r))] - E_f log(1 - s(C_f)),   a = real_label.

    Its optimal critic is s(C*) = a p / (p + q) (004). ``real_label = 1`` gives the plain
    loss. A function rather than an option of :func:`gentoolkit.gan.losses.get`, because it
    applies to the two losses whose critic is a binary classifier only (the generator keeps
    its ``"ns"`` or ``"minimax"`` loss)."""
    a = positive_float("real_label", real_label)
    if a > 1:
        raise ValueError(f"real_label must be in (0, 1], got {a}")
    cr, cf = critic_outputs("real_out", real_out), critic_outputs("fake_out", fake_out)
    return (a * F.softplus(-cr) + (1 - a) * F.softplus(cr)).mean() + F.softplus(cf).mean()


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN packing (Lin et al. 2018; 001, Sec. 3): groups of m consecutive samples are
    concatenated along the first feature axis, (n, d) -> (n / m, m d) (and (n, c, h, w) ->
    (n / m, m c, h, w)); row i is [x[i m], x[i m + 1], ..., x[i m + m - 1]]. Pack real and
    fake batches alike and give the critic m times the input size. n must be divisible by m."""
    x = batch("x", x)
    m = positive_int("m", m)
    if x.shape[0] % m:
        raise ValueError(f"the batch size of x ({x.shape[0]}) must be divisible by m={m}")
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


# --------------------------------------------------------------------------- mixture-density GAN
def simplex_vertices(dim: int) -> torch.Tensor:
    """The dim + 1 vertices of a regular simplex in R^dim, centred at 0 with unit norm
    (pairwise inner products -1 / dim), shape (dim + 1, dim), float64."""
    dim = positive_int("dim", dim)
    # the standard basis e_1..e_dim and a (1, ..., 1), with a chosen so that all dim + 1 points
    # are equidistant; then centred and scaled to unit norm
    a = (1 - math.sqrt(dim + 1)) / dim
    v = torch.cat([torch.eye(dim, dtype=torch.float64), torch.full((1, dim), a, dtype=torch.float64)])
    v = v - v.mean(dim=0)
    return v / v.norm(dim=1, keepdim=True)


class MDGANLoss:
    """The mixture-density GAN loss (Eghbal-zadeh et al. 2019; assignment 003, "Mixture
    density GAN (MD-GAN)"). The critic outputs an embedding e = D(x) in R^d (shape (n, d),
    not one number) and is scored by the likelihood of a Gaussian mixture with one component
    at each of the K = d + 1 vertices mu_k of a regular simplex (:func:`simplex_vertices`),

        lk(e) = sum_k 1/(d + 1) N(e; mu_k, sigma2 I)                       (003)
        max_D  E_r log lk(D(x_r)) + E_f log(lambda - lk(D(G(z))))          (003)

    so real samples are pulled to the clusters and fake ones pushed away from them; the
    generator minimizes E_f log(lambda - lk(D(G(z)))) and so has to land in a cluster.
    ``d_loss`` = -E_r log lk_r - E_f log(lambda - lk_f + eps) and
    ``g_loss`` = E_f log(lambda - lk_f + eps): log lk is computed by logsumexp (exact, and
    its gradient does not vanish far from the clusters, where lk underflows), and ``eps``
    keeps log(lambda - lk) finite at the mixture's maximum, as in the assignment's code.

    003's text gives the objective and lk but not lambda, the covariance or the vertices'
    scale; taken from the MD-GAN paper and its reference code: Sigma = sigma2 I with
    sigma2 = 0.25, unit-norm vertices, and lambda the maximum of lk (so lambda - lk >= 0;
    found on the ray through a vertex, where the maximum lies by symmetry when the
    components are separated, as they are for sigma2 = 0.25). ``lam`` overrides it.
    """

    relativistic = False
    paired = False

    def __init__(self, dim: int, *, sigma2: float = 0.25, lam: float | None = None, eps: float = 1e-8):
        self.dim = positive_int("dim", dim)
        self.sigma2 = positive_float("sigma2", sigma2)
        self.eps = positive_float("eps", eps)
        self.centres = simplex_vertices(self.dim)
        # lk along t * mu_0: the mixture's maximum (see the class docstring)
        t = torch.linspace(0.0, 2.0, 20001, dtype=torch.float64)[:, None]
        self.lam_max = float(self.likelihood(t * self.centres[0]).max())
        if lam is None:
            lam = self.lam_max
        elif positive_float("lam", lam) < self.lam_max:
            raise ValueError(f"lam must be >= the maximum of lk ({self.lam_max:.6g}), got {lam}")
        self.lam = float(lam)
        self.name = "mdgan"
        self.description = (
            f"mixture-density GAN (003): lk = Gaussian mixture on the {self.dim + 1} vertices of a simplex; "
            "D = -E log lk(e_r) - E log(lambda - lk(e_f)); G = E log(lambda - lk(e_f))"
        )

    def log_likelihood(self, e: torch.Tensor) -> torch.Tensor:
        """log lk(e) for embeddings of shape (n, dim), by logsumexp over the components."""
        e = points("embeddings", e, self.dim)
        mu = self.centres.to(device=e.device, dtype=e.dtype)
        sq = ((e[:, None, :] - mu[None]) ** 2).sum(dim=2)  # (n, K)
        log_norm = math.log(self.dim + 1) + self.dim / 2 * math.log(2 * math.pi * self.sigma2)
        return torch.logsumexp(-sq / (2 * self.sigma2), dim=1) - log_norm

    def likelihood(self, e: torch.Tensor) -> torch.Tensor:
        """lk(e), shape (n,)."""
        return self.log_likelihood(e).exp()

    def _log_gap(self, e):
        return torch.log((self.lam - self.likelihood(e)).clamp_min(0) + self.eps)

    def d_loss(self, real_emb: torch.Tensor, fake_emb: torch.Tensor) -> torch.Tensor:
        """The critic's loss on real and fake embeddings, each (n, dim)."""
        return -self.log_likelihood(real_emb).mean() - self._log_gap(fake_emb).mean()

    def g_loss(self, real_emb, fake_emb: torch.Tensor) -> torch.Tensor:
        """The generator's loss; ``real_emb`` is unused (may be ``None``)."""
        return self._log_gap(fake_emb).mean()


# --------------------------------------------------------------------------- rejection sampling
def drs_accept_prob(logits: torch.Tensor, logit_max, *, gamma: float = 0.0, eps: float = 1e-6) -> torch.Tensor:
    """DRS's acceptance probability (Azadi et al. 2019, Eq. 8) sigmoid(F(x)) with

        F(x) = D~(x) - D~_M - log(1 - exp(D~(x) - D~_M - eps)) - gamma,

    D~(x) the critic's logit, ``logit_max`` = D~_M its (running) maximum (a float or one
    value per logit, D~_M >= D~(x)). For gamma = 0 and eps -> 0, sigmoid(F) = exp(D~ - D~_M),
    the exact rejection-sampling rule p / (M q) when D~ = log(p / q); gamma > 0 lowers
    every acceptance probability, gamma < 0 raises it."""
    a = logits - logit_max
    return torch.sigmoid(a - torch.log(-torch.expm1(a - eps)) - gamma)


@dataclass
class DRSResult:
    """``samples``: the n accepted samples; ``acceptance_rate``: accepted / proposed (after
    the burn-in); ``proposed``: number of proposals; ``logit_max``: the final D~_M."""

    samples: torch.Tensor
    acceptance_rate: float
    proposed: int
    logit_max: float


def drs(
    sample,
    critic,
    n: int,
    generator: torch.Generator | None = None,
    *,
    gamma: float = 0.0,
    eps: float = 1e-6,
    burn_in: int = 10_000,
    batch_size: int = 10_000,
    max_proposals: int = 10_000_000,
) -> DRSResult:
    """Discriminator rejection sampling (Azadi et al. 2019, Alg. 1; assignment 003: FID 38 -> 22).

    The critic's logit estimates log(p_data / p_G) when it was trained with the minimax or
    non-saturating loss (its optimum is log(p / q)), so generated samples are kept with
    probability :func:`drs_accept_prob`. D~_M starts as the maximum logit over ``burn_in``
    proposals and is a running maximum afterwards: within a batch, proposal i uses the
    maximum over everything seen up to and including itself (``cummax``), exactly as the
    sequential algorithm.

    Args:
        sample: ``(m, generator) -> x``, m proposals (n, ...); for a GAN generator G,
            ``lambda m, g: G(torch.randn(m, G.latent_dim, generator=g))``.
        critic: ``x -> D~(x)``, shape (m,) or (m, 1), evaluated without gradients.
        n: number of samples wanted.
        generator: draws the proposals (through ``sample``) and the acceptance coins.
        gamma, eps: as in :func:`drs_accept_prob`.
    """
    n = positive_int("n", n)
    burn_in, batch_size = positive_int("burn_in", burn_in), positive_int("batch_size", batch_size)
    if not isinstance(gamma, numbers.Real) or not math.isfinite(gamma):
        raise TypeError(f"gamma must be a finite number, got {gamma!r}")
    eps = positive_float("eps", eps)

    def logits_of(x):
        with torch.no_grad():
            out = critic_outputs("critic(x)", critic(x))
        if out.shape[0] != x.shape[0]:
            raise ValueError(f"critic(x) must return one logit per sample ({x.shape[0]}), got {out.shape[0]}")
        return out

    logit_max = logits_of(sample(burn_in, generator)).max()
    kept, have, proposed = [], 0, 0
    while have < n:
        if proposed >= max_proposals:
            raise RuntimeError(f"DRS proposed {proposed} samples and accepted {have} < n={n}; lower gamma")
        x = sample(batch_size, generator)
        d = logits_of(x)
        running = torch.cummax(torch.cat([logit_max.reshape(1), d]), dim=0).values[1:]
        accept = uniform(d.shape, generator, like=d) < drs_accept_prob(d, running, gamma=float(gamma), eps=eps)
        kept.append(x[accept])
        have += int(accept.sum())
        proposed += x.shape[0]
        logit_max = running[-1]
    return DRSResult(torch.cat(kept)[:n], have / proposed, proposed, float(logit_max))
