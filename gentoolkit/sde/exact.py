"""Exact scores of a 2D Gaussian mixture under an SDE's marginals.

If p_0 = sum_k w_k N(mu_k, s_k^2 I) and the kernel is x(t) = m(t) x0 + std(t) z, then
p_t = sum_k w_k N(m(t) mu_k, (m(t)^2 s_k^2 + std(t)^2) I): the components are scaled and
widened in closed form, so the score of every marginal is exact. This is the reference the
SDE solvers and the time-conditional score networks are checked against.
"""

from __future__ import annotations

import torch

from gentoolkit.data.toy2d import Mixture2D
from gentoolkit.sde.sdes import SDE, _times


def _scaled(mixture: Mixture2D, sde: SDE, x: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    t = _times(t, x)
    m, s = sde.mean_std(t)  # (n,)
    mu = mixture.means.to(x)[None] * m[:, None, None]  # (n, K, 2)
    var = mixture.stds.to(x)[None] ** 2 * m[:, None] ** 2 + s[:, None] ** 2  # (n, K)
    diff = mu - x[:, None, :]
    log_terms = mixture.weights.to(x).log() - torch.log(2 * torch.pi * var) - (diff**2).sum(-1) / (2 * var)
    return log_terms, diff, var


def mixture_log_prob(mixture: Mixture2D, sde: SDE, x: torch.Tensor, t) -> torch.Tensor:
    """log p_t(x) of the mixture pushed through ``sde`` to time t, shape (n,)."""
    log_terms, _, _ = _scaled(mixture, sde, x, t)
    return torch.logsumexp(log_terms, 1)


def mixture_score(mixture: Mixture2D, sde: SDE):
    """The exact score grad log p_t as a ``score_fn(x, t)`` (t of shape (n,))."""

    def score_fn(x: torch.Tensor, t) -> torch.Tensor:
        log_terms, diff, var = _scaled(mixture, sde, x, t)
        r = torch.softmax(log_terms, 1)
        return ((r / var)[:, :, None] * diff).sum(1)

    return score_fn
