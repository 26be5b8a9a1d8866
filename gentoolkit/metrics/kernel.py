"""Kernel two-sample distances: MMD (Gretton et al. 2012) and KID (Bińkowski et al. 2018).

The squared maximum mean discrepancy between the laws of x (n samples) and y (m samples) under
a kernel k is MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y). Its **unbiased** estimate leaves
out the diagonal terms k(x_i, x_i):

    MMD^2_u = sum_{i != j} k(x_i, x_j) / (n (n - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
              - 2 sum_{i, j} k(x_i, y_j) / (n m),

whose mean is exactly MMD^2 (0 for equal laws; single estimates can be negative); the
**biased** (V-statistic) estimate keeps the diagonals and divides by n^2 and m^2 (always >= 0,
but > 0 in expectation even for equal laws). Lecture 002 lists MMD among the GAN metrics.

Kernels: ``"rbf"``, k(x, y) = exp(-||x - y||^2 / (2 h^2)) with bandwidth h (default: the median
of the pairwise distances of the pooled sample, the median heuristic), and ``"poly"``,
k(x, y) = (x.y / d + 1)^3 with d the feature dimension, the kernel of KID.

KID is MMD^2_u with the polynomial kernel, averaged over ``n_subsets`` random subsets of
``subset_size`` samples from each set (drawn without replacement within a subset, as in
torch-fidelity and the authors' code); it reports the mean and the standard deviation over
the subsets. Unlike FID, it is unbiased, so its values at different sample sizes compare.
"""

from __future__ import annotations

import math
import numbers

import torch

from gentoolkit._checks import generator_for, positive_int

__all__ = ["KERNELS", "kid", "mmd"]

KERNELS = ("rbf", "poly")
_CHUNK = 2048  # kernel rows at a time
_KID_ELEMENTS = 20_000_000  # kernel entries of KID at a time (float64: 160 MB)


def features_pair(x, y, names=("x", "y")) -> tuple[torch.Tensor, torch.Tensor]:
    """Two feature sets (n, d) and (m, d), float64 on x's device; clear errors otherwise."""
    out = []
    for name, v in zip(names, (x, y)):
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape (n, d), got {type(v).__name__}")
        if v.ndim != 2:
            raise ValueError(f"{name} must have shape (n, d) (one feature vector per row), got {tuple(v.shape)}")
        if not v.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {v.dtype}")
        if not bool(torch.isfinite(v).all()):
            raise ValueError(f"{name} must be finite, got NaN or inf entries")
        out.append(v)
    a, b = out
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same number of features, got {a.shape[1]} and {b.shape[1]}"
        )
    return a.double(), b.to(a.device).double()


def _sq_dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return d.clamp(min=0)


def _kernel(kernel: str, bandwidth: float | None, d: int):
    if kernel == "rbf":
        return lambda a, b: torch.exp(-_sq_dist(a, b) / (2 * bandwidth**2))
    return lambda a, b: (a @ b.T / d + 1.0) ** 3


def median_bandwidth(x: torch.Tensor, y: torch.Tensor, max_points: int = 2000) -> float:
    """The median heuristic: the median distance between distinct points of the pooled sample
    (for an even number of pairs, the mean of the two middle ones, as numpy.median). Above
    ``max_points`` pooled points it uses ``max_points`` evenly spaced rows of the pooled sample
    (deterministic; the full set of pairs would not fit in memory at 10,000 points)."""
    z = torch.cat([x, y])
    if len(z) > max_points:
        z = z[torch.linspace(0, len(z) - 1, max_points, device=z.device).long()]
    i, j = torch.triu_indices(len(z), len(z), offset=1, device=z.device)
    v = _sq_dist(z, z)[i, j].sqrt().sort().values
    h = float((v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2)
    if not h > 0:
        raise ValueError(
            "the median heuristic needs distinct points: half or more of the pairs coincide; pass bandwidth"
        )
    return h


def mmd(x, y, kernel: str = "rbf", bandwidth: float | None = None, *, unbiased: bool = True) -> float:
    """The squared MMD between samples x (n, d) and y (m, d) (module docstring): unbiased
    (default; needs n, m >= 2; can be slightly negative) or biased. ``kernel``: "rbf" (with
    ``bandwidth`` h > 0, default the median heuristic) or "poly" (no bandwidth). float32 features
    are multiplied in float32 (the kernel sums are float64), others in float64; the within-set
    sums use only the kernel blocks on and right of the diagonal (k is symmetric)."""
    x_in, y_in = x, y
    x, y = features_pair(x, y)
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if not isinstance(unbiased, bool):
        raise TypeError(f"unbiased must be True or False, got {unbiased!r}")
    if kernel == "poly" and bandwidth is not None:
        raise ValueError(f"the poly kernel (x.y / d + 1)^3 has no bandwidth; got bandwidth={bandwidth!r}")
    if unbiased and min(len(x), len(y)) < 2:
        raise ValueError(f"the unbiased MMD needs at least 2 samples in x and in y, got {len(x)} and {len(y)}")
    if min(len(x), len(y)) < 1:
        raise ValueError(f"x and y must hold at least one sample each, got {len(x)} and {len(y)}")
    if kernel == "rbf":
        if bandwidth is None:
            bandwidth = median_bandwidth(x, y)
        elif isinstance(bandwidth, bool) or not isinstance(bandwidth, numbers.Real) or not 0 < bandwidth < math.inf:
            raise ValueError(
                f"bandwidth must be a finite number > 0 (or None for the median heuristic), got {bandwidth!r}"
            )
    if x_in.dtype == torch.float32 and y_in.dtype == torch.float32:
        x, y = x.float(), y.float()  # float32 products (about twice as fast), float64 sums
    k = _kernel(kernel, None if bandwidth is None else float(bandwidth), x.shape[1])
    n, m = len(x), len(y)

    def cross(a, b):  # sum of k(a_i, b_j) in row chunks: 10,000 x 10,000 kernels never sit in memory
        return sum(float(k(a[s : s + _CHUNK], b).sum(dtype=torch.float64)) for s in range(0, len(a), _CHUNK))

    def within(a):  # sum over i != j of k(a_i, a_j): the blocks on and right of the diagonal, the others by symmetry
        total = 0.0
        for s in range(0, len(a), _CHUNK):
            block = k(a[s : s + _CHUNK], a[s:])
            c = block.shape[0]
            square = block[:, :c]
            total += float(square.sum(dtype=torch.float64) - square.diagonal().sum(dtype=torch.float64))
            total += 2 * float(block[:, c:].sum(dtype=torch.float64))
        return total

    def diagonal(a):  # sum of k(a_i, a_i), exactly
        if kernel == "rbf":
            return float(len(a))
        return float(((a.double() ** 2).sum(1) / a.shape[1] + 1).pow(3).sum())

    sxx, syy, sxy = within(x), within(y), cross(x, y)
    if unbiased:
        return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * sxy / (n * m)
    return (sxx + diagonal(x)) / n**2 + (syy + diagonal(y)) / m**2 - 2 * sxy / (n * m)


def _poly_sums(a: torch.Tensor, b: torch.Tensor, off_diagonal: bool) -> torch.Tensor:
    """Per batch element: the float64 sum over pairs of KID's kernel (a_i.b_j / d + 1)^3, less
    the diagonal when ``off_diagonal``; one fused multiply-add and an in-place cube."""
    one = torch.ones((), dtype=a.dtype, device=a.device).expand(len(a), a.shape[1], b.shape[1])
    k = torch.baddbmm(one, a, b.transpose(1, 2), alpha=1 / a.shape[2]).pow_(3)
    total = k.sum((1, 2), dtype=torch.float64)
    return total - k.diagonal(dim1=1, dim2=2).sum(1, dtype=torch.float64) if off_diagonal else total


def kid(
    features_real,
    features_fake,
    *,
    n_subsets: int = 100,
    subset_size: int = 1000,
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> tuple[float, float]:
    """KID: (mean, std) over ``n_subsets`` subsets of the unbiased polynomial-kernel MMD^2
    between ``subset_size`` real and ``subset_size`` fake features (module docstring).
    ``subset_size`` must not exceed either set's size; subsets come from ``generator`` (or
    ``seed``; neither: seed 0): same seed, same value. The subsets are batched: (n_subsets, size, size) kernels
    are formed a few subsets at a time, with no Python loop over samples. float32 features are
    multiplied in float32 (about twice as fast; the kernel sums are float64), others in float64."""
    real, fake = features_pair(features_real, features_fake, ("features_real", "features_fake"))
    if features_real.dtype == torch.float32 and features_fake.dtype == torch.float32:
        real, fake = real.float(), fake.float()  # float32 products (twice as fast), float64 sums
    n_subsets = positive_int("n_subsets", n_subsets)
    subset_size = positive_int("subset_size", subset_size)
    if subset_size < 2:
        raise ValueError(f"subset_size must be >= 2 for the unbiased MMD, got {subset_size}")
    if subset_size > min(len(real), len(fake)):
        raise ValueError(
            f"subset_size={subset_size} exceeds the samples: features_real has {len(real)}, features_fake "
            f"{len(fake)}; pass subset_size <= {min(len(real), len(fake))}"
        )
    g = generator_for(generator, 0 if generator is None and seed is None else seed)
    # every subset first (row i: the first subset_size of a random permutation), then the kernels in
    # chunks: the value does not depend on the chunk size
    ir = torch.rand(n_subsets, len(real), generator=g).argsort(1)[:, :subset_size].to(real.device)
    jf = torch.rand(n_subsets, len(fake), generator=g).argsort(1)[:, :subset_size].to(real.device)
    values, size = [], subset_size
    chunk = max(1, _KID_ELEMENTS // (size * size))  # one (chunk, size, size) kernel: ~160 MB at most
    for start in range(0, n_subsets, chunk):
        xr, xf = real[ir[start : start + chunk]], fake[jf[start : start + chunk]]  # (chunk, size, d)
        values.append(
            _poly_sums(xr, xr, True) / (size * (size - 1))
            + _poly_sums(xf, xf, True) / (size * (size - 1))
            - 2 * _poly_sums(xr, xf, False) / size**2
        )
    v = torch.cat(values)
    std = float(v.std(unbiased=False)) if n_subsets > 1 else 0.0
    return float(v.mean()), std
