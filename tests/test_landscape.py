"""The landscape widgets (issue 16, item 6): each control changes what is drawn, in the expected way,
and the relativistic sup over critics against what thesis 001 (Sec. 6.4, Theorem 1) proves."""

import math

import numpy as np
import pytest
import torch

from gentoolkit.data import toy2d
from gentoolkit.divergences import (
    RELATIVISTIC_KINDS,
    gaussian_landscape,
    relativistic_divergence,
    relativistic_objective,
)
from gentoolkit.widgets import LandscapeExplorer, ParallelLinesView, RelativisticView
from gentoolkit.widgets.landscape import AXES, SHIFTS, shifted


def arr(v):
    return np.asarray(v if v is not None else [], dtype=float)


# ---------------------------------------------------------------------- LandscapeExplorer
@pytest.fixture  # a fresh explorer per test: a shared one made each test depend on the ones before it
def land():
    return LandscapeExplorer()


def expected_surface(w, dataset, quantity, mean, scale):
    bounds, n = w.grid_for(dataset)
    return gaussian_landscape(toy2d.get(dataset), mean, scale, [quantity], n=n, bounds=bounds)[quantity].numpy()


def test_surface_is_gaussian_landscape_over_mean_at_the_scale(land):
    # swissroll and js: not symmetric in (mean x, mean y), so a transposed z fails (kl would not do: it depends on
    # the mean only through |mean - E_P x|^2, symmetric whenever the data's mean lies on the diagonal)
    land.set(dataset="swissroll", quantity="js", axes=AXES[0], view="surface", scale=0.8, log_scale=False)
    s = land.figure.data[0]
    a, b = arr(s.x), arr(s.y)
    mean = torch.tensor(np.stack(np.meshgrid(a, b, indexing="xy"), -1))
    assert np.allclose(arr(s.z), expected_surface(land, "swissroll", "js", mean, 0.8))
    assert s.visible and not land.figure.data[2].visible
    land.set(scale=0.5)  # the fixed value selects another slice
    assert np.allclose(arr(land.figure.data[0].z), expected_surface(land, "swissroll", "js", mean, 0.5))


def test_mean_scale_axes_use_the_mean_y_slider_as_the_fixed_value(land):
    land.set(dataset="ring", quantity="js", axes=AXES[1], mean_y=0.5, view="contour")
    c = land.figure.data[2]
    a, b = arr(c.x), arr(c.y)
    assert b.min() == pytest.approx(0.3) and b.max() == pytest.approx(1.5)  # the scale axis
    aa, bb = np.meshgrid(a, b, indexing="xy")
    mean = torch.tensor(np.stack([aa, np.full_like(aa, 0.5)], -1))
    assert np.allclose(arr(c.z), expected_surface(land, "ring", "js", mean, torch.tensor(bb)))
    assert c.visible and not land.figure.data[0].visible
    assert "scale" in land.figure.layout.yaxis.title.text


def test_sliders_move_the_marker_and_the_generator_circle(land):
    land.set(dataset="ring", axes=AXES[0], view="contour", mean_x=-1.0, mean_y=2.0, scale=0.4)
    m = land.figure.data[3]
    assert (arr(m.x)[0], arr(m.y)[0]) == (-1.0, 2.0)
    cx, cy = arr(land.figure.data[5].x), arr(land.figure.data[5].y)
    r = np.hypot(cx[:73] + 1.0, cy[:73] - 2.0)
    assert np.allclose(r, 0.4) and np.allclose(np.hypot(cx[74:147] + 1.0, cy[74:147] - 2.0), 0.8)
    land.set(view="surface", quantity="tv")
    z3 = arr(land.figure.data[1].z)[0]
    value = expected_surface(land, "ring", "tv", torch.tensor([[-1.0, 2.0]]), 0.4).item()
    assert z3 == pytest.approx(value) and f"{value:.4g}" in land.readout.value


def test_readout_names_the_grid_minimum(land):
    land.set(dataset="8gaussians", quantity="js", axes=AXES[0], scale=1.0, view="contour")
    z, a, b = arr(land.figure.data[2].z), arr(land.figure.data[2].x), arr(land.figure.data[2].y)
    i, j = np.unravel_index(z.argmin(), z.shape)
    assert f"mean x = {a[j]:.2f}, mean y = {b[i]:.2f}" in land.readout.value


def test_dataset_redraws_the_data_density(land):
    land.set(dataset="8gaussians")
    before = arr(land.figure.data[4].z).copy()
    land.set(dataset="25gaussians")
    assert not np.array_equal(before, arr(land.figure.data[4].z))


def test_log_scale_draws_log10_and_is_hidden_for_signed_values(land):
    land.set(dataset="8gaussians", quantity="pearson", axes=AXES[0], scale=0.6, view="contour", log_scale=False)
    linear = arr(land.figure.data[2].z).copy()
    land.set(log_scale=True)
    assert np.allclose(arr(land.figure.data[2].z), np.log10(linear)) and "log10" in land.readout.value
    land.set(quantity="minimax")  # 2 JS - log 4 < 0: no log scale, and the box is hidden
    assert land.controls["log_scale"].layout.display == "none" and land.controls["log_scale"].disabled
    assert (arr(land.figure.data[2].z) < 0).all()
    land.set(quantity="kl")
    assert land.controls["log_scale"].layout.display is None
    land.set(log_scale=False)


def test_non_finite_values_are_left_blank_and_counted(land, monkeypatch):
    land.set(dataset="8gaussians", quantity="kl", axes=AXES[0], scale=1.1, view="contour")
    key = next(k for k in land._cache if k[:3] == ("8gaussians", "kl", AXES[0]) and k[3] == 1.1)
    z = land._cache[key].copy()
    z[0, :3] = np.inf
    land._cache[key] = z
    land.set(mean_x=0.0)
    drawn = arr(land.figure.data[2].z)
    assert np.isnan(drawn[0, :3]).all() and np.isfinite(drawn[1:]).all()
    assert "3 of 625 grid values are infinite" in land.readout.value


def test_landscapes_are_cached_and_a_redraw_is_fast(land):
    import time

    land.set(dataset="moons", quantity="sw1", axes=AXES[0], scale=0.7)
    t = time.perf_counter()
    land.set(mean_x=0.5)
    assert time.perf_counter() - t < 0.5
    assert ("moons", "sw1", AXES[0], 0.7) in land._cache


def test_landscape_bad_arguments():
    with pytest.raises(ValueError, match="unknown quantity='w3'; expected one of"):
        LandscapeExplorer(quantity="w3")
    with pytest.raises(ValueError, match="unknown dataset='mnist'"):
        LandscapeExplorer(dataset="mnist")
    with pytest.raises(ValueError, match="scale=5 is outside \\[0.3, 1.5\\]"):
        LandscapeExplorer(scale=5)
    with pytest.raises(TypeError, match="mean must be a pair"):
        LandscapeExplorer(mean=1.0)
    with pytest.raises(ValueError, match="unknown view='3d'"):
        LandscapeExplorer(view="3d")


# ---------------------------------------------------------------------- ParallelLinesView
def test_theta_moves_q_and_the_marker():
    w = ParallelLinesView(theta=0.5)
    w.set(theta=-0.3)
    assert np.allclose(arr(w.figure.data[1].x), -0.3) and np.allclose(arr(w.figure.data[1].y), [0, 1])
    marker = w.figure.data[7]
    assert np.allclose(arr(marker.x), -0.3)
    assert list(marker.text) == ["kl = ∞", "js = 0.693", "w1 = 0.3"]


def test_kl_is_drawn_on_the_infinity_line_and_said_in_words():
    w = ParallelLinesView(theta=0.5)
    top = w.figure.layout.yaxis2.tickvals[-1]
    assert w.figure.layout.yaxis2.ticktext[-1] == "∞"
    kl = arr(w.figure.data[2].y)
    assert np.isnan(kl[100]) and np.allclose(np.delete(kl, 100), top)  # inf everywhere but theta = 0 (a gap)
    assert arr(w.figure.data[7].y)[0] == top and "kl = <b>∞</b>" in w.readout.value
    js, w1 = arr(w.figure.data[3].y), arr(w.figure.data[4].y)
    assert np.allclose(np.delete(js, 100), math.log(2)) and np.allclose(w1, np.abs(arr(w.figure.data[4].x)))
    assert np.allclose(arr(w.figure.data[6].y), 0)  # the dots at theta = 0: all zero
    w.set(theta=0.0)
    assert np.allclose(arr(w.figure.data[7].y), 0) and "P = Q" in w.readout.value


def test_other_adds_a_curve_and_none_removes_it():
    w = ParallelLinesView()
    assert not w.figure.data[5].visible
    w.set(other="hellinger")
    c = w.figure.data[5]
    assert c.visible and c.name == "hellinger" and np.allclose(np.delete(arr(c.y), 100), 2.0)
    w.set(other="gan")
    assert np.allclose(arr(w.figure.data[6].y)[-1], -math.log(4))  # its value at theta = 0
    assert w.figure.layout.yaxis2.range[0] < -math.log(4)
    w.set(other="none")
    assert not w.figure.data[5].visible


def test_parallel_lines_bad_arguments():
    with pytest.raises(ValueError, match="theta=2 is outside"):
        ParallelLinesView(theta=2)
    with pytest.raises(ValueError, match="unknown other='w2'"):
        ParallelLinesView(other="w2")


# ---------------------------------------------------------------------- relativistic sup
def two_point_rp(f, p1, q1):
    """sup over d = C(a) - C(b) of 2 [alpha f(d) + beta f(-d)], alpha = p1 q2, beta = p2 q1 (derived):
    f_S: at sigmoid(d) = alpha / (alpha + beta); f_LS: at d = (alpha - beta) / (alpha + beta);
    f_Hinge: at d = +-1."""
    a, b = p1 * (1 - q1), (1 - p1) * q1
    if f == "s":
        return 2 * (a * math.log(2 * a / (a + b)) + b * math.log(2 * b / (a + b)))
    if f == "ls":
        return 2 * (a - b) ** 2 / (a + b)
    return 2 * abs(a - b)


PAIRS = [(0.3, 0.6), (0.5, 0.5), (0.9, 0.1), (0.2, 0.25), (0.7, 0.45)]


def two_point(pairs):
    p = torch.tensor([[a, 1 - a] for a, _ in pairs], dtype=torch.float64)
    q = torch.tensor([[b, 1 - b] for _, b in pairs], dtype=torch.float64)
    return p, q


@pytest.mark.parametrize("f, tol", [("s", 1e-7), ("ls", 1e-7), ("hinge", 2e-3)])
def test_rp_sup_matches_the_two_point_closed_form(f, tol):
    p, q = two_point(PAIRS)
    got, _ = relativistic_divergence(f, p, q, "rp")
    want = torch.tensor([two_point_rp(f, a, b) for a, b in PAIRS], dtype=torch.float64)
    assert torch.allclose(got, want, atol=tol)
    assert (got <= want + 1e-9).all()  # a value of the objective: never above the sup


@pytest.mark.parametrize("kind", RELATIVISTIC_KINDS)
@pytest.mark.parametrize("f", ["s", "ls", "hinge"])
def test_sup_matches_a_brute_force_search_on_two_points(f, kind):
    # on two points every kind depends on d = C(a) - C(b) alone (adding a constant to C changes nothing)
    p, q = two_point(PAIRS)
    d = torch.linspace(-12, 12, 24001, dtype=torch.float64)
    critics = torch.stack([d, torch.zeros_like(d)], 1)
    brute = torch.stack([relativistic_objective(f, critics, pi, qi, kind).max() for pi, qi in zip(p, q)])
    got, _ = relativistic_divergence(f, p, q, kind)
    assert torch.allclose(got, brute, atol=2e-3 if f == "hinge" else 1e-5)


@pytest.mark.parametrize("kind", RELATIVISTIC_KINDS)
@pytest.mark.parametrize("f", ["s", "ls", "hinge"])
def test_sup_is_zero_iff_p_equals_q_and_bounded_by_twice_sup_f(f, kind):
    g = torch.Generator().manual_seed(0)
    p = torch.rand(6, 5, generator=g, dtype=torch.float64)
    p = p / p.sum(1, keepdim=True)
    q = torch.rand(6, 5, generator=g, dtype=torch.float64)
    q = q / q.sum(1, keepdim=True)
    same, _ = relativistic_divergence(f, p, p, kind)
    assert torch.allclose(same, torch.zeros(6, dtype=torch.float64), atol=1e-9)
    diff, critic = relativistic_divergence(f, p, q, kind)
    bound = 2 * {"s": math.log(2), "ls": 1.0, "hinge": 1.0}[f]
    assert (diff > 1e-3).all() and (diff <= bound + 1e-9).all()
    assert torch.allclose(relativistic_objective(f, critic, p, q, kind), diff, atol=1e-3 if f == "hinge" else 1e-12)


def test_sup_grows_as_q_moves_away():
    q = torch.tensor(np.stack([shifted(s) for s in SHIFTS[12:]]))  # shifts 0, 0.25, ..., 3
    p = torch.tensor(shifted(0.0)).expand_as(q)
    for f in ("s", "ls"):
        d, _ = relativistic_divergence(f, p, q, "rp")
        assert d[0] == 0 and (d.diff() > 0).all()


def test_relativistic_divergence_bad_arguments():
    p = torch.tensor([0.5, 0.5])
    with pytest.raises(ValueError, match="f must be one of"):
        relativistic_divergence("kl", p, p)
    with pytest.raises(ValueError, match="unknown kind='rx'"):
        relativistic_divergence("s", p, p, "rx")
    with pytest.raises(ValueError, match="q must sum to 1"):
        relativistic_divergence("s", p, torch.tensor([0.5, 0.6]))


# ---------------------------------------------------------------------- RelativisticView
def test_shift_moves_q_and_the_marker():
    w = RelativisticView()
    w.set(shift=-1.5)
    assert np.allclose(arr(w.figure.data[4].y), shifted(-1.5))
    i = list(SHIFTS).index(-1.5)
    assert arr(w.figure.data[6].x)[0] == -1.5 and arr(w.figure.data[6].y)[0] == arr(w.figure.data[5].y)[i]
    assert f"{arr(w.figure.data[6].y)[0]:.4g}" in w.readout.value


def test_f_highlights_its_curve_and_redraws_the_divergence():
    w = RelativisticView(f="s")
    assert [t.line.width for t in w.figure.data[:3]] == [5, 1.5, 1.5]
    d_s = arr(w.figure.data[5].y).copy()
    w.set(f="ls")
    assert [t.line.width for t in w.figure.data[:3]] == [1.5, 5, 1.5]
    assert not np.allclose(d_s, arr(w.figure.data[5].y))
    p = torch.tensor(shifted(0.0)).expand(len(SHIFTS), -1)
    q = torch.tensor(np.stack([shifted(s) for s in SHIFTS]))
    assert np.allclose(arr(w.figure.data[5].y), relativistic_divergence("ls", p, q, "rp")[0].numpy())


def test_kind_redraws_the_divergence():
    w = RelativisticView(kind="rp")
    before = arr(w.figure.data[5].y).copy()
    w.set(kind="rc")
    assert not np.allclose(before, arr(w.figure.data[5].y)) and "rc" in w.figure.layout.annotations[2].text


def test_relativistic_view_bad_arguments():
    with pytest.raises(ValueError, match="unknown f='kl'"):
        RelativisticView(f="kl")
    with pytest.raises(ValueError, match="unknown kind='rx'"):
        RelativisticView(kind="rx")
    with pytest.raises(TypeError, match="shift must be a number"):
        RelativisticView(shift="1")
