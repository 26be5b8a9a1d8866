"""Discriminator driven latent sampling (DDLS): Langevin dynamics in a GAN's latent space.

Report 000, Sec. 4 ("Energy based GANs"), after Che et al. (2020), "Your GAN is secretly an
energy-based model and you should use discriminator driven latent sampling". Notation of 000:
G: Z -> X is the generator, p_0 = N(0, I) the prior on its latent space Z, D(x) = sigma(d(x))
the discriminator and d(x) its logit (the raw critic output before the sigmoid).

Sec. 4.1: for a near-optimal discriminator of the minimax GAN, d(x) ~ log p_d(x) / p_g(x), so
p_d(x) ~ p_g(x) e^{d(x)} / K. Sampling that in X is impractical (p_g is implicit); its latent
counterpart is the energy-based model p_t(z) = e^{-E(z)} / K on Z with (Sec. 4.2)

    E(z) = -log p_0(z) - d(G(z)) = ||z||^2 / 2 - d(G(z)) + const,

whose pushforward G o p_t is the corrected generator (exactly p_d when d = log p_d / p_g, by
the change of variables: p_t(z) is p_0(z) reweighted by p_d / p_g at G(z)). Sec. 4.2, Eq. 4 and
Algorithm 1 sample it with (unadjusted) Langevin dynamics,

    z_{i+1} = z_i - (eps / 2) grad_z E(z_i) + sqrt(eps) n_i,    n_i ~ N(0, I),

started from z_0 ~ p_0. (The text garbles a few things, none of which changes the method:
Algorithm 1 writes n_i ~ N(0, 1) for the d-dimensional N(0, I) and loops i = 1..N from z_0;
Sec. 4.1 writes "p_d^* = d_d" for p_d^* = p_d; and 4.2 decays eps every few iterations, while
here eps is fixed, so the chain is the time-homogeneous ULA with a known stationary law.)
Without a Metropolis correction the chain is biased at O(eps): for a Gaussian target with
precision P (a linear G and a quadratic d) its stationary law has the exact mean and the
covariance P^{-1} (I - eps P / 4)^{-1} instead of P^{-1} (the tests check exactly that).

- :func:`latent_energy`: E(z) without the constant, shape (n,).
- :func:`latent_langevin`: the chain (a plain function in the style of the k-diffusion
  samplers: model functions in, tensors out, an optional ``callback(step, z)``).
- :func:`latent_langevin_samples`: G(z) at the end of the chain, the corrected samples.

Naming: the GAN generator is ``G`` (any callable z -> x; an ``nn.Module`` such as
:class:`gentoolkit.nets.MLPGenerator`), and, as everywhere in gentoolkit, ``generator=`` is the
``torch.Generator`` that draws the noise (or ``seed=``, an int).

``temperature`` T tempers the critic term only: E_T(z) = ||z||^2 / 2 - d(G(z)) / T, whose
target p_0(z) e^{d(G(z)) / T} is, in X, the geometric interpolation p_g^{1 - 1/T} p_d^{1/T}
between the generator (T -> inf) and the corrected model (T = 1), with the prior kept intact
(tempering the whole energy would also widen the prior, which no choice of T undoes).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gentoolkit._checks import generator_for, points, positive_float, positive_int, randn
from gentoolkit._progress import steps
from gentoolkit.gan.losses import critic_outputs

__all__ = ["latent_energy", "latent_langevin", "latent_langevin_samples"]


# --------------------------------------------------------------------------- checks and helpers
def _check_callable(name: str, fn) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}")


def _check_z(z) -> torch.Tensor:
    z = points("z", z)
    if z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"z must have shape (n, d) with n >= 1 and d >= 1, got {tuple(z.shape)}")
    if not bool(torch.isfinite(z).all()):
        raise ValueError("z must be finite (the starting latent codes contain inf or nan)")
    return z


def _check_rng(generator, seed) -> torch.Generator | None:
    if generator is not None and not isinstance(generator, torch.Generator) and callable(generator):
        raise TypeError(
            f"generator= is the torch.Generator that draws the Langevin noise, got {type(generator).__name__}; "
            "the GAN generator is the first argument, G"
        )
    return generator_for(generator, seed)


def _energy(G, critic, z: torch.Tensor, temperature: float) -> torch.Tensor:
    """||z||^2 / 2 - d(G(z)) / T, shape (n,), with the critic's output checked."""
    x = G(z)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"G(z) must return a torch.Tensor, got {type(x).__name__}")
    d = critic_outputs("critic(G(z))", critic(x))
    if d.shape[0] != z.shape[0]:
        raise ValueError(
            f"critic(G(z)) must return one logit per latent code, shape ({z.shape[0]},) or ({z.shape[0]}, 1), "
            f"got {d.shape[0]} outputs"
        )
    prior = 0.5 * z.pow(2).sum(dim=1)
    return prior - (d if temperature == 1.0 else d / temperature)


class _EvalMode:
    """Put every ``nn.Module`` among ``nets`` in eval mode and restore each submodule's own
    mode on exit (also after an error): a dropout layer would otherwise make the energy random,
    and a batch-norm layer would couple the chains through batch statistics."""

    def __init__(self, *nets):
        self.modes = [(m, m.training) for net in nets if isinstance(net, nn.Module) for m in net.modules()]

    def __enter__(self):
        for m, _ in self.modes:
            m.train(False)
        return self

    def __exit__(self, *exc):
        for m, mode in self.modes:  # parents before children: each ends in its own mode
            m.train(mode)
        return False


# --------------------------------------------------------------------------- public API
def latent_energy(G, critic, z: torch.Tensor, *, temperature: float = 1.0) -> torch.Tensor:
    """The DDLS latent energy E(z) = ||z||^2 / 2 - d(G(z)) / T, shape (n,) (000, Sec. 4.2:
    E(z) = -log p_0(z) - d(G(z)) with p_0 = N(0, I), without the constant d/2 log(2 pi)).

    Args:
        G: the generator, ``G(z) -> x`` for z of shape (n, d).
        critic: the discriminator's logit d, ``critic(x) -> (n,)`` or ``(n, 1)`` raw outputs
            (before any sigmoid).
        z: latent codes, a floating-point tensor of shape (n, d).
        temperature: T > 0, divides the critic term only (see the module docstring); 1 is DDLS.

    Runs G and the critic as they are (their current train/eval mode and the current grad mode),
    so the result is differentiable when grad is enabled.
    """
    _check_callable("G", G)
    _check_callable("critic", critic)
    z = points("z", z)
    temperature = positive_float("temperature", temperature)
    return _energy(G, critic, z, temperature)


def latent_langevin(
    G,
    critic,
    z: torch.Tensor,
    *,
    eps: float,
    n_steps: int,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    temperature: float = 1.0,
    callback=None,
    keep_chain: bool = False,
    progress: bool | None = None,
):
    """Langevin dynamics in the latent space of a GAN (DDLS; 000, Sec. 4.2, Eq. 4, Algorithm 1):

        z <- z - (eps / 2) grad_z E(z) + sqrt(eps) n,   E(z) = ||z||^2 / 2 - d(G(z)) / T,

    batched over the n chains (the rows of ``z``), which targets p_0(z) e^{d(G(z)) / T} / K
    up to the O(eps) bias of the unadjusted chain.

    Args:
        G: the generator, ``G(z) -> x`` (a callable; an ``nn.Module`` is put in eval mode for
            the run and its modes are restored afterwards).
        critic: the discriminator's logit d, ``critic(x) -> (n,)`` or ``(n, 1)`` raw outputs
            (eval mode for the run, as G). For DDLS this is the logit of a critic trained with
            the minimax or non-saturating loss, whose optimum is log p_data / p_G.
        z: the starting latent codes z_0, shape (n, d), any floating dtype and device; usually
            ``torch.randn(n, G.latent_dim)`` (z_0 ~ p_0, as 000's Algorithm 1). Not modified.
        eps: the step size epsilon > 0 (drift eps / 2, noise std sqrt(eps)).
        n_steps: the number of Langevin steps N >= 1.
        generator: the ``torch.Generator`` that draws the noise (drawn on its device and moved
            to z's, so a CPU generator gives the same noise for a CUDA model); or
        seed: an int, for a fresh CPU generator (the same seed gives the same chain).
            With neither, torch's global generator.
        temperature: T > 0, divides the critic term only; 1 (the default) is DDLS, larger T
            moves the target back toward the prior p_0 (the plain generator).
        callback: ``callback(step, z)`` after every update, step = 0, ..., n_steps - 1, with z
            the new state z_{step+1} (detached; do not modify it in place).
        keep_chain: also return every state.
        progress: a tqdm bar over the steps (None: when there are more than a few hundred).

    Returns:
        z_N, shape (n, d), detached, z's dtype and device; with ``keep_chain=True`` the pair
        ``(z_N, chain)`` with chain of shape (n_steps + 1, n, d), chain[0] = z_0.

    Gradients flow through G and the critic with grad enabled even under ``torch.no_grad()``,
    but are taken with respect to z only (``torch.autograd.grad``): no parameter's ``.grad``
    is touched. The chains only interact if G or the critic mix the batch (eval mode rules
    out batch norm's batch statistics).

    Raises:
        FloatingPointError: when the energy or the new state stops being finite, naming the
            step (counted from 0, as in ``callback``); a smaller eps usually cures it.
    """
    _check_callable("G", G)
    _check_callable("critic", critic)
    z0 = _check_z(z)
    eps = positive_float("eps", eps)
    n_steps = positive_int("n_steps", n_steps)
    temperature = positive_float("temperature", temperature)
    rng = _check_rng(generator, seed)
    if callback is not None:
        _check_callable("callback", callback)
    half_eps, noise_std = eps / 2, math.sqrt(eps)

    z = z0.detach().clone()
    chain = [z.clone()] if keep_chain else None
    with _EvalMode(G, critic), torch.enable_grad():
        for k in steps(n_steps, 1, progress, "latent Langevin"):
            zr = z.detach().requires_grad_(True)
            energy = _energy(G, critic, zr, temperature)
            (grad,) = torch.autograd.grad(energy.sum(), zr)
            with torch.no_grad():
                z = z - half_eps * grad + noise_std * randn(z.shape, rng, like=z)
                if not bool(torch.isfinite(energy).all() & torch.isfinite(z).all()):
                    _raise_non_finite(k, n_steps, eps, energy, z)
            if keep_chain:
                chain.append(z.clone())
            if callback is not None:
                callback(k, z)
    return (z, torch.stack(chain)) if keep_chain else z


def _raise_non_finite(k: int, n_steps: int, eps: float, energy: torch.Tensor, z: torch.Tensor):
    bad_e = (~torch.isfinite(energy)).nonzero().flatten()
    if bad_e.numel():
        what = f"the energy E(z) is {energy[bad_e[0]].item()} for chain {bad_e[0].item()}"
    else:
        bad_z = (~torch.isfinite(z).all(dim=1)).nonzero().flatten()
        what = f"the update of chain {bad_z[0].item()} is not finite (its gradient overflowed)"
    raise FloatingPointError(
        f"latent Langevin diverged at step {k} of {n_steps} (counted from 0): {what}; "
        f"try a smaller eps (got eps={eps}) or check the critic for inf/nan outputs"
    )


def latent_langevin_samples(
    G,
    critic,
    z: torch.Tensor,
    *,
    eps: float,
    n_steps: int,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    temperature: float = 1.0,
    callback=None,
    progress: bool | None = None,
) -> torch.Tensor:
    """The DDLS samples G(z_N): :func:`latent_langevin` (same arguments) followed by the
    generator, evaluated in eval mode without grad (its modes restored afterwards); shape
    and dtype as ``G(z)``."""
    z_final = latent_langevin(
        G,
        critic,
        z,
        eps=eps,
        n_steps=n_steps,
        generator=generator,
        seed=seed,
        temperature=temperature,
        callback=callback,
        progress=progress,
    )
    with _EvalMode(G), torch.no_grad():
        return G(z_final)
