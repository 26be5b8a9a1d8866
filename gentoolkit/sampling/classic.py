"""Classic samplers for a known density (thesis 001, Sec. 2.2).

Notation: p is the target density, known up to a constant through ``log_prob(x) -> (n,)``;
its score is grad_x log p (``score_fn(x) -> x.shape``; computed by autograd from
``log_prob`` when not given). Chains are batched: ``x0`` has shape (n_chains, *event_shape)
and every step updates all chains at once. ``step_size`` always means the Langevin step
lambda of Eq. 2.2 (ULA, MALA), whose proposal x + lambda grad log p + sqrt(2 lambda) z has
noise std sqrt(2 lambda); random-walk Metropolis-Hastings takes the noise std of its proposal
x + proposal_std z directly (``proposal_std``). :func:`run_mcmc` runs any of the three at one
proposal noise std, so that they compare at equal noise. The chains take ``progress``: a tqdm
bar over the steps (None, the default: when there are more than a few hundred steps).

- Inverse transform sampling (Sec. 2.2.1.2): x = F^{-1}(u), u ~ U(0, 1).
- Rejection sampling (Sec. 2.2.1.3): accept x ~ q when u < p(x) / (M q(x)); for a normalised
  p the acceptance rate is 1 / M.
- Metropolis-Hastings (Sec. 2.2.2.1, Eq. 2.1) with the random-walk proposal of Sec. 2.2.2.2.
- ULA: the Euler-Maruyama discretisation of Langevin dynamics, Eq. 2.2, without correction:
  x <- x + lambda grad log p(x) + sqrt(2 lambda) eps. It is biased for any lambda > 0 (for
  N(0, s^2) its stationary variance is s^2 / (1 - lambda / (2 s^2))).
- MALA: the Eq. 2.2 step as a proposal, q(x'|x) = N(x + lambda grad log p(x), 2 lambda I),
  corrected by the Metropolis-Hastings test of Eq. 2.1, so p is exactly stationary.
(Sec. 2.2.2.3's conditions for decreasing step sizes are garbled in the text; the correct
Robbins-Monro conditions of Welling and Teh (2011) are sum lambda_k = inf, sum lambda_k^2 < inf.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gentoolkit._checks import batch, per_sample, positive_float, positive_int, randn, uniform
from gentoolkit._progress import steps


@dataclass
class ChainResult:
    """``x``: final states (n_chains, ...); ``chain``: all states (n_steps + 1, n_chains, ...)
    when ``keep_chain=True``; ``acceptance_rate``: fraction of accepted proposals over all
    chains and steps (None for ULA, which accepts everything); ``accepted``: per chain."""

    x: torch.Tensor
    chain: torch.Tensor | None
    acceptance_rate: float | None
    accepted: torch.Tensor | None


@dataclass
class RejectionResult:
    """``x``: n accepted samples; ``acceptance_rate``: accepted / proposed; ``n_proposed``."""

    x: torch.Tensor
    acceptance_rate: float
    n_proposed: int


def _check_x0(x0) -> torch.Tensor:
    return batch("x0", x0, "(n_chains, dim, ...)")


def _logp(log_prob, x: torch.Tensor) -> torch.Tensor:
    out = log_prob(x)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape[:1]:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"log_prob(x) must return one value per chain, shape ({x.shape[0]},), got {got}")
    return out


def score_from_log_prob(log_prob):
    """grad_x log p by autograd, as a ``score_fn(x)``."""

    def score_fn(x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(_logp(log_prob, xr).sum(), xr)
        return g

    return score_fn


def _score(score_fn, x: torch.Tensor) -> torch.Tensor:
    out = score_fn(x)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"score_fn(x) must return a tensor of x's shape {tuple(x.shape)}, got {got}")
    return out


def _sqnorm(v: torch.Tensor) -> torch.Tensor:
    return v.flatten(1).pow(2).sum(1)


# --------------------------------------------------------------------------- exact methods
def inverse_transform(icdf, n: int, generator: torch.Generator | None = None, *, dtype=torch.float64) -> torch.Tensor:
    """Inverse transform sampling (001, Sec. 2.2.1.2): ``icdf(u)`` for u ~ U(0, 1), shape (n,)."""
    n = positive_int("n", n)
    u = torch.rand(n, generator=generator, dtype=dtype)
    out = icdf(u)
    if not isinstance(out, torch.Tensor) or out.shape != (n,):
        raise ValueError(f"icdf(u) must return a tensor of u's shape ({n},)")
    return out


def inverse_transform_from_cdf(
    cdf, n: int, lo: float, hi: float, generator: torch.Generator | None = None, *, tol: float = 1e-10
) -> torch.Tensor:
    """Inverse transform sampling when only the CDF is known: F^{-1}(u) by vectorised
    bisection on [lo, hi] (all n samples at once), to absolute tolerance ``tol``."""
    n = positive_int("n", n)
    if not lo < hi:
        raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    a = torch.full((n,), float(lo), dtype=torch.float64)
    b = torch.full((n,), float(hi), dtype=torch.float64)
    for _ in range(math.ceil(math.log2((hi - lo) / tol))):  # over halvings, not samples; none if tol >= hi - lo
        mid = (a + b) / 2
        below = cdf(mid) < u
        a = torch.where(below, mid, a)
        b = torch.where(below, b, mid)
    return (a + b) / 2


def rejection_sampling(
    log_target,
    proposal_sample,
    proposal_log_prob,
    log_M: float,
    n: int,
    generator: torch.Generator | None = None,
    *,
    max_proposals: int = 10_000_000,
) -> RejectionResult:
    """Rejection sampling (001, Sec. 2.2.1.3): propose x ~ q, accept when
    log u < log p(x) - log M - log q(x). Needs p(x) <= M q(x) everywhere; a proposal that
    violates it (ratio > 1) raises a ValueError, since the samples would be wrong.

    Args:
        log_target: ``x -> log p(x)``, shape (m,).
        proposal_sample: ``(m, generator) -> x`` (m proposals).
        proposal_log_prob: ``x -> log q(x)``.
        log_M: log of the bound M.
        n: number of samples wanted; proposals are drawn in vectorised rounds.
        max_proposals: a RuntimeError stops the run after the first round that takes the
            number of proposals past this while fewer than n are accepted (M far too large).
    """
    n = positive_int("n", n)
    out, proposed, have = [], 0, 0
    m_guess = math.exp(min(float(log_M), 20.0))
    while have < n:
        m = int(min(max(64, 1.2 * (n - have) * m_guess), 1_000_000))
        x = proposal_sample(m, generator)
        log_ratio = log_target(x) - proposal_log_prob(x) - log_M
        if bool((log_ratio > 1e-6).any()):
            worst = log_ratio.max().item()
            raise ValueError(
                f"log_M={log_M:g} is too small: p(x) > M q(x) at some proposals (log ratio {worst:.3g}); "
                f"use log_M >= {log_M + worst:.4g}"
            )
        accept = torch.log(uniform(m, generator, like=log_ratio)) < log_ratio
        out.append(x[accept])
        have += int(accept.sum())
        proposed += m
        if have < n and proposed > max_proposals:  # a round that reached n is kept
            raise RuntimeError(
                f"rejection sampling proposed {proposed} points and accepted {have} < n={n}; M is too large"
            )
    return RejectionResult(torch.cat(out)[:n], have / proposed, proposed)


# --------------------------------------------------------------------------- Markov chains
def _run_chain(step, x0: torch.Tensor, n_steps: int, keep_chain: bool, callback, progress, name: str) -> tuple:
    x, chain, accepted = x0.clone(), [x0.clone()] if keep_chain else None, torch.zeros(x0.shape[0], device=x0.device)
    for k in steps(n_steps, 1, progress, name):  # over time steps; every step is batched over chains
        x, acc = step(x)
        if acc is not None:
            accepted += acc
        if keep_chain:
            chain.append(x.clone())
        if callback is not None:
            callback(k, x)
    return x, (torch.stack(chain) if keep_chain else None), accepted


def metropolis_hastings(
    log_prob,
    x0: torch.Tensor,
    proposal_std: float,
    n_steps: int,
    *,
    generator: torch.Generator | None = None,
    keep_chain: bool = False,
    callback=None,
    progress: bool | None = None,
) -> ChainResult:
    """Random-walk Metropolis-Hastings (001, Eq. 2.1 with the proposal of Sec. 2.2.2.2):
    x' = x + proposal_std * z, accepted with probability min(1, p(x') / p(x)) (the proposal is
    symmetric, so the q terms cancel)."""
    x0 = _check_x0(x0)
    proposal_std = positive_float("proposal_std", proposal_std)
    n_steps = positive_int("n_steps", n_steps)
    state = {"lp": _logp(log_prob, x0)}

    def step(x):
        prop = x + proposal_std * randn(x.shape, generator, like=x)
        lp_prop = _logp(log_prob, prop)
        accept = torch.log(uniform(x.shape[0], generator, like=x)) < lp_prop - state["lp"]
        state["lp"] = torch.where(accept, lp_prop, state["lp"])
        return torch.where(per_sample(accept, x), prop, x), accept.to(x.dtype)

    x, chain, acc = _run_chain(step, x0, n_steps, keep_chain, callback, progress, "MH")
    return ChainResult(x, chain, (acc.sum() / (n_steps * x0.shape[0])).item(), acc / n_steps)


def ula(
    score_fn,
    x0: torch.Tensor,
    step_size: float,
    n_steps: int,
    *,
    generator: torch.Generator | None = None,
    keep_chain: bool = False,
    callback=None,
    progress: bool | None = None,
) -> ChainResult:
    """Unadjusted Langevin algorithm (001, Eq. 2.2): x <- x + lambda s(x) + sqrt(2 lambda) z,
    with ``score_fn(x)`` = grad log p(x) and lambda = ``step_size``. No accept/reject step."""
    x0 = _check_x0(x0)
    lam = positive_float("step_size", step_size)
    n_steps = positive_int("n_steps", n_steps)

    def step(x):
        return x + lam * _score(score_fn, x) + math.sqrt(2 * lam) * randn(x.shape, generator, like=x), None

    x, chain, _ = _run_chain(step, x0, n_steps, keep_chain, callback, progress, "ULA")
    return ChainResult(x, chain, None, None)


def mala(
    log_prob,
    x0: torch.Tensor,
    step_size: float,
    n_steps: int,
    *,
    score_fn=None,
    generator: torch.Generator | None = None,
    keep_chain: bool = False,
    callback=None,
    progress: bool | None = None,
) -> ChainResult:
    """Metropolis-adjusted Langevin (001, Sec. 2.2.2.3): propose x' = x + lambda s(x) +
    sqrt(2 lambda) z and accept with probability
    min(1, p(x') q(x | x') / (p(x) q(x' | x))), q(b | a) = N(b; a + lambda s(a), 2 lambda I).
    ``score_fn`` defaults to autograd of ``log_prob``."""
    x0 = _check_x0(x0)
    lam = positive_float("step_size", step_size)
    n_steps = positive_int("n_steps", n_steps)
    score_fn = score_fn or score_from_log_prob(log_prob)
    state = {"lp": _logp(log_prob, x0), "s": _score(score_fn, x0)}

    def log_q(b, a, s_a):  # log N(b; a + lam s(a), 2 lam I) up to a constant that cancels
        return -_sqnorm(b - a - lam * s_a) / (4 * lam)

    def step(x):
        prop = x + lam * state["s"] + math.sqrt(2 * lam) * randn(x.shape, generator, like=x)
        lp_prop, s_prop = _logp(log_prob, prop), _score(score_fn, prop)
        log_alpha = lp_prop - state["lp"] + log_q(x, prop, s_prop) - log_q(prop, x, state["s"])
        accept = torch.log(uniform(x.shape[0], generator, like=x)) < log_alpha
        state["lp"] = torch.where(accept, lp_prop, state["lp"])
        state["s"] = torch.where(per_sample(accept, x), s_prop, state["s"])
        return torch.where(per_sample(accept, x), prop, x), accept.to(x.dtype)

    x, chain, acc = _run_chain(step, x0, n_steps, keep_chain, callback, progress, "MALA")
    return ChainResult(x, chain, (acc.sum() / (n_steps * x0.shape[0])).item(), acc / n_steps)


MCMC = ("MH", "ULA", "MALA")


def run_mcmc(
    name: str,
    target,
    x0: torch.Tensor,
    proposal_std: float,
    n_steps: int,
    *,
    generator: torch.Generator | None = None,
    keep_chain: bool = True,
    callback=None,
    progress: bool | None = None,
) -> ChainResult:
    """Run one of ``MCMC`` ("MH", "ULA", "MALA") on ``target`` (an object with ``log_prob(x)``
    and ``score(x)``, e.g. a :class:`gentoolkit.data.Mixture2D`) at proposal noise std
    ``proposal_std`` = h: MH proposes x + h z; ULA and MALA take the Langevin step
    lambda = h^2 / 2, whose proposal x + lambda grad log p + sqrt(2 lambda) z has noise std h."""
    if name not in MCMC:
        raise ValueError(f"unknown sampler name={name!r}; expected one of {MCMC}")
    h = positive_float("proposal_std", proposal_std)
    common = dict(generator=generator, keep_chain=keep_chain, callback=callback, progress=progress)
    if name == "MH":
        return metropolis_hastings(target.log_prob, x0, h, n_steps, **common)
    if name == "ULA":
        return ula(target.score, x0, h**2 / 2, n_steps, **common)
    return mala(target.log_prob, x0, h**2 / 2, n_steps, score_fn=target.score, **common)
