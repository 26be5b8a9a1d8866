"""Training time-conditional score networks for an SDE (thesis 001, Eq. 2.19).

Continuous-time denoising score matching with lambda(t) = std(t)^2: draw t ~ U(t_eps, T),
x(t) = m(t) x0 + std(t) z, and minimise

    1/2 E || std(t) s_theta(x(t), t) + z ||^2,

whose minimiser is grad log p_t (the same argument as Eq. 2.9-2.11, one level per t).
:class:`ScaledScore` wraps a time-conditional network as std(t)^{-1} net(x / c(t), t) with
c(t) = sqrt(m(t)^2 data_std^2 + std(t)^2), so the network sees unit-scale inputs and
produces an O(1) output at every t (the scaling of Song et al.'s VE models, extended to VP).

The times need not be uniform: :func:`lognormal_times` draws them so that EDM's noise level
sigma(t) = std(t) / m(t) is log-normal (Karras et al. 2022, Sec. 5), which keeps the minimiser
and spends the batch where the loss can still fall (``--t-sampling lognormal`` of the MNIST VP
preset; its README section has what it did there). EDM's preconditioning
(``ScaledScore(precond="edm")`` with ``sde_dsm_loss(weighting="edm")``, ``--precond edm``) reads the
network's output as EDM's F beside a skip of the input, with EDM's loss weight.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from gentoolkit._checks import batch, call_score, per_sample, positive_float, randn, uniform
from gentoolkit.sde.sdes import SDE

PRECONDS = ("eps", "edm")  # ScaledScore's output: std * s (eps prediction), or EDM's F


class ScaledScore(nn.Module):
    """s(x, t) = net(x / c(t), t) / std(t) for a network ``net(x, t)`` (e.g.
    ``ScoreMLP(cond="time")``); see the module docstring.

    ``precond="edm"`` reads the network's output as EDM's F instead (Karras et al. 2022, Table 1,
    with sigma = std / m and x~ = x / m the VE view of x): D(x) = c_skip x~ + c_out F(c_in x~, t)
    with c_skip = data_std^2 / (sigma^2 + data_std^2), c_out = sigma data_std / sqrt(sigma^2 +
    data_std^2), c_in = 1 / sqrt(sigma^2 + data_std^2), and the score of Tweedie's formula,
    (m D - x) / std^2. Since c_in x~ = x / c and 1 - c_skip = std^2 / c^2, that is

        s(x, t) = -x / c^2 + data_std m / (c std) F(x / c, t).

    The skip term carries the input, so at high noise (where s is about -x) the network need not
    learn the identity, and an error in F moves the denoised image by c_out (<= data_std) times it,
    where an error in eps moves it by sigma times it. Train it with ``sde_dsm_loss(weighting="edm")``."""

    def __init__(self, sde: SDE, net: nn.Module, data_std: float = 1.0, precond: str = "eps"):
        super().__init__()
        self.sde, self.net = sde, net
        self.data_std = positive_float("data_std", data_std)
        if precond not in PRECONDS:
            raise ValueError(f"precond={precond!r} is not known; expected one of {list(PRECONDS)}")
        self.precond = precond

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        m, s = self.sde.mean_std(t.to(x.dtype))
        c = torch.sqrt(m**2 * self.data_std**2 + s**2)
        out = self.net(x / per_sample(c, x), t)
        if self.precond == "eps":
            return out / per_sample(s, x)
        return per_sample(self.data_std * m / (c * s), x) * out - x / per_sample(c**2, x)


def lognormal_times(sde: SDE, u: torch.Tensor, *, t_eps: float, p_mean: float, p_std: float) -> torch.Tensor:
    """Times t in [t_eps, T] whose noise level sigma(t) = ``sde.edm_sigma(t)`` is log-normal,
    log sigma ~ N(p_mean, p_std^2) truncated to [log sigma(t_eps), log sigma(T)] (EDM's training
    noise distribution, Karras et al. 2022, Sec. 5 and Table 1: p_mean -1.2, p_std 1.2 for
    images in [-1, 1]), one per U(0, 1) draw in ``u`` by inverting the truncated normal's CDF
    Phi: log sigma = p_mean + p_std Phi^-1(a + (b - a) u) with a, b = Phi((log sigma(end) - p_mean)
    / p_std), then t = ``sde.edm_time(sigma)`` (computed in float64; returned in u's dtype)."""
    if not isinstance(u, torch.Tensor) or not u.is_floating_point():
        raise TypeError(f"u must be a floating-point tensor of U(0, 1) draws, got {type(u).__name__}")
    t_eps, p_std = positive_float("t_eps", t_eps), positive_float("p_std", p_std)
    if isinstance(p_mean, bool) or not isinstance(p_mean, numbers.Real) or not math.isfinite(p_mean):
        raise ValueError(f"p_mean must be a finite number, got {p_mean!r}")
    log_ends = torch.log(sde.edm_sigma(torch.tensor([t_eps, sde.T], dtype=torch.float64, device=u.device)))
    dtype, u = u.dtype, u.double()
    a, b = torch.special.ndtr((log_ends - p_mean) / p_std)
    hi = log_ends[1]
    q = a + (b - a) * u
    # the upper half from the upper tail, 1 - q = (1 - b) + (b - a)(1 - u): no cancellation near 1
    upper = torch.special.ndtr((p_mean - hi) / p_std) + (b - a) * (1 - u)
    z = torch.where(q <= 0.5, torch.special.ndtri(q), -torch.special.ndtri(upper))
    # where Phi(lower end) underflows to 0, u = 0 gives Phi^-1(0) = -inf, sigma 0, t 0: clamped to t_eps
    # (edm_time itself keeps t <= T)
    return sde.edm_time(torch.exp(p_mean + p_std * z)).clamp_min(t_eps).to(dtype)


def sde_dsm_loss(
    score_net,
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    sde: SDE,
    t_eps=None,
    p_mean: float | None = None,
    p_std: float | None = None,
    uniform_frac: float = 0.0,
    weighting: str = "eps",
    data_std: float | None = None,
):
    """The loss of Eq. 2.19 with lambda(t) = std(t)^2 on a batch ``x`` of clean data; the
    signature fits :func:`gentoolkit.train.train_score`'s callable ``loss`` through
    ``functools.partial(sde_dsm_loss, sde=...)``.

    t ~ U(t_eps, T) by default. With ``p_mean`` and ``p_std`` the times are drawn instead so that
    log sigma(t) ~ N(p_mean, p_std^2) (:func:`lognormal_times`): the same loss per t, so the same
    minimiser (the score at every t), but the batch spends its samples where the loss can still
    be lowered: uniform t puts half of them at sigma > 3, where a digit is gone (VP, beta_max 20),
    EDM's p_mean -1.2, p_std 1.2 put 3% there. ``uniform_frac`` keeps that share of each batch
    (its first round(uniform_frac n) samples) at uniform times, so that the highest noise levels,
    where the sampler starts, are still trained. In expectation this is Eq. 2.19 with
    lambda(t) = std(t)^2 p(t) (T - t_eps), p the density of t.

    ``weighting="edm"`` (with ``data_std``, that of a ``ScaledScore(precond="edm")``) multiplies each
    sample's term by 1 + sigma^2 / data_std^2 = c^2 / (data_std m)^2, sigma = std / m: for that
    network std s + z = (data_std m / c) (F - F*), so the loss becomes EDM's unweighted
    1/2 ||F - F*||^2 (lambda(sigma) c_out^2 = 1, Karras et al. 2022, Table 1), which needs times that
    rarely reach the highest sigma (t_sampling lognormal): the weight is about 10^5 at t = 1."""
    x = batch("x", x)
    t_eps = positive_float("t_eps", sde.t_eps if t_eps is None else t_eps)
    if (p_mean is None) != (p_std is None):
        raise ValueError(
            f"p_mean and p_std go together: give both (log-normal noise levels) or neither (t uniform), "
            f"got p_mean={p_mean!r}, p_std={p_std!r}"
        )
    if weighting not in PRECONDS:
        raise ValueError(f"weighting={weighting!r} is not known; expected one of {list(PRECONDS)}")
    if (weighting == "edm") != (data_std is not None):
        raise ValueError(
            f"data_std goes with weighting='edm' (the network's data_std) and only with it, "
            f"got weighting={weighting!r}, data_std={data_std!r}"
        )
    if data_std is not None:
        data_std = positive_float("data_std", data_std)
    uniform_frac = positive_float("uniform_frac", uniform_frac, allow_zero=True)
    if uniform_frac > 1:
        raise ValueError(f"uniform_frac must lie in [0, 1], got {uniform_frac}")
    u = uniform((x.shape[0],), generator, like=x)
    t = t_eps + (sde.T - t_eps) * u
    if p_mean is not None:  # (lognormal_times checks p_mean and p_std)
        k = round(uniform_frac * x.shape[0])
        t = torch.cat([t[:k], lognormal_times(sde, u[k:], t_eps=t_eps, p_mean=p_mean, p_std=p_std)])
    z = randn(x.shape, generator, like=x)
    mean, std = sde.marginal_prob(x, t)
    s = call_score(score_net, mean + std * z, t, "score_net", cond="t")
    per = (std * s + z).flatten(1).pow(2).sum(1)
    if data_std is not None:
        per = per * (1 + sde.edm_sigma(t) ** 2 / data_std**2)
    return 0.5 * per.mean()
