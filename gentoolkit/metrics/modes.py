"""Mode coverage and sample quality on Gaussian-mixture data (the 2D grid benchmarks of
assignment 003 and the unrolled-GAN / VEEGAN literature)."""

from __future__ import annotations

import math

import torch

from gentoolkit._checks import points, positive_float


@torch.no_grad()
def mode_count(samples: torch.Tensor, centers, threshold, *, weights=None, min_count: int = 1) -> dict:
    """Mode coverage of samples around known mode centres, in any dimension.

    Each sample (a row of ``samples``, (n, d)) is assigned to its nearest centre (a row of
    ``centers``, (K, d)); it is *high quality* when it lies within ``threshold`` (a distance: a
    float, or one per centre) of it, and a mode is *covered* when it holds at least
    ``min_count`` high-quality samples. ``kl`` is KL(p || w) in nats between the histogram p of
    the high-quality samples over the modes and the true ``weights`` w (default uniform): 0 for
    a perfect balance, log K when every sample sits in one of K equal modes, inf with no
    high-quality sample. For StackedMNIST the modes are digit triples found by a classifier:
    :func:`gentoolkit.metrics.digits.stacked_mode_count`.

    Returns ``{"modes", "covered", "high_quality", "kl", "counts"}`` (counts a (K,) tensor).
    """
    x = samples
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or not x.is_floating_point():
        raise ValueError(f"samples must be a floating tensor of shape (n, d), got {_describe(x)}")
    c = centers
    if not isinstance(c, torch.Tensor) or c.ndim != 2 or c.shape[1] != x.shape[1] or len(c) == 0:
        raise ValueError(f"centers must be a tensor of shape (K, {x.shape[1]}) like the samples, got {_describe(c)}")
    x, c = x.double().cpu(), c.double().cpu()
    k = len(c)
    r = torch.as_tensor(threshold, dtype=torch.float64).flatten()
    if r.numel() not in (1, k) or not bool(torch.isfinite(r).all()) or bool((r <= 0).any()):
        raise ValueError(f"threshold must be a finite distance > 0, or {k} of them (one per centre), got {threshold!r}")
    if weights is None:
        w = torch.full((k,), 1.0 / k, dtype=torch.float64)
    else:
        w = torch.as_tensor(weights, dtype=torch.float64).flatten()
        if w.numel() != k or bool((w < 0).any()) or not math.isclose(float(w.sum()), 1.0, rel_tol=1e-6):
            raise ValueError(f"weights must be {k} non-negative numbers summing to 1, got {weights!r}")
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")
    d = torch.cdist(x, c)
    near = d.argmin(1)
    good = d.gather(1, near[:, None])[:, 0] <= r.expand(k)[near]
    counts = torch.bincount(near[good], minlength=k).double()
    total = counts.sum()
    if total > 0:
        p = counts / total
        nz = p > 0
        kl = (p[nz] * (p[nz] / w[nz]).log()).sum().item()
    else:
        kl = math.inf
    return {
        "modes": k,
        "covered": int((counts >= min_count).sum()),
        "high_quality": good.double().mean().item() if len(x) else 0.0,
        "kl": kl,
        "counts": counts,
    }


def _describe(v) -> str:
    return f"shape {tuple(v.shape)}, dtype {v.dtype}" if isinstance(v, torch.Tensor) else type(v).__name__


@torch.no_grad()
def mode_stats(samples: torch.Tensor, mixture, *, n_std: float = 3.0, min_count: int | None = None) -> dict:
    """:func:`mode_count` on a 2D mixture: the centres are its component means, a sample is
    *high quality* within ``n_std`` standard deviations of its nearest mean, a mode is
    *covered* with at least ``min_count`` high-quality samples (default: 1/4 of its expected
    share, at least 1), and ``kl`` compares with the mixture's weights.

    Returns a dict: ``modes`` (K), ``covered`` (count), ``high_quality`` (fraction of samples),
    ``kl`` (KL divergence of the high-quality samples' mode histogram from the mixture weights,
    in nats; 0 for a perfect balance) and ``counts`` (a (K,) tensor).
    """
    x = points("samples", samples, 2)
    n_std = positive_float("n_std", n_std)
    if min_count is None:
        min_count = max(1, int(0.25 * len(x) * mixture.weights.min().item()))
    return mode_count(
        x, mixture.means, n_std * mixture.stds.double(), weights=mixture.weights.double(), min_count=min_count
    )


@torch.no_grad()
def within_mode_variance(samples: torch.Tensor, mixture) -> float:
    """Mean squared distance of the samples from their nearest component mean, per coordinate:
    mean over samples and coordinates of (x - mu_nearest)^2. For well-separated components
    N(mu_k, s^2 I) it estimates s^2, so it measures how wide a sampler makes the modes, e.g.
    the bias of the unadjusted Langevin algorithm, whose stationary variance on N(0, s^2) is
    s^2 / (1 - lambda / (2 s^2)) (001, Sec. 2.2.2.3, Eq. 2.2), against the exact s^2 of MALA.

    ``samples``: (n, 2) points (pass ``chain.reshape(-1, 2)`` to pool the states of chains);
    ``mixture``: a :class:`gentoolkit.data.Mixture2D`."""
    x = points("samples", samples, 2).double().cpu()
    means = mixture.means.double().cpu()
    nearest = torch.cdist(x, means).argmin(1)
    return (x - means[nearest]).pow(2).mean().item()
