"""Exact scores of a 2D Gaussian mixture under an SDE's marginals.

If p_0 = sum_k w_k N(mu_k, s_k^2 I) and the kernel is x(t) = m(t) x0 + std(t) z, then
p_t = sum_k w_k N(m(t) mu_k, (m(t)^2 s_k^2 + std(t)^2) I): the components are scaled and
widened in closed form, so the score of every marginal is exact. This is the reference the
SDE solvers and the time-conditional score networks are checked against.
"""

from __future__ import annotations

import torch

from gentoolkit._checks import per_sample
from gentoolkit.data.toy2d import Mixture2D
from gentoolkit.sde.sdes import SDE, check_times


def mixture_log_prob(mixture: Mixture2D, sde: SDE, x: torch.Tensor, t) -> torch.Tensor:
    """log p_t(x) of the mixture pushed through ``sde`` to time t, shape (n,)."""
    t = check_times(t, x)
    return mixture.pushforward_log_prob(x, *sde.mean_std(t))


def mixture_score(mixture: Mixture2D, sde: SDE):
    """The exact score grad log p_t as a ``score_fn(x, t)`` (t of shape (n,))."""

    def score_fn(x: torch.Tensor, t) -> torch.Tensor:
        return mixture.pushforward_score(x, *sde.mean_std(check_times(t, x)))

    return score_fn


def gaussian_score(sde: SDE, mu: float, s: float):
    """The exact score of isotropic Gaussian data N(mu, s^2 I) under ``sde``:
    p_t = N(m(t) mu, (m(t)^2 s^2 + std(t)^2) I), so score = -(x - m mu) / (m^2 s^2 + std^2)."""

    def score_fn(x: torch.Tensor, t) -> torch.Tensor:
        m, sd = sde.mean_std(check_times(t, x))
        m, sd = per_sample(m, x), per_sample(sd, x)
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
