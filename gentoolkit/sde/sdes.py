"""Forward SDEs dx = f(x, t) dt + g(t) dw on t in [0, T], T = 1, and their reversal.

Notation: x(0) is clean data, x(t) the noised data; ``marginal_prob(x0, t)`` returns the mean
and std of the Gaussian perturbation kernel p_0t(x(t) | x(0) = x0), so that
x(t) = mean + std * z. ``t`` is a float or a 1-D tensor of shape (n,), one time per sample,
and is broadcast over any sample shape (n, ...). Anderson's reversal (001, Eq. 2.18): the
reverse-time SDE has drift f - g^2 grad log p_t and the same diffusion; the probability-flow
ODE (report 000) has drift f - g^2 / 2 grad log p_t and no noise.

- VE (001, Eq. 2.15; SMLD): sigma(t) = sigma_min (sigma_max / sigma_min)^t, f = 0,
  g(t) = sigma(t) sqrt(2 log(sigma_max / sigma_min)). Integrating g^2 from 0 gives the exact
  kernel std sqrt(sigma(t)^2 - sigma_min^2); Song et al.'s code uses sigma(t) itself, which
  treats x(0) as already carrying noise sigma_min (a difference of sigma_min^2 in variance).
  We use the exact value, so that a simulation of the SDE matches ``marginal_prob``.
- VP (001, Eq. 2.16; DDPM): beta(t) = beta_min + t (beta_max - beta_min), f = -beta x / 2,
  g = sqrt(beta); mean = x0 exp(-B(t) / 2), std = sqrt(1 - exp(-B(t))), B(t) = int_0^t beta.
- sub-VP (Song et al. 2021): same drift, g = sqrt(beta(t) (1 - exp(-2 B(t)))); same mean,
  std = 1 - exp(-B(t)) (its variance is always below VP's).

Each SDE also owns its discrete forward chain, as in Song et al.'s ``sde_lib.py``, so that the
solvers (:mod:`gentoolkit.sde.solvers`) are written once against this interface:
``discretize(x, t, h) -> (F, G)`` with x(t) = x(t - h) + F + G z (report 000, Sec. 3.1: SMLD's
chain for VE, DDPM's for VP, an Euler-Maruyama step otherwise), ``ancestral_step`` (the
chain's exact reverse, VE and VP only), ``langevin_alpha`` (the corrector's step factor) and
``prior_logp`` (the log-density of the prior N(0, prior_std^2 I)). ``edm_sigma(t)`` = std(t) / m(t)
(EDM's noise level, Karras et al. 2022) and its inverse ``edm_time`` give the fast samplers
(:mod:`gentoolkit.sde.fast_samplers`) one variable for every SDE.
"""

from __future__ import annotations

import math

import torch

from gentoolkit._checks import full_like_batch, per_sample, positive_float
from gentoolkit.config import resolve_device

#: DDPM's beta(t) h is clamped to this, so that sqrt(1 - beta h) stays real on coarse grids
MAX_BETA_STEP = 0.999


def check_times(t, x: torch.Tensor) -> torch.Tensor:
    """``t`` (a float, or one time per sample of ``x``) as an (n,) tensor of x's dtype and
    device, checked to lie in [0, T] = [0, 1]."""
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        t = full_like_batch(t, x)
    if not isinstance(t, torch.Tensor) or t.ndim != 1 or t.shape[0] != x.shape[0]:
        got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(
            f"t must be a float or a 1-D tensor with one time per sample, shape ({x.shape[0]},), got {got}"
        )
    lo, hi = torch.aminmax(t)  # one pass; NaN propagates into both and fails the test below
    if not (0 <= lo.item() and hi.item() <= 1):
        raise ValueError(f"t must lie in [0, T] = [0, 1], got values in [{lo.item():g}, {hi.item():g}]")
    return t.to(x)


def step_back(t, h: float, x: torch.Tensor) -> torch.Tensor:
    """The earlier end t - h of a step, floored at 0, as :func:`check_times` returns it (for a
    float t the difference is taken in float64 first, as on the solvers' grids)."""
    h = positive_float("h", h, allow_zero=True)
    if isinstance(t, torch.Tensor):
        return (check_times(t, x) - h).clamp_min(0)
    return check_times(max(t - h, 0.0), x)


def check_grid(times, T: float) -> torch.Tensor:
    """A solver's time grid: a 1-D tensor from its first time down to its last, strictly
    decreasing, in [0, T], at least two entries; returned in float64."""
    ok = isinstance(times, torch.Tensor) and times.ndim == 1 and times.shape[0] >= 2
    times = times.detach().to("cpu", torch.float64) if ok else times
    if not ok or not (bool((times[1:] < times[:-1]).all()) and 0 <= times[-1].item() and times[0].item() <= T):
        if isinstance(times, torch.Tensor):
            got = times.tolist() if times.numel() <= 6 else f"a tensor of shape {tuple(times.shape)}"
        else:
            got = type(times).__name__
        raise ValueError(
            f"times must be a strictly decreasing 1-D tensor in [0, T] = [0, {T:g}] with at least two "
            f"entries (e.g. torch.linspace(T, t_eps, n_steps + 1)), got {got}"
        )
    return times


def adaptive_ends(sde, times, callback) -> tuple[float, float]:
    """The first and last time of ``times`` for an adaptive solver (``ode``, ``ggf``), which
    has no common steps to report: ``callback`` must be None."""
    check_sde(sde)
    if callback is not None:
        raise ValueError("callback is called after each step of a fixed grid; the adaptive solvers take none")
    times = check_grid(times, sde.T)
    return times[0].item(), times[-1].item()


def check_sde(sde) -> None:
    if not isinstance(sde, SDE):
        raise TypeError(f"sde must be a VESDE, VPSDE or SubVPSDE, got {type(sde).__name__}")


class SDE:
    """The interface every SDE implements; solvers use only these methods."""

    T: float = 1.0
    #: a small positive time at which sampling stops (report 000: 1e-5 for VE, 1e-3 for VP)
    t_eps: float = 1e-3
    #: whether ``discretize`` is a Markov chain with an exact ancestral reverse (SMLD, DDPM)
    has_ancestral_chain: bool = False

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(a(t), g(t)) with f(x, t) = a(t) x: every SDE here has a linear drift."""
        raise NotImplementedError

    def mean_std(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(m(t), s(t)) of the kernel: mean = m(t) x0, std = s(t)."""
        raise NotImplementedError

    def prior_std(self) -> float:
        """Std of the prior N(0, prior_std^2 I) that approximates p_T."""
        raise NotImplementedError

    def edm_time(self, sigma: torch.Tensor) -> torch.Tensor:
        """The time t at which ``edm_sigma(t) = sigma`` (the inverse of :meth:`edm_sigma`)."""
        raise NotImplementedError

    # --- EDM's noise level (Karras et al. 2022, Sec. 4 and Table 1) -----------------------
    def edm_sigma(self, t: torch.Tensor) -> torch.Tensor:
        """EDM's noise level sigma(t) = std(t) / m(t), the noise-to-signal ratio of the kernel:
        x(t) = m(t) (x0 + sigma(t) z), so x(t) / m(t) is the data plus noise of std sigma(t)
        (Karras et al. 2022, Eq. 4 and Table 1's s(t), sigma(t)); -log sigma(t) is DPM-Solver's
        half log-SNR lambda(t) = log(m(t) / std(t)) (Lu et al. 2022, Sec. 2). It rises from 0
        at t = 0; VE: the kernel std itself (m = 1), VP: sqrt(e^B(t) - 1), sub-VP:
        2 sinh(B(t) / 2). ``t``: a tensor of times (any shape); :meth:`edm_time` inverts it."""
        m, s = self.mean_std(t)
        return s / m

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
        """Samples of the prior N(0, prior_std^2 I) of the given shape (n, ...), drawn on the
        generator's device (CPU without one) and moved to ``device`` (default: cuda when
        available, else cpu; see :func:`gentoolkit.config.resolve_device`)."""
        dev = generator.device if generator is not None else torch.device("cpu")
        z = torch.randn(tuple(shape), generator=generator, dtype=dtype, device=dev)
        return (self.prior_std() * z).to(resolve_device(device))

    def prior_logp(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; 0, prior_std^2 I) per sample, shape (n,)."""
        ps, d = self.prior_std(), z[0].numel()
        return -0.5 * z.flatten(1).pow(2).sum(1) / ps**2 - d * (math.log(ps) + 0.5 * math.log(2 * math.pi))

    def reverse_drift(self, x: torch.Tensor, t, score: torch.Tensor, *, probability_flow: bool = False) -> torch.Tensor:
        """Drift of the reverse-time SDE, f - g^2 score (001, Eq. 2.18), or of the
        probability-flow ODE, f - g^2 score / 2 (``probability_flow=True``)."""
        f, g = self.sde(x, t)
        return f - (0.5 if probability_flow else 1.0) * g**2 * score

    # --- the discrete forward chain (report 000, Sec. 3.1) ----------------------------
    def discretize(self, x: torch.Tensor, t, h: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(F, G) of the forward step from t - h to t: x(t) = x(t - h) + F + G z, with F of
        x's shape and G of shape (n, 1, ..., 1). Here an Euler-Maruyama step: F = f h,
        G = g sqrt(h); VE and VP override it with their chains."""
        f, g = self.sde(x, t)
        h = positive_float("h", h, allow_zero=True)
        return f * h, g * math.sqrt(h)

    def ancestral_step(self, x: torch.Tensor, t, h: float, score: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """One step from t back to t - h of the reverse of the chain ``discretize``, given the
        score at (x, t) and standard normal noise z. Only VE (SMLD) and VP (DDPM) have one."""
        raise ValueError(f"ancestral sampling is defined for VESDE and VPSDE, not {type(self).__name__}")

    def langevin_alpha(self, t: float, h: float) -> float:
        """The factor alpha of the Langevin corrector's step 2 alpha (snr |z| / |s|)^2
        (report 000, Sec. 3.2): 1, and 1 - beta h on DDPM's chain."""
        return 1.0


class VESDE(SDE):
    """Variance-exploding SDE (SMLD). Args: sigma_min, sigma_max (0 < sigma_min < sigma_max)."""

    t_eps = 1e-5
    has_ancestral_chain = True

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
        # clamped: at t = 0, sigma(0)^2 - sigma_min^2 can round to -1 ulp in float32 (a NaN std)
        return torch.ones_like(t), torch.sqrt((self.sigma(t) ** 2 - self.sigma_min**2).clamp_min(0))

    def prior_std(self) -> float:
        return math.sqrt(self.sigma_max**2 - self.sigma_min**2)

    def edm_time(self, sigma):
        """sigma^2 = sigma_min^2 (e^(2 t log(sigma_max / sigma_min)) - 1), solved for t."""
        return (torch.log1p((sigma / self.sigma_min) ** 2) / (2 * self._log_ratio)).clamp(0, self.T)

    def discretize(self, x, t, h):
        """SMLD's chain x(t) = x(t - h) + sqrt(sigma(t)^2 - sigma(t - h)^2) z: F = 0."""
        sig, prev = self.sigma(check_times(t, x)), self.sigma(step_back(t, h, x))
        return torch.zeros_like(x), per_sample(torch.sqrt(sig**2 - prev**2), x)

    def ancestral_step(self, x, t, h, score, z):
        """SMLD's ancestral step on the exact kernel stds s = sqrt(sigma^2 - sigma_min^2):
        x + (s(t)^2 - s(t-h)^2) score + sqrt(s(t-h)^2 (s(t)^2 - s(t-h)^2) / s(t)^2) z."""
        sig = per_sample(self.mean_std(check_times(t, x))[1], x)
        prev = per_sample(self.mean_std(step_back(t, h, x))[1], x)
        mean = x + (sig**2 - prev**2) * score
        return mean + torch.sqrt(prev**2 * (sig**2 - prev**2) / sig**2) * z


class VPSDE(SDE):
    """Variance-preserving SDE (DDPM). Args: beta_min, beta_max (0 < beta_min < beta_max)."""

    has_ancestral_chain = True

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

    def _time_of_integral(self, b: torch.Tensor) -> torch.Tensor:
        """The t with B(t) = b: the positive root of t beta_min + t^2 (beta_max - beta_min) / 2 = b,
        written 2b / (beta_min + sqrt(beta_min^2 + 2 (beta_max - beta_min) b)) (no cancellation)."""
        d = self.beta_max - self.beta_min
        return (2 * b / (self.beta_min + torch.sqrt(self.beta_min**2 + 2 * d * b))).clamp(0, self.T)

    def edm_time(self, sigma):
        """sigma^2 = e^B(t) - 1, so B(t) = log(1 + sigma^2), solved for t."""
        return self._time_of_integral(torch.log1p(sigma**2))

    def beta_step(self, t: torch.Tensor, h: float) -> torch.Tensor:
        """DDPM's beta_i = beta(t) h (in t's precision), clamped to ``MAX_BETA_STEP``; returned
        in float64 so that the corrector's alpha is exact as well."""
        h = positive_float("h", h, allow_zero=True)
        return (self.beta(t) * h).double().clamp(max=MAX_BETA_STEP)

    def discretize(self, x, t, h):
        """DDPM's chain x(t) = sqrt(1 - beta h) x(t - h) + sqrt(beta h) z."""
        bh = self.beta_step(check_times(t, x), h).to(x)
        return (per_sample(torch.sqrt(1 - bh), x) - 1) * x, per_sample(torch.sqrt(bh), x)

    def ancestral_step(self, x, t, h, score, z):
        """DDPM's ancestral step (x + beta h score) / sqrt(1 - beta h) + sqrt(beta h) z."""
        bh = per_sample(self.beta_step(check_times(t, x), h).to(x), x)
        return (x + bh * score) / torch.sqrt(1 - bh) + torch.sqrt(bh) * z

    def langevin_alpha(self, t, h):
        return 1 - self.beta_step(torch.tensor(t), h).item()


class SubVPSDE(VPSDE):
    """sub-VP SDE (Song et al. 2021): VP's drift with diffusion sqrt(beta (1 - e^{-2B}))."""

    # no discrete chain of its own: an Euler-Maruyama step, alpha = 1, no ancestral sampling
    has_ancestral_chain = False
    discretize = SDE.discretize
    ancestral_step = SDE.ancestral_step
    langevin_alpha = SDE.langevin_alpha

    def coefficients(self, t):
        return -0.5 * self.beta(t), torch.sqrt(self.beta(t) * -torch.expm1(-2 * self.integral_beta(t)))

    def mean_std(self, t):
        b = self.integral_beta(t)
        return torch.exp(-0.5 * b), -torch.expm1(-b)

    def edm_time(self, sigma):
        """sigma = (1 - e^-B) / e^(-B/2) = 2 sinh(B / 2), so B(t) = 2 asinh(sigma / 2), solved for t."""
        return self._time_of_integral(2 * torch.asinh(sigma / 2))
