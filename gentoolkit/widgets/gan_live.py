"""GAN live view (issue 16, item 4): a 2D GAN training in the kernel while the figure redraws,
in the spirit of GAN Lab (Kahng et al. 2018, https://poloclub.github.io/ganlab/), for every
loss of :mod:`gentoolkit.gan.losses` and on data a student draws.

Left panel: the critic's output C(x) as a heatmap on a ``GRID`` x ``GRID`` grid over the data
(green: high C, judged real; purple: low C, judged fake), the real points (a fixed seeded
sample of the mixture, or the drawn points), the generated points G(z) on fixed noise
(:meth:`GANTrainer.samples`) and the generator's push on the first ``ARROWS`` of them: arrows
along -grad_x L_G, the direction the generator's loss moves each fake point (lengths scaled
for visibility, |grad|^(1/2), as :func:`gentoolkit.widgets._plot.quiver`). Right: the critic's
and the generator's losses per step, with a dotted line where a setting was changed, and the
modes covered over steps (:func:`gentoolkit.metrics.mode_stats`, when a mixture is known):
lecture 004's mode collapse is the curve that stays low.

Controls: ``train`` (a ``Play``: each tick runs ``steps/frame`` generator steps, then redraws;
its pause button pauses; a NaN stops it and the readout says why and what to change), the
``step`` button (one frame), ``reset`` (new networks from the seed), ``clear drawn`` (empties
the drawn points and switches to ``drawn``), dataset (every toy2d set and ``drawn``), loss,
regularizer and its weight (hidden without one), lr (both networks), n_D and steps/frame.
A click on the left panel adds ``CLICK_POINTS`` points around the click (N(click, CLICK_STD^2 I),
from a generator seeded with ``seed``) to the drawn set and trains on it; :meth:`add_points`
adds points exactly. Changing the dataset, or reset, starts a fresh run from the seed; the
other controls continue the run with the new setting (:meth:`GANTrainer.configure`).

Main control: lr. Every loss can learn these mixtures, but the learning rate decides whether it
does so visibly in a few hundred steps, oscillates, or diverges: it is what a student moves first.
The defaults (8gaussians, non-saturating loss, R1 with gamma = 1, lr 1e-3, n_D = 1) cover all 8
modes by step 150 (seeds 0, 1, 2 measured; stable to step 1,500; the tests assert at least 7).
"""

from __future__ import annotations

import contextlib
import html
import math
import time

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from gentoolkit._checks import positive_int, randn
from gentoolkit.config import resolve_device
from gentoolkit.data import toy2d
from gentoolkit.data.toy2d import grid
from gentoolkit.gan import losses as gan_losses
from gentoolkit.gan.train import REGULARIZERS, GANHistory, GANTrainer
from gentoolkit.metrics import mode_stats
from gentoolkit.nets import MLPDiscriminator, MLPGenerator
from gentoolkit.train import TrainingDiverged
from gentoolkit.widgets._common import choice
from gentoolkit.widgets._plot import quiver
from gentoolkit.widgets.base import Widget, checked_value

DRAWN = "drawn"
DATASETS = [*toy2d.names(), DRAWN]
NO_REG = "none"
GRID = 48  # critic heatmap resolution
ARROWS = 200  # fake points that carry an arrow of the generator's push
DRAW_BOUNDS = (-3.0, 3.0, -3.0, 3.0)  # the canvas of the drawn data
CLICK_POINTS, CLICK_STD = 5, 0.08  # what one click adds
LOG_EVERY = 10  # generator steps between mode counts
MAX_CURVE = 1500  # loss-curve points sent to the browser (strided beyond that)
STALE_S = 0.01  # a Play tick this soon after a frame ended was queued while it ran: dropped
_SETTINGS = {  # control -> what the change log calls it
    "loss": "loss",
    "regularizer": "regularizer",
    "reg_weight": "reg. weight",
    "lr": "lr",
    "n_d": "n_D",
    "steps_per_frame": "steps/frame",
}


@contextlib.contextmanager
def _eval_mode(*modules):
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


class GANLiveView(Widget):
    """Args:
    dataset: a ``toy2d`` name or ``"drawn"`` (then click to draw, or pass ``drawn``).
    loss: a name of :func:`gentoolkit.gan.losses.names`.
    regularizer: ``"none"`` (or None) or a key of :data:`gentoolkit.gan.train.REGULARIZERS`.
    lr: Adam's learning rate of both networks, in [1e-5, 1e-2].
    n_d: critic steps per generator step (1-10); steps_per_frame: generator steps per tick (1-50).
    n_points: generated (and real) points drawn (2,000 by default).
    hidden: width of the generator's and the critic's MLPs.
    drawn: initial drawn points, an (N, 2) array.
    seed: seeds the networks, the training, the real sample and the click jitter (same seed,
        same figure).
    device: where the networks train (``"cpu"`` by default; ``"cuda"`` passed through).
    interval: milliseconds between the Play's ticks.

    Methods for code and tests: :meth:`play_tick` (what a Play tick does), :meth:`step` (the step
    button), :meth:`reset`, :meth:`clear`, :meth:`add_points`; ``trainer`` is the
    :class:`~gentoolkit.gan.train.GANTrainer` (None while fewer than 2 points are drawn).
    """

    @staticmethod
    def _settings(v: dict) -> dict:
        """The trainer's controls from the widget's values (one lr for both networks)."""
        reg = None if v["regularizer"] == NO_REG else v["regularizer"]
        return {
            "loss": v["loss"],
            "regularizer": reg,
            "reg_weight": v["reg_weight"] if reg else None,
            "lr_g": v["lr"],
            "lr_d": v["lr"],
            "n_d": v["n_d"],
        }

    def __init__(
        self,
        dataset: str = "8gaussians",
        *,
        loss: str = "ns",
        regularizer: str | None = "r1",
        lr: float = 1e-3,
        n_d: int = 1,
        steps_per_frame: int = 5,
        n_points: int = 2000,
        hidden: int = 128,
        drawn=None,
        seed: int = 0,
        device="cpu",
        interval: int = 150,
    ):
        regularizer = NO_REG if regularizer is None else regularizer
        choice("dataset", dataset, DATASETS)
        choice("loss", loss, gan_losses.names())
        choice("regularizer", regularizer, [NO_REG, *REGULARIZERS])
        self.n_points, self.hidden = positive_int("n_points", n_points), positive_int("hidden", hidden)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r} ({type(seed).__name__})")
        if seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed}")
        self.seed, self.device = seed, resolve_device(device)
        self._drawn = torch.zeros(0, 2) if drawn is None else self._points("drawn", drawn)
        self._click_rng = torch.Generator().manual_seed(seed)
        controls = {
            "dataset": W.Dropdown(options=DATASETS, value=dataset, description="dataset"),
            "loss": W.Dropdown(options=gan_losses.names(), value=loss, description="loss"),
            "regularizer": W.Dropdown(options=[NO_REG, *REGULARIZERS], value=regularizer, description="regularizer"),
            "reg_weight": W.FloatLogSlider(
                value=REGULARIZERS.get(regularizer, 1.0), base=10, min=-3, max=2, step=0.25, description="reg. weight"
            ),
            "lr": W.FloatLogSlider(base=10, min=-5, max=-2, step=0.25, description="lr (G, D)", readout_format=".1e"),
            "n_d": W.IntSlider(min=1, max=10, description="n_D"),
            "steps_per_frame": W.IntSlider(min=1, max=50, description="steps/frame"),
        }
        for name, v in (("lr", lr), ("n_d", n_d), ("steps_per_frame", steps_per_frame)):
            controls[name].value = checked_value(name, controls[name], v)  # the base class's checks, named
        interval = positive_int("interval", interval)
        self.play = W.Play(
            value=0,
            min=0,
            max=10**6,
            interval=interval,
            description="train",
            show_repeat=False,
            tooltip="train: each tick runs steps/frame generator steps, then redraws; pause to stop",
        )
        self.buttons = {
            name: W.Button(description=name, tooltip=tip)
            for name, tip in (
                ("step", "one frame of training steps"),
                ("reset", "new networks from the seed, a fresh run"),
                ("clear drawn", "remove the drawn points and switch to them: click on the left panel to draw"),
            )
        }
        self._applied = {k: c.value for k, c in controls.items()}
        self._pending, self._message, self._blocked, self._frame_end = 0, None, False, -math.inf
        self._new_run()
        super().__init__(controls, self._figure(), main="lr")
        self.view.children[0].children = (self.play, *self.buttons.values(), *self.view.children[0].children)
        self.play.observe(self._on_play, names="value")
        self.play.observe(self._on_playing, names="playing")
        self.buttons["step"].on_click(lambda _: self.step())
        self.buttons["reset"].on_click(lambda _: self.reset())
        self.buttons["clear drawn"].on_click(lambda _: self.clear())
        for trace in self.figure.data[:4]:  # a click anywhere on the left panel draws
            trace.on_click(self._on_click)

    # ------------------------------------------------------------------ runs and data
    @staticmethod
    def _points(name: str, xy) -> torch.Tensor:
        try:
            x = torch.as_tensor(np.asarray(xy, dtype=np.float64), dtype=torch.float32)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name} must be an (N, 2) array of numbers, got {type(xy).__name__}") from e
        if x.ndim == 1 and x.shape[0] == 2:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != 2 or not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} must be finite points of shape (N, 2), got shape {tuple(x.shape)}")
        return x

    def _new_run(self) -> None:
        """Fresh networks and trainer from the seed, on the dataset and settings of the controls."""
        v = self._applied
        self.generator = MLPGenerator(hidden=self.hidden, seed=self.seed).to(self.device)
        self.critic = MLPDiscriminator(hidden=self.hidden, seed=self.seed).to(self.device)
        z_shape = (self.n_points, self.generator.latent_dim)
        self._z = randn(z_shape, torch.Generator().manual_seed(self.seed), like=torch.empty(0, device=self.device))
        self._changes: list[tuple[int, str]] = []
        self._message, self._blocked = None, False
        if v["dataset"] == DRAWN:
            self.mixture, self.bounds = None, DRAW_BOUNDS
            self._set_real(self._drawn)
        else:
            self.mixture = toy2d.get(v["dataset"])
            self.bounds = self.mixture.bounds()
            self._set_real(self.mixture.sample(self.n_points, torch.Generator().manual_seed(self.seed)))
        self.trainer = None
        if self.mixture is not None or len(self._drawn) >= 2:
            self.trainer = GANTrainer(
                self.mixture if self.mixture is not None else self._drawn,
                self.generator,
                self.critic,
                **self._settings(v),
                n_eval=self.n_points,
                log_every=LOG_EVERY,
                seed=self.seed,
                device=self.device,
            )

    def _set_real(self, real: torch.Tensor) -> None:
        """The real points shown and the fixed real batch the generator's push is computed with
        (relativistic losses compare with it; "rsgan" pairs it one to one with the arrows)."""
        self.real = real.float()
        n = len(self.real)
        idx = torch.randint(n, (ARROWS,), generator=torch.Generator().manual_seed(self.seed)) if n else None
        self._real_batch = self.real[idx].to(self.device) if n else None

    def add_points(self, xy) -> None:
        """Add the points ``xy`` ((N, 2) or one (2,) point, exactly) to the drawn set and train on
        it: switches the dataset to "drawn" (a fresh run) or, when already there, continues the
        run on the new data."""
        x = self._points("xy", xy)
        self._drawn = torch.cat([self._drawn, x])
        if self.value("dataset") != DRAWN:
            self.controls["dataset"].value = DRAWN  # a fresh run on the drawn points, redrawn
            return
        self._set_real(self._drawn)
        if self.trainer is None:
            self._new_run()
        else:
            self.trainer.data = self._drawn
            self._changes.append((self.trainer.steps, f"+{len(x)} drawn point(s)"))
        self._redraw()

    def clear(self) -> None:
        """Remove every drawn point and switch to "drawn" (the readout asks for points)."""
        self._drawn = torch.zeros(0, 2)
        if self.value("dataset") != DRAWN:
            self.controls["dataset"].value = DRAWN
        else:
            self.reset()

    def reset(self) -> None:
        """New networks from the seed: a fresh run with the current controls."""
        self._new_run()
        self._redraw()

    def _on_click(self, trace, points, state) -> None:
        if not points.xs:
            return
        c = torch.tensor([[float(points.xs[0]), float(points.ys[0])]])
        self.add_points(c + CLICK_STD * torch.randn(CLICK_POINTS, 2, generator=self._click_rng))

    # ------------------------------------------------------------------ training
    def step(self) -> None:
        """One frame: ``steps/frame`` generator steps, then a redraw (the step button)."""
        self._pending = self.value("steps_per_frame")
        self._redraw()
        self._frame_end = time.perf_counter()

    def play_tick(self) -> None:
        """What one tick of the Play does: a frame, unless training stopped on a NaN (pressing
        play again, or another control, tries again)."""
        if self._blocked:
            self.play.playing = False
            return
        self.step()

    def _on_play(self, change) -> None:
        """A tick of the Play. The browser ticks every ``interval`` ms whatever the kernel does, so
        while frames take longer, ticks queue up; those that arrive right after a frame ended were
        queued during it and are dropped, so that the frame rate follows the kernel and a pause
        takes effect at once rather than after the queue."""
        if change["new"] <= change["old"]:  # the stop button rewinds the value: no frame
            return
        if self.play.playing and time.perf_counter() - self._frame_end < STALE_S:
            return
        self.play_tick()

    def _on_playing(self, change) -> None:
        if change["new"]:
            self._blocked = False

    def _apply(self) -> None:
        """Bring the run in line with the controls: a fresh run for a new dataset, else
        ``configure`` with what changed (logged on the loss panel)."""
        v = {k: c.value for k, c in self.controls.items()}
        changed = [k for k in v if v[k] != self._applied[k]]
        old, self._applied = self._applied, v
        if "dataset" in changed:
            self._new_run()
            return
        if "regularizer" in changed and "reg_weight" not in changed and v["regularizer"] != NO_REG:
            with self.quietly():  # a new regularizer starts at its default weight
                self.controls["reg_weight"].value = v["reg_weight"] = REGULARIZERS[v["regularizer"]]
        if not changed:
            return
        self._blocked = False
        if self.trainer is not None:
            self.trainer.configure(**self._settings(v))
        step = self.trainer.steps if self.trainer is not None else 0
        text = ", ".join(f"{_SETTINGS[k]} {_fmt(old[k])} → {_fmt(v[k])}" for k in changed if k in _SETTINGS)
        self._changes.append((step, text))

    def _train(self, k: int) -> None:
        if self.trainer is None:
            self.play.playing = False
            return
        try:
            self.trainer.step(k)
            self._message = None
        except TrainingDiverged as e:
            self._message, self._blocked = str(e), True
            self.play.playing = False

    # ------------------------------------------------------------------ drawing
    def _figure(self) -> go.FigureWidget:
        fig = make_subplots(
            rows=2,
            cols=2,
            specs=[[{"rowspan": 2}, {}], [None, {}]],
            column_widths=[0.56, 0.44],
            subplot_titles=["critic", "losses per generator step", "modes covered (of K)"],
            horizontal_spacing=0.09,
            vertical_spacing=0.14,
        )
        fig.add_trace(
            go.Heatmap(
                colorscale="PRGn",
                showscale=False,
                name="critic C(x)",
                hovertemplate="x=%{x:.2f}, y=%{y:.2f}<br>C(x)=%{z:.3g}<extra>critic (click: draw)</extra>",
            ),
            1,
            1,
        )
        fig.add_trace(go.Scattergl(mode="markers", marker=dict(size=3, color="#1b7837"), name="real"), 1, 1)
        fig.add_trace(go.Scattergl(mode="markers", marker=dict(size=3, color="#762a83"), name="generated"), 1, 1)
        fig.add_trace(
            go.Scatter(
                mode="lines",
                line=dict(color="black", width=1),
                hoverinfo="skip",
                name="generator's push −∇ₓL_G (length ∝ |∇|^½, scaled to be seen)",
            ),
            1,
            1,
        )
        fig.add_trace(go.Scatter(mode="lines", line=dict(color="#1b7837"), name="critic loss"), 1, 2)
        fig.add_trace(go.Scatter(mode="lines", line=dict(color="#762a83"), name="generator loss"), 1, 2)
        fig.add_trace(
            go.Scatter(mode="lines", line=dict(color="gray", dash="dot"), name="setting changed", hoverinfo="text"),
            1,
            2,
        )
        fig.add_trace(go.Scatter(mode="lines+markers", line=dict(color="#762a83"), name="modes covered"), 2, 2)
        fig.add_trace(go.Scatter(mode="lines", line=dict(color="gray", dash="dash"), name="K (all modes)"), 2, 2)
        fig.update_yaxes(scaleanchor="x", row=1, col=1)
        fig.update_xaxes(title_text="step", row=2, col=2)
        fig.update_layout(
            height=620, hovermode="closest", margin=dict(l=40, r=20, t=40, b=40), legend=dict(orientation="h", y=-0.1)
        )
        return go.FigureWidget(fig)

    def update(self) -> None:
        self._apply()
        self.set_used("reg_weight", self.value("regularizer") != NO_REG)
        k, self._pending = self._pending, 0
        if k:
            self._train(k)
        self._draw()

    def samples(self) -> torch.Tensor:
        """The generated points drawn (CPU): G on the run's fixed noise."""
        if self.trainer is not None:
            return self.trainer.samples().cpu()
        with torch.no_grad(), _eval_mode(self.generator):
            return self.generator(self._z).cpu()

    def critic_grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(xs, ys, C) with C[i, j] = C(xs[j], ys[i]) on the ``GRID`` x ``GRID`` grid over the view,
        in one forward pass."""
        xs, ys, pts = grid(self.bounds, GRID)
        with torch.no_grad(), _eval_mode(self.critic):
            c = self.critic(pts.to(self.device)).reshape(GRID, GRID).cpu().numpy()
        return xs, ys, c

    def push(self, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(points, -grad_x L_G): the first ``ARROWS`` fake points and the negative gradient of the
        generator's loss with respect to each of them, one autograd call on the batch (the real
        outputs, which relativistic losses need, from the fixed real batch)."""
        x = fake[:ARROWS].to(self.device).detach().requires_grad_()
        loss = gan_losses.get(self.value("loss"))
        if self._real_batch is None and loss.relativistic:
            return x.detach().cpu(), torch.zeros_like(x).cpu()
        with _eval_mode(self.critic):
            real = None
            if self._real_batch is not None:
                with torch.no_grad():
                    real = self.critic(self._real_batch[: len(x)])
            g = loss.g_loss(real, self.critic(x))
        if not g.requires_grad:  # a critic that ignores its input pushes nowhere
            return x.detach().cpu(), torch.zeros_like(x).cpu()
        (grad,) = torch.autograd.grad(g, x)
        return x.detach().cpu(), -grad.cpu()

    def _draw(self) -> None:
        fake = self.samples()
        xs, ys, c = self.critic_grid()
        base, vec = self.push(fake)
        ok = bool(torch.isfinite(vec).all()) and bool(vec.abs().sum() > 0)
        ax, ay = quiver(base.numpy(), vec.numpy(), (self.bounds[1] - self.bounds[0]) / 12) if ok else ([], [])
        h = self.trainer.history if self.trainer is not None else GANHistory()
        n = h.steps
        steps = np.arange(n)[::-1][:: max(1, math.ceil(n / MAX_CURVE))][::-1]  # strided, the last step kept
        d_loss, g_loss = np.asarray(h.d_loss, dtype=float)[steps], np.asarray(h.g_loss, dtype=float)[steps]
        both = np.concatenate([d_loss, g_loss])
        lo, hi = (float(both.min()), float(both.max())) if n else (0.0, 1.0)
        cx = [v for s, _ in self._changes for v in (s, s, None)]
        cy = [v for _ in self._changes for v in (lo, hi, None)]
        ct = [v for _, t in self._changes for v in (t, t, "")]
        f = self.figure
        with f.batch_update():
            f.data[0].update(x=xs, y=ys, z=c)
            f.data[1].update(x=self.real[:, 0].numpy(), y=self.real[:, 1].numpy())
            f.data[2].update(x=fake[:, 0].numpy(), y=fake[:, 1].numpy())
            f.data[3].update(x=ax, y=ay)
            f.data[4].update(x=steps, y=d_loss)
            f.data[5].update(x=steps, y=g_loss)
            f.data[6].update(x=cx, y=cy, text=ct)
            if self.mixture is not None:
                k = self.mixture.n_components
                f.data[7].update(x=h.eval_steps, y=h.covered)
                f.data[8].update(x=[0, max(n, 1)], y=[k, k])
                f.layout.yaxis3.range = [-0.5, k + 0.5]
            else:
                f.data[7].update(x=[], y=[])
                f.data[8].update(x=[], y=[])
            f.layout.xaxis.range = self.bounds[:2]
            f.layout.yaxis.range = self.bounds[2:]
            f.layout.annotations[0].text = self._title()
            f.layout.annotations[2].text = "modes covered (of K)" if self.mixture is not None else "no modes to count"
        self.readout.value = self._readout(fake)

    def _title(self) -> str:
        name = self.value("dataset")
        data = f"{len(self._drawn)} drawn points" if name == DRAWN else name
        return f"{data}: critic C(x), green = judged real"

    def _readout(self, fake: torch.Tensor) -> str:
        t, v = self.trainer, self._applied
        parts = [f"step <b>{t.steps if t else 0}</b>"]
        if t is not None and t.history.steps:
            parts.append(f"critic loss {t.history.d_loss[-1]:.4g}, generator loss {t.history.g_loss[-1]:.4g}")
        if self.mixture is not None:
            st = mode_stats(fake, self.mixture)
            kl = "∞ (no sample near a mode)" if not math.isfinite(st["kl"]) else f"{st['kl']:.3g} nats"
            parts.append(f"modes covered <b>{st['covered']} / {st['modes']}</b>, KL {kl}")
        else:
            parts.append("no mode count (drawn points have no known mixture)")
        x0, x1, y0, y1 = self.bounds
        out = ((fake[:, 0] < x0) | (fake[:, 0] > x1) | (fake[:, 1] < y0) | (fake[:, 1] > y1)).double().mean()
        if out > 0.01:
            parts.append(f"{100 * out.item():.0f}% of the generated points lie outside the view")
        reg = v["regularizer"] if v["regularizer"] == NO_REG else f"{v['regularizer']} ({v['reg_weight']:.3g})"
        parts.append(f"lr {v['lr']:.1e}, n_D {v['n_d']}, regularizer {reg}")
        parts.append(f"loss {v['loss']}: {html.escape(gan_losses.get(v['loss']).description)}")
        if self.value("dataset") == DRAWN and len(self._drawn) < 2:
            parts.append(
                f"<b>draw at least 2 points</b> (now {len(self._drawn)}): click on the left panel to add "
                f"{CLICK_POINTS} points around the click"
            )
        if self._message:
            parts.append(
                f"<b>{html.escape(self._message)}</b> Training stopped; change a setting, then train or step again."
            )
        return " · ".join(parts)


def _fmt(value) -> str:
    return f"{value:.2g}" if isinstance(value, float) else str(value)
