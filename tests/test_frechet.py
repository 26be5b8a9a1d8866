"""The Fréchet distance against pytorch-fid's formula (scipy.linalg.sqrtm of the product, 1e-6
on the diagonals when that is not finite), on random, rank-deficient and known covariances;
statistics files; FID-MNIST; bad inputs."""

import warnings

import numpy as np
import pytest
import torch
from scipy import linalg

from gentoolkit.metrics import frechet as F
from gentoolkit.metrics.digits import fid_mnist


def reference(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid's calculate_frechet_distance, written from its published formula."""
    diff = mu1 - mu2
    with warnings.catch_warnings():  # scipy warns on the singular products this test is about
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def random_cov(rng, d, rank=None):
    a = rng.standard_normal((d, rank or d + 3)) * rng.uniform(0.2, 3.0, size=(d, 1))
    return a @ a.T / a.shape[1]


@pytest.mark.parametrize("d", [1, 2, 5, 32, 64])
def test_matches_scipy_reference_on_random_covariances(d):
    rng = np.random.default_rng(d)
    for _ in range(3):
        mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
        s1, s2 = random_cov(rng, d), random_cov(rng, d)
        got, want = F.frechet_distance(mu1, s1, mu2, s2), reference(mu1, s1, mu2, s2)
        assert got == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("rank1,rank2", [(3, 10), (10, 4), (5, 5), (1, 2)])
def test_matches_scipy_reference_on_rank_deficient_covariances(rank1, rank2):
    """Covariances of 10 features from fewer samples than features: singular products, where
    pytorch-fid's sqrtm can be non-finite or complex and its offset applies."""
    rng = np.random.default_rng(rank1 * 31 + rank2)
    d = 10
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = random_cov(rng, d, rank1), random_cov(rng, d, rank2)
    got, want = F.frechet_distance(mu1, s1, mu2, s2), reference(mu1, s1, mu2, s2)
    assert got == pytest.approx(want, rel=1e-6, abs=1e-6)


def test_closed_forms():
    """Commuting covariances: tr((S1 S2)^1/2) = sum sqrt(a_i b_i), so d^2 = |dmu|^2 +
    sum (sqrt a_i - sqrt b_i)^2; a factor 2 or a sign on the cross term would show."""
    a, b = np.array([4.0, 1.0, 9.0]), np.array([1.0, 4.0, 0.25])
    mu1, mu2 = np.array([1.0, 0.0, 2.0]), np.array([0.0, 3.0, 2.0])
    want = 1 + 9 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert F.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(want, rel=1e-12)
    # rotated: not diagonal, still commuting
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))
    got = F.frechet_distance(q @ mu1, q @ np.diag(a) @ q.T, q @ mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(want, rel=1e-10)
    # 1D: (m1 - m2)^2 + (s1 - s2)^2, the W2 distance of two normals
    assert F.frechet_distance([0.5], [[4.0]], [2.0], [[0.25]]) == pytest.approx(1.5**2 + 1.5**2)
    # identical Gaussians, also singular ones: 0
    s = random_cov(np.random.default_rng(1), 6, rank=2)
    assert F.frechet_distance(np.ones(6), s, np.ones(6), s) == pytest.approx(0.0, abs=1e-10)


def test_fid_of_features_uses_the_unbiased_covariance_and_a_set_against_itself_is_zero():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 8, generator=g, dtype=torch.float64) @ torch.randn(8, 8, generator=g, dtype=torch.float64)
    y = 0.5 + torch.randn(300, 8, generator=g, dtype=torch.float64)
    mu, sigma = F.feature_statistics(x)
    np.testing.assert_allclose(sigma.numpy(), np.cov(x.numpy(), rowvar=False), rtol=1e-12)
    np.testing.assert_allclose(mu.numpy(), x.numpy().mean(0), rtol=1e-12)
    assert F.fid(x, x) == pytest.approx(0.0, abs=1e-9)
    xs, ys = x.numpy(), y.numpy()
    ref = reference(xs.mean(0), np.cov(xs, rowvar=False), ys.mean(0), np.cov(ys, rowvar=False))
    assert F.fid(x, y) == pytest.approx(ref, rel=1e-6)
    assert F.fid(x.float(), y.float()) == pytest.approx(ref, rel=1e-4)


def test_statistics_files_round_trip_in_pytorch_fid_layout(tmp_path):
    rng = np.random.default_rng(2)
    mu, sigma = rng.standard_normal(4), random_cov(rng, 4)
    path = F.save_statistics(tmp_path / "sub" / "ref.npz", mu, sigma)
    with np.load(path) as data:
        assert sorted(data.files) == ["mu", "sigma"]
    mu2, sigma2 = F.load_statistics(path)
    np.testing.assert_array_equal(mu2, mu)
    np.testing.assert_array_equal(sigma2, sigma)
    assert [p.name for p in path.parent.iterdir()] == ["ref.npz"]  # no temporary file left
    np.savez(tmp_path / "bad.npz", mu=mu, cov=sigma)
    with pytest.raises(ValueError, match=r"'mu' and 'sigma'.*missing \['sigma'\]"):
        F.load_statistics(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError, match="none.npz"):
        F.load_statistics(tmp_path / "none.npz")
    with pytest.raises(ValueError, match="must end in .npz"):
        F.save_statistics(tmp_path / "ref.npy", mu, sigma)


def test_fid_mnist_separates_digits_from_noise_and_from_other_digits():
    from gentoolkit.data.images import MNIST, find_root

    try:
        mnist = MNIST(find_root(), split="test")
    except (FileNotFoundError, OSError):
        pytest.skip("no MNIST files here")
    ones = mnist.batch(torch.nonzero(mnist.targets == 1)[:300, 0])[0]
    x = mnist.batch(torch.arange(0, 600))[0]
    y = mnist.batch(torch.arange(600, 1200))[0]
    sevens = mnist.batch(torch.nonzero(mnist.targets == 7)[:300, 0])[0]
    noise = torch.rand(600, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    same = fid_mnist(x, y)
    assert same < fid_mnist(x, ones) and same < fid_mnist(x, sevens) and same < fid_mnist(x, noise)
    assert fid_mnist(x, x) == pytest.approx(0.0, abs=1e-6)


def test_fid_mnist_is_the_frechet_distance_of_the_classifiers_features():
    """fid_mnist against numpy/scipy on the classifier's 64-d features (ddof 1 covariances, the trace term from
    eigenvalues), whatever the batch size that features are computed in; it takes (n, 28, 28), (n, 784)
    and (n, 1, 32, 32) images as the same digits, and names the argument that is wrong."""
    from gentoolkit.data.images import MNIST, find_root
    from gentoolkit.metrics.digits import load_digit_classifier

    try:
        mnist = MNIST(find_root(), split="test")
    except (FileNotFoundError, OSError):
        pytest.skip("no MNIST files here")
    c = load_digit_classifier("cpu")
    x = mnist.batch(torch.arange(150))[0]
    y = mnist.batch(torch.nonzero(mnist.targets >= 5)[:130, 0])[0]  # another distribution: digits 5-9
    with torch.no_grad():
        fx, fy = (c.features(v).double().numpy() for v in (x, y))
    m1, m2 = fx.mean(0), fy.mean(0)
    s1, s2 = np.cov(fx, rowvar=False), np.cov(fy, rowvar=False)
    # tr((s1 s2)^(1/2)) as the sum of the square roots of the eigenvalues of s1 s2 (real and >= 0 for
    # PSD s1, s2; some of these ReLU features are always 0, so the covariances are singular)
    root = np.sqrt(np.linalg.eigvals(s1 @ s2).real.clip(0)).sum()
    ref = ((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * root
    assert ref > 1.0
    got = fid_mnist(x, y, c)
    assert got == pytest.approx(ref, rel=1e-4)
    assert fid_mnist(x, y, c, batch_size=7) == pytest.approx(got, rel=1e-6)  # 150 = 21 * 7 + 3
    assert fid_mnist(x, y) == pytest.approx(got, rel=1e-6)  # the default classifier is the committed one
    padded = torch.nn.functional.pad(y, (2, 2, 2, 2), value=-1.0)
    assert fid_mnist(x[:, 0], padded, c) == pytest.approx(got, rel=1e-6)
    assert fid_mnist(x.reshape(150, 784), y, c) == pytest.approx(got, rel=1e-6)
    with pytest.raises(ValueError, match=r"^images_real must have shape"):
        fid_mnist(x[..., :27], y, c)
    with pytest.raises(TypeError, match=r"^images_fake must be a torch.Tensor, got list$"):
        fid_mnist(x, [1.0], c)


def test_bad_inputs_name_the_argument():
    s = np.eye(3)
    with pytest.raises(ValueError, match=r"mu2 must have 3 features like mu1, got 2"):
        F.frechet_distance(np.zeros(3), s, np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match=r"sigma2 must have shape \(3, 3\)"):
        F.frechet_distance(np.zeros(3), s, np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="sigma1 must be a symmetric"):
        F.frechet_distance(np.zeros(3), np.triu(np.ones((3, 3))), np.zeros(3), s)
    with pytest.raises(ValueError, match="sigma2 must be positive semi-definite"):
        F.frechet_distance(np.zeros(3), s, np.zeros(3), -s)
    with pytest.raises(ValueError, match="mu1 must be finite"):
        F.frechet_distance(np.array([0.0, np.nan, 0.0]), s, np.zeros(3), s)
    with pytest.raises(TypeError, match="mu1 must be a torch.Tensor or a numpy array, got str"):
        F.frechet_distance("0", s, np.zeros(3), s)
    with pytest.raises(TypeError, match="mu1 must be a torch.Tensor, a numpy array or a nested list of numbers"):
        F.frechet_distance(["a", 0.0, 0.0], s, np.zeros(3), s)
    with pytest.raises(ValueError, match=r"features must hold at least 2 samples.*got 1"):
        F.feature_statistics(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="same number of features, got 4 and 5"):
        F.fid(torch.zeros(3, 4), torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"features_fake must have shape \(n, d\)"):
        F.fid(torch.zeros(3, 4), torch.zeros(3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    rng = np.random.default_rng(3)
    mu1, mu2, s1, s2 = rng.standard_normal(16), rng.standard_normal(16), random_cov(rng, 16), random_cov(rng, 16)
    cpu = F.frechet_distance(mu1, s1, mu2, s2)
    t = [torch.from_numpy(v).cuda() for v in (mu1, s1, mu2, s2)]
    assert F.frechet_distance(*t) == pytest.approx(cpu, rel=1e-9)
