"""Exact scores of a 2D Gaussian mixture under an SDE's marginals.

If p_0 = sum_k w_k N(mu_k, s_k^2 I) and the kernel is x(t) = m(t) x0 + std(t) z, then
p_t = sum_k w_k N(m(t) mu_k, (m(t)^2 s_k^2 + std(t)^2) I): the components are scaled and
widened in closed form, so the score of every marginal is exact. This is the reference the
SDE solvers and the time-conditional score networks are checked against.
"""

from __future__ import annotations

import torch

from gentoolkit.data.toy2d import Mixture2D
from gentoolkit.sde.sdes import SDE, _times


def _scaled(mixture: Mixture2D, sde: SDE, x: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """log of each weighted component density at x, the scaled means, and the variances."""
    t = _times(t, x)
    m, s = sde.mean_std(t)  # (n,)
    mu = mixture.means.to(x)  # (K, 2)
    mx, my = m[:, None] * mu[None, :, 0], m[:, None] * mu[None, :, 1]  # (n, K) each
    var = mixture.stds.to(x)[None] ** 2 * m[:, None] ** 2 + s[:, None] ** 2  # (n, K)
    dx, dy = mx - x[:, :1], my - x[:, 1:]  # elementwise: no slow size-2 reductions
    log_terms = mixture.weights.to(x).log() - torch.log(2 * torch.pi * var) - (dx * dx + dy * dy) / (2 * var)
    return log_terms, torch.stack([dx, dy], -1), var


def mixture_log_prob(mixture: Mixture2D, sde: SDE, x: torch.Tensor, t) -> torch.Tensor:
    """log p_t(x) of the mixture pushed through ``sde`` to time t, shape (n,)."""
    log_terms, _, _ = _scaled(mixture, sde, x, t)
    return torch.logsumexp(log_terms, 1)


def mixture_score(mixture: Mixture2D, sde: SDE):
    """The exact score grad log p_t as a ``score_fn(x, t)`` (t of shape (n,))."""

    def score_fn(x: torch.Tensor, t) -> torch.Tensor:
        log_terms, diff, var = _scaled(mixture, sde, x, t)
        e = (log_terms - log_terms.amax(1, keepdim=True)).exp()
        w = e / (e.sum(1, keepdim=True) * var)  # responsibilities / variances
        return torch.stack([(w * diff[..., 0]).sum(1), (w * diff[..., 1]).sum(1)], 1)

    return score_fn


def gaussian_score(sde: SDE, mu: float, s: float):
    """The exact score of isotropic Gaussian data N(mu, s^2 I) under ``sde``:
    p_t = N(m(t) mu, (m(t)^2 s^2 + std(t)^2) I), so score = -(x - m mu) / (m^2 s^2 + std^2)."""

    def score_fn(x: torch.Tensor, t) -> torch.Tensor:
        m, sd = sde.mean_std(_times(t, x))
        view = (-1, *([1] * (x.ndim - 1)))
        m, sd = m.reshape(view), sd.reshape(view)
        return -(x - m * mu) / (m**2 * s**2 + sd**2)

    return score_fn


def em_gaussian_moments(sde: SDE, mu: float, s: float, n_steps: int, *, t_eps=None, denoise: bool = True):
    """Exact per-coordinate mean and std of Euler-Maruyama samples (method "euler_maruyama"
    of :func:`gentoolkit.sde.sample`, prior start, optional Tweedie denoising) on N(mu, s^2 I)
    data with the exact score: with a linear score every EM step is affine,
    x <- A x + B + C z, so mean and variance follow exactly, with no sampling noise."""
    t_eps = sde.t_eps if t_eps is None else t_eps
    times = torch.linspace(sde.T, t_eps, n_steps + 1, dtype=torch.float64)
    mean, var = 0.0, sde.prior_std() ** 2

    def coeffs(t: float):
        tv = torch.tensor([t], dtype=torch.float64)
        a, g = (v.item() for v in sde.coefficients(tv))
        m, sd = (v.item() for v in sde.mean_std(tv))
        return a, g, m, m**2 * s**2 + sd**2, sd

    for i in range(n_steps):
        t, h = times[i].item(), (times[i] - times[i + 1]).item()
        a, g, m, v, _ = coeffs(t)
        # x' = x - (a x + g^2 (x - m mu) / v) h + g sqrt(h) z
        A = 1 - a * h - g**2 * h / v
        B = g**2 * h * m * mu / v
        mean, var = A * mean + B, A**2 * var + g**2 * h
    if denoise:
        _, _, m, v, sd = coeffs(t_eps)
        # Tweedie: (x + sd^2 score) / m = (x (1 - sd^2 / v) + sd^2 m mu / v) / m
        A, B = (1 - sd**2 / v) / m, sd**2 * mu / v
        mean, var = A * mean + B, A**2 * var
    return mean, var**0.5
