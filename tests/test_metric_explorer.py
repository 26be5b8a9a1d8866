"""The metric explorer (gentoolkit.widgets.MetricExplorer, notebook 07): its fused metric pass
agrees with gentoolkit.metrics, every control redraws, same seed gives the same picture, and the
lessons it draws hold (which metric catches which failure; noise shrinks with n)."""

import numpy as np
import pytest
import torch

from gentoolkit import metrics as M
from gentoolkit.data import toy2d
from gentoolkit.widgets import MetricExplorer
from gentoolkit.widgets.metric_explorer import (
    BANDWIDTH,
    FAILURES,
    K_DC,
    K_PR,
    SIZES,
    STRENGTHS,
    Draws,
    RealSide,
    evaluate,
)
from tests.test_widgets import drawn, same


@pytest.fixture(scope="module")
def widget():
    return MetricExplorer(n=250)


@pytest.mark.parametrize("failure", FAILURES)
def test_fused_metrics_agree_with_the_library(failure):
    mix = toy2d.get("25gaussians")
    d = Draws(mix, 300, seed=3)
    real = RealSide(d.train, d.test)
    fake = d.fake(failure, 0.4)
    got = evaluate(real, fake, mix)
    x, y = d.train.double(), fake.double()
    p, r = M.precision_recall(x, y, k=K_PR)
    dens, cov = M.density_coverage(x, y, k=K_DC)
    tol = 2 / 300  # float32 distances may flip a point on a ball's boundary
    assert got["fid"] == pytest.approx(M.fid(x, y), rel=1e-4, abs=1e-6)
    assert got["mmd"] == pytest.approx(M.mmd(x, y, bandwidth=BANDWIDTH), abs=1e-6)
    assert got["kid"] == pytest.approx(M.mmd(x, y, kernel="poly"), rel=1e-6, abs=1e-9)
    assert got["precision"] == pytest.approx(p, abs=tol) and got["recall"] == pytest.approx(r, abs=tol)
    assert got["density"] == pytest.approx(dens, abs=tol) and got["coverage"] == pytest.approx(cov, abs=tol)
    assert got["modes"] == M.mode_stats(fake, mix)["covered"] / 25
    nn_test = torch.cdist(d.test.double(), x).min(1).values
    nn_fake = torch.cdist(y, x).min(1).values
    assert got["copies"] == pytest.approx(float((nn_fake < nn_test.quantile(0.05)).double().mean()), abs=tol)


def test_strength_zero_is_a_fresh_sample_for_every_failure():
    d = Draws(toy2d.get("25gaussians"), 200, seed=1)
    fresh = d.fake("blur", 0.0)
    for f in FAILURES:
        assert torch.equal(d.fake(f, 0.0), fresh)
    assert torch.equal(d.fake("memorize", 1.0).sort(0).values, d.train.sort(0).values)  # the training set itself


def test_every_control_changes_what_is_drawn(widget):
    for name, value in [("strength", 0.8), ("failure", "blur"), ("n", 500), ("seed", 3), ("failure", "memorize")]:
        before, readout = drawn(widget), widget.readout.value
        widget.set(**{name: value})
        assert not same(before, drawn(widget)), name
        if name == "strength":
            assert widget.readout.value != readout
    widget.set(failure="drop modes", strength=0.5, n=250, seed=0)


def test_same_seed_same_picture():
    a, b = MetricExplorer(n=125, seed=2), MetricExplorer(n=125, seed=2)
    assert same(drawn(a), drawn(b)) and a.readout.value == b.readout.value
    b.set(seed=3)
    assert not same(drawn(a), drawn(b))


def test_which_metric_catches_which_failure(widget):
    n = 1000
    drop = widget.caught("drop modes", 0.5, n)
    assert drop["recall"] and drop["coverage"] and drop["modes"] and drop["fid"]
    assert not drop["precision"] and not drop["copies"]
    outliers = widget.caught("add noise (outliers)", 0.6, n)
    assert outliers["precision"] and not outliers["modes"]
    blur = widget.caught("blur", 0.3, n)
    assert blur["precision"] and blur["mmd"] and not blur["recall"]  # wider modes cover the data: recall is happy
    memo = widget.caught("memorize", 1.0, n)
    assert memo["copies"] and not any(memo[k] for k in ("fid", "kid", "mmd", "precision", "recall", "coverage"))
    perfect = widget.curves("memorize", n, 0)[-1]
    assert perfect["fid"] == pytest.approx(0, abs=1e-9) and perfect["precision"] == perfect["recall"] == 1.0


def test_the_readout_says_what_is_caught_and_the_memorization_lesson(widget):
    widget.set(failure="memorize", strength=1.0)
    text = widget.readout.value
    assert "caught by</b> density, copy rate" in text and "look <i>perfect</i>" in text and "held-out" in text
    widget.set(strength=0.0)
    text = widget.readout.value
    assert "fresh sample of the true law" in text and ("no metric raises an alarm" in text or "false alarm" in text)
    widget.set(failure="drop modes", strength=0.5)


def test_noise_shrinks_with_the_sample_size(widget):
    small, large = widget.noise(SIZES[0]), widget.noise(SIZES[-1])
    for k in ("fid", "kid", "mmd", "precision", "recall", "density", "coverage", "copies"):
        assert large[k][1] < small[k][1], k
    noise_traces = widget.figure.data[3:12]
    assert all(np.isfinite(np.asarray(t.y, dtype=float)).sum() >= 3 for t in noise_traces if t.name != "modes covered")


def test_markers_sit_on_the_curves_at_the_current_strength(widget):
    widget.set(strength=0.3)
    curve = widget.curves(widget.value("failure"), widget.value("n"), widget.value("seed"))
    base = widget._first_metric_trace
    for j, k in enumerate(["fid", "kid", "mmd", "precision", "recall", "density", "coverage", "modes", "copies"]):
        marker = widget.figure.data[base + 3 * j + 2]
        assert list(marker.x) == [0.3] and marker.y[0] == pytest.approx(curve[STRENGTHS.index(0.3)][k])
    widget.set(strength=0.5)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown failure='mode collapse'"):
        MetricExplorer(failure="mode collapse")
    with pytest.raises(ValueError, match="unknown n=3000"):
        MetricExplorer(n=3000)
