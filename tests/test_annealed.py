import math

import pytest
import torch

from gentoolkit.data import toy2d
from gentoolkit.data.toy2d import Mixture2D
from gentoolkit.metrics import effective_noise
from gentoolkit.sampling import (
    als,
    als_noise_std,
    cas,
    cas_betas,
    dilate_sigmas,
    eds,
    geometric_sigmas,
)
from tests.conftest import DEVICES


def point_mass(x, sigma):
    """The exact score of a point mass at 0 smoothed by sigma: -x / sigma^2, any shape."""
    return -x / sigma.reshape(-1, *([1] * (x.ndim - 1))) ** 2


def g(seed=0):
    return torch.Generator().manual_seed(seed)


N, D = 20_000, 2
SIGMAS = geometric_sigmas(5.0, 0.05, 10)


def rms(x):  # per-coordinate std of a zero-mean sample
    return x.double().pow(2).mean().sqrt().item()


def tol(v):  # 5 standard errors of an RMS estimate from N * D numbers
    return 5 * v / math.sqrt(2 * N * D)


def test_geometric_sigmas():
    s = geometric_sigmas(10.0, 0.01, 4)
    torch.testing.assert_close(s, torch.tensor([10.0, 1.0, 0.1, 0.01], dtype=torch.float64))
    with pytest.raises(ValueError, match="sigma_max must be > sigma_min"):
        geometric_sigmas(0.1, 1.0, 5)
    with pytest.raises(ValueError, match="n must be >= 2"):
        geometric_sigmas(1.0, 0.1, 1)


def test_dilate_keeps_ends_and_geometry():
    d = dilate_sigmas(SIGMAS, 3)
    assert len(d) == (10 - 1) * 3 + 1 and d[0] == SIGMAS[0] and d[-1] == SIGMAS[-1]
    torch.testing.assert_close(d[::3], SIGMAS)
    ratio = d[1:] / d[:-1]
    torch.testing.assert_close(ratio, torch.full_like(ratio, (0.01) ** (1 / 27)))


@pytest.mark.parametrize("eps_frac", [0.5, 0.8, 1.0, 1.2])
def test_cas_follows_the_schedule_exactly(eps_frac):
    # Prop. 2: starting at sigma_1 z, after level i the std is sigma_{i+1}; after the last
    # level (no noise) it is (1 - eta) sigma_L; the EDS of a point mass is exactly 0.
    s_L = SIGMAS[-1].item()
    gamma = (SIGMAS[1] / SIGMAS[0]).item()
    eps = s_L**2 * (1 - gamma) + eps_frac * s_L**2 * gamma  # inside the valid range
    eta = eps / s_L**2
    stds = []
    x0 = SIGMAS[0].item() * torch.randn(N, D, generator=g(1), dtype=torch.float64)
    out = cas(point_mass, x0, SIGMAS, eps, denoise=False, generator=g(2), callback=lambda i, s, x: stds.append(rms(x)))
    expected = SIGMAS[1:].tolist() + [abs(1 - eta) * s_L]
    for i, (m, e) in enumerate(zip(stds, expected)):
        assert abs(m - e) < tol(e) + 1e-12, (i, m, e)
    assert eds(point_mass, out, s_L).abs().max() < 1e-12


@pytest.mark.parametrize("eps", [1e-4, 5e-4, 2e-3])
@pytest.mark.parametrize("n_each", [1, 5, 50])
def test_als_noise_follows_prop1_recursion_and_limit(eps, n_each):
    # App. C.6: v_n^2 = v_0^2 (1-eta)^{2n} + 2 sigma^2/(2-eta) (1 - (1-eta)^{2n}), and the
    # limit sigma_i sqrt(2 / (2 - eta)) > sigma_i.
    stds = []
    x0 = SIGMAS[0].item() * torch.randn(N, D, generator=g(3), dtype=torch.float64)
    als(
        point_mass, x0, SIGMAS, eps, n_each, denoise=False, generator=g(4), callback=lambda i, s, x: stds.append(rms(x))
    )
    predicted = als_noise_std(SIGMAS, eps, n_each, v0=SIGMAS[0].item())
    for m, p, s in zip(stds, predicted.tolist(), SIGMAS.tolist()):
        assert abs(m - p) < tol(p), (m, p)
        assert p > s  # Prop. 1: always above the schedule
    eta = eps / SIGMAS[-1].item() ** 2
    if n_each == 50 and eta > 0.1:  # converged: at the limit
        limit = SIGMAS * math.sqrt(2 / (2 - eta))
        torch.testing.assert_close(predicted[2:], limit[2:], rtol=1e-3, atol=0)


def test_als_noise_std_closed_form_small_case():
    # one level, one step: v1^2 = v0^2 (1-eta)^2 + 2 eta sigma^2
    v = als_noise_std([2.0], eps=0.4, n_steps_each=1, v0=3.0)  # eta = 0.1
    assert v.item() == pytest.approx(math.sqrt(9 * 0.81 + 2 * 0.1 * 4))
    with pytest.raises(ValueError, match="ALS diverges"):
        als_noise_std([1.0], eps=2.5, n_steps_each=1, v0=1.0)


@pytest.mark.parametrize("sampler", ["als", "cas"])
def test_prop3_interpolation_form_gives_the_same_iterates(sampler):
    mix = toy2d.get("8gaussians")
    x0 = SIGMAS[0].item() * torch.randn(500, 2, generator=g(5), dtype=torch.float64)
    traces = {}
    for form in ("score", "eds"):
        seen = []
        kw = dict(denoise=True, generator=g(6), form=form, callback=lambda i, s, x, seen=seen: seen.append(x.clone()))
        if sampler == "als":
            out = als(mix.score, x0, SIGMAS, 1e-3, 3, **kw)
        else:
            out = cas(mix.score, x0, SIGMAS, 2e-3, **kw)
        traces[form] = (seen, out)
    for a, b in zip(traces["score"][0], traces["eds"][0]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(traces["score"][1], traces["eds"][1], rtol=1e-9, atol=1e-9)


def test_eds_is_the_posterior_mean_for_a_gaussian():
    # data N(m, s^2 I): E[x | x~] = m + s^2 / (s^2 + sigma^2) (x~ - m)
    mix = Mixture2D([[1.0, -1.0]], 0.5)
    x = torch.randn(10, 2, generator=g(7), dtype=torch.float64)
    m = torch.tensor([1.0, -1.0], dtype=torch.float64)
    torch.testing.assert_close(eds(mix.score, x, 0.3), m + 0.25 / (0.25 + 0.09) * (x - m))
    per = eds(mix.score, x, torch.full((10,), 0.3, dtype=torch.float64))
    torch.testing.assert_close(per, eds(mix.score, x, 0.3))


def test_denoise_returns_eds_of_the_last_sample_and_images_work():
    x0 = 5.0 * torch.randn(64, 1, 4, 4, generator=g(8), dtype=torch.float64)
    raw = als(point_mass, x0, SIGMAS, 1e-3, 2, denoise=False, generator=g(9))
    den = als(point_mass, x0, SIGMAS, 1e-3, 2, denoise=True, generator=g(9))
    torch.testing.assert_close(den, eds(point_mass, raw, SIGMAS[-1].item()))
    assert den.shape == (64, 1, 4, 4) and den.abs().max() < 1e-12


def test_samplers_reach_the_mixture_with_the_exact_score():
    mix = toy2d.get("8gaussians")
    x0 = 5.0 * torch.randn(4000, 2, generator=g(10), dtype=torch.float64)
    eps = 2e-4
    for name, out in (
        ("ALS", als(mix.score, x0, SIGMAS, eps, 20, generator=g(11))),
        ("CAS", cas(mix.score, x0, dilate_sigmas(SIGMAS, 10), eps, generator=g(11))),
    ):
        # every point ends near a mode, and the 8 modes are equally used
        d = torch.cdist(out.double(), mix.means)
        assert (d.min(1).values < 4 * 0.25).float().mean() > 0.97, name
        counts = torch.bincount(d.argmin(1), minlength=8).double()
        assert (counts / 4000 - 1 / 8).abs().max() < 0.04, name
    # CAS's noise is exactly (1 - eta) sigma_L after the last level (Prop. 2), so without
    # denoising each mode's spread is sqrt(std^2 + ((1 - eta) sigma_L)^2) (the modes are 6 stds
    # apart, so mixing between them is negligible). Fails when CAS adds no noise (the samples
    # then contract towards the means) or the wrong amount.
    out = cas(mix.score, x0, dilate_sigmas(SIGMAS, 10), eps, denoise=False, generator=g(11))
    resid = out - mix.means[torch.cdist(out, mix.means).argmin(1)]
    v = (1 - eps / SIGMAS[-1].item() ** 2) * SIGMAS[-1].item()
    expected = math.sqrt(0.25**2 + v**2)
    assert abs(rms(resid) - expected) < 5 * expected / math.sqrt(2 * 4000 * 2), (rms(resid), expected)


def _gaussian_moments(sigmas, eps, mu, s2, m0, v0, n_each=None):
    """Exact per-coordinate mean and variance of ALS (``n_each`` steps per level) or CAS
    (``n_each=None``) on N(mu, s2 I) data with the exact score -(x - mu) / (s2 + sigma^2): every
    update is affine, x <- a x + (1 - a) mu + c z, a = 1 - alpha / (s2 + sigma^2), so
    m <- a m + (1 - a) mu and v <- a^2 v + c^2, with c^2 = 2 alpha (ALS, Alg. 4) or
    (beta_i sigma_{i+1})^2, beta_i^2 = 1 - (1 - eta)^2 / gamma_i^2 (CAS, Alg. 5, App. C.7)."""
    s = sigmas.tolist()
    eta = eps / s[-1] ** 2
    m, v = m0, v0
    for i, sigma in enumerate(s):
        alpha = eta * sigma**2
        a = 1 - alpha / (s2 + sigma**2)
        if n_each is not None:
            for _ in range(n_each):
                m, v = a * m + (1 - a) * mu, a * a * v + 2 * alpha
        else:
            nxt = s[i + 1] if i + 1 < len(s) else 0.0
            c2 = (1 - (1 - eta) ** 2 * sigma**2 / nxt**2) * nxt**2 if nxt else 0.0
            m, v = a * m + (1 - a) * mu, a * a * v + c2
    return m, v


@pytest.mark.parametrize("sampler", ["als", "cas"])
def test_moments_on_gaussian_data_follow_the_exact_affine_recursion(sampler):
    # Unlike the point mass, the data have their own spread s (s2 = 0.16) and a mean away from 0,
    # so the drift's pull (1 - a) and the noise both shape the result. A missing noise term, a
    # beta with (1 - eta) unsquared, or a wrong alpha_i each move the variance by many standard
    # errors. Tolerances: 5 standard errors (mean: sqrt(v / N); variance: v sqrt(2 / N), pooled
    # over the D coordinates for the variance).
    mu, s2, eps = torch.tensor([1.0, -2.0], dtype=torch.float64), 0.16, 5e-3  # eta = 0.5: CAS is valid
    sig = geometric_sigmas(3.0, 0.1, 8)
    x0 = sig[0].item() * torch.randn(N, D, generator=g(30), dtype=torch.float64)

    def score(x, sigma):
        return -(x - mu) / (s2 + sigma[:, None] ** 2)

    if sampler == "als":
        out = als(score, x0, sig, eps, 3, denoise=False, generator=g(31))
        m, v = _gaussian_moments(sig, eps, mu, s2, 0.0, sig[0].item() ** 2, n_each=3)
    else:
        out = cas(score, x0, sig, eps, denoise=False, generator=g(31))
        m, v = _gaussian_moments(sig, eps, mu, s2, 0.0, sig[0].item() ** 2)
    assert ((out.mean(0) - m).abs() < 5 * math.sqrt(v / N)).all(), (out.mean(0), m)
    var = (out - out.mean(0)).pow(2).mean().item()
    assert abs(var - v) < 5 * v * math.sqrt(2 / (N * D)), (var, v)


def test_effective_noise_recovers_the_noise_level():
    mix = toy2d.get("8gaussians", std=0.01)
    for v in (0.05, 0.3, 2.0):
        x = mix.sample(4000, g(12), sigma=v)
        assert abs(effective_noise(mix, x, max_points=4000).item() / v - 1) < 0.05
    point = Mixture2D([[0.0, 0.0]], 1e-4)
    x = 0.7 * torch.randn(3, 4000, 2, generator=g(13), dtype=torch.float64)
    est = effective_noise(point, x, max_points=4000)
    exact = x.pow(2).mean((1, 2)).sqrt()  # the MLE for a point mass is the RMS
    torch.testing.assert_close(est, exact, rtol=5e-3, atol=0)
    near = effective_noise(point, x, center=torch.tensor([0.5, 1.0, 1.5]), max_points=4000)
    torch.testing.assert_close(near, exact, rtol=5e-3, atol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_same_generator_same_samples(device):
    x0 = torch.randn(32, 2, generator=g(14)).to(device)
    a = cas(point_mass, x0, SIGMAS, 2e-3, generator=g(15))
    b = cas(point_mass, x0, SIGMAS, 2e-3, generator=g(15))
    c = als(point_mass, x0, SIGMAS, 1e-3, 2, generator=g(15))
    assert a.device.type == device and torch.equal(a, b) and not torch.equal(a, c)


def test_bad_inputs():
    x = torch.zeros(8, 2)
    with pytest.raises(ValueError, match=r"sigmas must be strictly decreasing, but sigmas\[1\]=1 <= sigmas\[2\]=2"):
        als(point_mass, x, [3.0, 1.0, 2.0], 1e-3, 1)
    with pytest.raises(ValueError, match="sigmas must be a non-empty 1-D tensor"):
        cas(point_mass, x, torch.ones(2, 2), 1e-3)
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got 0.0"):
        als(point_mass, x, SIGMAS, 0.0, 1)
    with pytest.raises(ValueError, match="n_steps_each must be a positive integer, got 0"):
        als(point_mass, x, SIGMAS, 1e-3, 0)
    with pytest.raises(
        ValueError, match=r"score_fn\(x, sigma\) must return a tensor of x's shape \(8, 2\), got \(8, 3\)"
    ):
        cas(lambda x, s: torch.zeros(8, 3), x, SIGMAS, 2e-3)
    with pytest.raises(ValueError, match=r"x must be a floating-point tensor of shape \(n, \.\.\.\)"):
        als(point_mass, torch.zeros(8), SIGMAS, 1e-3, 1)
    with pytest.raises(ValueError, match="form must be 'score'"):
        cas(point_mass, x, SIGMAS, 2e-3, form="prop3")


def test_cas_eps_too_small_names_the_smallest_eps_that_works():
    gamma = (SIGMAS[1] / SIGMAS[0]).item()
    smallest = SIGMAS[-1].item() ** 2 * (1 - gamma)
    with pytest.raises(ValueError, match=f"smallest eps that works: {smallest:.4g}"):
        cas(point_mass, torch.zeros(4, 2), SIGMAS, smallest * 0.9)
    cas_betas(SIGMAS, smallest * 1.0001)  # just above: fine
    betas = cas_betas(SIGMAS, smallest * 1.0001)
    assert betas[-1] == 0 and (betas[:-1] > 0).all()


def test_long_runs_show_a_progress_bar_and_short_ones_do_not(capsys):
    from gentoolkit.sampling import metropolis_hastings

    x0 = torch.randn(8, 2, generator=g(40))
    als(point_mass, x0, SIGMAS, 1e-4, 2, generator=g(41))  # 20 score calls: quiet
    cas(point_mass, x0, SIGMAS, 2e-3, generator=g(41))
    assert "ALS" not in capsys.readouterr().err
    als(point_mass, x0, SIGMAS, 1e-4, 40, generator=g(41))  # 400 calls: a bar over the levels
    assert "ALS" in capsys.readouterr().err
    als(point_mass, x0, SIGMAS, 1e-4, 40, generator=g(41), progress=False)
    cas(point_mass, x0, SIGMAS, 2e-3, generator=g(41), progress=True)
    err = capsys.readouterr().err
    assert "ALS" not in err and "CAS:" in err and "/10" in err
    metropolis_hastings(lambda x: -x.pow(2).sum(1), x0, 0.5, 500, generator=g(42))
    assert "MH" in capsys.readouterr().err
    with pytest.raises(TypeError, match="progress must be True, False or None"):
        cas(point_mass, x0, SIGMAS, 2e-3, progress="yes")


def test_cas_replayed_by_hand():
    """Alg. 5 written out for three levels on float64 data with a nonlinear score, bit for bit:
    x <- x + eta sigma_i^2 s(x, sigma_i) + beta_i sigma_{i+1} z, no noise and no draw after
    the last level (the generator is left as after L - 1 draws), then the EDS by default.
    Catches the default denoise, an extra draw at the last level and the score form running
    through the EDS (Prop. 3: the same iterates, but not the same rounding)."""

    def score(x, sigma):
        return -x / (1 + sigma[:, None] ** 2) + 0.1 * torch.sin(3 * x)

    sig = [1.0, 0.6, 0.3]
    eps = 0.06
    x0 = torch.randn(16, 2, generator=g(50), dtype=torch.float64)
    seen, gen = [], g(51)
    out = cas(
        score,
        x0,
        torch.tensor(sig, dtype=torch.float64),
        eps,
        generator=gen,
        callback=lambda i, s, x: seen.append((i, s, x)),
    )
    eta = eps / sig[-1] ** 2
    beta = [math.sqrt(1 - (1 - eta) ** 2 / (sig[i + 1] / sig[i]) ** 2) for i in range(2)]
    hand, x = g(51), x0
    for i, s in enumerate(sig):
        x = x + eta * s**2 * score(x, torch.full((16,), s, dtype=torch.float64))
        if i < 2:
            x = x + beta[i] * sig[i + 1] * torch.randn(16, 2, generator=hand, dtype=torch.float64)
        assert seen[i][:2] == (i, s) and torch.equal(seen[i][2], x)
    assert torch.equal(out, x + sig[-1] ** 2 * score(x, torch.full((16,), sig[-1], dtype=torch.float64)))
    assert torch.equal(gen.get_state(), hand.get_state())
    assert torch.equal(cas(score, x0, torch.tensor(sig, dtype=torch.float64), eps, generator=g(51), denoise=False), x)


def test_cas_counts_one_score_call_per_level_for_its_bar(capsys):
    """progress=None shows a bar past 300 score calls: CAS makes one per level."""
    x0 = torch.randn(4, 2, generator=g(52), dtype=torch.float64)
    cas(point_mass, x0, geometric_sigmas(5.0, 0.05, 300), 1e-3, generator=g(53), denoise=False)
    assert capsys.readouterr().err == ""
    cas(point_mass, x0, geometric_sigmas(5.0, 0.05, 301), 1e-3, generator=g(53), denoise=False)
    assert "CAS" in capsys.readouterr().err
