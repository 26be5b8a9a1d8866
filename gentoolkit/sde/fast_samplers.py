"""Samplers beyond the thesis on one change of variables: DDIM, EDM's Heun sampler and
DPM-Solver++(2M), each a solver of the shared signature (:mod:`gentoolkit.sde.solvers`).

The names, once. Every SDE here has the kernel x(t) = m(t) x0 + std(t) z (``sde.mean_std``).
Then x(t) = m(t) (x0 + sigma(t) z) with

- sigma(t) = std(t) / m(t): EDM's noise level (Karras et al. 2022, Eq. 4 and Table 1;
  ``sde.edm_sigma``, inverted by ``sde.edm_time``); VE's is its kernel std (m = 1), VP's
  sqrt(e^B(t) - 1); lambda(t) = -log sigma(t) is DPM-Solver's half log-SNR
  log(m(t) / std(t)) (Lu et al. 2022, Sec. 2);
- x^ = x / m(t): the scaled sample, data plus noise of std sigma;
- D(x^; sigma) = E[x0 | x(t) = m x^] = x^ + sigma^2 m(t) s(m x^, t): the denoiser, Tweedie's
  formula (:func:`gentoolkit.sde.tweedie`) with s = ``score_fn``, one score call;
- d = (x^ - D) / sigma: the slope of the probability-flow ODE in these variables. The ODE
  dx/dt = f - g^2 s / 2 becomes dx^/dsigma = (x^ - D(x^; sigma)) / sigma (Karras et al. 2022,
  Eq. 4 with s(t) = 1 after the scaling): with g^2 = 2 std m dsigma/dt for a linear SDE, the
  drift's f and m's change cancel. It is the same ODE for VE, VP and sub-VP; only sigma(t)
  differs, so the three solvers below are written once in (x^, sigma) and map back with m(t).

Solvers (each takes the grid ``times`` it is given; :func:`gentoolkit.sde.sample` builds it):

- ``ddim`` (eta in [0, 1]): Song, Meng and Ermon 2021, Eq. 12, on any SDE:
  x^' = D + sqrt(sigma'^2 - sigma_eta^2) (x^ - D) / sigma + sigma_eta z with
  sigma_eta = eta sigma' sqrt(1 - sigma'^2 / sigma^2) (Eq. 16's sigma_t(eta), scaled by
  1 / m'); one score call per step. eta = 0 is deterministic and is Euler's method on the ODE
  above, x^' = x^ + (sigma' - sigma) d: first order. eta = 1 draws from the exact posterior
  q(x(t') | x(t), x0 = D), DDPM's ancestral step: a sampler of the reverse SDE.
- ``edm_heun`` (s_churn, s_noise): Karras et al. 2022, Alg. 2 (Alg. 1 when s_churn = 0). With
  gamma = min(s_churn / n_steps, sqrt(2) - 1), each step first raises the noise level to
  sigma^ = (1 + gamma) sigma (capped at sigma(T)) by adding noise of std
  s_noise sqrt(sigma^^2 - sigma^2) ("churn"), then takes an Euler step to sigma' and corrects
  it with the trapezoidal rule (Heun's method): x^' = x^ + (sigma' - sigma^) (d + d') / 2, d'
  the slope at the Euler point. Two score calls per step, second order. Karras' S_tmin/S_tmax
  window is not offered (churn applies at every step). Grid: Karras' Eq. 5, sigma_i =
  (sigma_max^(1/rho) + i / n (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho (:func:`edm_times`).
- ``dpmpp_2m``: DPM-Solver++(2M), Lu et al. 2022, Alg. 2, in these variables: with
  h = lambda' - lambda = log(sigma / sigma'), x^' = (sigma' / sigma) x^ + (1 - sigma' / sigma) D~,
  D~ = D at the first step and (1 + 1 / 2r) D - (1 / 2r) D_prev after it, r = h_prev / h (the
  denoiser of the step before, reused: one score call per step, second order). Grid: uniform
  in lambda (:func:`logsnr_times`) or in t.

Each ends at ``times[-1]`` (t_eps); Karras' and Lu's last step to sigma = 0 is Tweedie's formula
x0 = D, which :func:`gentoolkit.sde.sample` applies with ``denoise=True``: NFE = n_steps + 1 for
DDIM and DPM-Solver++(2M), 2 n_steps + 1 for Heun (Karras' 2N - 1 with N = n_steps + 1 noise
levels). The per-step coefficients are Python floats (float64), shared by every sample, so 2D
points and images share every line.
"""

from __future__ import annotations

import math

import torch

from gentoolkit._checks import batch, call_score, full_like_batch, positive_float, positive_int, randn
from gentoolkit._progress import steps
from gentoolkit.sde.sdes import SDE, check_grid, check_sde

#: the grid spacings of ``dpmpp_2m``: uniform in lambda = -log sigma, or in t
SPACINGS = ("logsnr", "time")


def _levels(sde: SDE, times: torch.Tensor) -> tuple[list[float], list[float], list[float]]:
    """t, m(t) and sigma(t) at each time of the grid, as float64 Python floats."""
    m, s = sde.mean_std(times)
    return times.tolist(), m.tolist(), (s / m).tolist()


def _denoised(score_fn, xh: torch.Tensor, t: float, m: float, sigma: float) -> torch.Tensor:
    """D(x^; sigma) = x^ + sigma^2 m s(m x^, t) (the module docstring)."""
    x = m * xh
    return xh + (sigma * sigma * m) * call_score(score_fn, x, full_like_batch(t, x), cond="t")


def _setup(sde, x, times):
    check_sde(sde)
    x, times = batch("x", x), check_grid(times, sde.T)
    ts, ms, sigmas = _levels(sde, times)
    return x / ms[0], ts, ms, sigmas


@torch.no_grad()
def ddim(sde: SDE, score_fn, x, times, *, generator=None, callback=None, progress=None, eta: float = 0.0):
    """DDIM (Song, Meng and Ermon 2021, Eq. 12) on ``times``; see the module docstring.
    ``eta`` in [0, 1]: 0 deterministic (Euler on the probability-flow ODE in sigma), 1 DDPM's
    ancestral step."""
    eta = positive_float("eta", eta, allow_zero=True)
    if eta > 1:
        raise ValueError(f"eta must lie in [0, 1] (0: deterministic DDIM, 1: DDPM's ancestral step), got {eta}")
    xh, ts, ms, sigmas = _setup(sde, x, times)
    for i in steps(len(ts) - 1, 1, progress, "DDIM" if eta == 0 else f"DDIM (eta={eta:g})"):
        sigma, nxt = sigmas[i], sigmas[i + 1]
        d = _denoised(score_fn, xh, ts[i], ms[i], sigma)
        s_eta = eta * nxt * math.sqrt(max(1 - (nxt / sigma) ** 2, 0.0))  # Eq. 16's sigma_t(eta), scaled
        xh = d + (math.sqrt(nxt**2 - s_eta**2) / sigma) * (xh - d)
        if s_eta > 0:
            xh = xh + s_eta * randn(xh.shape, generator, like=xh)
        if callback is not None:
            callback(i, ts[i + 1], ms[i + 1] * xh)
    return ms[-1] * xh


def heun_update(x, denoised, denoised_euler, sigma: float, sigma_next: float):
    """One Heun step on dx^/dsigma = (x^ - D) / sigma from ``sigma`` to ``sigma_next`` > 0 (Karras
    et al. 2022, Alg. 1, lines 5-8): d = (x^ - D) / sigma, the Euler point
    x_e = x^ + (sigma' - sigma) d, d' = (x_e - D_e) / sigma' and x^' = x^ + (sigma' - sigma) (d + d') / 2,
    where ``denoised`` = D(x^; sigma) and ``denoised_euler`` = D(x_e; sigma') (the second score
    call). Notebook 10's exercise 1; :func:`edm_heun` calls it (or its ``update``) every step."""
    slope = (x - denoised) / sigma
    euler = x + (sigma_next - sigma) * slope
    return x + (0.5 * (sigma_next - sigma)) * (slope + (euler - denoised_euler) / sigma_next)


def dpmpp_2m_update(x, denoised, denoised_prev, sigma_prev: float, sigma: float, sigma_next: float):
    """One second-order DPM-Solver++(2M) step (Lu et al. 2022, Alg. 2) from ``sigma`` to
    ``sigma_next`` > 0: h = log(sigma / sigma'), r = log(sigma_prev / sigma) / h,
    D~ = (1 + 1 / 2r) D - (1 / 2r) D_prev and x^' = (sigma' / sigma) x^ + (1 - sigma' / sigma) D~, with
    ``denoised`` = D(x^; sigma) and ``denoised_prev`` the denoiser's output of the step before (at
    ``sigma_prev``). Notebook 10's exercise 2; :func:`dpmpp_2m` calls it (or its ``update``) on
    every step but the first, which is first order."""
    h = math.log(sigma / sigma_next)
    half_over_r = 0.5 * h / math.log(sigma_prev / sigma)  # 1 / (2 r), r = h_prev / h
    mixed = (1 + half_over_r) * denoised - half_over_r * denoised_prev
    return (sigma_next / sigma) * x + (-math.expm1(-h)) * mixed  # 1 - sigma' / sigma = 1 - e^(-h)


def _update(update, default):
    """The step rule a solver calls: ``default``, or the user's ``update`` (a callable)."""
    if update is None:
        return default
    if not callable(update):
        raise TypeError(f"update must be a function with the signature of {default.__name__}, got {update!r}")
    return update


def _stepped(update, x: torch.Tensor, *args) -> torch.Tensor:
    """Call a step rule and check that it returned a tensor of x's shape."""
    out = update(x, *args)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"update {update.__name__!r} must return a tensor of shape {tuple(x.shape)}, got {shape}")
    return out


@torch.no_grad()
def edm_heun(
    sde: SDE,
    score_fn,
    x,
    times,
    *,
    generator=None,
    callback=None,
    progress=None,
    s_churn: float = 0.0,
    s_noise: float = 1.0,
    update=None,
):
    """EDM's stochastic Heun sampler (Karras et al. 2022, Alg. 2; Alg. 1 at ``s_churn = 0``) on
    ``times``; see the module docstring. ``s_churn`` >= 0: how much noise is re-added per
    step (gamma = min(s_churn / n_steps, sqrt(2) - 1)); ``s_noise`` > 0: the std factor of
    that noise (Karras' S_noise, slightly above 1 to offset a score that denoises too much).
    ``update``: the step rule, :func:`heun_update` by default (a student's own runs in this
    loop unchanged)."""
    s_churn = positive_float("s_churn", s_churn, allow_zero=True)
    s_noise = positive_float("s_noise", s_noise)
    update = _update(update, heun_update)
    xh, ts, ms, sigmas = _setup(sde, x, times)
    n = len(ts) - 1
    gamma = min(s_churn / n, math.sqrt(2) - 1)
    sigma_top = sde.edm_sigma(torch.tensor([sde.T], dtype=torch.float64)).item()  # sigma(T): where churn stops
    for i in steps(n, 2, progress, "EDM Heun"):
        sigma, nxt, t_hat, m_hat = sigmas[i], sigmas[i + 1], ts[i], ms[i]
        if gamma > 0:  # churn: up to sigma^ = (1 + gamma) sigma, at the time t^ where sigma(t^) = sigma^
            s_hat = min(sigma * (1 + gamma), max(sigma_top, sigma))
            if s_hat > sigma:
                noise = randn(xh.shape, generator, like=xh)
                xh = xh + (s_noise * math.sqrt(s_hat**2 - sigma**2)) * noise
                t_hat = sde.edm_time(torch.tensor([s_hat], dtype=torch.float64)).item()
                m_hat = sde.mean_std(torch.tensor([t_hat], dtype=torch.float64))[0].item()
                sigma = s_hat
        d = _denoised(score_fn, xh, t_hat, m_hat, sigma)
        euler = xh + ((nxt - sigma) / sigma) * (xh - d)
        if nxt > 0:  # Heun's correction: the trapezoidal rule with the slope at the Euler point
            xh = _stepped(update, xh, d, _denoised(score_fn, euler, ts[i + 1], ms[i + 1], nxt), sigma, nxt)
        else:  # a last step to sigma = 0 is Euler's: the denoiser itself
            xh = euler
        if callback is not None:
            callback(i, ts[i + 1], ms[i + 1] * xh)
    return ms[-1] * xh


@torch.no_grad()
def dpmpp_2m(sde: SDE, score_fn, x, times, *, generator=None, callback=None, progress=None, update=None):
    """DPM-Solver++(2M) (Lu et al. 2022, Alg. 2) on ``times``; see the module docstring.
    Deterministic, so ``generator`` is not used. ``update``: the second-order step rule,
    :func:`dpmpp_2m_update` by default (a student's own runs in this loop unchanged)."""
    update = _update(update, dpmpp_2m_update)
    xh, ts, ms, sigmas = _setup(sde, x, times)
    prev = None
    for i in steps(len(ts) - 1, 1, progress, "DPM-Solver++(2M)"):
        sigma, nxt = sigmas[i], sigmas[i + 1]
        d = _denoised(score_fn, xh, ts[i], ms[i], sigma)
        if prev is None or nxt == 0:  # the first step (and a last one to sigma = 0): first order, DDIM's
            xh = (nxt / sigma) * xh + (1 - nxt / sigma) * d
        else:
            xh = _stepped(update, xh, d, prev, sigmas[i - 1], sigma, nxt)
        prev = d
        if callback is not None:
            callback(i, ts[i + 1], ms[i + 1] * xh)
    return ms[-1] * xh


# --- the grids that sample() builds for them ----------------------------------------------------
def _sigma_ends(sde: SDE, t_eps: float) -> tuple[float, float]:
    s = sde.edm_sigma(torch.tensor([sde.T, t_eps], dtype=torch.float64))
    return s[0].item(), s[1].item()


def _times_of(sde: SDE, sigmas: torch.Tensor, t_eps: float) -> torch.Tensor:
    """The times of noise levels ``sigmas`` (float64), with both ends exact: T and t_eps."""
    times = sde.edm_time(sigmas)
    times[0], times[-1] = sde.T, t_eps
    return times


def edm_times(sde: SDE, n_steps: int, t_eps: float, rho: float = 7.0) -> torch.Tensor:
    """Karras et al.'s grid (2022, Eq. 5) from T down to ``t_eps``: n_steps + 1 noise levels
    sigma_i = (sigma_max^(1/rho) + i / n_steps (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,
    sigma_max = sigma(T), sigma_min = sigma(t_eps), returned as their times (float64).
    rho = 1 is uniform in sigma; larger rho crowds the steps at low noise (rho = 7 balances the
    errors of the steps in Karras' experiments)."""
    check_sde(sde)
    n_steps, rho = positive_int("n_steps", n_steps), positive_float("rho", rho)
    hi, lo = _sigma_ends(sde, t_eps)
    frac = torch.linspace(0, 1, n_steps + 1, dtype=torch.float64)
    sigmas = (hi ** (1 / rho) + frac * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho
    return _times_of(sde, sigmas, t_eps)


def logsnr_times(sde: SDE, n_steps: int, t_eps: float) -> torch.Tensor:
    """n_steps + 1 times from T down to ``t_eps`` uniform in lambda = -log sigma (Lu et al.
    2022's "logSNR" spacing: the noise levels are geometric), float64."""
    check_sde(sde)
    n_steps = positive_int("n_steps", n_steps)
    hi, lo = _sigma_ends(sde, t_eps)
    frac = torch.linspace(0, 1, n_steps + 1, dtype=torch.float64)
    return _times_of(sde, torch.exp(math.log(hi) + frac * (math.log(lo) - math.log(hi))), t_eps)


__all__ = ["SPACINGS", "ddim", "dpmpp_2m", "dpmpp_2m_update", "edm_heun", "edm_times", "heun_update", "logsnr_times"]
