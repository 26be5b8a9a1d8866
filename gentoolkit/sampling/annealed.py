"""Annealed Langevin sampling (ALS) and consistent annealed sampling (CAS) with a
noise-conditional score, and the expected denoised sample (EDS): thesis 001, Ch. 8.

Notation (001, Sec. 8.3-8.5): noise levels sigma_1 > ... > sigma_L (``sigmas``), the sampling
step size eps, eta = eps / sigma_L^2, gamma_i = sigma_{i+1} / sigma_i, and the EDS
H(x, sigma) = x + sigma^2 s(x, sigma) (Eq. 8.3, the empirical Bayes mean E[x_clean | x]).

- ALS (Alg. 4): at level i, alpha_i = eps sigma_i^2 / sigma_L^2 = eta sigma_i^2 and n_sigma
  updates x <- x + alpha_i s(x, sigma_i) + sqrt(2 alpha_i) z. With the exact score the noise
  std after n updates at level i obeys v_n^2 = v_0^2 (1-eta)^{2n} + 2 sigma_i^2 / (2-eta)
  (1 - (1-eta)^{2n}) (App. C.6), which tends to sigma_i sqrt(2 / (2 - eta)) > sigma_i
  (Prop. 1): ALS always leaves more noise than its schedule says.
- CAS (Alg. 5, general schedules): one update per level,
  x <- x + alpha_i s(x, sigma_i) + beta_i sigma_{i+1} z, beta_i = sqrt(1 - (1-eta)^2 / gamma_i^2),
  so the noise std goes from sigma_i to exactly sigma_{i+1} (Prop. 2, App. C.7). After the
  last level sigma_{L+1} = 0: no noise is added. beta_i is real only if |1 - eta| <= gamma_i.
- Prop. 3 (App. C.8): both updates are x <- (1-eta) x + eta H(x, sigma_i) + noise: a step
  towards the EDS. ``form="eds"`` runs them in that form (same iterates, same draws).

``score_fn(x, sigma)`` receives sigma as a 1-D tensor of shape (n,), one entry per sample,
and x of any shape (n, ...): points and images share every line. ``callback(i, sigma_i, x)``
is called after the last update of level i (0-based). The samplers run under
``torch.no_grad()``: a score network's graph is not kept across the hundreds of steps.
"""

from __future__ import annotations

import math
import numbers

import torch

from gentoolkit._checks import batch, call_score, full_like_batch, per_sample, positive_float, positive_int, randn
from gentoolkit._progress import steps


def geometric_sigmas(sigma_max: float, sigma_min: float, n: int) -> torch.Tensor:
    """n noise levels in geometric progression from sigma_max down to sigma_min (001,
    Eq. 8.2): a strictly decreasing float64 1-D tensor."""
    sigma_max = positive_float("sigma_max", sigma_max)
    sigma_min = positive_float("sigma_min", sigma_min)
    n = positive_int("n", n)
    if n < 2:
        raise ValueError(f"n must be >= 2 (a schedule has a first and a last level), got {n}")
    if not sigma_max > sigma_min:
        raise ValueError(f"sigma_max must be > sigma_min, got sigma_max={sigma_max}, sigma_min={sigma_min}")
    return torch.logspace(math.log10(sigma_max), math.log10(sigma_min), n, dtype=torch.float64)


def dilate_sigmas(sigmas, n_sigma: int) -> torch.Tensor:
    """Insert n_sigma - 1 levels between consecutive ones, geometrically (log-linearly), so
    L levels become (L - 1) n_sigma + 1: how CAS spends the n_sigma steps per level that
    ALS takes (001, Sec. 8.4.2). A geometric schedule stays geometric."""
    s = _check_sigmas(sigmas)
    n_sigma = positive_int("n_sigma", n_sigma)
    if n_sigma == 1:
        return s
    logs = s.log()
    frac = torch.arange(n_sigma, dtype=s.dtype) / n_sigma
    inner = logs[:-1, None] + frac[None, :] * (logs[1:] - logs[:-1])[:, None]
    out = torch.cat([inner.flatten(), logs[-1:]]).exp()
    out[::n_sigma] = s  # the original levels exactly, not exp(log(.)) of them
    return out


def _check_sigmas(sigmas) -> torch.Tensor:
    if isinstance(sigmas, torch.Tensor):
        s = sigmas.detach().to("cpu", torch.float64)
    else:
        try:
            s = torch.as_tensor(sigmas, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(f"sigmas must be a 1-D tensor of noise levels, got {type(sigmas).__name__}") from e
    if s.ndim != 1 or s.numel() < 1:
        raise ValueError(f"sigmas must be a non-empty 1-D tensor, got shape {tuple(s.shape)}")
    if not bool(torch.isfinite(s).all()) or bool((s <= 0).any()):
        raise ValueError(f"sigmas must be finite and > 0, got {s.tolist()[:6]}")
    if s.numel() > 1 and not bool((s[1:] < s[:-1]).all()):
        i = int(torch.nonzero(s[1:] >= s[:-1])[0])
        raise ValueError(
            f"sigmas must be strictly decreasing, but sigmas[{i}]={s[i].item():g} "
            f"<= sigmas[{i + 1}]={s[i + 1].item():g}"
        )
    return s


def _check_x(x) -> torch.Tensor:
    return batch("x", x)


def _score(score_fn, x: torch.Tensor, sigma: float) -> torch.Tensor:
    return call_score(score_fn, x, full_like_batch(sigma, x))


def _check_form(form: str) -> None:
    if form not in ("score", "eds"):
        raise ValueError(f"form must be 'score' (Alg. 4/5) or 'eds' (Prop. 3), got {form!r}")


def eds(score_fn, x: torch.Tensor, sigma) -> torch.Tensor:
    """Expected denoised sample H(x, sigma) = x + sigma^2 s(x, sigma) (001, Eq. 8.3)."""
    x = _check_x(x)
    if isinstance(sigma, torch.Tensor) and sigma.ndim == 1:
        if sigma.shape[0] != x.shape[0]:
            raise ValueError(f"sigma must be a float or have shape ({x.shape[0]},), got {tuple(sigma.shape)}")
        sig = sigma.to(x)
        return x + per_sample(sig, x) ** 2 * call_score(score_fn, x, sig)
    if not isinstance(sigma, numbers.Real | torch.Tensor):
        raise TypeError(f"sigma must be a float or a 1-D tensor, got {type(sigma).__name__}")
    sigma = positive_float("sigma", float(sigma))
    return x + sigma**2 * _score(score_fn, x, sigma)


@torch.no_grad()
def als(
    score_fn,
    x: torch.Tensor,
    sigmas,
    eps: float,
    n_steps_each: int,
    *,
    denoise: bool = True,
    callback=None,
    generator: torch.Generator | None = None,
    form: str = "score",
    progress: bool | None = None,
) -> torch.Tensor:
    """Annealed Langevin sampling, 001 Alg. 4 (see the module docstring).

    Args:
        score_fn: ``(x, sigma) -> score`` with sigma of shape (n,).
        x: initial samples (n, ...), e.g. ``sigmas[0] * z``.
        sigmas: strictly decreasing 1-D noise levels sigma_1 > ... > sigma_L.
        eps: step size; alpha_i = eps sigma_i^2 / sigma_L^2.
        n_steps_each: Langevin updates per level (n_sigma).
        denoise: return the EDS H(x, sigma_L) of the final sample instead of x.
        callback: ``callback(i, sigma_i, x)`` after the last update of level i.
        generator: source of the noise z (same generator state, same samples).
        form: ``"score"`` (Alg. 4) or ``"eds"`` (Prop. 3's interpolation form).
        progress: a tqdm bar over the levels: None (default) when the run makes more than
            a few hundred score calls, True always, False never.
    """
    x = _check_x(x)
    s = _check_sigmas(sigmas)
    eps = positive_float("eps", eps)
    n_steps_each = positive_int("n_steps_each", n_steps_each)
    _check_form(form)
    eta = eps / s[-1].item() ** 2
    levels = s.tolist()
    for i in steps(len(levels), n_steps_each, progress, "ALS"):
        sigma = levels[i]
        alpha = eta * sigma**2
        for _ in range(n_steps_each):
            z = randn(x.shape, generator, like=x)
            if form == "score":
                x = x + alpha * _score(score_fn, x, sigma) + math.sqrt(2 * alpha) * z
            else:
                x = (1 - eta) * x + eta * eds(score_fn, x, sigma) + math.sqrt(2 * eta) * sigma * z
        if callback is not None:
            callback(i, sigma, x)
    return eds(score_fn, x, s[-1].item()) if denoise else x


def cas_betas(sigmas, eps: float) -> torch.Tensor:
    """beta_i = sqrt(1 - (1 - eta)^2 / gamma_i^2) for i = 1..L-1 (001, Alg. 5 for a general
    schedule), and beta_L = 0 (sigma_{L+1} = 0). Raises a ValueError naming the eps range
    that works when some beta_i is undefined (|1 - eta| > gamma_i)."""
    s = _check_sigmas(sigmas)
    eps = positive_float("eps", eps)
    eta = eps / s[-1].item() ** 2
    gamma = s[1:] / s[:-1]
    if gamma.numel() and abs(1 - eta) > gamma.min().item() * (1 + 1e-12):
        g = gamma.min().item()
        i = int(torch.nonzero(gamma <= g * (1 + 1e-9))[0])  # the first of the tightest levels
        lo, hi = s[-1].item() ** 2 * (1 - g), s[-1].item() ** 2 * (1 + g)
        raise ValueError(
            f"eps={eps:g} gives eta = eps / sigma_L^2 = {eta:.4g} with |1 - eta| > gamma_{i + 1} = "
            f"sigma_{i + 2} / sigma_{i + 1} = {g:.4g}, so CAS's beta is undefined. "
            f"Use {lo:.4g} <= eps <= {hi:.4g} (smallest eps that works: {lo:.4g}), or more levels."
        )
    beta = torch.sqrt((1 - (1 - eta) ** 2 / gamma**2).clamp_min(0))
    return torch.cat([beta, torch.zeros(1, dtype=beta.dtype)])


@torch.no_grad()
def cas(
    score_fn,
    x: torch.Tensor,
    sigmas,
    eps: float,
    *,
    denoise: bool = True,
    callback=None,
    generator: torch.Generator | None = None,
    form: str = "score",
    progress: bool | None = None,
) -> torch.Tensor:
    """Consistent annealed sampling, 001 Alg. 5 for any decreasing schedule (see the module
    docstring); arguments as :func:`als` (``progress``: a bar over the levels). One update per
    level; to spend n_sigma updates per training level, pass ``dilate_sigmas(sigmas, n_sigma)``."""
    x = _check_x(x)
    s = _check_sigmas(sigmas)
    beta = cas_betas(s, eps)
    _check_form(form)
    eta = eps / s[-1].item() ** 2
    levels = s.tolist()
    for i in steps(len(levels), 1, progress, "CAS"):
        sigma = levels[i]
        if form == "score":
            x = x + eta * sigma**2 * _score(score_fn, x, sigma)
        else:
            x = (1 - eta) * x + eta * eds(score_fn, x, sigma)
        if i < len(levels) - 1:  # noise beta_i sigma_{i+1}; none after the last level (sigma_{L+1} = 0), no draw
            x = x + beta[i].item() * levels[i + 1] * randn(x.shape, generator, like=x)
        if callback is not None:
            callback(i, sigma, x)
    return eds(score_fn, x, s[-1].item()) if denoise else x


def als_noise_std(sigmas, eps: float, n_steps_each: int, v0: float) -> torch.Tensor:
    """Noise std after each level of ALS with the exact score, from App. C.6:
    v_n^2 = v_0^2 (1-eta)^{2n} + 2 sigma_i^2 / (2-eta) (1 - (1-eta)^{2n}), chained over the
    levels; one value per level (float64). Its limit per level is sigma_i sqrt(2 / (2 - eta))."""
    s = _check_sigmas(sigmas)
    eps = positive_float("eps", eps)
    n = positive_int("n_steps_each", n_steps_each)
    eta = eps / s[-1].item() ** 2
    if eta >= 2:
        raise ValueError(f"eps={eps:g} gives eta = {eta:.4g} >= 2: ALS diverges (|1 - eta| >= 1), there is no limit")
    out, v2 = [], float(v0) ** 2
    r = (1 - eta) ** (2 * n)
    for sigma in s.tolist():
        v2 = v2 * r + 2 * sigma**2 / (2 - eta) * (1 - r)
        out.append(math.sqrt(v2))
    return torch.tensor(out, dtype=torch.float64)
