"""The probability-flow ODE (report 000; Song et al. 2021): dx/dt = f(x, t) - g(t)^2 / 2
grad log p_t(x). It has the same marginals p_t as the SDE but no noise, so it can be solved
with an adaptive Runge-Kutta method and gives exact log-likelihoods through the
instantaneous change of variables

    log p_0(x(0)) = log p_T(x(T)) + int_0^T div_x v(x(t), t) dt,   v = the ODE's drift.

Like Song et al.'s code we call SciPy's RK45 (Dormand-Prince) on the flattened batch, so the
tolerances ``rtol``/``atol`` apply to the whole state and one solver step advances every
sample; NFE is the solver's count of drift evaluations (each a batched score call).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.integrate import solve_ivp

from gentoolkit._checks import batch, call_score, full_like_batch, positive_float, positive_int, randn
from gentoolkit._progress import TimeBar
from gentoolkit.sde.sdes import SDE, adaptive_ends, check_sde


def _drift(sde: SDE, score_fn, x: torch.Tensor, t: float) -> torch.Tensor:
    tv = full_like_batch(t, x)
    return sde.reverse_drift(x, tv, call_score(score_fn, x, tv, cond="t"), probability_flow=True)


def _rk45(fun, t_span, y0: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    sol = solve_ivp(fun, t_span, y0, rtol=rtol, atol=atol, method="RK45")
    if not sol.success:
        raise RuntimeError(f"the ODE solver failed: {sol.message}")
    return sol.y[:, -1]


@torch.no_grad()
def ode(sde: SDE, score_fn, x, times, *, generator=None, callback=None, progress=None, rtol=1e-5, atol=1e-5):
    """Integrate the probability-flow ODE from ``times[0]`` down to ``times[-1]`` starting at
    ``x`` (the solvers' shared signature, :mod:`gentoolkit.sde.solvers`; deterministic, so
    ``generator`` is not used)."""
    rtol, atol = positive_float("rtol", rtol), positive_float("atol", atol)
    t_start, t_end = adaptive_ends(sde, times, callback)
    x = batch("x", x)
    shape, dev, dtype = x.shape, x.device, x.dtype
    bar, calls = TimeBar(t_start, t_end, progress, "probability-flow ODE"), [0]

    def fun(t, y):
        calls[0] += 1
        bar.update(float(t), calls[0])
        xt = torch.from_numpy(y).reshape(shape).to(device=dev, dtype=dtype)
        return _drift(sde, score_fn, xt, float(t)).double().cpu().numpy().ravel()

    try:
        y = _rk45(fun, (t_start, t_end), x.double().cpu().numpy().ravel(), rtol, atol)
    finally:
        bar.close()
    return torch.from_numpy(y).reshape(shape).to(device=dev, dtype=dtype)


def _divergence(sde, score_fn, x: torch.Tensor, t: float, eps_noise: torch.Tensor | None):
    """div_x v: exact (one backward pass per dimension) when ``eps_noise`` is None, else
    Hutchinson's estimate eps^T (dv/dx) eps with the fixed probe ``eps_noise``."""
    with torch.enable_grad():
        xr = x.detach().requires_grad_(True)
        v = _drift(sde, score_fn, xr, t)
        if eps_noise is not None:
            (g,) = torch.autograd.grad((v * eps_noise).sum(), xr)
            return v.detach(), (g * eps_noise).flatten(1).sum(1)
        flat_v = v.flatten(1)
        div = 0  # becomes g's (n,) tensor, in its dtype and on its device
        for j in range(flat_v.shape[1]):  # over dimensions (used for d <= 16), batched over samples
            (g,) = torch.autograd.grad(flat_v[:, j].sum(), xr, retain_graph=j < flat_v.shape[1] - 1)
            div = div + g.flatten(1)[:, j]
        return v.detach(), div


def log_likelihood(
    sde: SDE,
    score_fn,
    x: torch.Tensor,
    *,
    t_eps: float | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    exact_divergence: bool | None = None,
    n_probes: int = 1,
    generator: torch.Generator | None = None,
    progress: bool | None = None,
) -> tuple[torch.Tensor, int]:
    """log p_{t_eps}(x) per sample (x's dtype and device) through the probability-flow ODE, and the NFE.

    The divergence is exact (``exact_divergence=True``, default for dimension <= 16, e.g. 2D)
    or Hutchinson's unbiased estimate with ``n_probes`` Gaussian probes held fixed along the
    trajectory (default in higher dimension). The prior is ``sde.prior_logp``. ``progress``:
    a bar over time from t_eps to T (None: once more than a few hundred evaluations are made).
    """
    check_sde(sde)
    x = batch("x", x)
    t_eps = positive_float("t_eps", sde.t_eps if t_eps is None else t_eps)
    n_probes = positive_int("n_probes", n_probes)
    exact = x[0].numel() <= 16 if exact_divergence is None else bool(exact_divergence)
    n, shape = x.shape[0], x.shape
    probes = None if exact else randn((n_probes, *x.shape), generator, like=x)
    bar, nfe = TimeBar(t_eps, sde.T, progress, "log-likelihood"), [0]

    def fun(t, y):
        xt = torch.from_numpy(y[:-n]).reshape(shape).to(device=x.device, dtype=x.dtype)
        nfe[0] += 1
        bar.update(float(t), nfe[0])
        if exact:
            v, div = _divergence(sde, score_fn, xt, float(t), None)
        else:
            divs = []
            for k in range(n_probes):  # over probes; each is batched over samples
                v, dk = _divergence(sde, score_fn, xt, float(t), probes[k])
                divs.append(dk)
            div = torch.stack(divs).mean(0)
        return np.concatenate([v.double().cpu().numpy().ravel(), div.double().cpu().numpy()])

    y0 = np.concatenate([x.double().cpu().numpy().ravel(), np.zeros(n)])
    try:
        y = _rk45(fun, (t_eps, sde.T), y0, rtol, atol)
    finally:
        bar.close()
    xT, delta = torch.from_numpy(y[:-n]).reshape(shape), torch.from_numpy(y[-n:])
    return (sde.prior_logp(xT) + delta).to(device=x.device, dtype=x.dtype), nfe[0]
