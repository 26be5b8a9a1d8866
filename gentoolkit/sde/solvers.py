"""Samplers for the reverse-time SDE, written once against the :class:`~gentoolkit.sde.SDE`
interface (report 000, Sec. 3.2; Song et al. 2021). Each method integrates from t = T down
to a small ``t_eps`` (defaults as in report 000: 1e-5 for VE, 1e-3 for VP) and can denoise the
result with Tweedie's formula.

``score_fn(x, t)`` receives t as a 1-D tensor of shape (n,). NFE counts batched calls of
``score_fn``. Methods (options):

- ``"euler_maruyama"`` (n_steps): x <- x - [f - g^2 s] h + g sqrt(h) z, h = t_i - t_{i+1}.
- ``"reverse_diffusion"`` (n_steps): the reverse of the forward discretisation
  x_{i+1} = x_i + F_i + G_i z (VE: F = 0, G^2 = sigma(t)^2 - sigma(t - h)^2; VP: the DDPM
  chain F = (sqrt(1 - beta h) - 1) x, G^2 = beta h; else F = f h, G = g sqrt(h)):
  x <- x - F + G^2 s + G z.
- ``"ancestral"`` (n_steps): ancestral sampling of the discrete chain (VE: SMLD, VP: DDPM).
- ``"pc"`` (n_steps, n_corrector, snr, predictor): before each predictor step,
  ``n_corrector`` Langevin corrector steps with step size 2 alpha (snr |z| / |s|)^2, norms
  averaged over the batch (alpha = 1 - beta h for VP, 1 otherwise), as in report 000.
- ``"ode"`` (rtol, atol): the probability-flow ODE with adaptive RK45
  (:mod:`gentoolkit.sde.ode`, which also gives log-likelihoods).
- ``"ggf"`` (eps_rel, eps_abs, data_range, h_init, theta, r, norm, memory): Gotta Go Fast,
  001 Alg. 6, with Brownian memory by default (:mod:`gentoolkit.sde.ggf`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gentoolkit._checks import batch, call_score, per_sample, positive_float, positive_int
from gentoolkit.sde.ggf import GGFStats, ggf
from gentoolkit.sde.ode import ode_sample
from gentoolkit.sde.sdes import SDE, VESDE, VPSDE, SubVPSDE


@dataclass
class SampleResult:
    """``x``: the samples; ``nfe``: batched score evaluations; ``times``: the time grid used
    (for "ggf": the start and end times); ``stats``: for "ggf", a :class:`GGFStats` with the
    accepted and rejected step counts, evaluations per sample and the accepted step sizes.
    ``nfe`` includes the final Tweedie call when ``denoise=True``; ``stats`` counts only the
    solver's own evaluations."""

    x: torch.Tensor
    nfe: int
    times: torch.Tensor
    stats: GGFStats | None = None


class _Counter:
    def __init__(self, score_fn):
        self.score_fn, self.nfe = score_fn, 0

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        self.nfe += 1
        return call_score(self.score_fn, x, torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device), cond="t")


def _noise(x: torch.Tensor, generator) -> torch.Tensor:
    dev = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=dev).to(x.device)


def _vec(t: float, x: torch.Tensor) -> torch.Tensor:
    return torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device)


def _discretize(sde: SDE, x: torch.Tensor, t: float, h: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(F, G) of the forward step from t - h to t: x_t = x_{t-h} + F + G z (see module doc)."""
    tv = _vec(t, x)
    if isinstance(sde, VESDE):
        sig, prev = sde.sigma(tv), sde.sigma(_vec(max(t - h, 0.0), x))
        return torch.zeros_like(x), per_sample(torch.sqrt(sig**2 - prev**2), x)
    if type(sde) is VPSDE:
        bh = (sde.beta(tv) * h).clamp(max=0.999)
        return (per_sample(torch.sqrt(1 - bh), x) - 1) * x, per_sample(torch.sqrt(bh), x)
    f, g = sde.sde(x, tv)
    return f * h, g * math.sqrt(h)


def _em_step(sde, score, x, t, h, generator):
    f, g = sde.sde(x, _vec(t, x))
    return x - (f - g**2 * score(x, t)) * h + g * math.sqrt(h) * _noise(x, generator)


def _reverse_diffusion_step(sde, score, x, t, h, generator):
    F, G = _discretize(sde, x, t, h)
    return x - F + G**2 * score(x, t) + G * _noise(x, generator)


def _ancestral_step(sde, score, x, t, h, generator):
    tv = _vec(t, x)
    if isinstance(sde, VESDE):
        # SMLD's chain on the exact kernel stds s(t) = sqrt(sigma(t)^2 - sigma_min^2)
        sig = sde.mean_std(tv)[1]
        prev = sde.mean_std(_vec(t - h, x))[1] if t - h > 0 else torch.zeros_like(tv)
        sig, prev = per_sample(sig, x), per_sample(prev, x)
        mean = x + (sig**2 - prev**2) * score(x, t)
        return mean + torch.sqrt(prev**2 * (sig**2 - prev**2) / sig**2) * _noise(x, generator)
    bh = per_sample((sde.beta(tv) * h).clamp(max=0.999), x)
    return (x + bh * score(x, t)) / torch.sqrt(1 - bh) + torch.sqrt(bh) * _noise(x, generator)


_PREDICTORS = {"euler_maruyama": _em_step, "reverse_diffusion": _reverse_diffusion_step, "ancestral": _ancestral_step}
METHODS = {
    "euler_maruyama": {"n_steps"},
    "reverse_diffusion": {"n_steps"},
    "ancestral": {"n_steps"},
    "pc": {"n_steps", "n_corrector", "snr", "predictor"},
    "ode": {"rtol", "atol"},
    "ggf": {"eps_rel", "eps_abs", "data_range", "h_init", "theta", "r", "norm", "memory"},
}


def _langevin_corrector(sde, score, x, t, h, snr, n_corrector, generator):
    alpha = 1.0
    if type(sde) is VPSDE:
        alpha = 1 - min(float(sde.beta(torch.tensor(t)) * h), 0.999)
    for _ in range(n_corrector):
        s = score(x, t)
        z = _noise(x, generator)
        s_norm = s.flatten(1).norm(dim=1).mean()
        z_norm = z.flatten(1).norm(dim=1).mean()
        step = 2 * alpha * (snr * z_norm / s_norm.clamp_min(1e-12)) ** 2
        x = x + step * s + torch.sqrt(2 * step) * z
    return x


def tweedie(sde: SDE, score, x: torch.Tensor, t: float) -> torch.Tensor:
    """E[x(0) | x(t) = x] = (x + std(t)^2 score(x, t)) / m(t) for the kernel
    x(t) = m(t) x0 + std(t) z (m = 1 for VE; m(t_eps) is within 1e-3 of 1 for VP)."""
    m, s = sde.mean_std(_vec(t, x))
    return (x + per_sample(s, x) ** 2 * score(x, t)) / per_sample(m, x)


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
    **options,
) -> SampleResult:
    """Draw samples by integrating the reverse-time SDE from T to ``t_eps``.

    Args:
        sde: a :class:`VESDE`, :class:`VPSDE` or :class:`SubVPSDE`.
        score_fn: ``(x, t) -> score`` (t of shape (n,)).
        shape: (n, ...) of the samples.
        method: one of ``METHODS`` (see the module docstring for their options).
        generator: for the prior draw and all noise (same state, same samples).
        callback: ``callback(i, t, x)`` after step i.
        x_init: start from these points instead of a prior draw.
        denoise: finish with Tweedie's formula at ``t_eps``.
        t_eps: the last time (default ``sde.t_eps``).
        **options: ``n_steps`` (default 1000), and for ``"pc"``: ``n_corrector`` (1),
            ``snr`` (0.16), ``predictor`` (``"reverse_diffusion"``).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method={method!r}; expected one of {sorted(METHODS)}")
    unknown = sorted(set(options) - METHODS[method])
    if unknown:
        raise ValueError(f"method {method!r} takes options {sorted(METHODS[method])}, not {unknown}")
    if not isinstance(sde, SDE):
        raise TypeError(f"sde must be a VESDE, VPSDE or SubVPSDE, got {type(sde).__name__}")
    n_steps = positive_int("n_steps", options.get("n_steps", 1000)) if method not in ("ode", "ggf") else 0
    t_eps = positive_float("t_eps", sde.t_eps if t_eps is None else t_eps)
    if not t_eps < sde.T:
        raise ValueError(f"t_eps must be < T = {sde.T}, got {t_eps}")
    predictor = options.get("predictor", "reverse_diffusion" if method == "pc" else method)
    if method not in ("ode", "ggf") and predictor not in _PREDICTORS:
        raise ValueError(f"predictor={predictor!r} is not known; expected one of {sorted(_PREDICTORS)}")
    if method not in ("ode", "ggf") and predictor == "ancestral" and type(sde) not in (VESDE, VPSDE):
        raise ValueError(f"ancestral sampling is defined for VESDE and VPSDE, not {type(sde).__name__}")
    if method == "pc":
        n_corrector = positive_int("n_corrector", options.get("n_corrector", 1))
        snr = positive_float("snr", options.get("snr", 0.16))
    if x_init is None:
        x = sde.prior_sampling(shape, generator, device=device, dtype=dtype)
    else:
        x = batch("x_init", x_init).to(device=device or x_init.device)
    score = _Counter(score_fn)
    if method in ("ode", "ggf"):
        stats = None
        if method == "ode":
            x, score.nfe = ode_sample(
                sde, score_fn, x, t_eps, rtol=options.get("rtol", 1e-5), atol=options.get("atol", 1e-5)
            )
        else:
            x, stats = ggf(sde, score_fn, x, t_eps, generator=generator, **options)
            score.nfe = stats.nfe
        if denoise:
            x = tweedie(sde, score, x, t_eps)
        return SampleResult(x=x, nfe=score.nfe, times=torch.tensor([sde.T, t_eps], dtype=torch.float64), stats=stats)
    times = torch.linspace(sde.T, t_eps, n_steps + 1, dtype=torch.float64)
    step = _PREDICTORS[predictor]
    for i in range(n_steps):
        t, h = times[i].item(), (times[i] - times[i + 1]).item()
        if method == "pc":
            x = _langevin_corrector(sde, score, x, t, h, snr, n_corrector, generator)
        x = step(sde, score, x, t, h, generator)
        if callback is not None:
            callback(i, times[i + 1].item(), x)
    if denoise:
        x = tweedie(sde, score, x, t_eps)
    return SampleResult(x=x, nfe=score.nfe, times=times)


__all__ = ["METHODS", "SampleResult", "SubVPSDE", "sample", "tweedie"]
