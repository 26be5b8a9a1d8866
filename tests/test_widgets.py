import base64
import json
import math
import re
import sys

import numpy as np
import pytest
import torch

from gentoolkit.data import toy2d
from gentoolkit.sde import METHODS, VPSDE, mixture_score
from gentoolkit.widgets import NoiseTracker, SamplerExplorer, ScoreFieldViewer, SolverExplorer
from gentoolkit.widgets._plot import quiver


def drawn(w):
    """Everything the figure draws (trace data and subplot titles), as comparable arrays."""
    out = []
    for t in w.figure.data:
        for key in ("x", "y", "z"):
            v = getattr(t, key, None)
            v = np.asarray(v if v is not None else [])
            out.append(v.astype(float) if v.dtype.kind in "biuf" else v.astype(str))
    out.append(np.asarray([a.text for a in w.figure.layout.annotations], dtype=str))
    return out


def _eq(x, y):
    if x.shape != y.shape or x.dtype.kind != y.dtype.kind:
        return False
    return np.allclose(x, y, equal_nan=True) if x.dtype.kind == "f" else bool((x == y).all())


def same(a, b):
    return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b))


def arr(v):
    return np.asarray(v if v is not None else [], dtype=float)


def assert_exact_density(trace, mix, sigma, nats):
    """The contour trace is log p_sigma of ``mix`` on its own grid, clipped ``nats`` below its
    maximum (the closed form of the mixture, evaluated here from the trace's x and y)."""
    xs, ys, z = arr(trace.x), arr(trace.y), arr(trace.z)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    pts = torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], 1)).float()
    logp = mix.log_prob(pts, sigma).reshape(len(ys), len(xs)).numpy()
    assert np.allclose(z, np.maximum(logp, logp.max() - nats), atol=1e-4)


def number(text, pattern):
    return float(re.search(pattern, text).group(1))


def arrows(trace):
    """(bases, tips) of the arrows of a quiver trace (7 points per arrow)."""
    seg = np.stack([arr(trace.x), arr(trace.y)], 1).reshape(-1, 7, 2)
    return seg[:, 0], seg[:, 1]


def assert_along(bases, tips, field):
    """Each arrow points along ``field`` at its base (float32 arithmetic: 1e-5)."""
    d = tips - bases
    unit = field / np.linalg.norm(field, axis=1, keepdims=True)
    assert np.allclose(d / np.linalg.norm(d, axis=1, keepdims=True), unit, atol=1e-5)


def half_scale(x, sigma):  # a stand-in "network": half the exact score of 8gaussians
    return 0.5 * toy2d.get("8gaussians").score(x, sigma)


def rotated(x, sigma):  # a wrong "network": the exact score turned by 90 degrees
    s = toy2d.get("8gaussians").score(x, sigma)
    return torch.stack([-s[:, 1], s[:, 0]], 1)


# ---------------------------------------------------------------------- base class
def test_set_refuses_what_a_control_cannot_take():
    w = ScoreFieldViewer(score_fn=half_scale)
    with pytest.raises(ValueError, match=r"sigma=10 is outside the slider's range \[0.01, 3\]"):
        w.set(sigma=10)  # ipywidgets would clamp it to 3 without a word
    with pytest.raises(ValueError, match=r"dataset='spiral' is not an option; expected one of \['8gaussians'"):
        w.set(dataset="spiral")
    with pytest.raises(ValueError, match=r"field='arrows' is not an option; expected one of \['exact'"):
        w.set(field="arrows")
    with pytest.raises(ValueError, match=r"arrows=40 is outside the slider's range \[8, 32\]"):
        w.set(arrows=40)
    with pytest.raises(TypeError, match="arrows must be an int, got 12.5"):
        w.set(arrows=12.5)
    with pytest.raises(TypeError, match="memory must be True or False, got 'no'"):
        SolverExplorer(n_particles=50).set(memory="no")
    w.set(sigma=3.0)  # the ends of a log slider are in range (10 ** log10(3) rounds)
    assert w.value("sigma") == 3.0 and "σ = 3.000" in w.readout.value


def test_save_html_writes_the_current_figure_and_readout(tmp_path):
    w = ScoreFieldViewer(sigma=0.5)
    w.set(sigma=1.0)
    path = w.save(tmp_path / "field.html")
    text = path.read_text()
    start = text.rindex("Plotly.newPlot(")  # the call that draws this figure, after plotly.js itself
    start = text.index("[", text.index(",", start))
    traces = json.JSONDecoder().raw_decode(text[start:])[0]

    def decode(v):  # plotly writes arrays as {"dtype", "bdata" (base64), "shape"}
        if isinstance(v, dict):
            a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
            return a.reshape([int(s) for s in v["shape"].split(",")]) if "shape" in v else a
        return np.asarray(v, dtype=float)

    assert np.allclose(decode(traces[0]["z"]), arr(w.figure.data[0].z))  # sigma = 1, not the first 0.5
    assert np.allclose(decode(traces[1]["x"]), arr(w.figure.data[1].x), equal_nan=True)
    assert w.readout.value in text


def test_save_refuses_unknown_suffixes_and_says_what_an_image_needs(tmp_path, monkeypatch):
    w = ScoreFieldViewer()
    with pytest.raises(ValueError, match=r"as '.txt'; expected .html or an image suffix \['.png'"):
        w.save(tmp_path / "field.txt")
    monkeypatch.setitem(sys.modules, "kaleido", None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install kaleido"):
        w.save(tmp_path / "field.png")
    assert not (tmp_path / "field.png").exists()


def test_device_defaults_to_the_networks_device_else_the_default_device(monkeypatch):
    from gentoolkit.nets import ScoreMLP

    # a default device that differs from the networks' (both are CPU here)
    monkeypatch.setattr("gentoolkit.config.default_device", lambda: torch.device("cpu", 0))
    net = ScoreMLP(data_std=2.0)
    assert ScoreFieldViewer(score_fn=net).device == torch.device("cpu")  # the network's parameters
    assert NoiseTracker(dataset="8gaussians", score_fn=net, n_particles=50).device == torch.device("cpu")
    assert ScoreFieldViewer().device == torch.device("cpu", 0)  # no network: default_device()
    assert ScoreFieldViewer(score_fn=half_scale).device == torch.device("cpu", 0)  # not an nn.Module
    assert SamplerExplorer(n_chains=30).device == torch.device("cpu", 0)
    assert SolverExplorer(n_particles=50).device == torch.device("cpu", 0)
    assert SolverExplorer(n_particles=50, device="cpu").device == torch.device("cpu")
    with pytest.raises(ValueError, match="device='gpu0' is not a device"):
        SamplerExplorer(device="gpu0")


def test_widgets_never_open_progress_bars(monkeypatch):
    """Every sampler a widget calls gets progress=False (a bar under a slider would flicker)."""
    import gentoolkit.widgets.noise_tracker as nt
    import gentoolkit.widgets.sampler_explorer as se
    import gentoolkit.widgets.solver_explorer as so

    calls = []

    def spy(module, name):
        real = getattr(module, name)

        def wrapped(*args, **kwargs):
            calls.append((name, kwargs.get("progress", "missing")))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapped)

    for module, name in ((nt, "als"), (nt, "cas"), (se, "run_mcmc"), (so, "sample")):
        spy(module, name)
    NoiseTracker(n_particles=50)
    SamplerExplorer(sampler="MH", n_chains=20)
    SolverExplorer(n_particles=50)
    assert {n for n, _ in calls} == {"als", "cas", "run_mcmc", "sample"}
    assert all(p is False for _, p in calls), calls


# ---------------------------------------------------------------------- score field viewer
def test_sigma_redraws_the_exact_log_density_at_the_new_sigma():
    w = ScoreFieldViewer(score_fn=half_scale)
    w.set(sigma=1.0)
    mix = toy2d.get("8gaussians")
    assert_exact_density(w.figure.data[0], mix, 1.0, 12)
    assert_exact_density(w.figure.data[4], mix, 1.0, 12)  # the error panel's contours too
    bases, tips = arrows(w.figure.data[1])
    s = mix.score(torch.from_numpy(bases).float(), 1.0).numpy()
    assert_along(bases, tips, s)
    assert "σ = 1.000" in w.readout.value


def test_dataset_redraws_the_new_datasets_density():
    w = ScoreFieldViewer(sigma=0.2)
    w.set(dataset="moons")
    assert_exact_density(w.figure.data[0], toy2d.get("moons"), 0.2, 12)
    assert w.readout.value.startswith("<b>moons</b>")


def test_arrows_puts_n_by_n_arrows_on_a_grid_along_the_exact_score():
    w = ScoreFieldViewer(sigma=0.3)
    w.set(arrows=10)
    bases, tips = arrows(w.figure.data[1])
    assert len(bases) == 100
    assert len(np.unique(bases[:, 0].round(6))) == 10 and len(np.unique(bases[:, 1].round(6))) == 10
    s = toy2d.get("8gaussians").score(torch.from_numpy(bases).float(), 0.3).numpy()
    assert_along(bases, tips, s)


def test_field_shows_the_chosen_field():
    w = ScoreFieldViewer(score_fn=rotated, sigma=0.3)
    w.set(field="network")
    assert len(w.figure.data[1].x) == 0
    bases, tips = arrows(w.figure.data[2])
    s = rotated(torch.from_numpy(bases).float(), 0.3).numpy()  # the network's field, not the exact one
    assert_along(bases, tips, s)
    w.set(field="exact")
    assert len(w.figure.data[2].x) == 0 and len(w.figure.data[1].x) == 7 * 16**2


def test_moving_a_slider_directly_redraws():
    w = ScoreFieldViewer()
    w.controls["sigma"].value = 0.05  # as the browser does: no set(), just the trait
    assert_exact_density(w.figure.data[0], toy2d.get("8gaussians"), 0.05, 12)


def test_exact_arrows_and_network_error():
    w = ScoreFieldViewer(score_fn=half_scale, sigma=0.5)
    assert "50.0%" in w.readout.value  # relative L2 error of a half-size score is exactly 50%
    w.set(field="network")
    w.set(dataset="ring")  # no network for this dataset: the field choice is hidden, the exact one drawn
    assert "no network" in w.readout.value and len(w.figure.data[3].z) == 0
    assert w.controls["field"].disabled and w.controls["field"].layout.display == "none"
    assert len(w.figure.data[1].x) == 7 * 16**2 and len(w.figure.data[2].x) == 0
    assert w.figure.layout.annotations[1].text == "error: no network for this dataset"
    w.set(dataset="8gaussians")
    assert not w.controls["field"].disabled and len(w.figure.data[1].x) == 0  # "network" again


def test_a_network_returning_nan_is_reported_and_not_drawn_there():
    def nan_right(x, sigma):  # NaN on the right half-plane
        s = toy2d.get("8gaussians").score(x, sigma)
        return torch.where(x[:, :1] > 0, torch.full_like(s, float("nan")), s)

    w = ScoreFieldViewer(score_fn=nan_right, sigma=0.3)
    assert "NaN/inf" in w.readout.value and not re.search(r"\bnan\b", w.readout.value)
    bases, _ = arrows(w.figure.data[2])
    assert len(bases) == 8 * 16 and (bases[:, 0] <= 0).all()  # only the finite left half of 16 x 16
    assert np.isfinite(arr(w.figure.data[2].x)[~np.isnan(arr(w.figure.data[2].x))]).all()


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
    with pytest.raises(ValueError, match=r"proposal_std=5.0 must lie in \[0.01, 3.162\]"):
        SamplerExplorer(proposal_std=5.0)


# ---------------------------------------------------------------------- noise tracker
def geometric(smax, smin, n):  # 001, Eq. 8.2, written out
    return smax * (smin / smax) ** (np.arange(n) / (n - 1))


@pytest.fixture(scope="module")
def tracker():
    return NoiseTracker(n_particles=300)


@pytest.mark.parametrize(("control", "value"), [("eps", 1e-3), ("n_sigma", 2)])
def test_eps_and_n_sigma_redraw_the_app_c6_prediction(tracker, control, value):
    from gentoolkit.sampling import als_noise_std

    tracker.set(eps=5e-4, n_sigma=5, level=10)
    tracker.set(**{control: value})
    s = torch.from_numpy(geometric(5.0, 0.05, 10))
    eps, n_sigma = tracker.value("eps"), tracker.value("n_sigma")
    assert np.allclose(arr(tracker.figure.data[6].y), als_noise_std(s, eps, n_sigma, v0=5.0).numpy())
    eta = eps / 0.05**2
    assert np.allclose(arr(tracker.figure.data[5].y), s.numpy() * np.sqrt(2 / (2 - eta)))
    assert f"η = ε/σ_L² = <b>{eta:.3g}</b>" in tracker.readout.value


@pytest.mark.parametrize(("control", "value"), [("n_levels", 8), ("sigma_max", 3.0), ("sigma_min", 0.1)])
def test_schedule_controls_redraw_the_schedule(tracker, control, value):
    tracker.set(n_levels=10, sigma_max=5.0, sigma_min=0.05)
    tracker.set(**{control: value})
    want = geometric(tracker.value("sigma_max"), tracker.value("sigma_min"), tracker.value("n_levels"))
    assert np.allclose(arr(tracker.figure.data[4].y), want)
    assert np.array_equal(arr(tracker.figure.data[4].x), np.arange(1, len(want) + 1))


def test_tracker_dataset_redraws_its_density_at_the_level_shown(tracker):
    tracker.set(dataset="ring", level=4)
    s4 = geometric(tracker.value("sigma_max"), tracker.value("sigma_min"), tracker.value("n_levels"))[3]
    for k in (0, 2):  # both sample panels
        assert_exact_density(tracker.figure.data[k], toy2d.get("ring"), s4, 10)
    tracker.set(dataset="8gaussians (narrow)")


def test_level_shows_that_levels_samples():
    """On the point mass the samples after level k of ALS have the App. C.6 noise std of
    level k: the drawn points are level k's, not another level's (neighbours differ by a
    factor (5 / 0.05)^(1/9) = 1.67)."""
    from gentoolkit.sampling import als_noise_std

    w = NoiseTracker(dataset="point mass", n_particles=2000)
    s = torch.from_numpy(geometric(5.0, 0.05, 10))
    pred = als_noise_std(s, 5e-4, 5, v0=5.0).numpy()
    for level in (3, 7):
        w.set(level=level)
        x, y = arr(w.figure.data[1].x), arr(w.figure.data[1].y)
        v = np.sqrt(np.mean(x**2 + y**2) / 2)  # RMS per coordinate of N(0, v^2 I) in 2D
        # |x|^2 / v^2 ~ chi2_2 (variance 4), so v_hat has relative standard error 1 / (2 sqrt(n))
        assert abs(v / pred[level - 1] - 1) < 5 / (2 * np.sqrt(2000)), level
        assert_exact_density(w.figure.data[0], w._data["point mass"], s[level - 1].item(), 10)
        assert f"after level {level} " in w.figure.layout.annotations[0].text


def test_level_follows_the_number_of_levels(tracker):
    tracker.set(n_levels=10, level=10)
    tracker.set(n_levels=30)  # it was at the last level: it stays at the last level
    assert tracker.value("level") == 30 and tracker.controls["level"].max == 30
    assert "level 30:" in tracker.readout.value
    tracker.set(level=12)
    tracker.set(n_levels=20)  # not at the last level: it stays where it was
    assert tracker.value("level") == 12
    tracker.set(n_levels=5)  # never above L
    assert tracker.value("level") == 5 and tracker.controls["level"].max == 5
    tracker.set(n_levels=25, level=25)  # one call: L first, then a level in the new range
    assert tracker.value("level") == 25
    tracker.controls["n_levels"].value = 10  # as the browser does
    assert tracker.value("level") == 10 and "level 10:" in tracker.readout.value


def test_tracker_measures_prop1_and_prop2_on_a_point_mass():
    from gentoolkit.sampling import als_noise_std

    w = NoiseTracker(dataset="point mass", n_particles=2000)
    w.set(n_sigma=20)
    res = w._res
    s = res["sigmas"]
    # CAS: exactly on the schedule (Prop. 2); ALS: the App. C.6 recursion, above the schedule
    rel = 5 / np.sqrt(2 * 2 * 400)  # 5 standard errors of an RMS from 400 points in 2D
    assert np.allclose(res["cas_noise"].numpy(), s.numpy(), rtol=rel)
    pred = als_noise_std(s, w.value("eps"), 20, v0=s[0].item())
    assert np.allclose(res["als_noise"].numpy(), pred.numpy(), rtol=rel)
    excess = (res["als_noise"] / s).mean() - (res["cas_noise"] / s).mean()  # Prop. 1: ~5% at eta = 0.2
    assert excess > 0.02
    # the drawn curves are those numbers
    assert np.allclose(arr(w.figure.data[8].y), res["cas_noise"].numpy())
    assert np.allclose(arr(w.figure.data[7].y), res["als_noise"].numpy())


def test_tracker_measures_noise_far_above_the_schedule():
    """eta = 4e-4: ALS barely moves, so after the last level its noise is still about
    sigma_1 = 5, a hundred times sigma_L (App. C.6); the measure must say so, not stop at the
    end of a search range around sigma_L."""
    from gentoolkit.sampling import als_noise_std

    w = NoiseTracker(dataset="point mass", n_particles=2000)
    w.set(eps=1e-6)
    s = torch.from_numpy(geometric(5.0, 0.05, 10))
    pred = als_noise_std(s, 1e-6, 5, v0=5.0).numpy()
    assert pred[-1] > 90 * 0.05
    assert np.allclose(w._res["als_noise"].numpy(), pred, rtol=5 / np.sqrt(2 * 2 * 400))


def test_tracker_reports_an_invalid_cas_eps_and_still_draws_als():
    w = NoiseTracker(n_particles=200)
    w.set(eps=1e-6)  # eta = 4e-4: far below 1 - gamma
    assert "CAS not run" in w.readout.value and "smallest eps that works" in w.readout.value
    assert len(w.figure.data[3].x) == 0 and len(w.figure.data[1].x) == 200
    assert len(w.figure.data[8].y) == 0 and "CAS not run" in w.figure.layout.annotations[1].text
    assert list(w.figure.data[9].x) == ["ALS", "ALS + EDS", "data"]


def test_tracker_diverging_als_says_where_and_draws_nothing_of_it():
    w = NoiseTracker(dataset="point mass", n_particles=300)
    w.set(eps=1e-2)  # eta = 4: every update multiplies x by about 1 - eta = -3
    text = w.readout.value
    k = int(number(text, r"ALS diverged at level (\d+)"))
    assert 1 <= k <= 10 and "smaller ε" in text and "ε < 2σ_L² = 0.005" in text and not re.search(r"\bnan\b", text)
    snaps = w._res["als"]
    assert torch.isfinite(snaps[k - 2]).all() if k > 1 else True
    assert not (torch.isfinite(snaps[k - 1]).all() and snaps[k - 1].abs().max() < 1e3 * 5)
    w.set(level=k)
    assert len(w.figure.data[1].x) == 0 and "diverged" in w.figure.layout.annotations[0].text
    assert np.isnan(arr(w.figure.data[7].y)[k - 1 :]).all()  # no measured noise from there on
    assert "ALS" not in list(w.figure.data[9].x)  # no quality bars for it
    assert len(w.figure.data[6].y) == 0 and len(w.figure.data[5].y) == 0  # no limit exists for eta >= 2
    if k > 1:
        w.set(level=k - 1)
        assert len(w.figure.data[1].x) == 300


def test_tracker_with_a_nan_network_says_both_diverged_and_draws_neither():
    w = NoiseTracker(dataset="8gaussians", score_fn=lambda x, s: torch.full_like(x, float("nan")), n_particles=100)
    text = w.readout.value
    assert "ALS diverged at level 1" in text and "CAS diverged at level 1" in text
    assert "check the score network" in text and not re.search(r"\bnan\b", text)
    assert len(w.figure.data[1].x) == 0 and len(w.figure.data[3].x) == 0
    assert np.isnan(arr(w.figure.data[7].y)).all() and list(w.figure.data[9].x) == ["data"]


def test_tracker_denoising_brings_samples_to_the_data():
    w = NoiseTracker(dataset="8gaussians (narrow)", n_particles=1000)
    q = w._res["quality"]
    assert q["ALS + EDS"] < q["ALS"] and q["CAS + EDS"] < q["CAS"] and q["CAS"] < q["ALS"]
    assert np.allclose(arr(w.figure.data[9].y), list(q.values()))


def test_tracker_with_a_trained_network_keeps_no_graph():
    from gentoolkit.nets import ScoreMLP

    net = ScoreMLP(data_std=2.0)  # untrained is fine: we check plumbing, not quality
    w = NoiseTracker(dataset="8gaussians", score_fn=net, n_particles=100)
    assert all(not x.requires_grad for x in w._res["als"])
    before = drawn(w)
    w.set(eps=1e-3)
    assert not same(before, drawn(w))


# ---------------------------------------------------------------------- sampler explorer
def test_proposal_std_moves_the_marked_point_of_the_sweep():
    w = SamplerExplorer(sampler="MH", n_chains=60)
    w.set(proposal_std=0.5)
    star = w.figure.data[6]
    rate = number(w.readout.value, r"acceptance rate <b>([\d.]+)%") / 100
    assert np.allclose(arr(star.x), [0.5]) and np.allclose(arr(star.y), [rate], atol=1e-3)
    assert "proposal noise std h = 0.5" in w.readout.value
    # the marked rate sits on the sweep's curve: between its neighbours at h = 0.39 and 0.62
    sx, sy = arr(w.figure.data[5].x), arr(w.figure.data[5].y)
    i = np.searchsorted(sx, 0.5)
    assert sy[i] - 0.1 <= rate <= sy[i - 1] + 0.1


def test_sampler_switches_the_algorithm():
    w = SamplerExplorer(sampler="MH", n_chains=60)
    jumps = np.diff(np.stack([arr(w.figure.data[2].x), arr(w.figure.data[2].y)], 1), axis=0)
    assert (np.abs(jumps).sum(1) == 0).any()  # MH rejects some proposals: the chain stays put
    assert "λ" not in w.readout.value
    w.set(sampler="ULA")
    jumps = np.diff(np.stack([arr(w.figure.data[2].x), arr(w.figure.data[2].y)], 1), axis=0)
    assert (np.abs(jumps).sum(1) > 0).all()  # ULA moves at every step
    assert "acceptance rate <b>100.0%</b>" in w.readout.value
    assert "Langevin step λ = h²/2 = 0.045" in w.readout.value  # h = 0.3
    assert np.allclose(arr(w.figure.data[5].y), 1.0)
    w.set(sampler="MALA")
    assert np.allclose(arr(w.figure.data[5].y), w.sweep()[1]) and arr(w.figure.data[5].y).min() < 0.5


def test_n_steps_sets_the_chain_length():
    w = SamplerExplorer(n_chains=60)
    w.set(n_steps=50)
    assert all(len(w.figure.data[k].x) == 51 for k in (2, 3, 4))  # x0 and 50 steps


def test_sampler_dataset_redraws_the_density_and_counts_its_modes():
    w = SamplerExplorer(n_chains=60)
    w.set(dataset="moons")
    mix = toy2d.get("moons")
    assert_exact_density(w.figure.data[0], mix, 0.0, 12)
    assert f"/{mix.n_components}</b>" in w.readout.value


def test_explorer_acceptance_falls_with_the_step_size():
    w = SamplerExplorer(sampler="MH", n_chains=60)
    steps, rates = w.sweep()
    assert rates[0] > 0.9 and rates[-1] < 0.2 and np.all(np.diff(rates) <= 0.05)


def test_ula_divergence_is_said_in_words_and_not_drawn():
    w = SamplerExplorer(sampler="ULA", n_chains=60)
    assert "diverged" not in w.readout.value and len(w.figure.data[1].x) == 60  # h = 0.3 < 2 s = 0.5
    w.set(proposal_std=3.0)  # lambda = 4.5 > 2 s^2 = 0.125: unstable
    text = w.readout.value
    k = int(number(text, r"diverged at step (\d+) of 100"))
    assert 1 <= k <= 100 and "smaller proposal std h (below 0.5)" in text
    assert not re.search(r"\bnan\b", text) and "modes covered" not in text
    assert all(len(w.figure.data[i].x) == 0 for i in (1, 2, 3, 4, 7))
    assert "diverged" in w.figure.layout.annotations[0].text
    w.set(proposal_std=0.3)
    assert "diverged" not in w.readout.value and len(w.figure.data[1].x) == 60


# ---------------------------------------------------------------------- solver explorer
def nfe(w):
    return int(number(w.readout.value, r"NFE <b>(\d+)</b>"))


def steps_drawn(w):
    from gentoolkit.widgets.solver_explorer import _TRACKED

    trace = w.figure.data[2 + _TRACKED]
    return arr(trace.x), arr(trace.y)


@pytest.fixture(scope="module")
def solver():
    return SolverExplorer(n_particles=300)


def test_knobs_are_shown_and_enabled_only_for_the_solver_that_takes_them(solver):
    from gentoolkit.widgets.solver_explorer import KNOBS, SOLVERS

    for m in SOLVERS:
        solver.set(method=m, sde="VP")
        for k in KNOBS:
            used = k in METHODS[m] and k != "s_noise"  # s_noise only with churn (below)
            c = solver.controls[k]
            assert c.disabled == (not used) and (c.layout.display == "none") == (not used), (m, k)
    solver.set(method="edm_heun", s_churn=2.0)
    assert not solver.controls["s_noise"].disabled and solver.controls["s_noise"].layout.display is None
    solver.set(s_churn=0.0)
    assert solver.controls["s_noise"].disabled
    solver.set(method="euler_maruyama")


@pytest.mark.parametrize(("method", "main"), [("ode", "rtol"), ("ggf", "eps_rel"), ("pc", "n_steps")])
def test_the_main_control_follows_the_solver(solver, method, main):
    solver.set(method=method)
    assert solver.main == main and not solver.controls[main].disabled
    marked = [k for k, c in solver.controls.items() if "gentoolkit-main" in c._dom_classes]
    assert marked == [main]
    solver.set(method="euler_maruyama")
    assert solver.main == "n_steps"


def test_ode_default_tolerances_have_converged():
    """The ODE has its own rtol/atol (the old widget ran it at GGF's eps_rel = 0.1: sliced W2
    1.07). At the defaults its sample is that of a 100x tighter solve (same prior draw), and
    both are as close to the data as independent data samples are (within 4 sd of the floor)."""
    w = SolverExplorer(method="ode", n_particles=2000)
    sw = number(w.readout.value, r"sliced W2 to the data <b>([\d.]+)</b>")
    floor = number(w.readout.value, r"two data samples: ([\d.]+)")
    sd = number(w.readout.value, r"two data samples: [\d.]+ ± ([\d.]+)")
    w.set(rtol=1e-5, atol=1e-6)
    tight = number(w.readout.value, r"sliced W2 to the data <b>([\d.]+)</b>")
    assert abs(sw - tight) < 0.005 and sw < floor + 4 * sd, (sw, tight, floor, sd)


def test_invalid_combination_clears_every_panel_and_says_why(solver):
    solver.set(sde="VP", method="euler_maruyama", n_steps=20)
    assert len(solver.figure.data[2].x) == 20 and len(steps_drawn(solver)[0]) == 20
    solver.set(sde="sub-VP", method="ancestral")
    f = solver.figure
    assert_exact_density(f.data[0], toy2d.get("8gaussians"), 0.0, 12)  # the density is redrawn
    assert all(len(t.x) == 0 and len(t.y) == 0 for t in f.data[1:])  # samples, paths, steps
    assert "defined for VE and VP only" in solver.readout.value and "NFE" not in solver.readout.value
    assert all("not defined for sub-VP" in a.text for a in f.layout.annotations)
    solver.set(sde="VP")
    assert len(f.data[1].x) == 300 and len(steps_drawn(solver)[0]) == 20 and f.layout.annotations[0].text == "samples"
    solver.set(method="euler_maruyama", n_steps=100)


def test_adaptive_solvers_draw_no_stale_paths_or_steps(solver):
    solver.set(sde="VP", method="euler_maruyama", n_steps=20)
    solver.set(method="ode")
    assert all(len(solver.figure.data[2 + k].x) == 0 for k in range(5))
    assert len(steps_drawn(solver)[0]) == 0 and "not recorded" in solver.figure.layout.annotations[2].text
    solver.set(method="ggf")
    assert all(len(solver.figure.data[2 + k].x) == 0 for k in range(5)) and len(steps_drawn(solver)[0]) > 0
    solver.set(method="euler_maruyama", n_steps=100)


def test_nfe_is_one_defined_figure(solver):
    solver.set(sde="VP", method="euler_maruyama", n_steps=20)
    text = solver.readout.value
    assert text.count("NFE") == 1 and "(score calls on the whole batch, incl. the final denoising call)" in text
    assert nfe(solver) == 21  # 20 steps and Tweedie
    solver.set(method="pc")
    assert nfe(solver) == 41  # a corrector and a predictor call per step, and Tweedie
    solver.set(method="ggf")
    assert solver.readout.value.count("NFE") == 1 and nfe(solver) % 2 == 1  # 2 calls per attempt, and Tweedie
    solver.set(method="euler_maruyama", n_steps=100)


def test_n_steps_draws_the_uniform_grid(solver):
    solver.set(sde="VP", method="euler_maruyama", n_steps=20)
    solver.set(n_steps=40)
    ts, hs = steps_drawn(solver)
    assert len(hs) == 40 and np.allclose(hs, (1.0 - 1e-3) / 40)  # h = (T - t_eps) / n_steps
    assert np.allclose(ts, 1.0 - np.arange(40) * (1.0 - 1e-3) / 40)
    assert len(solver.figure.data[2].x) == 40 and nfe(solver) == 41
    solver.set(n_steps=100)


def test_sde_switches_the_process(solver):
    solver.set(sde="VP", method="euler_maruyama", n_steps=20)
    solver.set(sde="VE")
    ts, hs = steps_drawn(solver)
    assert np.allclose(hs, (1.0 - 1e-5) / 20)  # VE's t_eps is 1e-5, VP's 1e-3
    assert " on VE:" in solver.readout.value
    # the paths start from VE's prior N(0, 10^2): far wider than VP's N(0, 1)
    assert np.abs([solver.figure.data[2 + k].y[0] for k in range(5)]).max() > 3
    solver.set(sde="VP", n_steps=100)


def test_solver_dataset_redraws_the_new_density(solver):
    solver.set(dataset="moons")
    assert_exact_density(solver.figure.data[0], toy2d.get("moons"), 0.0, 12)
    solver.set(dataset="8gaussians")


def test_pc_knob_snr(solver):
    solver.set(sde="VP", method="pc", n_steps=20, snr=0.16)
    before = drawn(solver)
    solver.set(snr=0.3)
    assert "snr=0.3" in solver.readout.value and nfe(solver) == 41  # the corrector's size, not its count
    assert not _eq(before[3], drawn(solver)[3])  # the samples moved
    solver.set(method="euler_maruyama", n_steps=100)


@pytest.mark.parametrize(
    ("method", "control", "start", "value"),
    [
        ("ggf", "eps_rel", 0.1, 0.3),
        ("ggf", "eps_abs", 0.0078, 0.05),
        ("ode", "rtol", 1e-3, 1e-1),
        ("ode", "atol", 1e-4, 1e-2),
    ],
)
def test_looser_tolerances_take_fewer_score_calls(solver, method, control, start, value):
    solver.set(sde="VP", method=method, **{control: start})
    calls = nfe(solver)
    solver.set(**{control: value})
    assert nfe(solver) < calls and f"{control}={value:.3g}" in solver.readout.value
    solver.set(method="euler_maruyama", **{control: start})


def test_memory_switches_the_brownian_memory(solver):
    solver.set(sde="VP", method="ggf", memory=True)
    assert "Brownian memory depth" in solver.readout.value
    before = drawn(solver)
    solver.set(memory=False)
    assert "no Brownian memory" in solver.readout.value and not _eq(before[3], drawn(solver)[3])
    solver.set(method="euler_maruyama", memory=True)


def test_solver_explorer_ggf_steps_adapt():
    w = SolverExplorer(method="ggf", n_particles=300)
    assert "accepted" in w.readout.value
    _, hs = steps_drawn(w)
    assert len(hs) > 0 and hs.max() > 5 * hs.min()  # adaptive: the step size varies


def test_a_diverging_solver_says_at_which_step_and_draws_nothing():
    exact = mixture_score(toy2d.get("8gaussians"), VPSDE(0.1, 20.0))

    def nan_late(x, t):  # a broken network: NaN below t = 0.5
        return torch.where((t < 0.5)[:, None], torch.full_like(x, float("nan")), exact(x, t))

    w = SolverExplorer(score_fn=nan_late, n_particles=200)
    w.set(n_steps=20)
    times = np.linspace(1.0, 1e-3, 21)
    first = int(np.argmax(times < 0.5))  # step i (from 0) evaluates the score at times[i]
    text = w.readout.value
    assert f"diverged at step {first + 1} of 20 (t = {times[first + 1]:.3g})" in text
    assert "more steps" in text and not re.search(r"\bnan\b", text)
    assert all(len(t.x) == 0 for t in w.figure.data[1:])
    assert all("diverged" in a.text for a in w.figure.layout.annotations)
    for method in ("ode", "ggf"):  # adaptive solvers give up on NaN: said in words, nothing drawn
        w.set(method=method)
        assert f"<b>{method} failed</b>" in w.readout.value and "check the score network" in w.readout.value
        assert all(len(t.x) == 0 for t in w.figure.data[1:]) and len(w.figure.data[0].z) > 0


def test_the_step_slider_follows_the_solver_family_and_remembers_each(solver):
    """First-order SDE solvers: 10 to 1000 steps; the fast samplers: 1 to 100, each family keeping
    its last value; set(method=..., n_steps=...) sets the method first, so 5 steps are allowed for
    Heun but not for Euler-Maruyama."""
    c = solver.controls["n_steps"]
    solver.set(method="euler_maruyama", n_steps=200)
    solver.set(method="edm_heun", n_steps=5)
    assert (c.min, c.max, c.step, c.value) == (1, 100, 1, 5) and nfe(solver) == 11  # 2 per step and Tweedie
    solver.set(method="ddim")
    assert c.value == 5 and nfe(solver) == 6  # the same family: the value stays
    solver.set(method="pc")
    assert (c.min, c.max, c.step, c.value) == (10, 1000, 10, 200)
    with pytest.raises(ValueError, match=r"n_steps=5 is outside the slider's range \[10, 1000\]"):
        solver.set(n_steps=5)
    solver.set(method="dpmpp_2m")
    assert c.value == 5 and nfe(solver) == 6
    assert SolverExplorer(method="ddim", n_particles=50).controls["n_steps"].value == 10
    solver.set(method="euler_maruyama", n_steps=100)


@pytest.mark.parametrize(
    ("method", "control", "start", "value"),
    [
        ("ddim", "n_steps", 10, 20),
        ("ddim", "eta", 0.0, 0.5),
        ("edm_heun", "n_steps", 10, 11),
        ("edm_heun", "rho", 7.0, 3.0),
        ("edm_heun", "s_churn", 0.0, 5.0),
        ("dpmpp_2m", "n_steps", 10, 12),
        ("dpmpp_2m", "spacing", "logsnr", "time"),
    ],
)
def test_each_fast_sampler_control_changes_the_drawing(solver, method, control, start, value):
    """Every knob of the fast samplers moves the samples and the star on the NFE-error panel, and
    the readout names the new value; the grid knobs (n_steps, rho, spacing) redraw the step sizes."""
    solver.set(sde="VP", method=method, **{control: start})
    before, steps_before = drawn(solver), steps_drawn(solver)
    solver.set(**{control: value})
    after = drawn(solver)
    assert not _eq(before[3], after[3]) and not _eq(before[4], after[4])  # the samples moved
    star = solver.figure.data[-1]
    shown = f"{control}={value:.3g}" if isinstance(value, float) else f"{control}={value}"
    assert shown in solver.readout.value
    assert number(solver.readout.value, r"sliced W2 to the data <b>([\d.]+)</b>") == pytest.approx(star.y[0], abs=5e-4)
    if control in ("n_steps", "rho", "spacing"):
        assert not _eq(steps_before[1], steps_drawn(solver)[1])
    solver.set(**{control: start})
    solver.set(method="euler_maruyama", n_steps=100)


def test_s_noise_acts_with_churn_only():
    w = SolverExplorer(method="edm_heun", n_particles=300)
    w.set(s_churn=4.0)
    before = drawn(w)
    w.set(s_noise=1.1)
    assert not _eq(before[3], drawn(w)[3]) and "s_noise=1.1" in w.readout.value


def test_nfe_error_panel_shows_every_solver_and_this_run_on_its_curve(solver):
    """One curve per solver (the chosen one bold; ancestral has none on sub-VP), computed once per
    SDE and dataset at the budgets CURVES from the widget's seed: a run at one of those budgets is a
    point of its own curve. The floor line is the readout's data-to-data distance."""
    from gentoolkit.widgets.solver_explorer import _CURVE0, CURVES, SOLVERS

    solver.set(sde="VP", dataset="8gaussians", method="euler_maruyama", n_steps=100)
    f = solver.figure
    curves = {t.name: t for t in f.data[_CURVE0 : _CURVE0 + len(SOLVERS)]}
    assert list(curves) == list(SOLVERS)
    for m, t in curves.items():
        assert len(t.x) == len(CURVES[m]) and all(np.isfinite(t.y)), m
    assert curves["euler_maruyama"].line.width == 3 and curves["ddim"].line.width < 3
    star = f.data[-1]
    i = list(curves["euler_maruyama"].x).index(101)
    assert star.x[0] == 101 and star.y[0] == pytest.approx(curves["euler_maruyama"].y[i], rel=1e-9)
    floor = number(solver.readout.value, r"two data samples: ([\d.]+)")
    assert f.data[_CURVE0 + len(SOLVERS)].y[0] == pytest.approx(floor, abs=5e-4)
    # Heun's curve: 2 score calls per step and Tweedie; DPM-Solver++(2M)'s: one
    assert list(curves["edm_heun"].x) == [2 * c["n_steps"] + 1 for c in CURVES["edm_heun"]]
    assert list(curves["dpmpp_2m"].x) == [c["n_steps"] + 1 for c in CURVES["dpmpp_2m"]]
    cached = solver._curves[("VP", "8gaussians")]
    solver.set(method="dpmpp_2m")
    assert solver._curves[("VP", "8gaussians")] is cached and curves["dpmpp_2m"].line.width == 3
    solver.set(sde="sub-VP")
    assert len(curves["ancestral"].x) == 0 and len(curves["euler_maruyama"].x) == 4
    solver.set(sde="VP", method="euler_maruyama", n_steps=100)


def test_bad_solver_arguments():
    with pytest.raises(ValueError, match="unknown sde='OU'"):
        SolverExplorer(sde="OU")
    with pytest.raises(ValueError, match="unknown method='heun'"):
        SolverExplorer(method="heun")
    with pytest.raises(ValueError, match=r"score_fn keys must be \(sde name, dataset name\)"):
        SolverExplorer(score_fn={"8gaussians": half_scale})
    with pytest.raises(ValueError, match=r"n_steps=5 is outside the slider's range \[10, 1000\]"):
        SolverExplorer(n_particles=50).set(n_steps=5)


# ---------------------------------------------------------------------- metrics used by the widgets
def test_autocorrelation_of_known_processes():
    from gentoolkit.metrics import autocorrelation, mean_squared_jump

    g = torch.Generator().manual_seed(0)
    white = torch.randn(2000, 50, 2, generator=g)
    acf = autocorrelation(white, 5)
    assert acf[0] == pytest.approx(1.0) and np.abs(acf[1:]).max() < 0.05
    # AR(1) with coefficient 0.8: acf(k) = 0.8^k
    x = torch.zeros(4000, 50, 2)
    for t in range(1, 4000):
        x[t] = 0.8 * x[t - 1] + torch.randn(50, 2, generator=g)
    acf = autocorrelation(x[200:], 4)
    assert np.allclose(acf, 0.8 ** np.arange(5), atol=0.05)
    # a chain stuck at two different constants is perfectly correlated, not "mixed"
    stuck = torch.cat([torch.zeros(100, 1, 2), torch.ones(100, 1, 2)], 1)
    assert np.allclose(autocorrelation(stuck, 10), 1.0)
    # jumps: the AR(1) increment has E|dx|^2 = 2 * 2 * (1 - 0.8) / (1 - 0.8^2) per 2D step
    assert mean_squared_jump(x[200:]) == pytest.approx(2 * 2 * 0.2 / 0.36, rel=0.03)
    with pytest.raises(ValueError, match=r"chain must be a tensor of shape \(T >= 2"):
        mean_squared_jump(torch.zeros(1, 3, 2))


def test_sliced_wasserstein():
    from gentoolkit.metrics import sliced_wasserstein

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 2, generator=g)
    assert sliced_wasserstein(x, x) == 0.0
    # a shift by c: every projection moves by u.c, so SW2^2 = E_u (u.c)^2 = |c|^2 / d, whatever
    # the sample (its sorted projections shift exactly); only the directions are random:
    # cos^2 has mean 1/2 and variance 1/8, so 4000 of them give SW2 to 0.6% (0.03 is 5 SE)
    c = torch.tensor([3.0, 4.0])
    assert sliced_wasserstein(x, x + c, n_projections=4000, generator=g) == pytest.approx(5 / np.sqrt(2), rel=0.03)
    with pytest.raises(ValueError, match="x and y must have the same shape"):
        sliced_wasserstein(x, x[:10])


def test_same_seed_same_picture():
    a, b = SolverExplorer(method="ggf", n_particles=200), SolverExplorer(method="ggf", n_particles=200)
    assert same(drawn(a), drawn(b))
    assert math.isclose(nfe(a), nfe(b))
