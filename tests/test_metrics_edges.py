"""Edges of the sample metrics that the main tests left open (found by mutation testing of
metrics.frechet, kernel, manifold and modes): each error names its argument, the smallest
valid sizes work, tolerances scale with the matrix, mixed precisions compute in float64, and
conventions (ties inside a k-NN ball, KID's std over subsets with ddof 0, the median of an odd
number of distances) are the documented ones."""

import math
import os

import numpy as np
import pytest
import torch

from gentoolkit.metrics import frechet as F
from gentoolkit.metrics import kernel as K
from gentoolkit.metrics import manifold as M
from gentoolkit.metrics.modes import mode_count


def sample(seed, n, d, shift=0.0, dtype=torch.float64):
    return (torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift).to(dtype)


# ------------------------------------------------------------------------------------------ frechet
EYE = torch.eye(2, dtype=torch.float64)
ZERO = torch.zeros(2, dtype=torch.float64)


@pytest.mark.parametrize(
    "call, kind, message",
    [
        (
            lambda: F.frechet_distance(torch.zeros(0), torch.zeros(0, 0), torch.zeros(0), torch.zeros(0, 0)),
            ValueError,
            r"mu1 must have at least one feature",
        ),
        (lambda: F.frechet_distance(ZERO, EYE, torch.zeros(2, 1), EYE), ValueError, r"mu2 must have shape \(d,\)"),
        (lambda: F.frechet_distance(ZERO, torch.zeros(2), ZERO, EYE), ValueError, r"sigma1 must have shape \(d, d\)"),
        (lambda: F.frechet_distance(ZERO, EYE, ZERO, -EYE), ValueError, r"sigma2 must be positive semi-definite"),
        (lambda: F.frechet_distance(ZERO, -EYE, ZERO, EYE), ValueError, r"sigma1 must be positive semi-definite"),
        (lambda: F.frechet_distance(ZERO.bool(), EYE, ZERO, EYE), TypeError, r"mu1 must hold real numbers"),
        (lambda: F.feature_statistics(torch.zeros(5)), ValueError, r"features must have shape \(n, d\)"),
        (lambda: F.feature_statistics(torch.zeros(5, 0)), ValueError, r"features must have at least one feature"),
        (lambda: F.fid(torch.zeros(5), torch.zeros(5, 2)), ValueError, r"features_real must have shape \(n, d\)"),
        (lambda: F.fid(torch.zeros(5, 2), torch.zeros(5)), ValueError, r"features_fake must have shape \(n, d\)"),
        (lambda: F.save_statistics("s.npz", torch.zeros(2, 1), EYE), ValueError, r"mu must have shape \(d,\)"),
    ],
)
def test_frechet_errors_name_the_argument_and_the_expected_shape(call, kind, message):
    with pytest.raises(kind, match=message):
        call()


def test_the_smallest_valid_inputs_work():
    two = torch.tensor([[0.0, 1.0], [2.0, 5.0]], dtype=torch.float64)  # n = 2: a covariance exists
    mu, sigma = F.feature_statistics(two)
    np.testing.assert_allclose(sigma.numpy(), np.cov(two.numpy().T), rtol=1e-15)
    one_feature = sample(0, 50, 1)  # d = 1: FID is (m1 - m2)^2 + (s1 - s2)^2
    other = sample(1, 40, 1, 0.5)
    m1, v1 = float(one_feature.mean()), float(one_feature.var())
    m2, v2 = float(other.mean()), float(other.var())
    assert F.fid(one_feature, other) == pytest.approx((m1 - m2) ** 2 + (v1**0.5 - v2**0.5) ** 2, rel=1e-12)
    ints = F.frechet_distance(torch.tensor([1, 2]), torch.eye(2, dtype=torch.int64), ZERO, EYE)  # ints are numbers
    assert ints == pytest.approx(5.0, rel=1e-12)


def test_tolerances_are_relative_to_the_matrix_scale():
    big = 1e6 * torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    nearly = big.clone()
    nearly[0, 1] += 1e-4  # relative asymmetry 5e-11: round-off, accepted
    assert F.frechet_distance(ZERO, nearly, ZERO, big) == pytest.approx(0.0, abs=1e-3)
    tiny = 1e-9 * torch.tensor([[2.0, 1.0], [0.5, 2.0]], dtype=torch.float64)  # 25% asymmetric, at 1e-9
    with pytest.raises(ValueError, match="sigma1 must be a symmetric covariance"):
        F.frechet_distance(ZERO, tiny, ZERO, EYE)
    indefinite = 1e-9 * torch.diag(torch.tensor([1.0, -0.1], dtype=torch.float64))  # eigenvalue -10% of the largest
    with pytest.raises(ValueError, match="sigma2 must be positive semi-definite"):
        F.frechet_distance(ZERO, EYE, ZERO, indefinite)


def test_save_statistics_makes_folders_writes_in_place_and_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "a" / "b" / "stats.npz"
    F.save_statistics(target, ZERO, EYE)
    F.save_statistics(target, ZERO + 1, EYE)  # the folder exists now: fine, and the file is replaced
    mu, _ = F.load_statistics(target)
    np.testing.assert_array_equal(mu, [1.0, 1.0])
    seen = []

    def failing_replace(src, dst):
        seen.append(src)
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        F.save_statistics(target, ZERO + 2, EYE)
    assert os.path.dirname(seen[0]) == str(target.parent)  # the temporary file sits beside the target
    assert not os.path.exists(seen[0]) and sorted(p.name for p in target.parent.iterdir()) == ["stats.npz"]
    np.testing.assert_array_equal(F.load_statistics(target)[0], [1.0, 1.0])  # the old file is intact


def test_load_statistics_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, mu=np.array([object()], dtype=object), sigma=np.eye(1))
    with pytest.raises(ValueError, match="not pickled objects"):
        F.load_statistics(path)


# ------------------------------------------------------------------------------------------ kernel
def test_mmd_smallest_sizes_and_bandwidth_checks():
    x, y = sample(0, 2, 3), sample(1, 2, 3, 1.0)
    assert math.isfinite(K.mmd(x, y, "rbf", 1.0))  # unbiased needs n, m >= 2: 2 is enough
    assert K.mmd(x[:1], y[:1], "rbf", 1.0, unbiased=False) == pytest.approx(
        2 - 2 * math.exp(-float(((x[0] - y[0]) ** 2).sum()) / 2), rel=1e-12
    )  # biased with one sample each: k(x,x) + k(y,y) - 2 k(x,y)
    for bad in (0.0, math.inf, True, "1"):
        with pytest.raises(ValueError, match="bandwidth must be a finite number > 0"):
            K.mmd(x, y, "rbf", bad)


@pytest.mark.parametrize("kernel", ["rbf", "poly"])
def test_mixed_precision_computes_in_float64(kernel):
    """float32 products only when both sets are float32: one float64 set means float64 throughout
    (agreement to 1e-12, which float32 products miss by orders of magnitude)."""
    x, y = sample(2, 200, 16).relu(), sample(3, 200, 16, 0.2).relu()
    h = None if kernel == "poly" else 1.5
    ref = K.mmd(x, y, kernel, h)
    for a, b in ((x.float(), y), (x, y.float())):
        assert K.mmd(a.double(), b.double(), kernel, h) == pytest.approx(K.mmd(a, b, kernel, h), rel=1e-12)
    assert K.mmd(x.float(), y.float(), kernel, h) != pytest.approx(ref, rel=1e-12)  # and float32 does differ
    xk, yk = x.float(), y.float()
    for a, b in ((xk, yk.double()), (xk.double(), yk)):
        assert K.kid(a, b, n_subsets=5, subset_size=50)[0] == pytest.approx(
            K.kid(a.double(), b.double(), n_subsets=5, subset_size=50)[0], rel=1e-12
        )


def test_kid_subsets_follow_the_documented_draw_and_std_has_ddof_0(monkeypatch):
    """Subset i is the first subset_size entries of argsort(rand(n)) of the seed's generator (all real
    subsets, then all fake ones); the std is over the subsets with ddof 0 (torch-fidelity's np.std)."""
    x, y = sample(4, 30, 5), sample(5, 25, 5, 0.3)
    n_subsets, size = 4, 10
    g = torch.Generator().manual_seed(0)
    ir = torch.rand(n_subsets, 30, generator=g).argsort(1)[:, :size]
    jf = torch.rand(n_subsets, 25, generator=g).argsort(1)[:, :size]
    values = [K.mmd(x[ir[i]], y[jf[i]], "poly") for i in range(n_subsets)]
    mean, std = K.kid(x, y, n_subsets=n_subsets, subset_size=size)
    assert mean == pytest.approx(np.mean(values), rel=1e-12) and std == pytest.approx(np.std(values), rel=1e-12)
    assert (mean, std) == K.kid(x, y, n_subsets=n_subsets, subset_size=size, seed=0)  # the default seed is 0
    monkeypatch.setattr(K, "_KID_ELEMENTS", size * size)  # one subset per chunk: the same value
    assert K.kid(x, y, n_subsets=n_subsets, subset_size=size) == pytest.approx((mean, std), rel=1e-12)
    monkeypatch.setattr(K, "_KID_ELEMENTS", 3 * size * size)  # chunks of 3 and 1
    assert K.kid(x, y, n_subsets=n_subsets, subset_size=size) == pytest.approx((mean, std), rel=1e-12)
    assert K.kid(x, y, n_subsets=1, subset_size=2)[1] == 0.0  # one subset: no spread; size 2 is allowed


def test_median_bandwidth_odd_pairs_subsampling_and_small_scales():
    z = sample(6, 7, 2)  # 4 + 3 points: 21 pairs, an odd count: the middle one
    d = [float((z[i] - z[j]).norm()) for i in range(7) for j in range(i + 1, 7)]
    assert K.median_bandwidth(z[:4], z[4:]) == pytest.approx(float(np.median(d)), rel=1e-12)
    small = 1e-3 * z  # a median below 1 is a median all the same
    assert K.median_bandwidth(small[:4], small[4:]) == pytest.approx(1e-3 * float(np.median(d)), rel=1e-12)
    big = sample(7, 50, 2)  # above max_points: evenly spaced rows of the pooled sample, first and last included
    rows = np.linspace(0, 49, 9).astype(int)
    sub = big[rows]
    ds = [float((sub[i] - sub[j]).norm()) for i in range(9) for j in range(i + 1, 9)]
    assert K.median_bandwidth(big[:30], big[30:], max_points=9) == pytest.approx(float(np.median(ds)), rel=1e-12)


# ------------------------------------------------------------------------------------------ manifold
def test_a_fake_exactly_on_a_k_nn_radius_counts_as_inside():
    """Kynkaanniemi et al. define the manifold with closed balls: ||f - r|| <= radius."""
    real = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 0.0], [12.0, 0.0]], dtype=torch.float64)
    # the first fake lies exactly 2 from the real point at 2, whose k=1 radius is 2; the second far away
    fake = torch.tensor([[4.0, 0.0], [50.0, 0.0]], dtype=torch.float64)
    assert M.precision_recall(real, fake, 1)[0] == 0.5
    assert M.precision_recall(real, fake + torch.tensor([1e-9, 0.0], dtype=torch.float64), 1)[0] == 0.0


def test_manifold_defaults_and_precisions():
    real, fake = sample(8, 60, 3), sample(9, 50, 3, 0.3)
    assert M.precision_recall(real, fake) == M.precision_recall(real, fake, 3)
    assert M.density_coverage(real, fake) == M.density_coverage(real, fake, 5)
    ref_pr, ref_dc = M.precision_recall(real, fake, 3), M.density_coverage(real, fake, 5)
    mixed = (real.float().double(), fake.float().double())  # the float32 values, in float64
    for a, b in ((real.float(), fake.float().double()), (real.float().double(), fake.float())):
        assert M.precision_recall(a, b, 3) == M.precision_recall(*mixed, 3)  # mixed: float64
        assert M.density_coverage(a, b, 5) == pytest.approx(M.density_coverage(*mixed, 5), rel=1e-12)
    half = (real.half(), fake.half())  # float16 is computed in float64, not in half precision
    as64 = (real.half().double(), fake.half().double())
    assert M.precision_recall(*half, 3) == M.precision_recall(*as64, 3)
    assert M.density_coverage(*half, 5) == pytest.approx(M.density_coverage(*as64, 5), rel=1e-12)
    assert ref_pr == M.precision_recall(real, fake, 3) and ref_dc == M.density_coverage(real, fake, 5)


# ------------------------------------------------------------------------------------------ modes
def test_mode_count_boundaries_weights_and_precision():
    centers = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    x = torch.tensor([[0.1, 0.0], [0.1000000005, 0.0], [1.0, 0.05], [1.0, 0.05]], dtype=torch.float64)
    out = mode_count(x, centers, 0.1, weights=[0.3, 0.7])
    assert out["high_quality"] == 0.75  # 0.1 from its centre is inside, 0.1000000005 is not (float64 threshold)
    p = torch.tensor([1 / 3, 2 / 3], dtype=torch.float64)
    assert out["kl"] == pytest.approx(
        float((p * (p / torch.tensor([0.3, 0.7], dtype=torch.float64)).log()).sum()), rel=1e-13
    )
    assert mode_count(x, centers, 0.1, weights=[0.0, 1.0])["covered"] == 2  # a zero weight is allowed
    assert mode_count(x, centers, 0.1, weights=[0.5, 0.5 + 1e-7])["modes"] == 2  # sums to 1 within 1e-6
    one = mode_count(x, centers[:1], 0.2)  # K = 1 is a valid set of centres
    assert one["modes"] == 1 and one["covered"] == 1 and one["kl"] == 0.0
    empty = mode_count(torch.zeros(0, 2, dtype=torch.float64), centers, 0.1)
    assert empty["high_quality"] == 0.0 and empty["covered"] == 0 and empty["kl"] == math.inf


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(samples=torch.zeros(3, 2, dtype=torch.int64)), "samples must be a floating tensor"),
        (dict(samples=torch.zeros(3)), r"samples must be a floating tensor of shape \(n, d\), got shape \(3,\), dtype"),
        (dict(samples=[[0.0, 1.0]]), r"samples must be a floating tensor of shape \(n, d\), got list"),
        (dict(centers=[[0.0, 0.0]]), r"centers must be a tensor of shape \(K, 2\) like the samples, got list"),
        (
            dict(centers=torch.zeros(0, 2)),
            r"centers must be a tensor of shape \(K, 2\) like the samples, got shape \(0, 2\)",
        ),
        (dict(weights=[1.5, -0.5]), "weights must be 2 non-negative numbers"),
        (dict(weights=[1.0]), "weights must be 2 non-negative numbers"),
        (dict(weights=[0.5, 0.6]), "weights must be 2 non-negative numbers"),
        (dict(min_count=True), "min_count must be an int >= 1"),
        (dict(min_count=0), "min_count must be an int >= 1"),
        (dict(min_count=1.5), "min_count must be an int >= 1"),
    ],
)
def test_mode_count_rejects_bad_inputs_by_name(kwargs, message):
    args = dict(samples=torch.zeros(3, 2), centers=torch.zeros(2, 2), threshold=0.1) | kwargs
    samples, centers, threshold = args.pop("samples"), args.pop("centers"), args.pop("threshold")
    with pytest.raises(ValueError, match=message):
        mode_count(samples, centers, threshold, **args)


# ------------------------------------------------------------------- what mutation testing left open
def test_kid_and_mmd_defaults_messages_and_two_subsets():
    import inspect

    params = inspect.signature(K.kid).parameters
    assert params["n_subsets"].default == 100 and params["subset_size"].default == 1000  # torch-fidelity's
    assert inspect.signature(K.median_bandwidth).parameters["max_points"].default == 2000
    x, y = sample(1, 20, 3), sample(2, 20, 3, 0.5)
    mean, std = K.kid(x, y, n_subsets=2, subset_size=5)
    assert std > 0  # two subsets: their spread (ddof 0), not 0
    with pytest.raises(ValueError, match=r"subset_size must be >= 2 for the unbiased MMD, got 1"):
        K.kid(x, y, subset_size=1)
    with pytest.raises(ValueError, match=r"subset_size must be a positive integer, got 0"):
        K.kid(x, y, subset_size=0)
    with pytest.raises(
        ValueError, match=r"features_real must have shape \(n, d\) \(one feature vector per row\), got \(20,\)"
    ):
        K.kid(x[:, 0], y)
    with pytest.raises(TypeError, match=r"features_fake must be a torch.Tensor of shape \(n, d\), got list"):
        K.kid(x, [[0.0]])
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor, got dtype torch.int64"):
        K.mmd(x.long(), y)
    with pytest.raises(TypeError, match=r"unbiased must be True or False, got 1"):
        K.mmd(x, y, unbiased=1)
    with pytest.raises(ValueError, match=r"x and y must hold at least one sample each, got 0 and 20"):
        K.mmd(x[:0], y, unbiased=False)
    with pytest.raises(ValueError, match=r"path must end in .npz \(pytorch-fid's statistics layout\), got 's.txt'"):
        F.save_statistics("s.txt", ZERO, EYE)


def test_a_real_point_exactly_on_a_fake_k_nn_radius_is_covered():
    """Recall uses closed balls too: ||r - f|| <= radius(f)."""
    real = torch.tensor([[0.0], [4.0]], dtype=torch.float64)
    fake = torch.tensor([[0.0], [2.0]], dtype=torch.float64)  # k=1 radii 2 and 2: the real 4 lies on the second
    assert M.precision_recall(real, fake, 1) == (1.0, 1.0)
    assert M.precision_recall(real + torch.tensor([[0.0], [1e-9]], dtype=torch.float64), fake, 1)[1] == 0.5
