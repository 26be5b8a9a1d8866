"""Mode coverage and sample quality on Gaussian-mixture data (the 2D grid benchmarks of
assignment 003 and the unrolled-GAN / VEEGAN literature)."""

from __future__ import annotations

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
        kl = float("inf")
    return {
        "modes": k,
        "covered": int((counts >= min_count).sum()),
        "high_quality": good.double().mean().item(),
        "kl": kl,
        "counts": counts,
    }
