"""MMD, KID, precision/recall and density/coverage against brute-force loops over pairs,
hand-worked examples and properties the definitions prove (unbiasedness, (1, 1) for a set
against itself, (0, 0) for far-apart sets)."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from gentoolkit.metrics import kernel as K
from gentoolkit.metrics import manifold as M


def brute_mmd(x, y, k, unbiased):
    n, m = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j or not unbiased)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j or not unbiased)
    sxy = sum(k(a, b) for a in x for b in y)
    dx, dy = (n * (n - 1), m * (m - 1)) if unbiased else (n * n, m * m)
    return sxx / dx + syy / dy - 2 * sxy / (n * m)


def sample(seed, n, d, shift=0.0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


@pytest.mark.parametrize("unbiased", [True, False])
@pytest.mark.parametrize("chunk", [2, 2048])
def test_mmd_matches_a_loop_over_pairs(unbiased, chunk, monkeypatch):
    monkeypatch.setattr(K, "_CHUNK", chunk)  # kernel sums in row chunks, boundaries inside x and y
    x, y = sample(0, 7, 3), sample(1, 5, 3, 0.4)
    h = 1.3
    rbf = lambda a, b: math.exp(-float(((a - b) ** 2).sum()) / (2 * h * h))  # noqa: E731
    poly = lambda a, b: (float(a @ b) / 3 + 1) ** 3  # noqa: E731
    assert K.mmd(x, y, "rbf", h, unbiased=unbiased) == pytest.approx(brute_mmd(x, y, rbf, unbiased), rel=1e-12)
    assert K.mmd(x, y, "poly", unbiased=unbiased) == pytest.approx(brute_mmd(x, y, poly, unbiased), rel=1e-12)
    # the median heuristic: the median of the pooled sample's 66 pairwise distances
    z = torch.cat([x, y]).numpy()
    med = float(np.median([np.linalg.norm(z[i] - z[j]) for i, j in itertools.combinations(range(12), 2)]))
    assert K.median_bandwidth(x, y) == pytest.approx(med, rel=1e-12)
    assert K.mmd(x, y) == pytest.approx(K.mmd(x, y, "rbf", med), rel=1e-12)


def test_unbiased_mmd_has_mean_zero_for_equal_laws_and_the_biased_one_does_not():
    """400 draws of two samples of N(0, I): the unbiased estimates average to 0 within 4
    standard errors; the biased ones are positive on average by many standard errors (their
    mean is (E k(x,x) - E k(x,x')) (1/n + 1/m) > 0)."""
    u, b = [], []
    for s in range(400):
        x, y = sample(2 * s, 12, 2), sample(2 * s + 1, 12, 2)
        u.append(K.mmd(x, y, "rbf", 1.0))
        b.append(K.mmd(x, y, "rbf", 1.0, unbiased=False))
    u, b = np.array(u), np.array(b)
    se_u, se_b = u.std() / math.sqrt(len(u)), b.std() / math.sqrt(len(b))
    assert abs(u.mean()) < 4 * se_u
    assert b.mean() > 10 * se_b
    assert (u < 0).any()  # single unbiased estimates go negative, as they must


def test_kid_with_one_full_subset_is_the_unbiased_poly_mmd_and_is_seeded():
    x, y = sample(3, 30, 4), sample(4, 30, 4, 0.5)
    mean, std = K.kid(x, y, n_subsets=1, subset_size=30)
    assert mean == pytest.approx(K.mmd(x, y, "poly"), rel=1e-12) and std == 0.0
    a = K.kid(x, y, n_subsets=20, subset_size=10, seed=5)
    assert a == K.kid(x, y, n_subsets=20, subset_size=10, seed=5)
    assert a == K.kid(x, y, n_subsets=20, subset_size=10, generator=torch.Generator().manual_seed(5))
    assert a != K.kid(x, y, n_subsets=20, subset_size=10, seed=6)
    assert a[1] > 0


def test_kid_subsets_are_drawn_without_replacement():
    """Each subset is a set of distinct rows: for one row repeated, KID's kernel sums would see
    a duplicate's k(x, x) in the off-diagonal terms; with distinct one-hot rows the unbiased
    x-term of every subset is exactly (0 / d + 1)^3 = 1 (no two rows share a coordinate)."""
    d = 12
    x = torch.eye(d, dtype=torch.float64)
    y = torch.eye(d, dtype=torch.float64)
    mean, std = K.kid(x, y, n_subsets=50, subset_size=6, seed=0)
    # x-term = y-term = 1; the cross term averages k over pairs, (1/d + 1)^3 for shared rows
    # and 1 otherwise, so every subset value is <= 0, and < 0 when the subsets share a row
    assert mean < 0 and mean > -2 * ((1 / d + 1) ** 3 - 1)


def test_kid_is_near_zero_for_equal_laws_and_grows_with_a_shift():
    real = sample(7, 400, 8)
    same, std = K.kid(real, sample(8, 400, 8), n_subsets=50, subset_size=100)
    far, _ = K.kid(real, sample(9, 400, 8, 1.0), n_subsets=50, subset_size=100)
    assert abs(same) < 4 * std and far > 20 * std


def brute_manifold(x, y, k):
    dxx, dyy, dyx = cdist(x, x), cdist(y, y), cdist(y, x)
    rx = np.sort(dxx, 1)[:, k]
    ry = np.sort(dyy, 1)[:, k]
    inside = dyx <= rx[None, :]  # (fake j, real i)
    precision = inside.any(1).mean()
    recall = (cdist(x, y) <= ry[None, :]).any(1).mean()
    return precision, recall, inside.sum() / (k * len(y)), inside.any(0).mean()


@pytest.mark.parametrize("chunk", [3, 2048])
def test_manifold_metrics_match_a_brute_force_computation(chunk, monkeypatch):
    monkeypatch.setattr(M, "_CHUNK", chunk)  # chunk boundaries inside the matrices
    x, y = sample(10, 40, 3), sample(11, 25, 3, 0.7) * 1.3
    for k in (1, 3, 5):
        p, r, dens, cov = brute_manifold(x.numpy(), y.numpy(), k)
        assert M.precision_recall(x, y, k) == pytest.approx((p, r), abs=1e-12)
        assert M.density_coverage(x, y, k) == pytest.approx((dens, cov), abs=1e-12)


def test_hand_worked_example():
    """Reals 0, 1, 2, 3 and fakes 0.5, 10 on a line.
    k = 1: every real radius is 1; 0.5 lies in the balls of 0 and 1, 10 in none: precision 1/2,
    density 2 / (1 * 2) = 1, coverage 2/4 (balls of 0 and 1); the fakes' radius is 9.5, which
    holds every real: recall 1.
    k = 2: real radii 2, 1, 1, 2; 0.5 lies in the balls of 0 (0.5 <= 2) and 1, not of 2 (1.5 > 1)
    or 3 (2.5 > 2): density 2 / (2 * 2) = 1/2, coverage 1/2."""
    x = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    y = torch.tensor([[0.5], [10.0]])
    assert M.precision_recall(x, y, k=1) == (0.5, 1.0)
    assert M.density_coverage(x, y, k=1) == (1.0, 0.5)
    assert M.density_coverage(x, y, k=2) == (0.5, 0.5)
    assert M.knn_radii(x.double(), 2).tolist() == [2.0, 1.0, 1.0, 2.0]


def test_identical_and_far_apart_sets():
    x = sample(12, 200, 5)
    assert M.precision_recall(x, x.clone()) == (1.0, 1.0)
    assert M.density_coverage(x, x.clone())[1] == 1.0
    assert M.precision_recall(x, x + 100.0) == (0.0, 0.0)
    assert M.density_coverage(x, x + 100.0) == (0.0, 0.0)


def test_bad_inputs():
    x = torch.zeros(5, 3)
    with pytest.raises(ValueError, match=r"k=5 must be smaller than the number of samples in real \(5\)"):
        M.precision_recall(x, torch.zeros(9, 3), k=5)
    with pytest.raises(ValueError, match=r"k=4 must be smaller than the number of samples in fake \(4\)"):
        M.precision_recall(torch.zeros(9, 3), torch.zeros(4, 3), k=4)
    with pytest.raises(ValueError, match="real and fake must have the same number of features, got 3 and 2"):
        M.density_coverage(x, torch.zeros(5, 2))
    with pytest.raises(ValueError, match="k must be"):
        M.density_coverage(x, x, k=0)
    with pytest.raises(TypeError, match="real must be a torch.Tensor"):
        M.precision_recall(x.numpy(), x)
    with pytest.raises(ValueError, match="kernel must be one of"):
        K.mmd(x, x, "gauss")
    with pytest.raises(ValueError, match="bandwidth must be a finite number > 0"):
        K.mmd(x, x, "rbf", -1.0)
    with pytest.raises(ValueError, match="has no bandwidth"):
        K.mmd(x, x, "poly", 1.0)
    with pytest.raises(ValueError, match="at least 2 samples in x and in y, got 5 and 1"):
        K.mmd(x, torch.zeros(1, 3))
    with pytest.raises(ValueError, match="median heuristic needs distinct points"):
        K.mmd(x, x)
    with pytest.raises(ValueError, match=r"subset_size=10 exceeds the samples: features_real has 5"):
        K.kid(x, torch.zeros(20, 3), subset_size=10)
    with pytest.raises(ValueError, match="features_fake must be finite"):
        K.kid(x, torch.full((5, 3), math.nan), subset_size=3)
    with pytest.raises(ValueError, match="n_subsets must be"):
        K.kid(x, x, n_subsets=0, subset_size=3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    x, y = sample(13, 60, 4), sample(14, 50, 4, 0.3)
    assert M.precision_recall(x.cuda(), y.cuda()) == M.precision_recall(x, y)
    assert M.density_coverage(x.cuda(), y.cuda()) == pytest.approx(M.density_coverage(x, y))
    assert K.mmd(x.cuda(), y.cuda(), "rbf", 1.0) == pytest.approx(K.mmd(x, y, "rbf", 1.0), rel=1e-9)
    assert K.kid(x.cuda(), y.cuda(), n_subsets=5, subset_size=20) == pytest.approx(
        K.kid(x, y, n_subsets=5, subset_size=20), rel=1e-9
    )


def test_kid_in_float32_agrees_with_float64():
    """float32 products, float64 sums: within a small fraction of the subsets' spread."""
    x, y = sample(20, 300, 64), sample(21, 300, 64, 0.2)
    m64, s64 = K.kid(x, y, n_subsets=20, subset_size=100)
    m32, s32 = K.kid(x.float(), y.float(), n_subsets=20, subset_size=100)
    assert m32 == pytest.approx(m64, abs=1e-3 * s64) and s32 == pytest.approx(s64, rel=1e-3)


@pytest.mark.parametrize("kernel", ["rbf", "poly"])
def test_mmd_in_float32_agrees_with_float64(kernel, monkeypatch):
    """float32 products, float64 sums: each kernel value is off by a few float32 eps (1.2e-7) times its
    size (at most about 8 for the poly kernel here), so the estimate by less than 1e-6 even if the errors
    did not average out (they do: measured 2e-10 and 4e-10), far below its standard error (order 1/n)."""
    monkeypatch.setattr(K, "_CHUNK", 64)  # several row blocks, so the symmetric halves are used
    x, y = sample(22, 300, 64).relu(), sample(23, 300, 64, 0.1).relu()
    h = None if kernel == "poly" else K.median_bandwidth(x, y)
    for unbiased in (True, False):
        m64 = K.mmd(x, y, kernel, h, unbiased=unbiased)
        m32 = K.mmd(x.float(), y.float(), kernel, h, unbiased=unbiased)
        assert m32 == pytest.approx(m64, abs=1e-6), (unbiased, m32, m64)
