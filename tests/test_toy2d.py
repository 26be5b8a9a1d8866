import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from gentoolkit.data import toy2d
from gentoolkit.data.toy2d import Mixture2D
from tests.conftest import DEVICES

SIGMAS = [0.0, 0.05, 0.3, 1.0, 4.0]


@pytest.mark.parametrize("name", toy2d.names())
@pytest.mark.parametrize("sigma", SIGMAS)
def test_score_is_autograd_of_log_prob(name, sigma):
    mix = toy2d.get(name)
    x = mix.sample(256, torch.Generator().manual_seed(1), sigma=0.5).double().requires_grad_(True)
    (auto,) = torch.autograd.grad(mix.log_prob(x, sigma).sum(), x)
    torch.testing.assert_close(mix.score(x.detach(), sigma), auto, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", toy2d.names())
def test_per_sample_sigma_matches_float_sigma(name):
    mix = toy2d.get(name)
    x = mix.sample(5, torch.Generator().manual_seed(2), sigma=0.3).double()
    sig = torch.tensor([0.0, 0.01, 0.2, 1.0, 3.0], dtype=torch.float64)
    lp, sc = mix.log_prob(x, sig), mix.score(x, sig)
    for i, s in enumerate(sig.tolist()):
        torch.testing.assert_close(lp[i], mix.log_prob(x[i : i + 1], s)[0])
        torch.testing.assert_close(sc[i], mix.score(x[i : i + 1], s)[0])
    xr = x.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(mix.log_prob(xr, sig).sum(), xr)
    torch.testing.assert_close(sc, auto)


def test_log_prob_matches_scipy():
    g = torch.Generator().manual_seed(3)
    means = torch.randn(4, 2, generator=g, dtype=torch.float64) * 2
    stds = torch.tensor([0.3, 0.5, 1.0, 0.2], dtype=torch.float64)
    w = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    mix = Mixture2D(means, stds, w)
    x = torch.randn(50, 2, generator=g, dtype=torch.float64) * 2
    for sigma in (0.0, 0.7):
        ref = sum(
            w[k].item()
            * multivariate_normal(means[k].numpy(), (stds[k].item() ** 2 + sigma**2) * np.eye(2)).pdf(x.numpy())
            for k in range(4)
        )
        np.testing.assert_allclose(mix.log_prob(x, sigma).numpy(), np.log(ref), rtol=1e-10)


@pytest.mark.parametrize("name", ["8gaussians", "moons"])
@pytest.mark.parametrize("sigma", [0.0, 0.5])
def test_density_integrates_to_one(name, sigma):
    mix = toy2d.get(name)
    b = mix.bounds(margin=8, sigma=sigma)
    n = 600
    xs = torch.linspace(b[0], b[1], n, dtype=torch.float64)
    ys = torch.linspace(b[2], b[3], n, dtype=torch.float64)
    xx, yy = torch.meshgrid(xs, ys, indexing="ij")
    p = mix.prob(torch.stack([xx.flatten(), yy.flatten()], 1), sigma)
    area = (xs[1] - xs[0]) * (ys[1] - ys[0])
    assert abs((p.sum() * area).item() - 1) < 1e-3


def test_stable_far_from_data():
    mix = toy2d.get("8gaussians")
    x = torch.tensor([[1e3, -1e3], [50.0, 0.0]])
    lp, sc = mix.log_prob(x), mix.score(x)
    assert torch.isfinite(lp).all() and torch.isfinite(sc).all()
    # far away the mixture looks like one Gaussian at the nearest mean: score ~ -(x - mu) / std^2
    mu = torch.tensor([2.0, 0.0])
    torch.testing.assert_close(sc[1], -(x[1] - mu) / 0.25**2, rtol=1e-3, atol=1e-3)
    assert lp[0] < -1e6


@pytest.mark.parametrize("name", toy2d.names())
@pytest.mark.parametrize("sigma", [0.0, 0.5])
def test_sample_moments_match_mixture(name, sigma):
    mix = toy2d.get(name)
    n = 200_000
    x = mix.sample(n, torch.Generator().manual_seed(4), sigma=sigma).double()
    cov = mix.cov(sigma)
    se = torch.sqrt(torch.diagonal(cov) / n)  # standard error of the mean
    assert ((x.mean(0) - mix.mean()).abs() < 5 * se).all()
    # sample covariance within 5 standard errors (fourth moments estimated from the sample)
    xc = x - x.mean(0)
    emp = xc.T @ xc / (n - 1)
    prod = xc[:, :, None] * xc[:, None, :]
    se_cov = prod.std(0) / math.sqrt(n)
    assert ((emp - cov).abs() < 5 * se_cov + 1e-12).all(), (emp, cov)


def test_moments_closed_form_small_case():
    mix = Mixture2D([[0.0, 0.0], [2.0, 0.0]], [1.0, 0.5], [0.25, 0.75])
    assert torch.allclose(mix.mean(), torch.tensor([1.5, 0.0], dtype=torch.float64))
    # var_x = E[v] + Var(mu_x) = (0.25 * 1 + 0.75 * 0.25) + 0.25 * 0.75 * 4 ; var_y = E[v]
    ev = 0.25 * 1.0 + 0.75 * 0.25
    expected = torch.tensor([[ev + 0.75, 0.0], [0.0, ev]], dtype=torch.float64)
    torch.testing.assert_close(mix.cov(), expected)
    torch.testing.assert_close(mix.cov(0.5), expected + 0.25 * torch.eye(2, dtype=torch.float64))


def test_same_generator_same_samples():
    mix = toy2d.get("swissroll")
    a = mix.sample(100, torch.Generator().manual_seed(7))
    b = mix.sample(100, torch.Generator().manual_seed(7))
    c = mix.sample(100, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (100, 2) and a.dtype == torch.float32


def test_weights_are_respected():
    mix = Mixture2D([[-10.0, 0.0], [10.0, 0.0]], 0.1, [0.2, 0.8])
    x = mix.sample(100_000, torch.Generator().manual_seed(0))
    frac = (x[:, 0] > 0).double().mean().item()
    assert abs(frac - 0.8) < 5 * math.sqrt(0.16 / 100_000)


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_device_in_input_dtype(device):
    mix = toy2d.get("ring")
    x = mix.sample(64, torch.Generator().manual_seed(0)).to(device)
    lp, sc = mix.log_prob(x, 0.2), mix.score(x, torch.full((64,), 0.2, device=device))
    assert lp.device.type == device and sc.device.type == device and sc.dtype == torch.float32
    torch.testing.assert_close(sc.cpu().double(), mix.score(x.cpu().double(), 0.2), rtol=1e-4, atol=1e-4)


def test_names_and_get():
    assert toy2d.names() == ["8gaussians", "25gaussians", "ring", "moons", "swissroll", "checkerboard"]
    assert toy2d.get("8gaussians", std=0.1).stds[0].item() == pytest.approx(0.1)
    assert toy2d.get("25gaussians").n_components == 25


def test_shapes_are_smooth_chains():
    # component spacing <= 2 std along the chains, so the shapes look continuous
    for name in ("ring", "moons", "swissroll"):
        mix = toy2d.get(name)
        d = torch.cdist(mix.means, mix.means)
        d.fill_diagonal_(float("inf"))
        assert d.min(1).values.max() <= 2 * mix.stds.max() + 1e-9, name


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(means=[[0.0, 0.0, 0.0]], stds=1.0), r"means must have shape \(K, 2\)"),
        (dict(means=[0.0, 0.0], stds=1.0), r"means must have shape \(K, 2\)"),
        (dict(means=[[0.0, 0.0]], stds=0.0), "stds must all be finite and > 0"),
        (dict(means=[[0.0, 0.0]], stds=-1.0), "stds must all be finite and > 0"),
        (dict(means=[[0.0, 0.0], [1.0, 1.0]], stds=[1.0, 1.0, 1.0]), r"stds must be a number or have shape \(2,\)"),
        (dict(means=[[0.0, 0.0], [1.0, 1.0]], stds=1.0, weights=[1.2, -0.2]), "weights must be non-negative"),
        (dict(means=[[0.0, 0.0], [1.0, 1.0]], stds=1.0, weights=[0.5, 0.6]), "weights must sum to 1, got sum 1.1"),
        (dict(means=[[0.0, 0.0], [1.0, 1.0]], stds=1.0, weights=[1.0]), r"weights must have shape \(2,\)"),
    ],
)
def test_bad_mixture_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Mixture2D(**kwargs)


def test_bad_call_arguments():
    mix = toy2d.get("8gaussians")
    with pytest.raises(ValueError, match="unknown toy2d dataset name='9gaussians'; expected one of"):
        toy2d.get("9gaussians")
    with pytest.raises(TypeError, match="toy2d.get"):
        toy2d.get("ring", radius_typo=1)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\), got \(3, 3\)"):
        mix.score(torch.zeros(3, 3))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        mix.log_prob([[0.0, 0.0]])
    with pytest.raises(ValueError, match="sigma must be a finite float >= 0, got -0.1"):
        mix.score(torch.zeros(3, 2), -0.1)
    with pytest.raises(
        ValueError, match=r"sigma must be a float or a 1-D tensor with one entry per sample \(shape \(3,\)\)"
    ):
        mix.log_prob(torch.zeros(3, 2), torch.ones(4))
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        mix.sample(0)
    with pytest.raises(ValueError, match="sigma must be a finite float >= 0"):
        mix.sample(3, sigma=-1.0)


def test_cov_is_exact_in_float64_and_names_sigma():
    """sum_k w_k ((s_k^2 + sigma^2) I + mu_k mu_k^T) - m m^T to float64 precision (stds of 0.1
    are not float32 numbers, so any float32 factor, e.g. an identity built without a dtype,
    misses by ~1e-9); the bad sigma is named."""
    means = [[0.0, 1.0], [2.0, -1.0], [-1.5, 0.5]]
    stds, weights = [0.1, 0.3, 0.7], [0.2, 0.5, 0.3]
    mix = Mixture2D(means, stds, weights)
    mu, w, s = np.array(means), np.array(weights), np.array(stds)
    m = w @ mu
    for sigma in (0.0, 0.45):
        ref = (w @ (s**2 + sigma**2)) * np.eye(2) + np.einsum("k,ki,kj->ij", w, mu, mu) - np.outer(m, m)
        np.testing.assert_allclose(mix.cov(sigma).numpy(), ref, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="^sigma must be a finite float >= 0, got -1"):
        mix.cov(-1)


def test_prob_defaults_to_the_data_density():
    """prob(x) without sigma is the unsmoothed density: one N(0, 0.5^2 I) has 1 / (2 pi 0.25)
    at its mean."""
    mix = Mixture2D([[0.0, 0.0]], 0.5)
    assert mix.prob(torch.zeros(1, 2, dtype=torch.float64)).item() == pytest.approx(1 / (2 * math.pi * 0.25), rel=1e-12)


def test_builders_are_named_by_their_registry_key():
    for name in toy2d.names():
        assert toy2d.get(name).name == name


def test_grid_names_a_bad_n():
    with pytest.raises(ValueError, match="^n must be a positive integer, got 0"):
        toy2d.grid((0.0, 1.0, 0.0, 1.0), 0)


def _rows(t):
    return sorted(map(tuple, t.tolist()))


def test_twentyfive_gaussians_is_a_5x5_grid_of_equal_modes():
    """Means exactly spacing * (i, j), i, j in -2..2, in float64 (0.3 is not a float32 number,
    so a grid built in float32 misses by ~1e-8); spacing 1 and std 0.1 by default; weights 1/25."""
    mix = toy2d.twentyfive_gaussians()
    assert _rows(mix.means) == [(float(i), float(j)) for i in range(-2, 3) for j in range(-2, 3)]
    assert mix.stds.tolist() == [0.1] * 25
    torch.testing.assert_close(mix.weights, torch.full((25,), 1 / 25, dtype=torch.float64), rtol=0, atol=1e-15)
    mix = toy2d.twentyfive_gaussians(spacing=0.3, std=0.2)
    assert _rows(mix.means) == [(0.3 * i, 0.3 * j) for i in range(-2, 3) for j in range(-2, 3)]
    assert mix.stds.tolist() == [0.2] * 25


def test_swissroll_follows_the_spiral_r_equals_t_over_five():
    """The documented spiral r = t, t in [1.5 pi, 4.5 pi], scaled by 1/5: its two ends are the
    first and last means to float64 precision, every mean lies within 1e-5 of it (the chain is
    resampled from a 2000-point polyline, whose chords miss the spiral by ~8e-6), consecutive
    means are the given spacing apart (to 1e-3: the chain's length is rounded to whole steps),
    and the std is 0.1 by default."""
    mix = toy2d.swissroll()
    mu = mix.means
    for t, end in ((1.5 * math.pi, mu[0]), (4.5 * math.pi, mu[-1])):
        ref = torch.tensor([t * math.cos(t), t * math.sin(t)], dtype=torch.float64) / 5
        torch.testing.assert_close(end, ref, rtol=0, atol=1e-12)
    r, theta = 5 * mu.norm(dim=1), torch.atan2(mu[:, 1], mu[:, 0])
    turns = (r - theta) / (2 * math.pi)  # r = t and theta = t mod 2 pi: a whole number of turns
    assert ((turns - turns.round()).abs() * 2 * math.pi / 5 < 1e-5).all()
    assert ((r > 1.5 * math.pi - 1e-9) & (r < 4.5 * math.pi + 1e-9)).all()
    gaps = (mu[1:] - mu[:-1]).norm(dim=1)
    assert ((gaps - 0.15).abs() < 1e-3).all()
    assert ((toy2d.swissroll(spacing=0.1).means.diff(dim=0).norm(dim=1) - 0.1).abs() < 1e-3).all()
    assert mix.stds.tolist() == [0.1] * mix.n_components


def test_checkerboard_tiles_the_eight_filled_squares_with_cell_centres():
    """The documented geometry: per_side^2 components at the cell centres ((a + 1/2) / per_side,
    (b + 1/2) / per_side) of each filled unit square [i, i + 1] x [j, j + 1], i + j even, of
    [-2, 2]^2, equal weights; std 0.12 and per_side 4 by default. per_side = 3 gives centres
    that are not float32 numbers, so a float32 construction misses by ~1e-8."""
    filled = [(-2, -2), (-2, 0), (-1, -1), (-1, 1), (0, -2), (0, 0), (1, -1), (1, 1)]
    for per_side, mix in ((4, toy2d.checkerboard()), (3, toy2d.checkerboard(per_side=3))):
        assert mix.n_components == 8 * per_side**2
        corner = mix.means.floor()
        assert sorted(set(_rows(corner))) == sorted((float(i), float(j)) for i, j in filled)
        centres = torch.tensor(
            [((a + 0.5) / per_side, (b + 0.5) / per_side) for a in range(per_side) for b in range(per_side)],
            dtype=torch.float64,
        )
        for c in filled:
            inside = (corner == torch.tensor(c, dtype=torch.float64)).all(1)
            offsets = mix.means[inside] - torch.tensor(c, dtype=torch.float64)
            torch.testing.assert_close(
                offsets.new_tensor(_rows(offsets)), centres.new_tensor(_rows(centres)), rtol=0, atol=1e-12
            )
        assert mix.stds.tolist() == [0.12] * mix.n_components
        assert torch.equal(mix.weights, torch.full_like(mix.weights, mix.weights[0].item()))


def _same_points(a, b, atol):
    """Each point of a within atol of one of b and vice versa (same count): equal as sets."""
    assert a.shape == b.shape, (a.shape, b.shape)
    d = (a[:, None] - b[None]).norm(dim=2)  # exact (cdist may use a matmul that loses ~1e-8)
    assert d.min(1).values.max() <= atol and d.min(0).values.max() <= atol, d.min(1).values.max()


def _circle(n, radius):
    a = [2 * math.pi * k / n for k in range(n)]
    return torch.tensor([[radius * math.cos(t), radius * math.sin(t)] for t in a], dtype=torch.float64)


def test_eight_gaussians_and_ring_are_equal_modes_evenly_spaced_on_a_circle():
    """Means at radius * (cos 2 pi k / K, sin 2 pi k / K) to float64 precision (angles built in
    float32 miss by ~1e-7), equal weights; defaults: 8gaussians radius 2, std 0.25; ring radius
    2, std 0.1, 64 components."""
    for mix, k, radius, std in (
        (toy2d.eight_gaussians(), 8, 2.0, 0.25),
        (toy2d.eight_gaussians(radius=1.7, std=0.3), 8, 1.7, 0.3),
        (toy2d.ring(), 64, 2.0, 0.1),
        (toy2d.ring(radius=1.3, std=0.05, n_components=10), 10, 1.3, 0.05),
    ):
        _same_points(mix.means, _circle(k, radius), 1e-14)
        assert mix.stds.tolist() == [std] * k
        torch.testing.assert_close(mix.weights, torch.full((k,), 1 / k, dtype=torch.float64), rtol=0, atol=1e-15)


def _moon_angles(mix):
    """The two moons mapped back to scikit-learn's frame (undo the centring and the 1.5 scale):
    the outer moon on the unit circle about (0, 0), y >= 0, the inner on the unit circle about
    (1, 0.5), y <= 0.5; returns each moon's angles about its centre, and the largest distance
    of a mean from its circle."""
    q = mix.means / 1.5 + torch.tensor([0.5, 0.25], dtype=torch.float64)
    centres = torch.tensor([[0.0, 0.0], [1.0, 0.5]], dtype=torch.float64)
    outer = ((q - centres[0]).norm(dim=1) - 1).abs() < ((q - centres[1]).norm(dim=1) - 1).abs()
    d = q - centres[(~outer).long()]
    off = ((d.norm(dim=1) - 1).abs()).max().item()
    assert (d[outer, 1] >= -1e-12).all() and (d[~outer, 1] <= 1e-12).all()
    return torch.atan2(d[outer, 1], d[outer, 0]), torch.atan2(d[~outer, 1], d[~outer, 0]), off


def test_moons_are_two_interleaved_half_circles_at_the_given_spacing():
    """scikit-learn's two moons, centred and scaled by 1.5: every mean lies within 5e-5 of its half
    circle (the chains are resampled from 200-point polylines, whose chords miss the circle by
    3e-5), each moon runs end to end (angles 0 and pi, to 1e-12), and consecutive means are equal
    arcs apart, the whole number of steps nearest to the length 1.5 pi over the spacing, so each
    arc is within spacing / (2 steps) of the spacing. A spacing just over 2.5 steps must give 3
    (not 2), and one longer than a moon leaves its two ends. std 0.1, spacing 0.12 by default."""
    half = 199 * 2 * math.sin(math.pi / 398)  # length of the 200-point polyline of a unit half circle
    for mix, spacing in (
        (toy2d.moons(), 0.12),
        (toy2d.moons(spacing=0.3), 0.3),
        (toy2d.moons(spacing=1.5 * half / 2.506), 1.5 * half / 2.506),
        (toy2d.moons(spacing=10.0), 10.0),
    ):
        upper, lower, off = _moon_angles(mix)
        assert off < 5e-5
        assert len(upper) == len(lower) == mix.n_components // 2
        for ang in (upper, lower.abs()):  # the inner moon runs from angle -pi to 0: use |angle|
            ang = ang.sort().values
            torch.testing.assert_close(
                ang[[0, -1]], torch.tensor([0.0, math.pi], dtype=torch.float64), rtol=0, atol=1e-12
            )
            arcs = 1.5 * ang.diff()
            steps = len(ang) - 1
            assert steps == max(1, round(1.5 * math.pi / spacing))
            assert (arcs - arcs.mean()).abs().max() < 1e-4 * arcs.mean()
            if spacing < 1.5 * math.pi:
                assert ((arcs - spacing).abs() <= spacing / (2 * steps) + 1e-6).all()
    assert toy2d.moons().stds.tolist() == [0.1] * toy2d.moons().n_components


def _unequal():
    means = [[0.0, 1.0], [2.0, -1.0], [-1.5, 0.5], [0.5, -2.0]]
    return Mixture2D(means, [0.3, 0.5, 1.0, 0.2], [0.1, 0.2, 0.3, 0.4])


def test_unequal_stds_score_is_autograd_of_log_prob_in_the_input_dtype():
    """With unequal stds the per-component variances enter the responsibilities (no terms may be
    dropped as common to all k): the closed-form score is the autograd gradient of log_prob,
    for one level and per-sample levels; a float32 input gives float32 results."""
    mix = _unequal()
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(20), dtype=torch.float64) * 2
    for sigma in (0.0, 0.7, torch.linspace(0.0, 2.0, 64, dtype=torch.float64)):
        xr = x.clone().requires_grad_(True)
        (auto,) = torch.autograd.grad(mix.log_prob(xr, sigma).sum(), xr)
        torch.testing.assert_close(mix.score(x, sigma), auto, rtol=1e-9, atol=1e-9)
    assert mix.log_prob(x.float(), 0.3).dtype == torch.float32 and mix.score(x.float(), 0.3).dtype == torch.float32
    torch.testing.assert_close(mix.score(x.float(), 0.3).double(), mix.score(x, 0.3), rtol=1e-4, atol=1e-4)


def test_pushforward_is_the_mixture_of_scaled_components():
    """m X + s Z, X from the mixture, is the mixture with means m mu_k and stds
    sqrt(m^2 std_k^2 + s^2) (same weights): its log-density and score, for equal and unequal
    stds, with m, s floats or one per sample."""
    x = torch.randn(40, 2, generator=torch.Generator().manual_seed(21), dtype=torch.float64) * 2
    for mix in (toy2d.get("8gaussians"), _unequal()):
        for m, s in ((0.6, 0.8), (1.7, 0.1)):
            ref = Mixture2D(m * mix.means, torch.sqrt(m**2 * mix.stds**2 + s**2), mix.weights)
            torch.testing.assert_close(mix.pushforward_log_prob(x, m, s), ref.log_prob(x), rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(mix.pushforward_score(x, m, s), ref.score(x), rtol=1e-10, atol=1e-10)
        ms = torch.linspace(0.2, 1.5, 40, dtype=torch.float64)
        ss = torch.linspace(0.05, 1.0, 40, dtype=torch.float64)
        lp, sc = mix.pushforward_log_prob(x, ms, ss), mix.pushforward_score(x, ms, ss)
        for i in (0, 17, 39):
            one = x[i : i + 1]
            torch.testing.assert_close(lp[i], mix.pushforward_log_prob(one, ms[i].item(), ss[i].item())[0])
            torch.testing.assert_close(sc[i], mix.pushforward_score(one, ms[i].item(), ss[i].item())[0])


def test_bounds_is_the_square_centred_on_the_means_box_widened_by_margin_sds():
    """means +- margin * sd, sd = sqrt(max std^2 + sigma^2), widened to a square about the box's
    centre: means x in [0, 4], y in [-1, 1], max std 0.8."""
    mix = Mixture2D([[0.0, -1.0], [4.0, 1.0]], [0.5, 0.8])
    # margin 3: x in [-2.4, 6.4], y in [-3.4, 3.4]; centre (2, 0), half-width 4.4
    assert mix.bounds() == pytest.approx((-2.4, 6.4, -4.4, 4.4), abs=1e-12)
    # sigma 0.6: sd = 1; margin 2: x in [-2, 6], y in [-3, 3]; centre (2, 0), half-width 4
    assert mix.bounds(margin=2.0, sigma=0.6) == pytest.approx((-2.0, 6.0, -4.0, 4.0), abs=1e-12)
    tall = Mixture2D([[1.0, 0.0], [1.0, 6.0]], 0.5)  # the y extent sets the square: centre (1, 3)
    assert tall.bounds(margin=2.0) == pytest.approx((-3.0, 5.0, -1.0, 7.0), abs=1e-12)


def test_sample_without_a_generator_uses_the_global_rng():
    """No generator: CPU points from torch's global RNG (the same seed, the same points)."""
    mix = toy2d.get("8gaussians")
    with torch.random.fork_rng(devices=[]):  # leaves the global state as it was
        torch.manual_seed(22)
        a = mix.sample(50)
        torch.manual_seed(22)
        assert a.device.type == "cpu" and torch.equal(a, mix.sample(50))


@pytest.mark.parametrize("device", DEVICES)
def test_sample_lands_on_the_generators_device(device):
    """Points come back on the generator's device, float32, replayed by the same seed."""
    mix = toy2d.get("ring")
    dg = torch.Generator(device).manual_seed(23)
    a = mix.sample(100, dg, sigma=0.1)
    assert a.device.type == device and a.dtype == torch.float32
    assert torch.equal(a, mix.sample(100, dg.manual_seed(23), sigma=0.1))
