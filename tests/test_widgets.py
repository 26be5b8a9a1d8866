import numpy as np
import pytest
import torch

from gentoolkit.data import toy2d
from gentoolkit.widgets import ScoreFieldViewer
from gentoolkit.widgets._plot import quiver


def drawn(w):
    """Everything the figure draws, as comparable numpy arrays."""
    out = []
    for t in w.figure.data:
        for key in ("x", "y", "z"):
            v = getattr(t, key, None)
            out.append(np.asarray(v if v is not None else [], dtype=float))
    return out


def same(a, b):
    return len(a) == len(b) and all(x.shape == y.shape and np.allclose(x, y, equal_nan=True) for x, y in zip(a, b))


def half_scale(x, sigma):  # a stand-in "network": half the exact score of 8gaussians
    return 0.5 * toy2d.get("8gaussians").score(x, sigma)


MOVES = {"dataset": "moons", "sigma": 1.0, "arrows": 24, "field": "network"}


@pytest.mark.parametrize("control", list(MOVES))
def test_moving_each_control_changes_the_drawing(control):
    w = ScoreFieldViewer(score_fn={"8gaussians": half_scale, "moons": half_scale})
    before, text = drawn(w), w.readout.value
    w.set(**{control: MOVES[control]})
    assert not same(before, drawn(w)), control
    if control in ("dataset", "sigma"):
        assert w.readout.value != text


def test_moving_a_slider_directly_redraws():
    w = ScoreFieldViewer()
    before = drawn(w)
    w.controls["sigma"].value = 0.05  # as the browser does: no set(), just the trait
    assert not same(before, drawn(w))


def test_exact_arrows_and_network_error():
    w = ScoreFieldViewer(score_fn=half_scale, sigma=0.5)
    assert "50.0%" in w.readout.value  # relative L2 error of a half-size score is exactly 50%
    w.set(field="exact")
    assert len(w.figure.data[2].x) == 0 and len(w.figure.data[1].x) > 0
    w.set(dataset="ring")  # no network for this dataset
    assert "no network" in w.readout.value and len(w.figure.data[3].z) == 0


def test_contours_are_the_exact_log_density():
    w = ScoreFieldViewer(dataset="25gaussians", sigma=0.2)
    c = w.figure.data[0]
    mix = toy2d.get("25gaussians")
    i, j = 40, 31
    pt = torch.tensor([[c.x[j], c.y[i]]], dtype=torch.float32)
    assert np.isclose(np.asarray(c.z)[i, j], max(mix.log_prob(pt, 0.2).item(), np.max(c.z) - 12), atol=1e-4)


def test_quiver_geometry():
    pts = np.array([[0.0, 0.0], [1.0, 1.0]])
    vec = np.array([[4.0, 0.0], [0.0, -1.0]])
    x, y = quiver(pts, vec, spacing=0.5)
    seg = np.stack([x, y], 1).reshape(2, 7, 2)
    tips = seg[:, 1]
    lengths = np.linalg.norm(tips - pts, axis=1)
    assert np.isclose(lengths.max(), 0.45)  # longest = 0.9 * spacing
    assert np.isclose(lengths[1] / lengths[0], 0.5)  # sqrt compression: sqrt(1) / sqrt(4)
    d = (tips - pts) / lengths[:, None]
    assert np.allclose(d, vec / np.linalg.norm(vec, axis=1, keepdims=True))
    assert np.isnan(seg[:, 2]).all() and np.isnan(seg[:, 6]).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown dataset='spiral'"):
        ScoreFieldViewer(dataset="spiral")
    with pytest.raises(TypeError, match="score_fn must be callable"):
        ScoreFieldViewer(score_fn=3)
    with pytest.raises(ValueError, match="sigma=5.0 must lie in sigma_range"):
        ScoreFieldViewer(sigma=5.0)
    with pytest.raises(ValueError, match=r"unknown control\(s\) \['colour'\]"):
        ScoreFieldViewer().set(colour="red")
