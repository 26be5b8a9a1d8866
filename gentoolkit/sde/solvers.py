"""Samplers for the reverse-time SDE, written once against the :class:`~gentoolkit.sde.SDE`
interface (report 000, Sec. 3; Song et al. 2021). Every solver is one function with one
signature, as k-diffusion's samplers share one:

    solver(sde, score_fn, x, times, *, generator=None, callback=None, progress=None, **options)

- ``sde``: a :class:`VESDE`, :class:`VPSDE` or :class:`SubVPSDE`;
- ``score_fn(x, t)``: the score at x (n, ...) and times t of shape (n,);
- ``x``: the samples at ``times[0]`` (usually the prior at T); never modified;
- ``times``: a strictly decreasing 1-D grid from ``times[0]`` down to ``times[-1]`` (t_eps);
  the adaptive solvers ``ode`` and ``ggf`` use only its two ends;
- ``generator``: all noise is drawn from it (same state, same samples);
- ``callback(i, t, x)``: called after step i of a fixed grid, t = times[i + 1] (the adaptive
  solvers have no common step and take none);
- ``progress``: True, False or None (a bar when the run makes more than a few hundred score
  calls, :mod:`gentoolkit._progress`).

Each returns the samples at ``times[-1]``; ``ggf`` returns them with its :class:`GGFStats`.

- ``euler_maruyama``: x <- x - [f - g^2 s] h + g sqrt(h) z, h = t_i - t_{i+1} (001, Eq. 2.18).
- ``reverse_diffusion``: the reverse of the forward chain x(t) = x(t - h) + F + G z
  (``sde.discretize``: SMLD's for VE, DDPM's for VP, Euler-Maruyama's otherwise):
  x <- x - F + G^2 s + G z.
- ``ancestral``: ancestral sampling of the chain (``sde.ancestral_step``: SMLD, DDPM).
- ``pc`` (n_corrector, snr, predictor): before each predictor step, ``n_corrector`` steps of
  :func:`langevin_corrector` (report 000, Sec. 3.2).
- ``ode`` (rtol, atol): the probability-flow ODE with adaptive RK45
  (:mod:`gentoolkit.sde.probability_flow`, which also gives log-likelihoods).
- ``ggf`` (eps_rel, eps_abs, data_range, h_init, theta, r, norm, memory): Gotta Go Fast,
  001 Alg. 6, with Brownian memory by default (:mod:`gentoolkit.sde.gotta_go_fast`).
- ``ddim`` (eta), ``edm_heun`` (s_churn, s_noise, update) and ``dpmpp_2m`` (update): DDIM (Song, Meng and Ermon
  2021, Eq. 12), EDM's Heun sampler (Karras et al. 2022, Alg. 2) and DPM-Solver++(2M) (Lu et
  al. 2022, Alg. 2), written once on EDM's noise level sigma(t) = std(t) / m(t)
  (:mod:`gentoolkit.sde.fast_samplers`); ``update`` swaps in one's own step rule with the
  signature of ``heun_update`` / ``dpmpp_2m_update`` (notebook 10's exercises run in the loop).

:func:`sample` draws the prior, runs one of them on its grid from T to t_eps and can denoise the
result with Tweedie's formula (:func:`tweedie`). The grid has ``n_steps`` steps: uniform in t
(``linspace(T, t_eps, n_steps + 1)``), except Karras' rho-schedule for ``edm_heun`` (option
``rho``, default 7; :func:`edm_times`) and for ``dpmpp_2m`` uniform in log-SNR (option
``spacing="logsnr"``, default; :func:`logsnr_times`) or in t (``spacing="time"``); the adaptive
solvers get the two ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gentoolkit._checks import batch, call_score, full_like_batch, per_sample, positive_float, positive_int, randn
from gentoolkit._progress import steps
from gentoolkit.config import resolve_device
from gentoolkit.sde.fast_samplers import SPACINGS, ddim, dpmpp_2m, edm_heun, edm_times, logsnr_times
from gentoolkit.sde.gotta_go_fast import GGFStats, ggf
from gentoolkit.sde.probability_flow import ode
from gentoolkit.sde.sdes import SDE, check_grid, check_sde, check_times


@dataclass
class SampleResult:
    """``x``: the samples; ``nfe``: batched score evaluations; ``times``: the time grid used
    (for "ggf" and "ode": the start and end times); ``stats``: for "ggf", a :class:`GGFStats`
    with the accepted and rejected step counts, evaluations per sample and the accepted step
    sizes. ``nfe`` includes the final Tweedie call when ``denoise=True``; ``stats`` counts
    only the solver's own evaluations."""

    x: torch.Tensor
    nfe: int
    times: torch.Tensor
    stats: GGFStats | None = None


def _score(score_fn, x: torch.Tensor, t: float) -> torch.Tensor:
    return call_score(score_fn, x, full_like_batch(t, x), cond="t")


# --- one step from t to t - h of each fixed-grid predictor ------------------------------
def _euler_maruyama_step(sde, score_fn, x, t, h, generator):
    f, g = sde.sde(x, t)
    return x - (f - g**2 * _score(score_fn, x, t)) * h + g * math.sqrt(h) * randn(x.shape, generator, like=x)


def _reverse_diffusion_step(sde, score_fn, x, t, h, generator):
    F, G = sde.discretize(x, t, h)
    return x - F + G**2 * _score(score_fn, x, t) + G * randn(x.shape, generator, like=x)


def _ancestral_step(sde, score_fn, x, t, h, generator):
    return sde.ancestral_step(x, t, h, _score(score_fn, x, t), randn(x.shape, generator, like=x))


PREDICTORS = {
    "euler_maruyama": _euler_maruyama_step,
    "reverse_diffusion": _reverse_diffusion_step,
    "ancestral": _ancestral_step,
}


def _predictor(name, sde: SDE):
    if name not in PREDICTORS:
        raise ValueError(f"predictor={name!r} is not known; expected one of {sorted(PREDICTORS)}")
    if name == "ancestral" and not sde.has_ancestral_chain:
        raise ValueError(f"ancestral sampling is defined for VESDE and VPSDE, not {type(sde).__name__}")
    return PREDICTORS[name]


def langevin_corrector(sde: SDE, score_fn, x, t: float, h: float, *, n_steps=1, snr=0.16, generator=None):
    """``n_steps`` Langevin steps x <- x + e s + sqrt(2 e) z at the fixed time t, with step
    e = 2 alpha (snr |z| / |s|)^2, the norms averaged over the batch and alpha =
    ``sde.langevin_alpha(t, h)`` (report 000, Sec. 3.2; Song et al.'s ``LangevinCorrector``).
    On a Gaussian p_t of variance v it settles at variance v (1 + alpha snr^2): at variance u
    the norms give e = 2 alpha snr^2 v^2 / u, and Langevin's stationary u = v / (1 - e / 2v)."""
    check_sde(sde)
    x, n_steps, snr = batch("x", x), positive_int("n_steps", n_steps), positive_float("snr", snr)
    alpha = sde.langevin_alpha(t, h)
    for _ in range(n_steps):
        s = _score(score_fn, x, t)
        z = randn(x.shape, generator, like=x)
        s_norm = s.flatten(1).norm(dim=1).mean()
        z_norm = z.flatten(1).norm(dim=1).mean()
        step = 2 * alpha * (snr * z_norm / s_norm.clamp_min(1e-12)) ** 2
        x = x + step * s + torch.sqrt(2 * step) * z
    return x


def _fixed_grid(sde, score_fn, x, times, step, generator, callback, progress, *, name, n_corrector=0, snr=None):
    """The loop every fixed-grid solver shares: corrector steps (pc, which passes its ``snr``),
    then the predictor."""
    check_sde(sde)
    x, times = batch("x", x), check_grid(times, sde.T)
    ts, hs, ends = times[:-1].tolist(), (times[:-1] - times[1:]).tolist(), times[1:].tolist()
    for i in steps(len(hs), 1 + n_corrector, progress, name):
        if n_corrector:
            x = langevin_corrector(sde, score_fn, x, ts[i], hs[i], n_steps=n_corrector, snr=snr, generator=generator)
        x = step(sde, score_fn, x, ts[i], hs[i], generator)
        if callback is not None:
            callback(i, ends[i], x)
    return x


@torch.no_grad()
def euler_maruyama(sde, score_fn, x, times, *, generator=None, callback=None, progress=None):
    """Euler-Maruyama on the reverse-time SDE; see the module docstring."""
    return _fixed_grid(sde, score_fn, x, times, _euler_maruyama_step, generator, callback, progress, name="EM")


@torch.no_grad()
def reverse_diffusion(sde, score_fn, x, times, *, generator=None, callback=None, progress=None):
    """The reverse of the SDE's forward chain ``sde.discretize``; see the module docstring."""
    step = _reverse_diffusion_step
    return _fixed_grid(sde, score_fn, x, times, step, generator, callback, progress, name="reverse diffusion")


@torch.no_grad()
def ancestral(sde, score_fn, x, times, *, generator=None, callback=None, progress=None):
    """Ancestral sampling of SMLD's (VE) or DDPM's (VP) chain; see the module docstring."""
    step = _predictor("ancestral", sde)
    return _fixed_grid(sde, score_fn, x, times, step, generator, callback, progress, name="ancestral")


@torch.no_grad()
def pc(
    sde,
    score_fn,
    x,
    times,
    *,
    generator=None,
    callback=None,
    progress=None,
    n_corrector=1,
    snr=0.16,
    predictor="reverse_diffusion",
):
    """Predictor-corrector: ``n_corrector`` Langevin corrector steps at t_i, then one step of
    ``predictor`` ("reverse_diffusion", "euler_maruyama" or "ancestral") to t_{i+1}."""
    n_corrector, snr = positive_int("n_corrector", n_corrector), positive_float("snr", snr)
    step = _predictor(predictor, sde)
    name = f"PC ({predictor})"
    return _fixed_grid(
        sde, score_fn, x, times, step, generator, callback, progress, name=name, n_corrector=n_corrector, snr=snr
    )


SOLVERS = {
    "euler_maruyama": euler_maruyama,
    "reverse_diffusion": reverse_diffusion,
    "ancestral": ancestral,
    "pc": pc,
    "ode": ode,
    "ggf": ggf,
    "ddim": ddim,
    "edm_heun": edm_heun,
    "dpmpp_2m": dpmpp_2m,
}
#: the options :func:`sample` takes for each method (``n_steps``: the fixed grid's size; ``rho``
#: and ``spacing`` shape the grid, ``GRID_OPTIONS``)
METHODS = {
    "euler_maruyama": {"n_steps"},
    "reverse_diffusion": {"n_steps"},
    "ancestral": {"n_steps"},
    "pc": {"n_steps", "n_corrector", "snr", "predictor"},
    "ode": {"rtol", "atol"},
    "ggf": {"eps_rel", "eps_abs", "data_range", "h_init", "theta", "r", "norm", "memory"},
    "ddim": {"n_steps", "eta"},
    "edm_heun": {"n_steps", "rho", "s_churn", "s_noise", "update"},
    "dpmpp_2m": {"n_steps", "spacing", "update"},
}
#: the options that choose a method's grid in :func:`sample` (not passed to the solver)
GRID_OPTIONS = {"rho", "spacing"}


def tweedie(sde: SDE, score_fn, x: torch.Tensor, t) -> torch.Tensor:
    """E[x(0) | x(t) = x] = (x + std(t)^2 score(x, t)) / m(t) for the kernel
    x(t) = m(t) x0 + std(t) z (m = 1 for VE; m(t_eps) is within 1e-3 of 1 for VP);
    ``score_fn(x, t)`` as everywhere, t a float or one time per sample."""
    t = check_times(t, x)
    m, s = sde.mean_std(t)
    return (x + per_sample(s, x) ** 2 * call_score(score_fn, x, t, cond="t")) / per_sample(m, x)


class _Counted:
    """``score_fn`` that counts its calls (the NFE)."""

    def __init__(self, score_fn):
        self.score_fn, self.nfe = score_fn, 0

    def __call__(self, x, t):
        self.nfe += 1
        return self.score_fn(x, t)


def _end_time(sde: SDE, t_eps) -> float:
    t_eps = positive_float("t_eps", sde.t_eps if t_eps is None else t_eps)
    if not t_eps < sde.T:
        raise ValueError(f"t_eps must be < T = {sde.T}, got {t_eps}")
    return t_eps


def _grid(sde: SDE, method: str, t_eps: float, options: dict) -> torch.Tensor:
    """The time grid from T to t_eps (the module docstring): its two ends for an adaptive
    method. Takes ``n_steps`` and the grid's own options out of ``options``."""
    if "n_steps" not in METHODS[method]:
        return torch.tensor([sde.T, t_eps], dtype=torch.float64)
    n_steps = positive_int("n_steps", options.pop("n_steps", 1000))
    if method == "edm_heun":
        return edm_times(sde, n_steps, t_eps, options.pop("rho", 7.0))
    if method == "dpmpp_2m":
        spacing = options.pop("spacing", "logsnr")
        if spacing not in SPACINGS:
            raise ValueError(
                f"spacing={spacing!r} is not known; expected 'logsnr' (uniform in log-SNR) or 'time' (uniform in t)"
            )
        if spacing == "logsnr":
            return logsnr_times(sde, n_steps, t_eps)
    return torch.linspace(sde.T, t_eps, n_steps + 1, dtype=torch.float64)


def _start(sde: SDE, shape, x_init, generator, device, dtype) -> torch.Tensor:
    """A prior draw on ``device`` (default: cuda when available), or ``x_init`` (on its own
    device unless ``device`` is given)."""
    if x_init is None:
        return sde.prior_sampling(shape, generator, device=device, dtype=dtype)
    x = batch("x_init", x_init)
    return x if device is None else x.to(resolve_device(device))


@torch.no_grad()
def sample(
    sde: SDE,
    score_fn,
    shape,
    method: str,
    *,
    generator: torch.Generator | None = None,
    callback=None,
    x_init: torch.Tensor | None = None,
    denoise: bool = True,
    t_eps: float | None = None,
    device=None,
    dtype=torch.float32,
    progress: bool | None = None,
    **options,
) -> SampleResult:
    """Draw samples by integrating the reverse-time SDE from T to ``t_eps``.

    Args:
        sde: a :class:`VESDE`, :class:`VPSDE` or :class:`SubVPSDE`.
        score_fn: ``(x, t) -> score`` (t of shape (n,)).
        shape: (n, ...) of the samples.
        method: one of ``METHODS`` (the solvers of the module docstring).
        generator: for the prior draw and all noise (same state, same samples).
        callback: ``callback(i, t, x)`` after step i of a fixed-grid method (not called by
            "ode" and "ggf").
        x_init: start from these points instead of a prior draw.
        denoise: finish with Tweedie's formula at ``t_eps``.
        t_eps: the last time (default ``sde.t_eps``).
        device: where the prior is drawn to (default: cuda when available, else cpu); with
            ``x_init``, default x_init's device.
        progress: True, False or None (a bar when the run makes more than a few hundred
            score calls).
        **options: ``n_steps`` (default 1000) for the fixed grids, ``rho`` (default 7) for
            "edm_heun"'s grid and ``spacing`` ("logsnr", default, or "time") for "dpmpp_2m"'s,
            and the solver's own options (``METHODS``; defaults in each solver's signature).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method={method!r}; expected one of {sorted(METHODS)}")
    unknown = sorted(set(options) - METHODS[method])
    if unknown:
        raise ValueError(f"method {method!r} takes options {sorted(METHODS[method])}, not {unknown}")
    check_sde(sde)
    t_eps, options = _end_time(sde, t_eps), dict(options)
    times = _grid(sde, method, t_eps, options)
    x = _start(sde, shape, x_init, generator, device, dtype)
    score = _Counted(score_fn)
    fixed = "n_steps" in METHODS[method]
    out = SOLVERS[method](
        sde, score, x, times, generator=generator, callback=callback if fixed else None, progress=progress, **options
    )
    x, stats = out if method == "ggf" else (out, None)
    if denoise:
        x = tweedie(sde, score, x, t_eps)
    return SampleResult(x=x, nfe=score.nfe, times=times, stats=stats)


__all__ = [
    "GRID_OPTIONS",
    "METHODS",
    "PREDICTORS",
    "SOLVERS",
    "SampleResult",
    "ancestral",
    "ddim",
    "dpmpp_2m",
    "edm_heun",
    "edm_times",
    "euler_maruyama",
    "langevin_corrector",
    "logsnr_times",
    "ode",
    "pc",
    "reverse_diffusion",
    "ggf",
    "sample",
    "tweedie",
]
