"""Forward SDEs dx = f(x, t) dt + g(t) dw on t in [0, T], T = 1, and their reversal.

Notation: x(0) is clean data, x(t) the noised data; ``marginal_prob(x0, t)`` returns the mean
and std of the Gaussian perturbation kernel p_0t(x(t) | x(0) = x0), so that
x(t) = mean + std * z. ``t`` is a 1-D tensor of shape (n,), one time per sample, and is
broadcast over any sample shape (n, ...). Anderson's reversal (001, Eq. 2.18): the reverse-time
SDE has drift f - g^2 grad log p_t and the same diffusion; the probability-flow ODE (report
000) has drift f - g^2 / 2 grad log p_t and no noise.

- VE (001, Eq. 2.15; SMLD): sigma(t) = sigma_min (sigma_max / sigma_min)^t, f = 0,
  g(t) = sigma(t) sqrt(2 log(sigma_max / sigma_min)). Integrating g^2 from 0 gives the exact
  kernel std sqrt(sigma(t)^2 - sigma_min^2); Song et al.'s code uses sigma(t) itself, which
  treats x(0) as already carrying noise sigma_min (a difference of sigma_min^2 in variance).
  We use the exact value, so that a simulation of the SDE matches ``marginal_prob``.
- VP (001, Eq. 2.16; DDPM): beta(t) = beta_min + t (beta_max - beta_min), f = -beta x / 2,
  g = sqrt(beta); mean = x0 exp(-B(t) / 2), std = sqrt(1 - exp(-B(t))), B(t) = int_0^t beta.
- sub-VP (Song et al. 2021): same drift, g = sqrt(beta(t) (1 - exp(-2 B(t)))); same mean,
  std = 1 - exp(-B(t)) (its variance is always below VP's).
"""

from __future__ import annotations

import math

import torch

from gentoolkit._checks import per_sample, positive_float


def check_times(t, x: torch.Tensor) -> torch.Tensor:
    """``t`` (a float, or one time per sample of ``x``) as an (n,) tensor of x's dtype and
    device, checked to lie in [0, T] = [0, 1]."""
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        t = torch.full((x.shape[0],), float(t), dtype=x.dtype, device=x.device)
    if not isinstance(t, torch.Tensor) or t.ndim != 1 or t.shape[0] != x.shape[0]:
        got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(
            f"t must be a float or a 1-D tensor with one time per sample, shape ({x.shape[0]},), got {got}"
        )
    lo, hi = torch.aminmax(t)  # one pass; NaN propagates into both and fails the test below
    if not (0 <= lo.item() and hi.item() <= 1):
        raise ValueError(f"t must lie in [0, T] = [0, 1], got values in [{lo.item():g}, {hi.item():g}]")
    return t.to(x)


class SDE:
    """The interface every SDE implements; solvers use only these methods."""

    T: float = 1.0
    #: a small positive time at which sampling stops (report 000: 1e-5 for VE, 1e-3 for VP)
    t_eps: float = 1e-3

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(a(t), g(t)) with f(x, t) = a(t) x: every SDE here has a linear drift."""
        raise NotImplementedError

    def mean_std(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(m(t), s(t)) of the kernel: mean = m(t) x0, std = s(t)."""
        raise NotImplementedError

    def prior_std(self) -> float:
        """Std of the prior N(0, prior_std^2 I) that approximates p_T."""
        raise NotImplementedError

    # --- shared, shape-agnostic methods ---------------------------------------------
    def sde(self, x: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        """Drift f(x, t) (x's shape) and diffusion g(t) (shape (n, 1, ..., 1))."""
        t = check_times(t, x)
        a, g = self.coefficients(t)
        return per_sample(a, x) * x, per_sample(g, x)

    def marginal_prob(self, x0: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean (x0's shape) and std (shape (n, 1, ..., 1)) of p_0t(x(t) | x0)."""
        t = check_times(t, x0)
        m, s = self.mean_std(t)
        return per_sample(m, x0) * x0, per_sample(s, x0)

    def prior_sampling(self, shape, generator: torch.Generator | None = None, *, device=None, dtype=torch.float32):
        """Samples of the prior N(0, prior_std^2 I) of the given shape (n, ...)."""
        z = torch.randn(tuple(shape), generator=generator, dtype=dtype, device=generator.device if generator else "cpu")
        return (self.prior_std() * z).to(device or z.device)

    def reverse_drift(self, x: torch.Tensor, t, score: torch.Tensor, *, probability_flow: bool = False) -> torch.Tensor:
        """Drift of the reverse-time SDE, f - g^2 score (001, Eq. 2.18), or of the
        probability-flow ODE, f - g^2 score / 2 (``probability_flow=True``)."""
        f, g = self.sde(x, t)
        return f - (0.5 if probability_flow else 1.0) * g**2 * score


class VESDE(SDE):
    """Variance-exploding SDE (SMLD). Args: sigma_min, sigma_max (0 < sigma_min < sigma_max)."""

    t_eps = 1e-5

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0):
        self.sigma_min = positive_float("sigma_min", sigma_min)
        self.sigma_max = positive_float("sigma_max", sigma_max)
        if not self.sigma_max > self.sigma_min:
            raise ValueError(f"sigma_max must be > sigma_min, got sigma_min={sigma_min}, sigma_max={sigma_max}")
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)

    def __repr__(self) -> str:
        return f"VESDE(sigma_min={self.sigma_min:g}, sigma_max={self.sigma_max:g})"

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self.sigma_min * torch.exp(t * self._log_ratio)

    def coefficients(self, t):
        return torch.zeros_like(t), self.sigma(t) * math.sqrt(2 * self._log_ratio)

    def mean_std(self, t):
        return torch.ones_like(t), torch.sqrt(self.sigma(t) ** 2 - self.sigma_min**2)

    def prior_std(self) -> float:
        return math.sqrt(self.sigma_max**2 - self.sigma_min**2)


class VPSDE(SDE):
    """Variance-preserving SDE (DDPM). Args: beta_min, beta_max (0 < beta_min < beta_max)."""

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        self.beta_min = positive_float("beta_min", beta_min)
        self.beta_max = positive_float("beta_max", beta_max)
        if not self.beta_max > self.beta_min:
            raise ValueError(f"beta_max must be > beta_min, got beta_min={beta_min}, beta_max={beta_max}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(beta_min={self.beta_min:g}, beta_max={self.beta_max:g})"

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def integral_beta(self, t: torch.Tensor) -> torch.Tensor:
        """B(t) = int_0^t beta(s) ds = t (beta_min + t (beta_max - beta_min) / 2)."""
        return t * (self.beta_min + 0.5 * (self.beta_max - self.beta_min) * t)

    def coefficients(self, t):
        beta = self.beta(t)
        return -0.5 * beta, beta.sqrt()

    def mean_std(self, t):
        b = self.integral_beta(t)
        return torch.exp(-0.5 * b), torch.sqrt(-torch.expm1(-b))

    def prior_std(self) -> float:
        return 1.0


class SubVPSDE(VPSDE):
    """sub-VP SDE (Song et al. 2021): VP's drift with diffusion sqrt(beta (1 - e^{-2B}))."""

    def coefficients(self, t):
        return -0.5 * self.beta(t), torch.sqrt(self.beta(t) * -torch.expm1(-2 * self.integral_beta(t)))

    def mean_std(self, t):
        b = self.integral_beta(t)
        return torch.exp(-0.5 * b), -torch.expm1(-b)
