"""Exact scores of a 2D Gaussian mixture under an SDE's marginals.

If p_0 = sum_k w_k N(mu_k, s_k^2 I) and the kernel is x(t) = m(t) x0 + std(t) z, then
p_t = sum_k w_k N(m(t) mu_k, (m(t)^2 s_k^2 + std(t)^2) I): the components are scaled and
widened in closed form, so the score of every marginal is exact. This is the reference the
SDE solvers and the time-conditional score networks are checked against. For Gaussian data
N(mu, s^2 I) the score is linear, so the samplers are affine maps and their moments are exact:
``em_gaussian_moments`` (Euler-Maruyama), ``flow_gaussian_moments`` (the probability-flow ODE's
limit) and ``deterministic_gaussian_moments`` (DDIM, Heun, DPM-Solver++(2M), RK45).
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


def flow_gaussian_moments(sde: SDE, mu: float, s: float, *, t_eps=None, denoise: bool = True):
    """Exact per-coordinate mean and std of the probability-flow ODE's samples (the limit of
    every deterministic sampler as its steps shrink) from the prior on N(mu, s^2 I) data with
    the exact score: with p_t = N(m mu, v I), v = m^2 s^2 + std^2, the flow maps x(T) to
    x(t) = m(t) mu + sqrt(v(t) / v(T)) (x(T) - m(T) mu), then Tweedie's affine map. The prior
    N(0, prior_std^2 I) is not p_T (mean 0, not m(T) mu): a deterministic map carries that
    mismatch to the end, where the SDE's noise forgets it (:func:`em_gaussian_moments`)."""
    t_eps = sde.t_eps if t_eps is None else t_eps
    m, sd = sde.mean_std(torch.tensor([sde.T, t_eps], dtype=torch.float64))
    (m_T, m_e), (s_T, s_e) = m.tolist(), sd.tolist()
    v_T, v_e = m_T**2 * s**2 + s_T**2, m_e**2 * s**2 + s_e**2
    c = (v_e / v_T) ** 0.5
    mean, std = m_e * mu - c * m_T * mu, c * sde.prior_std()
    if denoise:  # (x + std^2 score) / m = (x (1 - std^2 / v) + std^2 m mu / v) / m
        a = (1 - s_e**2 / v_e) / m_e
        mean, std = a * mean + s_e**2 * mu / v_e, a * std
    return mean, std


def deterministic_gaussian_moments(sde: SDE, mu: float, s: float, method: str, *, t_eps=None, denoise=True, **options):
    """Exact per-coordinate mean and std of a deterministic sampler of :func:`gentoolkit.sde.sample`
    ("ddim" with eta = 0, "edm_heun" with s_churn = 0, "dpmpp_2m", "ode") from the prior on
    N(mu, s^2 I) data with the exact score: each step is affine in x (the score is linear), so
    the sampler is x(T) -> A x(T) + B, read off by running it (float64, CPU) on the two points
    0 and 1; from the prior N(0, prior_std^2) the samples have mean B and std |A| prior_std.
    No sampling noise: the error of a budget is exact. ``options``: the method's options."""
    from gentoolkit.sde.solvers import sample

    stochastic = {"ddim": "eta", "edm_heun": "s_churn"}
    if method not in ("ddim", "edm_heun", "dpmpp_2m", "ode") or options.get(stochastic.get(method), 0):
        raise ValueError(
            f"method={method!r} with options {options} draws noise; the exact moments of a deterministic "
            "sampler need 'ddim' (eta 0), 'edm_heun' (s_churn 0), 'dpmpp_2m' or 'ode'"
        )
    probes = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    score, run = gaussian_score(sde, mu, s), dict(t_eps=t_eps, denoise=denoise, device="cpu", progress=False)
    r = sample(sde, score, None, method, x_init=probes, **run, **options)
    b, a = r.x[0, 0].item(), (r.x[1, 0] - r.x[0, 0]).item()
    return b, abs(a) * sde.prior_std()
