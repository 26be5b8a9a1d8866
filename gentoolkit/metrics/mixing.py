"""How well Markov chains mix (notebook 02, sampler explorer)."""

from __future__ import annotations

import numpy as np
import torch

from gentoolkit._checks import positive_int


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
