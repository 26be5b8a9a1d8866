"""2D Gaussian mixtures with exact log-densities and exact scores at every noise level.

Every dataset here is a mixture of isotropic Gaussians, so its density convolved with
N(0, sigma^2 I) is again a mixture with the same means and variances std_k^2 + sigma^2.
That gives the exact smoothed log-density log p_sigma(x) and the exact score
grad_x log p_sigma(x), the quantity that denoising score matching learns (thesis 001,
Sec. 2.3.1.3, Eq. 2.9-2.11; Sec. 8.3.1, Eq. 8.1: the optimal s*(x, sigma) is the score of
the data convolved with q_sigma). They are the ground truth that the samplers, losses and
widgets of gentoolkit are checked against.

Notation: x in R^2, component k has mean mu_k, standard deviation std_k and weight w_k;
sigma >= 0 is the noise level. With v_k = std_k^2 + sigma^2,

    log p_sigma(x) = logsumexp_k [ log w_k - log(2 pi v_k) - |x - mu_k|^2 / (2 v_k) ]
    grad log p_sigma(x) = sum_k r_k(x) (mu_k - x) / v_k,   r_k = softmax_k(...) above.

The non-Gaussian shapes (ring, moons, swiss roll, checkerboard) are chains or grids of
narrow components whose spacing is at most about twice their std, so they look like the
continuous shapes of the usual toy benchmarks while keeping an exact score.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from gentoolkit._checks import noise_levels, points, positive_int

_LOG_2PI = math.log(2 * math.pi)


class Mixture2D:
    """A mixture of K isotropic 2D Gaussians.

    Args:
        means: (K, 2) component means (tensor or nested list).
        stds: one positive std for all components, or K of them.
        weights: K non-negative weights summing to 1 (default: uniform).
        name: optional label used in plots.

    Parameters are stored in float64 on the CPU; every method computes in the dtype and on
    the device of its input ``x``, so the same mixture serves CPU and CUDA code.
    """

    def __init__(self, means, stds, weights=None, *, name: str = "mixture"):
        means = _as_tensor("means", means)
        if means.ndim != 2 or means.shape[1] != 2 or means.shape[0] < 1:
            raise ValueError(f"means must have shape (K, 2) with K >= 1, got {tuple(means.shape)}")
        k = means.shape[0]
        stds = _as_tensor("stds", stds)
        if stds.ndim == 0:
            stds = stds.expand(k).clone()
        if stds.shape != (k,):
            raise ValueError(f"stds must be a number or have shape ({k},) to match means, got {tuple(stds.shape)}")
        if not bool((stds > 0).all()) or not bool(torch.isfinite(stds).all()):
            raise ValueError(f"stds must all be finite and > 0, got min {stds.min().item():g}")
        if weights is None:
            weights = torch.full((k,), 1.0 / k, dtype=torch.float64)
        weights = _as_tensor("weights", weights)
        if weights.shape != (k,):
            raise ValueError(f"weights must have shape ({k},) to match means, got {tuple(weights.shape)}")
        if bool((weights < 0).any()):
            raise ValueError(f"weights must be non-negative, got min {weights.min().item():g}")
        if abs(weights.sum().item() - 1.0) > 1e-6:
            raise ValueError(f"weights must sum to 1, got sum {weights.sum().item():.6g}")
        if not bool(torch.isfinite(means).all()):
            raise ValueError("means must be finite")
        self.means, self.stds, self.weights, self.name = means, stds, weights, name
        self._cache: dict = {}

    def _params(self, like: torch.Tensor):
        """(mu (K, 2), |mu|^2 / 2 (K, 1), stds^2, log weights (K, 1)) in ``like``'s dtype and
        device, converted once; stds^2 is a float when all stds are equal, else (K, 1)."""
        key = (like.dtype, like.device)
        if key not in self._cache:
            mu = self.means.to(like)
            std2 = self.stds**2
            std2 = std2[0].item() if bool((std2 == std2[0]).all()) else std2.to(like)[:, None]
            self._cache[key] = (mu, 0.5 * (mu * mu).sum(1, keepdim=True), std2, self.weights.log().to(like)[:, None])
        return self._cache[key]

    def __repr__(self) -> str:
        return f"Mixture2D(name={self.name!r}, K={len(self.weights)})"

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, generator: torch.Generator | None = None, *, sigma: float = 0.0) -> torch.Tensor:
        """Draw ``n`` points, shape (n, 2), float32 on the generator's device (CPU default).

        With ``sigma > 0`` the points come from the smoothed mixture p_sigma (data plus
        N(0, sigma^2 I) noise). Same generator state, same points.
        """
        n = positive_int("n", n)
        sigma = _float("sigma", sigma)
        dev = generator.device if generator is not None else torch.device("cpu")
        k = torch.multinomial(self.weights.to(dev), n, replacement=True, generator=generator)
        std = torch.sqrt(self.stds.to(dev)[k] ** 2 + sigma**2)
        z = torch.randn(n, 2, generator=generator, device=dev, dtype=torch.float64)
        return (self.means.to(dev)[k] + std[:, None] * z).float()

    # ------------------------------------------------------------------ density and score
    def _terms(self, x: torch.Tensor, m, s, *, exact: bool = True):
        """For the law of m X + s Z (X from the mixture, Z ~ N(0, I); m, s floats or (n,)
        tensors), whose components are N(m mu_k, v_k I), v_k = m^2 std_k^2 + s^2: the log of
        w_k N(x; m mu_k, v_k I), shape (K, n), and v_k. With ``exact=False`` and equal stds,
        terms that are the same for every k are left out (they cancel in responsibilities).

        Component-major, (K, n), with |x - m mu_k|^2 = |x|^2 - 2 m x.mu_k + m^2 |mu_k|^2 so
        that x.mu_k is one small matmul: every operation then broadcasts along contiguous rows,
        the cheap direction on CPU (few operations matter: a sampler calls this thousands of
        times on small batches)."""
        mu, mu2h, std2, log_w = self._params(x)
        var = std2 * m * m + s * s  # float, (n,), (K, 1) or (K, n)
        xt = x.T
        c = m / var
        log_terms = (mu @ xt) * c - mu2h * (c * m) + log_w
        if exact or not isinstance(std2, float):
            log_var = var.log() if isinstance(var, torch.Tensor) else math.log(var)
            log_terms = log_terms - 0.5 * (xt * xt).sum(0) / var - (log_var + _LOG_2PI)
        return log_terms, var

    def pushforward_log_prob(self, x: torch.Tensor, m, s) -> torch.Tensor:
        """log density at x of m X + s Z, X from the mixture, Z ~ N(0, I), shape (n,).
        ``m``, ``s``: floats or (n,) tensors (one per sample). m = 1, s = sigma gives p_sigma;
        an SDE's kernel mean factor and std give its marginal p_t (:mod:`gentoolkit.sde.exact`)."""
        return torch.logsumexp(self._terms(x, m, s)[0], 0)

    def pushforward_score(self, x: torch.Tensor, m, s) -> torch.Tensor:
        """Score of m X + s Z at x (see :meth:`pushforward_log_prob`), shape (n, 2):
        sum_k r_k (m mu_k - x) / v_k with r the responsibilities."""
        log_terms, var = self._terms(x, m, s, exact=False)
        mu, _, std2, _ = self._params(x)
        xt, r = x.T, torch.softmax(log_terms, 0)
        if isinstance(std2, float):  # v_k = v: (m sum_k r_k mu_k - x) / v
            return ((mu.T @ r) * m - xt).div(var).T.contiguous()
        w = r / var
        return ((mu.T @ w) * m - xt * w.sum(0)).T.contiguous()

    def _sigma(self, x: torch.Tensor, sigma):
        x = points("x", x, 2)
        if isinstance(sigma, numbers.Real) and not isinstance(sigma, bool):  # one level: stays a float
            return x, _float("sigma", sigma)
        return x, noise_levels("sigma", sigma, x)

    def log_prob(self, x: torch.Tensor, sigma=0.0) -> torch.Tensor:
        """Exact log p_sigma(x), shape (n,). ``sigma``: float or (n,) tensor (per sample)."""
        x, sigma = self._sigma(x, sigma)
        return self.pushforward_log_prob(x, 1.0, sigma)

    def score(self, x: torch.Tensor, sigma=0.0) -> torch.Tensor:
        """Exact score grad_x log p_sigma(x), shape (n, 2), in closed form (no autograd)."""
        x, sigma = self._sigma(x, sigma)
        return self.pushforward_score(x, 1.0, sigma)

    def prob(self, x: torch.Tensor, sigma=0.0) -> torch.Tensor:
        """Exact density p_sigma(x), shape (n,)."""
        return self.log_prob(x, sigma).exp()

    # ------------------------------------------------------------------ moments
    def mean(self) -> torch.Tensor:
        """Mean of the mixture (sigma does not change it), shape (2,), float64."""
        return self.weights @ self.means

    def cov(self, sigma: float = 0.0) -> torch.Tensor:
        """Covariance of p_sigma: sum_k w_k (v_k I + mu_k mu_k^T) - m m^T, shape (2, 2)."""
        sigma = _float("sigma", sigma)
        m = self.mean()
        v = self.weights @ (self.stds**2 + sigma**2)
        second = self.means.T @ (self.weights[:, None] * self.means)  # sum_k w_k mu_k mu_k^T
        return v * torch.eye(2, dtype=torch.float64) + second - torch.outer(m, m)

    def bounds(self, margin: float = 3.0, sigma: float = 0.0) -> tuple[float, float, float, float]:
        """A square (xmin, xmax, ymin, ymax) holding the mixture: means +- margin * std."""
        sd = torch.sqrt(self.stds.max() ** 2 + sigma**2).item()
        lo = (self.means.min(0).values - margin * sd).tolist()
        hi = (self.means.max(0).values + margin * sd).tolist()
        c = [(a + b) / 2 for a, b in zip(lo, hi)]
        half = max(b - a for a, b in zip(lo, hi)) / 2
        return (c[0] - half, c[0] + half, c[1] - half, c[1] + half)


def grid(bounds, n: int) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """An n x n evaluation grid over ``bounds`` = (xmin, xmax, ymin, ymax), e.g. a mixture's
    ``bounds()``: the axis vectors and the (n*n, 2) float32 points, row-major in y, so values
    at the points reshape to (n, n) as z[y][x] (matplotlib's contour and plotly's Contour)."""
    n = positive_int("n", n)
    xs = np.linspace(bounds[0], bounds[1], n)
    ys = np.linspace(bounds[2], bounds[3], n)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    pts = torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], 1)).float()
    return xs, ys, pts


def _as_tensor(name: str, value) -> torch.Tensor:
    try:
        return torch.as_tensor(value, dtype=torch.float64).detach().cpu().clone()
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{name} must be a tensor or a list of numbers, got {type(value).__name__}") from e


def _float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite float >= 0, got {value!r}")
    return float(value)


# ---------------------------------------------------------------------- standard datasets
def _chain(points_xy: torch.Tensor, spacing: float) -> torch.Tensor:
    """Resample a polyline at equal arc-length ``spacing`` (so components tile it evenly)."""
    seg = (points_xy[1:] - points_xy[:-1]).norm(dim=1)
    s = torch.cat([seg.new_zeros(1), seg.cumsum(0)])
    n = max(2, int(round(s[-1].item() / spacing)) + 1)
    t = torch.linspace(0, s[-1].item(), n, dtype=torch.float64)
    idx = torch.searchsorted(s, t).clamp(min=1)  # t ends at s[-1] exactly: idx <= len(s) - 1
    a = (t - s[idx - 1]) / (s[idx] - s[idx - 1])
    return points_xy[idx - 1] + a[:, None] * (points_xy[idx] - points_xy[idx - 1])


def eight_gaussians(radius: float = 2.0, std: float = 0.25) -> Mixture2D:
    """8 equal Gaussians on a circle (the classic GAN mode-collapse benchmark)."""
    a = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return Mixture2D(radius * torch.stack([a.cos(), a.sin()], 1), std, name="8gaussians")


def twentyfive_gaussians(spacing: float = 1.0, std: float = 0.1) -> Mixture2D:
    """A 5 x 5 grid of equal Gaussians (the grid benchmark of assignment 003)."""
    g = torch.arange(-2, 3, dtype=torch.float64) * spacing
    return Mixture2D(torch.cartesian_prod(g, g), std, name="25gaussians")


def ring(radius: float = 2.0, std: float = 0.1, n_components: int = 64) -> Mixture2D:
    """A thin ring: ``n_components`` Gaussians evenly spaced on a circle."""
    a = torch.arange(n_components, dtype=torch.float64) * (2 * math.pi / n_components)
    return Mixture2D(radius * torch.stack([a.cos(), a.sin()], 1), std, name="ring")


def moons(std: float = 0.1, spacing: float = 0.12) -> Mixture2D:
    """Two interleaved half-circles (as scikit-learn's ``make_moons``), centred and scaled x1.5."""
    t = torch.linspace(0, math.pi, 200, dtype=torch.float64)
    upper = torch.stack([t.cos(), t.sin()], 1)
    lower = torch.stack([1 - t.cos(), 0.5 - t.sin()], 1)
    pts = torch.cat([_chain(upper, spacing / 1.5), _chain(lower, spacing / 1.5)])
    pts = (pts - pts.new_tensor([0.5, 0.25])) * 1.5
    return Mixture2D(pts, std, name="moons")


def swissroll(std: float = 0.1, spacing: float = 0.15) -> Mixture2D:
    """A 2D swiss roll: the spiral r = t, t in [1.5 pi, 4.5 pi] (scikit-learn's), scaled by 1/5."""
    t = torch.linspace(1.5 * math.pi, 4.5 * math.pi, 2000, dtype=torch.float64)
    pts = torch.stack([t * t.cos(), t * t.sin()], 1) / 5
    return Mixture2D(_chain(pts, spacing), std, name="swissroll")


def checkerboard(std: float = 0.12, per_side: int = 4) -> Mixture2D:
    """The 4 x 4 checkerboard on [-2, 2]^2: the 8 filled unit squares are [i, i + 1] x [j, j + 1]
    with i + j even ([-2, -1]^2 is one), each tiled by a ``per_side`` x ``per_side`` grid of
    components at the centres of its cells."""
    offs = (torch.arange(per_side, dtype=torch.float64) + 0.5) / per_side
    tile = torch.cartesian_prod(offs, offs)
    corners = [(i, j) for i in range(-2, 2) for j in range(-2, 2) if (i + j) % 2 == 0]
    pts = torch.cat([tile + tile.new_tensor(c) for c in corners])
    return Mixture2D(pts, std, name="checkerboard")


_REGISTRY = {
    "8gaussians": eight_gaussians,
    "25gaussians": twentyfive_gaussians,
    "ring": ring,
    "moons": moons,
    "swissroll": swissroll,
    "checkerboard": checkerboard,
}


def names() -> list[str]:
    """Names of the standard datasets, for :func:`get`."""
    return list(_REGISTRY)


def get(name: str, **kw) -> Mixture2D:
    """A standard dataset by name (see :func:`names`); keyword arguments go to its builder,
    e.g. ``get("8gaussians", std=0.1)``."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown toy2d dataset name={name!r}; expected one of {names()}")
    try:
        return _REGISTRY[name](**kw)
    except TypeError as e:
        raise TypeError(f"toy2d.get({name!r}): {e}") from e
