import numpy as np
import pytest
import torch

from gentoolkit.data import toy2d
from gentoolkit.widgets import ScoreFieldViewer
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


# ---------------------------------------------------------------------- noise tracker
TRACKER_MOVES = {
    "eps": 1e-3,
    "n_sigma": 2,
    "n_levels": 8,
    "sigma_max": 3.0,
    "sigma_min": 0.1,
    "dataset": "ring",
    "level": 3,
}


@pytest.mark.parametrize("control", list(TRACKER_MOVES))
def test_moving_each_tracker_control_changes_the_drawing(control):
    from gentoolkit.widgets import NoiseTracker

    w = NoiseTracker(n_particles=300)
    before, text = drawn(w), w.readout.value
    w.set(**{control: TRACKER_MOVES[control]})
    assert not same(before, drawn(w)), control
    assert w.readout.value != text, control


def test_tracker_measures_prop1_and_prop2_on_a_point_mass():
    from gentoolkit.sampling import als_noise_std
    from gentoolkit.widgets import NoiseTracker

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
    assert np.allclose(np.asarray(w.figure.data[8].y), res["cas_noise"].numpy())
    assert np.allclose(np.asarray(w.figure.data[5].y), s.numpy() * np.sqrt(2 / (2 - res["eta"])))


def test_tracker_reports_an_invalid_cas_eps_and_still_draws_als():
    from gentoolkit.widgets import NoiseTracker

    w = NoiseTracker(n_particles=200)
    w.set(eps=1e-6)  # eta = 4e-4: far below 1 - gamma
    assert "CAS not run" in w.readout.value and "smallest eps that works" in w.readout.value
    assert len(w.figure.data[3].x) == 0 and len(w.figure.data[1].x) == 200


def test_tracker_denoising_brings_samples_to_the_data():
    from gentoolkit.widgets import NoiseTracker

    w = NoiseTracker(dataset="8gaussians (narrow)", n_particles=1000)
    als_raw, als_eds, cas_raw, cas_eds, data = w._res["quality"]
    assert als_eds < als_raw and cas_eds < cas_raw and cas_raw < als_raw


# ---------------------------------------------------------------------- sampler explorer
EXPLORER_MOVES = {"dataset": "moons", "sampler": "MH", "proposal_std": 0.5, "n_steps": 50}


@pytest.mark.parametrize("control", list(EXPLORER_MOVES))
def test_moving_each_explorer_control_changes_the_drawing(control):
    from gentoolkit.widgets import SamplerExplorer

    w = SamplerExplorer(n_chains=60)
    before, text = drawn(w), w.readout.value
    w.set(**{control: EXPLORER_MOVES[control]})
    assert not same(before, drawn(w)), control
    assert w.readout.value != text, control


def test_explorer_acceptance_falls_with_the_step_size():
    from gentoolkit.widgets import SamplerExplorer

    w = SamplerExplorer(sampler="MH", n_chains=60)
    steps, rates = w.sweep()
    assert rates[0] > 0.9 and rates[-1] < 0.2 and np.all(np.diff(rates) <= 0.05)
    assert np.allclose(
        w.figure.data[6].y, [float(w.readout.value.split("acceptance rate <b>")[1].split("%")[0]) / 100], atol=1e-3
    )
    w.set(sampler="ULA")
    assert "100.0%" in w.readout.value  # ULA accepts every move
    assert "λ = 0.045" in w.readout.value  # proposal std 0.3 is the Langevin step 0.3^2 / 2


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


def test_tracker_with_a_trained_network_keeps_no_graph():
    from gentoolkit.nets import ScoreMLP
    from gentoolkit.widgets import NoiseTracker

    net = ScoreMLP(data_std=2.0)  # untrained is fine: we check plumbing, not quality
    w = NoiseTracker(dataset="8gaussians", score_fn=net, n_particles=100)
    assert all(not x.requires_grad for x in w._res["als"])
    before = drawn(w)
    w.set(eps=1e-3)
    assert not same(before, drawn(w))


# ---------------------------------------------------------------------- solver explorer
SOLVER_MOVES = [  # (method to select first, control, new value)
    ("euler_maruyama", "sde", "VE"),
    ("euler_maruyama", "dataset", "moons"),
    ("euler_maruyama", "method", "reverse_diffusion"),
    ("euler_maruyama", "n_steps", 40),
    ("pc", "snr", 0.3),
    ("ggf", "eps_rel", 0.3),
    ("ggf", "eps_abs", 0.05),
    ("ggf", "memory", False),
    ("ode", "eps_rel", 0.3),
]


@pytest.mark.parametrize(("method", "control", "value"), SOLVER_MOVES)
def test_moving_each_solver_control_changes_the_drawing(method, control, value):
    from gentoolkit.widgets import SolverExplorer

    w = SolverExplorer(method=method, n_particles=300)
    w.set(n_steps=20)
    before, text = drawn(w), w.readout.value
    w.set(**{control: value})
    assert not same(before, drawn(w)), control
    assert w.readout.value != text


def test_solver_explorer_greys_out_unused_knobs_and_reports_ggf_counts():
    from gentoolkit.widgets import SolverExplorer

    w = SolverExplorer(method="ggf", n_particles=300)
    assert w.controls["n_steps"].disabled and not w.controls["eps_rel"].disabled
    assert "accepted" in w.readout.value and "NFE per sample" in w.readout.value
    steps = np.asarray(w.figure.data[-1].y)
    assert len(steps) > 0 and steps.max() > 5 * steps.min()  # adaptive: the step size varies
    w.set(method="euler_maruyama")
    assert not w.controls["n_steps"].disabled and w.controls["snr"].disabled
    assert np.allclose(np.asarray(w.figure.data[-1].y), 0.999 / 100)  # uniform grid of 100 steps
    w.set(sde="sub-VP", method="ancestral")
    assert "VE and VP only" in w.readout.value


def test_sliced_wasserstein():
    from gentoolkit.metrics import sliced_wasserstein

    g = torch.Generator().manual_seed(0)
    x = torch.randn(20_000, 2, generator=g)
    assert sliced_wasserstein(x, x) == 0.0
    # a shift by c: every projection moves by u.c, so SW2^2 = E_u (u.c)^2 = |c|^2 / d
    c = torch.tensor([3.0, 4.0])
    assert sliced_wasserstein(x, x + c, n_projections=4000, generator=g) == pytest.approx(5 / np.sqrt(2), rel=0.03)
    with pytest.raises(ValueError, match="x and y must have the same shape"):
        sliced_wasserstein(x, x[:10])
