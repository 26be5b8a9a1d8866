"""The GAN live view (issue 16, item 4): each control changes what is drawn, in the way it should.

Small networks and 400 points keep each test quick; one test runs the defaults (they must show
the method working: the modes get covered).
"""

import numpy as np
import pytest
import torch
from plotly.callbacks import Points

from gentoolkit.data import toy2d
from gentoolkit.gan import losses as gan_losses
from gentoolkit.widgets import GANLiveView, gan_live
from gentoolkit.widgets.base import MAIN_CLASS
from gentoolkit.widgets.gan_live import ARROWS, CLICK_POINTS, DATASETS

HEAT, REAL, FAKE, PUSH, D_LOSS, G_LOSS, CHANGES, COVERED, K_LINE = range(9)


def small(**kw):
    return GANLiveView(**{"n_points": 400, "hidden": 32, "steps_per_frame": 3, **kw})


def arr(v):
    return np.asarray(v if v is not None else [], dtype=float)


def xy(w, i):
    t = w.figure.data[i]
    return np.stack([arr(t.x), arr(t.y)], 1)


def drawn(w):
    out = [arr(getattr(t, k, None)) for t in w.figure.data for k in ("x", "y", "z")]
    return out + [np.asarray([a.text for a in w.figure.layout.annotations])]


def _eq(x, y):
    if x.shape != y.shape or x.dtype.kind != y.dtype.kind:
        return False
    return np.allclose(x, y, equal_nan=True) if x.dtype.kind == "f" else bool((x == y).all())


def same(a, b):
    return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b))


def arrows(w):
    """(bases, tips) of the push arrows (7 points per arrow: base, tip, gap, two head strokes)."""
    seg = xy(w, PUSH).reshape(-1, 7, 2)
    return seg[:, 0], seg[:, 1]


def test_a_play_tick_trains_a_frame_and_redraws_every_panel():
    w = small()
    before = drawn(w)
    assert w.trainer.steps == 0 and len(arr(w.figure.data[D_LOSS].y)) == 0
    w.play.value += 1  # what the Play sends on each tick
    assert w.trainer.steps == 3
    assert len(arr(w.figure.data[D_LOSS].y)) == len(arr(w.figure.data[G_LOSS].y)) == 3
    assert np.allclose(arr(w.figure.data[D_LOSS].y), w.trainer.history.d_loss)
    after = drawn(w)
    for i in (FAKE * 3 + 0, FAKE * 3 + 1, HEAT * 3 + 2):  # fake x, fake y, heatmap z
        assert not np.allclose(before[i], after[i])
    assert np.allclose(xy(w, FAKE), w.trainer.samples().numpy())
    assert "step <b>3</b>" in w.readout.value
    w.play_tick()
    assert w.trainer.steps == 6
    w.play.value = 0  # the stop button rewinds: no frame
    assert w.trainer.steps == 6
    w.buttons["step"].click()
    assert w.trainer.steps == 9
    w.set(steps_per_frame=7)
    w.step()
    assert w.trainer.steps == 16


def test_ticks_queued_behind_a_frame_are_dropped_while_playing(monkeypatch):
    """The browser ticks on its clock; a tick that arrives right as a frame ends waited in the queue
    during it and is dropped, so a pause is not followed by a backlog of frames."""
    w = small()
    w.play.playing = True
    w.play.value += 1
    assert w.trainer.steps == 3
    monkeypatch.setattr(gan_live, "STALE_S", 1e9)  # now every tick counts as queued behind the last frame
    w.play.value += 1
    assert w.trainer.steps == 3
    w.play.playing = False  # not playing (a test, a benchmark): every tick is a frame
    w.play.value += 1
    assert w.trainer.steps == 6
    monkeypatch.setattr(gan_live, "STALE_S", 0.0)
    w.play.playing = True
    w.play.value += 1
    assert w.trainer.steps == 9


def test_defaults_cover_the_modes_within_150_steps():
    w = GANLiveView()
    assert w.value("dataset") == "8gaussians" and w.trainer.loss == "ns" and w.trainer.regularizer == "r1"
    assert len(w.samples()) == 2000
    start = int(w.readout.value.split("modes covered <b>")[1].split(" /")[0])
    assert start <= 2
    w.set(steps_per_frame=50)
    for _ in range(3):
        w.play_tick()
    assert w.trainer.steps == 150
    assert w.trainer.history.covered[-1] >= 7
    assert arr(w.figure.data[COVERED].y)[-1] == w.trainer.history.covered[-1]
    assert arr(w.figure.data[K_LINE].y).tolist() == [8, 8]
    assert int(w.readout.value.split("modes covered <b>")[1].split(" /")[0]) >= 7


def test_loss_changes_the_push_at_once_and_the_critic_after_a_step():
    a, b = small(), small()
    b.set(loss="wgan")
    assert b.trainer.loss == "wgan" and "loss wgan:" in b.readout.value
    assert np.allclose(arr(a.figure.data[HEAT].z), arr(b.figure.data[HEAT].z))  # the same critic so far
    assert not np.allclose(xy(a, PUSH), xy(b, PUSH), equal_nan=True)  # another loss pushes differently
    assert arr(b.figure.data[CHANGES].x)[0] == 0  # the change is marked on the loss panel
    assert "loss ns → wgan" in b.figure.data[CHANGES].text[0]
    a.step()
    b.step()
    assert not np.allclose(arr(a.figure.data[HEAT].z), arr(b.figure.data[HEAT].z))


def test_dataset_shows_that_mixtures_sample_and_starts_a_fresh_run():
    w = small()
    w.step()
    w.set(dataset="25gaussians")
    mix = toy2d.get("25gaussians")
    assert np.allclose(xy(w, REAL), mix.sample(400, torch.Generator().manual_seed(0)).numpy())
    assert w.trainer.steps == 0 and w.trainer.mixture.n_components == 25
    assert tuple(w.figure.layout.xaxis.range) == pytest.approx(mix.bounds()[:2])
    assert np.allclose(arr(w.figure.data[HEAT].x)[[0, -1]], mix.bounds()[:2])
    assert "/ 25</b>" in w.readout.value and arr(w.figure.data[K_LINE].y).tolist() == [25, 25]
    assert w.controls["dataset"].options == tuple(DATASETS) and "drawn" in DATASETS


def test_drawn_points_are_shown_and_trained_on():
    w = small()
    pts = [[1.0, 1.0], [-1.0, 0.5], [0.0, -1.5]]
    w.add_points(pts)
    assert w.value("dataset") == "drawn"
    assert np.allclose(xy(w, REAL), pts)
    assert torch.equal(w.trainer.data, torch.tensor(pts))
    assert w.trainer.mixture is None and "no mode count" in w.readout.value
    w.play_tick()
    assert w.trainer.steps == 3
    w.add_points([2.0, 2.0])  # while on "drawn": the run continues on the new data
    assert w.trainer.steps == 3 and len(w.trainer.data) == 4
    assert np.allclose(xy(w, REAL)[-1], [2.0, 2.0])
    assert "+1 drawn point(s)" in w.figure.data[CHANGES].text[0]


def test_a_click_on_the_heatmap_draws_seeded_points_around_it():
    a, b = small(), small()
    for w in (a, b):
        w.figure.data[HEAT]._dispatch_on_click(Points([0], [1.0], [-1.0], "critic C(x)", 0), None)
    assert a.value("dataset") == "drawn"
    real = xy(a, REAL)
    assert real.shape == (CLICK_POINTS, 2)
    assert np.abs(real - [1.0, -1.0]).max() < 0.5 and real.std(0).min() > 0
    assert np.allclose(real, xy(b, REAL))  # the same seed draws the same points
    a.figure.data[HEAT]._dispatch_on_click(Points([], [], [], "critic C(x)", 0), None)  # no point: nothing
    assert len(xy(a, REAL)) == CLICK_POINTS


def test_clear_empties_the_drawn_points_and_asks_for_some():
    w = small(drawn=[[0.0, 0.0], [1.0, 1.0]])
    w.buttons["clear drawn"].click()
    assert w.value("dataset") == "drawn" and len(xy(w, REAL)) == 0
    assert w.trainer is None and "draw at least 2 points" in w.readout.value
    assert len(xy(w, FAKE)) == 400 and np.isfinite(arr(w.figure.data[HEAT].z)).all()  # still clickable
    w.play.playing = True
    w.play_tick()
    assert not w.play.playing and "step <b>0</b>" in w.readout.value
    w.add_points([[0.0, 0.0], [0.5, 0.5]])
    assert w.trainer is not None and "draw at least" not in w.readout.value


def test_lr_n_d_steps_and_regularizer_reach_the_trainer():
    w = small()
    assert w.main == "lr" and MAIN_CLASS in w.controls["lr"]._dom_classes
    w.step()
    w.set(lr=1e-4)
    assert w.trainer.lr_g == w.trainer.lr_d == pytest.approx(1e-4) and "lr 1.0e-04" in w.readout.value
    assert arr(w.figure.data[CHANGES].x)[0] == 3  # marked where it was changed
    w.set(n_d=3)
    assert w.trainer.n_d == 3 and "n_D 3" in w.readout.value
    w.set(regularizer="none")
    assert w.trainer.regularizer is None
    assert w.controls["reg_weight"].disabled and w.controls["reg_weight"].layout.display == "none"
    w.set(regularizer="gp")
    assert w.trainer.regularizer == "gp" and w.trainer.reg_weight == 10.0 == w.value("reg_weight")
    assert not w.controls["reg_weight"].disabled
    w.set(reg_weight=1.0)
    assert w.trainer.reg_weight == 1.0
    assert len(arr(w.figure.data[CHANGES].x)) == 5 * 3  # one dotted line (two ends and a gap) per change
    w.reset()
    assert w.trainer.steps == 0 and w.trainer.lr_d == pytest.approx(1e-4) and w.trainer.regularizer == "gp"


@pytest.mark.parametrize("loss", ["ns", "hinge", "f:js"])
def test_arrows_start_at_fake_points_and_point_along_minus_grad_of_the_generators_loss(loss):
    w = small(loss=loss)
    w.step()
    bases, tips = arrows(w)
    assert len(bases) == ARROWS
    assert np.allclose(bases, xy(w, FAKE)[:ARROWS])
    fn = gan_losses.get(loss)
    for i in (0, 17, ARROWS - 1):  # the push on one point, by autograd on that point alone
        x = torch.tensor(bases[i : i + 1], dtype=torch.float32, requires_grad=True)
        (g,) = torch.autograd.grad(fn.g_loss(None, w.critic(x)), x)
        d = tips[i] - bases[i]
        assert np.allclose(d / np.linalg.norm(d), -g[0].numpy() / g.norm().item(), atol=1e-4)


def test_relativistic_paired_loss_draws_finite_arrows_on_drawn_points():
    w = small(loss="rsgan", drawn=[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dataset="drawn")
    w.step()
    bases, tips = arrows(w)
    assert len(bases) == ARROWS and np.isfinite(tips).all() and not np.allclose(bases, tips)


def test_a_nan_stops_playing_and_says_so_in_words(monkeypatch):
    w = small()
    w.step()
    monkeypatch.setattr(w.critic, "forward", lambda x: x.sum(1) * float("nan"))  # a critic gone NaN
    w.play.playing = True
    w.play_tick()
    assert not w.play.playing
    assert "training diverged at step 3" in w.readout.value and "Likely fix" in w.readout.value
    assert w.trainer.steps == 3
    w.play.value += 1  # a tick still queued from the browser: no training
    assert w.trainer.steps == 3 and not w.play.playing
    monkeypatch.undo()
    w.play.playing = True  # play again: it trains
    w.play_tick()
    assert w.trainer.steps == 6 and "diverged" not in w.readout.value


def test_same_seed_same_figure_another_seed_another():
    def run(seed):
        w = small(seed=seed)
        w.step()
        w.set(loss="lsgan", n_d=2)
        w.add_points([[0.0, 1.0], [1.0, 0.0]])
        w.step()
        return drawn(w)

    assert same(run(0), run(0))
    assert not same(run(0), run(1))


@pytest.mark.parametrize(
    "kw, err, word",
    [
        ({"dataset": "mnist"}, ValueError, "dataset"),
        ({"loss": "l2"}, ValueError, "loss"),
        ({"regularizer": "dropout"}, ValueError, "regularizer"),
        ({"lr": 1.0}, ValueError, "lr"),
        ({"lr": "fast"}, TypeError, "lr"),
        ({"n_d": 0}, ValueError, "n_d"),
        ({"steps_per_frame": 2.5}, TypeError, "steps_per_frame"),
        ({"n_points": 0}, ValueError, "n_points"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"drawn": [[0.0, 1.0, 2.0]]}, ValueError, "drawn"),
        ({"interval": 0}, ValueError, "interval"),
    ],
)
def test_bad_arguments_name_themselves(kw, err, word):
    with pytest.raises(err, match=word):
        GANLiveView(**kw)


def test_bad_points_name_xy():
    w = small()
    for bad, err in (([1.0, 2.0, 3.0], ValueError), ([[0.0, float("nan")]], ValueError), ("here", TypeError)):
        with pytest.raises(err, match="xy"):
            w.add_points(bad)
    with pytest.raises(ValueError, match="loss"):
        w.set(loss="l2")
