"""Training time-conditional score networks for an SDE (thesis 001, Eq. 2.19).

Continuous-time denoising score matching with lambda(t) = std(t)^2: draw t ~ U(t_eps, T),
x(t) = m(t) x0 + std(t) z, and minimise

    1/2 E || std(t) s_theta(x(t), t) + z ||^2,

whose minimiser is grad log p_t (the same argument as Eq. 2.9-2.11, one level per t).
:class:`ScaledScore` wraps a time-conditional network as std(t)^{-1} net(x / c(t), t) with
c(t) = sqrt(m(t)^2 data_std^2 + std(t)^2), so the network sees unit-scale inputs and
produces an O(1) output at every t (the scaling of Song et al.'s VE models, extended to VP).
"""

from __future__ import annotations

import torch
from torch import nn

from gentoolkit._checks import batch, call_score, per_sample, positive_float, randn, uniform
from gentoolkit.sde.sdes import SDE


class ScaledScore(nn.Module):
    """s(x, t) = net(x / c(t), t) / std(t) for a network ``net(x, t)`` (e.g.
    ``ScoreMLP(cond="time")``); see the module docstring."""

    def __init__(self, sde: SDE, net: nn.Module, data_std: float = 1.0):
        super().__init__()
        self.sde, self.net = sde, net
        self.data_std = positive_float("data_std", data_std)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        m, s = self.sde.mean_std(t.to(x.dtype))
        c = torch.sqrt(m**2 * self.data_std**2 + s**2)
        return self.net(x / per_sample(c, x), t) / per_sample(s, x)


def sde_dsm_loss(score_net, x: torch.Tensor, generator: torch.Generator | None = None, *, sde: SDE, t_eps=None):
    """The loss of Eq. 2.19 with lambda(t) = std(t)^2 on a batch ``x`` of clean data; the
    signature fits :func:`gentoolkit.train.train_score`'s callable ``loss`` through
    ``functools.partial(sde_dsm_loss, sde=...)``."""
    x = batch("x", x)
    t_eps = positive_float("t_eps", sde.t_eps if t_eps is None else t_eps)
    t = t_eps + (sde.T - t_eps) * uniform((x.shape[0],), generator, like=x)
    z = randn(x.shape, generator, like=x)
    mean, std = sde.marginal_prob(x, t)
    s = call_score(score_net, mean + std * z, t, "score_net", cond="t")
    return 0.5 * (std * s + z).flatten(1).pow(2).sum(1).mean()
