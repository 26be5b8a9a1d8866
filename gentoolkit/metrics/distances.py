"""Distances between two samples."""

from __future__ import annotations

import torch

from gentoolkit._checks import points, positive_int


@torch.no_grad()
def sliced_wasserstein(x: torch.Tensor, y: torch.Tensor, n_projections: int = 128, generator=None) -> float:
    """Sliced 2-Wasserstein distance between two equal-size samples (n, d): the root mean, over
    random unit directions u, of the squared W2 distance between the projections u.x and u.y,
    which in 1D is the mean squared difference of the sorted values."""
    x, y = points("x", x), points("y", y)
    dtype = torch.promote_types(x.dtype, y.dtype)
    x, y = x.to(dtype), y.to(dtype)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    n_projections = positive_int("n_projections", n_projections)
    dev = generator.device if generator is not None else x.device
    u = torch.randn(x.shape[1], n_projections, generator=generator, dtype=torch.float64, device=dev).to(x.device, dtype)
    u = u / u.norm(dim=0, keepdim=True)
    px, py = (x @ u).sort(0).values, (y @ u).sort(0).values
    return (px - py).double().pow(2).mean().sqrt().item()
