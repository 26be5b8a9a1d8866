"""What the static figures draw: the plotted data against the input and against closed forms (that
plots imports no widget code is tested in test_project)."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.contour as mcontour
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from gentoolkit import plots
from gentoolkit.data.toy2d import Mixture2D


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _contour(ax):
    (cs,) = [c for c in ax.collections if isinstance(c, mcontour.ContourSet)]
    return cs


def _mixture_1d():  # 0.3 N(-2, 0.5^2) + 0.7 N(1.5, 1), as in notebook 02
    w, mu, sd = (torch.tensor(v, dtype=torch.float64) for v in ([0.3, 0.7], [-2.0, 1.5], [0.5, 1.0]))
    comp = torch.distributions.Normal(mu, sd)
    return lambda x: torch.logsumexp(w.log() + comp.log_prob(x[:, None]), 1)


def test_plot_samples_1d_draws_a_normalised_histogram_and_the_density():
    # 3 samples, 2 bins of width 0.5 on [0, 1]: heights 2 / (3 * 0.5) and 1 / (3 * 0.5), so the
    # bars integrate to 1 (a count histogram would give 2 and 1)
    ax = plots.plot_samples_1d(torch.tensor([0.1, 0.2, 0.6]), lambda t: 2 * t, 0.0, 1.0, bins=2)
    assert [p.get_height() for p in ax.patches] == pytest.approx([4 / 3, 2 / 3])
    (line,) = ax.lines
    t, y = line.get_data()
    assert t[0] == 0.0 and t[-1] == 1.0 and np.allclose(y, 2 * t)  # density(t), on the range asked for


def test_plot_samples_1d_rejects_bad_input():
    with pytest.raises(ValueError, match="samples"):
        plots.plot_samples_1d(torch.zeros(5, 2), lambda t: t, 0.0, 1.0)
    with pytest.raises(ValueError, match="lo < hi"):
        plots.plot_samples_1d(torch.zeros(5), lambda t: t, 1.0, 0.0)


def test_plot_rejection_splits_the_points_at_the_target_density():
    # the points (x, u M q(x)) lie under the envelope; those under p are drawn as accepted, the
    # others as rejected, and the accepted share is 1/M up to binomial noise: standard error
    # sqrt(a (1 - a) / n) = 0.025 for a = 1/M = 0.41 and n = 400, tolerance 4 standard errors
    log_p, q = _mixture_1d(), torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 3.0)
    t = torch.linspace(-10, 10, 4001, dtype=torch.float64)
    log_M = (log_p(t) - q.log_prob(t)).max().item() + math.log(1.01)
    draw = lambda m, g: 3.0 * torch.randn(m, generator=g, dtype=torch.float64)  # noqa: E731
    fig = plots.plot_rejection(log_p, draw, q.log_prob, log_M, draw(2000, None), -7.0, 7.0, n=400, seed=3)
    left = fig.axes[0]
    envelope, target = (line.get_data() for line in left.lines)
    assert np.all(envelope[1] >= target[1])
    accepted, rejected = (torch.from_numpy(np.asarray(c.get_offsets())) for c in left.collections)
    assert len(accepted) + len(rejected) == 400
    for pts, under in [(accepted, True), (rejected, False)]:
        x, h = pts[:, 0].double(), pts[:, 1].double()
        assert torch.all(h <= (log_M + q.log_prob(x)).exp())
        assert torch.all((h < log_p(x).exp()) == under)
    assert abs(len(accepted) / 400 - math.exp(-log_M)) < 4 * 0.025


def test_plot_density_draws_p_sigma():
    # N(0, I) on a grid through the origin: the largest contoured value is p(0) = 1 / (2 pi),
    # and 1 / (2 pi (1 + sigma^2)) at noise level sigma (log p would be negative, a missing
    # sigma would leave the first value)
    mix = Mixture2D(torch.zeros(1, 2), 1.0)
    ax = plots.plot_density(mix, res=101)
    assert _contour(ax).zmax == pytest.approx(1 / (2 * math.pi), rel=1e-6)
    assert ax.get_xlim() == (-4.0, 4.0) and ax.get_ylim() == (-4.0, 4.0)
    ax = plots.plot_density(mix, res=101, sigma=1.0)
    assert _contour(ax).zmax == pytest.approx(1 / (4 * math.pi), rel=1e-6)


def test_plot_chains_draws_the_final_states_and_the_first_trajectories():
    chain = torch.randn(6, 5, 2, generator=torch.Generator().manual_seed(0))
    mix = Mixture2D(torch.zeros(1, 2), 1.0)
    ax = plots.plot_chains(mix, chain, n_paths=2)
    (states,) = [c for c in ax.collections if not isinstance(c, mcontour.ContourSet)]
    assert np.allclose(states.get_offsets(), chain[-1].numpy())
    assert len(ax.lines) == 2
    for k, line in enumerate(ax.lines):
        assert np.allclose(np.stack(line.get_data(), 1), chain[:, k].numpy())
    ax = plots.plot_chains(mix, chain, n_paths=1, final=False)
    assert list(ax.collections) == [_contour(ax)] and len(ax.lines) == 1


def test_plot_chains_rejects_bad_input():
    mix = Mixture2D(torch.zeros(1, 2), 1.0)
    with pytest.raises(ValueError, match="chain"):
        plots.plot_chains(mix, torch.zeros(5, 2))
    with pytest.raises(ValueError, match="n_paths"):
        plots.plot_chains(mix, torch.zeros(5, 3, 2), n_paths=4)


def test_plot_step_sweep_draws_one_curve_per_sampler_and_panel():
    stds = [0.1, 0.2, 0.4]
    acc, jump = {"MH": [0.9, 0.6, 0.3], "MALA": [1.0, 0.9, 0.1]}, {"MH": [0.01, 0.02, 0.05], "MALA": [0.02, 0.05, 0.01]}
    fig = plots.plot_step_sweep(stds, acc, jump)
    for ax, values in zip(fig.axes, (acc, jump)):
        assert ax.get_xscale() == "log"
        assert [line.get_label() for line in ax.lines] == ["MH", "MALA"]
        for line, name in zip(ax.lines, values):
            assert np.allclose(line.get_data(), [stds, values[name]])
    assert fig.axes[1].get_yscale() == "log"
    with pytest.raises(ValueError, match="one value per noise std"):
        plots.plot_step_sweep(stds, {"MH": [0.9, 0.6]}, {"MH": [0.1, 0.2, 0.3]})


def test_plot_loss_moving_average_of_a_linear_history():
    # the moving average over w steps of h_k = k is k - (w - 1) / 2, drawn from step w - 1 on
    ax = plots.plot_loss(np.arange(100.0), window=10)
    raw, smooth = ax.lines
    assert np.allclose(raw.get_ydata(), np.arange(100.0))
    x, y = smooth.get_data()
    assert x[0] == 9 and np.allclose(y, x - 4.5)


def test_plot_score_error_draws_percent():
    ax = plots.plot_score_error({"DSM": ([0.1, 1.0], [0.2, 0.05])}, target=0.15)
    curve, target = ax.lines
    assert np.allclose(curve.get_ydata(), [20.0, 5.0]) and np.allclose(target.get_ydata(), 15.0)
