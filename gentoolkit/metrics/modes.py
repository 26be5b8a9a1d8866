"""Mode coverage and sample quality on Gaussian-mixture data (the 2D grid benchmarks of
assignment 003 and the unrolled-GAN / VEEGAN literature)."""

from __future__ import annotations

import math

import torch

from gentoolkit._checks import points, positive_float


@torch.no_grad()
def mode_stats(samples: torch.Tensor, mixture, *, n_std: float = 3.0, min_count: int | None = None) -> dict:
    """Assign each sample to its nearest component mean; a sample is *high quality* when it lies
    within ``n_std`` standard deviations of that mean, and a mode is *covered* when it holds at
    least ``min_count`` high-quality samples (default: 1/4 of its expected share, at least 1).

    Returns a dict: ``modes`` (K), ``covered`` (count), ``high_quality`` (fraction of samples),
    ``kl`` (KL divergence of the high-quality samples' mode histogram from the mixture weights,
    in nats; 0 for a perfect balance) and ``counts`` (a (K,) tensor).
    """
    x = points("samples", samples, 2).double().cpu()
    n_std = positive_float("n_std", n_std)
    d = torch.cdist(x, mixture.means)
    near = d.argmin(1)
    good = d.gather(1, near[:, None])[:, 0] <= n_std * mixture.stds[near]
    k = mixture.means.shape[0]
    counts = torch.bincount(near[good], minlength=k).double()
    if min_count is None:
        min_count = max(1, int(0.25 * len(x) * mixture.weights.min().item()))
    total = counts.sum()
    if total > 0:
        p = counts / total
        nz = p > 0
        kl = (p[nz] * (p[nz] / mixture.weights[nz]).log()).sum().item()
    else:
        kl = math.inf
    return {
        "modes": k,
        "covered": int((counts >= min_count).sum()),
        "high_quality": good.double().mean().item(),
        "kl": kl,
        "counts": counts,
    }


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
