"""How well Markov chains mix (notebook 02, sampler explorer): the autocorrelation and mean squared
jump within a mode, and the number of hops between the modes of a Gaussian mixture."""

from __future__ import annotations

import numpy as np
import torch

from gentoolkit._checks import positive_float, positive_int


def _check_chain(chain) -> torch.Tensor:
    if not isinstance(chain, torch.Tensor) or chain.ndim < 3 or chain.shape[0] < 2:
        got = tuple(chain.shape) if isinstance(chain, torch.Tensor) else type(chain).__name__
        raise ValueError(f"chain must be a tensor of shape (T >= 2, n_chains, dim, ...), got {got}")
    return chain


def autocorrelation(chain: torch.Tensor, max_lag: int) -> np.ndarray:
    """Autocorrelation of the first coordinate at lags 0..max_lag, for ``chain`` of shape
    (T, n_chains, dim): corr(x_k, x_{k+lag}) with the mean and variance pooled over all
    chains and steps (estimates of the target's moments). Pooling matters: normalising each
    chain by its own mean over a short window makes a chain stuck in one mode look mixed."""
    a = _check_chain(chain)[:, :, 0].double()
    max_lag = min(positive_int("max_lag", max_lag), a.shape[0] - 1)
    a = a - a.mean()
    var = a.pow(2).mean().clamp_min(1e-300)
    return np.array([((a[: a.shape[0] - k] * a[k:]).mean() / var).item() for k in range(max_lag + 1)])


def mean_squared_jump(chain: torch.Tensor) -> float:
    """E|x_{k+1} - x_k|^2 over steps and chains (a rejected proposal is a jump of 0)."""
    c = _check_chain(chain).double()
    return (c[1:] - c[:-1]).flatten(2).pow(2).sum(-1).mean().item()


@torch.no_grad()
def mode_hops(chain: torch.Tensor, mixture, *, n_std: float = 3.0) -> torch.Tensor:
    """How many times each chain moves from one mode of a Gaussian mixture to another: a *hop*
    is a step at which the chain is inside a mode (within ``n_std`` of that component's standard
    deviations of its mean) other than the last mode it was inside. Passing through the empty
    space between modes, or leaving a mode and coming back, is no hop; the first mode a chain
    enters is no hop either.

    ``chain`` has shape (T, n_chains, d) (``ChainResult.chain``), ``mixture`` has ``means``
    (K, d) and ``stds`` (K,) (a :class:`gentoolkit.data.Mixture2D`); returns the (n_chains,)
    int64 hop counts. A chain that leaves p invariant (MH, MALA; 001, Sec. 2.2.2.1) still
    represents all modes with the right weights only after many hops; the count shows how
    rarely it crosses the low-density regions between modes (001, Sec. 2.3.1.2 and 2.4.1.1,
    the motivation of annealed Langevin sampling)."""
    c = _check_chain(chain)
    means, stds = mixture.means.to(c.device, torch.float64), mixture.stds.to(c.device, torch.float64)
    if c.ndim != 3 or c.shape[-1] != means.shape[1]:
        raise ValueError(f"chain must have shape (T, n_chains, {means.shape[1]}), got {tuple(c.shape)}")
    n_std = positive_float("n_std", n_std)
    dist, label = torch.cdist(c.reshape(-1, c.shape[-1]).double(), means).min(1)
    dist, label = dist.view(c.shape[:2]), label.view(c.shape[:2])  # (T, n_chains)
    inside = dist < n_std * stds[label]
    time = torch.arange(c.shape[0], device=c.device)[:, None].expand_as(label)
    last_inside = torch.where(inside, time, -1).cummax(0).values  # latest step inside a mode, -1 if none yet
    prev = last_inside[:-1]  # for step k: the latest step before k that was inside a mode
    prev_label = label.gather(0, prev.clamp_min(0))
    return (inside[1:] & (prev >= 0) & (label[1:] != prev_label)).sum(0)
