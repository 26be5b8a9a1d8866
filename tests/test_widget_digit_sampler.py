"""DigitSampler: the grid of samples of a VP score model, redrawn when a control moves, with the
solver's NFE, a progress bar, the classifier's verdict, hidden knobs and divergence in words.
Driven without a browser on a tiny (untrained) model: what is checked is what is drawn."""

import dataclasses

import numpy as np
import pytest
import torch

from gentoolkit import presets, runs
from gentoolkit.widgets.digit_sampler import DigitSampler, _tile

CONFIG = dataclasses.replace(presets.get("mnist-vp-ggf").config, tol=0.2)


class GaussianDigit(torch.nn.Module):
    """The exact VP score of data N(mu, s^2 I), mu a "1" (a vertical bar): x_t ~ N(m mu, m^2 s^2 + sd^2)
    with (m, sd) = sde.mean_std(t). Cheap and well-behaved: samples are mu + s z."""

    def __init__(self, s=0.1):
        super().__init__()
        mu = -torch.ones(1, 28, 28)
        mu[:, 4:24, 13:16] = 1.0
        self.register_buffer("mu", mu)
        self.s, self.sde = s, runs.sde_of(CONFIG)

    def forward(self, x, t):
        m, sd = self.sde.mean_std(t)
        m, sd = m.reshape(-1, 1, 1, 1), sd.reshape(-1, 1, 1, 1)
        return -(x - m * self.mu) / (m**2 * self.s**2 + sd**2)


@pytest.fixture(scope="module")
def model():
    return GaussianDigit()


def grid(w) -> np.ndarray:
    return np.asarray(w.figure.data[0].z, dtype=float)


def test_default_draws_the_samples_of_draw_samples_with_the_nfe_in_title_and_readout(model):
    """At its defaults (GGF at the config's tolerance and eps_abs) the grid holds exactly the
    samples `python -m gentoolkit sample` would draw with seed 0 for 16 images."""
    w = DigitSampler(model, CONFIG, device="cpu", precision="fp32", eps_rel=CONFIG.tol)
    want, nfe = runs.draw_samples(CONFIG, model, 16, seed=0, device="cpu")
    np.testing.assert_allclose(grid(w), _tile(want.clamp(-1, 1)[:, 0].numpy(), 4), rtol=0, atol=1e-6)
    assert w.last["nfe"] == nfe and f"NFE {nfe}" in w.figure.layout.title.text
    assert f"NFE <b>{nfe}</b>" in w.readout.value and "the digit classifier is sure" in w.readout.value
    assert grid(w).shape == (4 * 30 - 2, 4 * 30 - 2)
    assert w.progress.value == 1.0 and w.progress in w.view.children


def test_moving_each_control_changes_what_is_drawn(model):
    w = DigitSampler(model, CONFIG, device="cpu", classifier=False, eps_rel=0.2)
    before, nfe = grid(w), w.last["nfe"]
    w.set(eps_rel=0.02)  # a tighter tolerance: more steps, other samples
    assert w.last["nfe"] > nfe and not np.allclose(grid(w), before)
    before = grid(w)
    w.set(seed=7)
    assert not np.allclose(grid(w), before)
    w.set(method="euler_maruyama", n_steps=20)
    assert w.last["nfe"] == 21  # 20 steps and the denoising call
    before = grid(w)
    w.set(n_steps=40)
    assert w.last["nfe"] == 41 and not np.allclose(grid(w), before)
    w.set(method="pc")
    before = grid(w)
    w.set(snr=0.3)
    assert not np.allclose(grid(w), before)


def test_knobs_the_solver_does_not_use_are_hidden_and_the_main_control_follows(model):
    w = DigitSampler(model, CONFIG, device="cpu", classifier=False)
    shown = {k for k, c in w.controls.items() if c.layout.display != "none"}
    assert shown == {"method", "eps_rel", "seed"} and w.main == "eps_rel"
    w.set(method="euler_maruyama", n_steps=10)
    shown = {k for k, c in w.controls.items() if c.layout.display != "none"}
    assert shown == {"method", "n_steps", "seed"} and w.main == "n_steps" and w.controls["eps_rel"].disabled
    w.set(method="pc")
    assert {k for k, c in w.controls.items() if c.layout.display != "none"} == {"method", "n_steps", "snr", "seed"}


def test_progress_bar_follows_the_solver_time_from_0_to_1(model):
    w = DigitSampler(model, CONFIG, method="euler_maruyama", device="cpu", classifier=False)
    seen = []
    w.progress.observe(lambda ch: seen.append(ch["new"]), names="value")
    w.set(n_steps=100)
    inner = [v for v in seen if 0 < v < 1]
    assert len(inner) >= 10 and inner == sorted(inner) and seen[-1] == 1.0 and seen[0] == 0.0


class _Exploding(torch.nn.Module):
    """A score that is fine for t > 0.5 and NaN below."""

    def forward(self, x, t):
        return torch.where((t > 0.5).reshape(-1, 1, 1, 1), -x, torch.full_like(x, float("nan")))


def test_the_grid_is_finite_so_the_widget_json_is_valid(model):
    """NaN padding made ipywidgets warn "Out of range float values are not JSON compliant"."""
    import json

    w = DigitSampler(model, CONFIG, device="cpu", classifier=False)
    assert np.isfinite(grid(w)).all()
    json.dumps(w.figure.to_plotly_json(), allow_nan=False, default=lambda a: np.asarray(a).tolist())


def test_a_diverged_run_draws_nothing_and_says_so():
    w = DigitSampler(_Exploding(), CONFIG, method="euler_maruyama", device="cpu", classifier=False)
    assert (grid(w) == 0.0).all() and grid(w).shape == (4 * 30 - 2, 4 * 30 - 2)
    assert "diverged" in w.figure.layout.title.text
    assert "diverged</b>" in w.readout.value and "Likely fix: more steps" in w.readout.value


def test_the_classifier_verdict_counts_the_sure_digits(model, monkeypatch):
    """The readout's count is digit_quality's n_confident, and it lists their classes."""
    w = DigitSampler(model, CONFIG, device="cpu")
    from gentoolkit.metrics.digits import digit_quality

    q = digit_quality(torch.as_tensor(w.last["x"]), w.classifier)
    assert f"<b>{q['n_confident']} of 16</b>" in w.readout.value


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"method": "heun"}, ValueError, r"^unknown method='heun'; expected one of \['ggf', 'euler_maruyama', 'pc'\]$"),
        ({"n_images": 0}, ValueError, r"^n_images must be an int in \[1, 64\], got 0$"),
        ({"n_images": 8.0}, ValueError, r"^n_images must be an int in \[1, 64\], got 8\.0$"),
        ({"seed": -1}, ValueError, r"^seed must be an int in \[0, 999\], got -1$"),
        ({"precision": "fp16"}, ValueError, r"^precision='fp16' is not known; expected one of \['fp32', 'bf16'\]$"),
    ],
)
def test_bad_arguments(model, kwargs, error, message):
    with pytest.raises(error, match=message):
        DigitSampler(model, CONFIG, device="cpu", classifier=False, **kwargs)


def test_bad_model_or_config(model):
    with pytest.raises(TypeError, match=r"^model must be a score network \(x, t\) -> score, got int$"):
        DigitSampler(3, CONFIG)
    msg = r"^config must be the model's VPConfig \(gentoolkit.presets\), got NCSNConfig$"
    with pytest.raises(TypeError, match=msg):
        DigitSampler(model, presets.get("mnist-ncsn-cas").config)


def test_bf16_runs_the_network_in_bf16():
    """precision="bf16" puts the network's convolutions under bf16 autocast: the grid differs from
    the float32 one by bf16 rounding (small but not zero); the solver's output stays float32."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 1, 3, padding=1)

    class ConvScore(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = conv

        def forward(self, x, t):
            return -x + 0.1 * self.conv(x)

    grids = {}
    for precision in ("fp32", "bf16"):
        w = DigitSampler(
            ConvScore(), CONFIG, method="euler_maruyama", device="cpu", classifier=False, precision=precision
        )
        w.set(n_steps=10)
        grids[precision] = grid(w)
    diff = np.max(np.abs(grids["fp32"] - grids["bf16"]))
    assert 0 < diff < 0.1
