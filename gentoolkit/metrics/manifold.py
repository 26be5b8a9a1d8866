"""k-nearest-neighbour manifolds: precision and recall (Kynkäänniemi et al. 2019), density and
coverage (Naeem et al. 2020).

A set of feature vectors X = {x_1..x_N} is given a manifold, the union of the balls
B(x_i, r_k(x_i)), r_k(x_i) the distance from x_i to its k-th nearest neighbour in X (itself
not counted). Then, for real features X and fake features Y = {y_1..y_M}:

- **precision** = (1/M) sum_j 1[y_j in manifold(X)]: the fraction of fakes that look real
  (quality);
- **recall** = (1/N) sum_i 1[x_i in manifold(Y)]: the fraction of reals the fakes cover
  (diversity), with the fakes' own k-NN radii;
- **density** = (1/(k M)) sum_j sum_i 1[y_j in B(x_i, r_k(x_i))]: how many real balls contain
  each fake, divided by k (about 1 when the two laws are equal; it is not capped at 1, and it
  is robust to real outliers, whose large balls precision counts fully);
- **coverage** = (1/N) sum_i 1[some y_j in B(x_i, r_k(x_i))]: the fraction of real balls that
  hold at least one fake (the real manifold only, so fake outliers do not inflate it).

Membership uses <= (a point on a ball's boundary is inside), as the authors' code. Distances
are Euclidean, computed in row chunks of the distance matrix, so 10,000 x 10,000 pairs never
sit in memory at once, in the features' precision (float32 features: float32 distances, about
twice as fast; float64 for exact ties), on the features' device; precision and recall share
one pass over the real-fake distances.
"""

from __future__ import annotations

import torch

from gentoolkit._checks import positive_int
from gentoolkit.metrics.kernel import features_pair

__all__ = ["density_coverage", "knn_radii", "precision_recall"]

_CHUNK = 2048  # rows of a distance matrix at a time


def _dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T).clamp(min=0).sqrt()


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of x (n, d) to its k-th nearest other row (n,)."""
    out = []
    for s in range(0, len(x), _CHUNK):
        d = _dist(x[s : s + _CHUNK], x)
        # the point itself is at distance 0 (or round-off above it): take the (k+1)-th smallest
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(out)


def _check_k(k, n_real: int, n_fake: int | None, names) -> int:
    k = positive_int("k", k)
    for name, n in zip(names, (n_real, n_fake)):
        if n is not None and k >= n:
            raise ValueError(f"k={k} must be smaller than the number of samples in {name} ({n})")
    return k


def _pair(real, fake) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = features_pair(real, fake, ("real", "fake"))
    dtype = torch.promote_types(real.dtype, fake.dtype)
    dtype = dtype if dtype in (torch.float32, torch.float64) else torch.float64
    return x.to(dtype), y.to(dtype)


@torch.no_grad()
def precision_recall(real, fake, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of fake features (m, d) against real features (n, d) with k-NN
    manifolds (module docstring); k < n and k < m."""
    x, y = _pair(real, fake)
    k = _check_k(k, len(x), len(y), ("real", "fake"))
    rx, ry = knn_radii(x, k), knn_radii(y, k)
    fake_inside, real_covered = [], torch.zeros(len(x), dtype=torch.bool, device=x.device)
    for s in range(0, len(y), _CHUNK):
        d = _dist(y[s : s + _CHUNK], x)  # (fakes of this chunk, reals)
        fake_inside.append((d <= rx[None, :]).any(1))
        real_covered |= (d <= ry[s : s + _CHUNK, None]).any(0)
    return float(torch.cat(fake_inside).double().mean()), float(real_covered.double().mean())


@torch.no_grad()
def density_coverage(real, fake, k: int = 5) -> tuple[float, float]:
    """(density, coverage) of fake features (m, d) against real features (n, d) (module
    docstring); k < n."""
    x, y = _pair(real, fake)
    k = _check_k(k, len(x), None, ("real",))
    r = knn_radii(x, k)
    inside, covered = 0, torch.zeros(len(x), dtype=torch.bool, device=x.device)
    for s in range(0, len(y), _CHUNK):
        within = _dist(y[s : s + _CHUNK], x) <= r[None, :]  # (fakes of this chunk, real balls)
        inside += int(within.sum())
        covered |= within.any(0)
    return inside / (k * len(y)), float(covered.double().mean())
