"""Digit sampler: draw a grid of MNIST digits from a trained VP score model (the pretrained
``mnist-vp-ggf`` by default) with a reverse-time SDE solver, and slide the solver's tolerance or
step count to trade compute against quality (001, Ch. 10: Gotta Go Fast, Alg. 6, against
Euler-Maruyama and predictor-corrector at fixed steps).

Controls: the solver (``ggf``, ``euler_maruyama``, ``pc``), GGF's relative tolerance ``eps_rel``
(the main control for GGF; ``eps_abs`` is the model's, one 8-bit level), the number of steps
``n_steps`` of the fixed-step solvers (their main control), the corrector's ``snr`` (PC only), and
the noise ``seed``. Controls that the chosen solver does not use are hidden.

The grid redraws whenever a control moves; a progress bar follows the solver's time from T to
t_eps while it samples (it works for every solver: it reads the time of each score call). The
readout gives the NFE (score calls on the whole batch, the final Tweedie denoising call
included), the seconds, and how many of the images the digit classifier of
:mod:`gentoolkit.metrics.digits` gives probability >= 0.9, with their classes: a number to
watch fall as the tolerance loosens. A run that fails or diverges (NaN/inf, or pixels far
outside [-1, 1]) draws an empty grid and says so in words.
"""

from __future__ import annotations

import time

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch

from gentoolkit.runs import IMAGE_SHAPE, sde_of
from gentoolkit.sde import sample
from gentoolkit.widgets._common import widget_device
from gentoolkit.widgets.base import Widget

SOLVERS = {"ggf": "GGF (adaptive)", "euler_maruyama": "Euler-Maruyama", "pc": "predictor-corrector"}
KNOBS = {"ggf": ("eps_rel",), "euler_maruyama": ("n_steps",), "pc": ("n_steps", "snr")}
MAIN = {"ggf": "eps_rel", "euler_maruyama": "n_steps", "pc": "n_steps"}
# GGF's default tolerance here: about 65 score calls, 2 s for 16 images on 2 cores (the preset
# samples at 0.02: 255 calls; benchmarks/widget_latency.py)
DEFAULT_EPS_REL = 0.25
_BLOWUP = 10.0  # pixels beyond this (the data are in [-1, 1]) mean the run diverged
_PAD = 2
_GAP = 0.0  # mid-gray between tiles and in place of a diverged run: finite, as the widget's JSON must be


def _tile(x: np.ndarray, nrow: int) -> np.ndarray:
    """(n, 28, 28) images in [-1, 1] -> one (rows * 30 - 2, nrow * 30 - 2) array, mid-gray
    (:data:`_GAP`) between the tiles (NaN would not survive the widget's JSON)."""
    n, h, w = x.shape
    rows = -(-n // nrow)
    out = np.full((rows * (h + _PAD) - _PAD, nrow * (w + _PAD) - _PAD), _GAP)
    for k in range(n):  # at most a few dozen tiles: a picture, not a batch computation
        r, c = divmod(k, nrow)
        out[r * (h + _PAD) : r * (h + _PAD) + h, c * (w + _PAD) : c * (w + _PAD) + w] = x[k]
    return out


class DigitSampler(Widget):
    """Args:
    model: a score network ``(x, t) -> score`` of a VP model (e.g. ``ScaledScore``), or None
        for the pretrained ``mnist-vp-ggf`` (:func:`gentoolkit.pretrained.load`).
    config: the model's :class:`gentoolkit.presets.VPConfig` (its SDE, t_eps, eps_abs and
        default tolerance); required with ``model``, read from the file without.
    method: the initial solver, a key of :data:`SOLVERS`.
    n_images: images in the grid (16 by default, drawn 4 per row).
    seed: the initial noise seed; device: where the model runs (None: its parameters' device).
    classifier: judge the samples with the digit classifier (True), or not (False).
    precision: ``"bf16"`` (default: the score network's forward passes under bf16 autocast, about
        twice as fast on CPU; the solver's arithmetic stays float32) or ``"fp32"``.
    eps_rel: the initial GGF tolerance (None: :data:`DEFAULT_EPS_REL`, chosen so that a 16-image
        grid redraws in under 2 s on 2 cores; ``benchmarks/widget_latency.py``).
    """

    # a U-Net batch is large enough for torch's threads to pay off (the base class uses one)
    redraw_threads = None

    def __init__(
        self,
        model=None,
        config=None,
        *,
        method="ggf",
        n_images=16,
        seed=0,
        device=None,
        classifier=True,
        precision="bf16",
        eps_rel=None,
    ):
        if model is None:
            from gentoolkit import pretrained

            model, loaded, _ = pretrained.load("mnist-vp-ggf", device=device)
            config = loaded if config is None else config
        if not callable(model):
            raise TypeError(f"model must be a score network (x, t) -> score, got {type(model).__name__}")
        if getattr(config, "kind", None) != "vp":
            raise TypeError(f"config must be the model's VPConfig (gentoolkit.presets), got {type(config).__name__}")
        from gentoolkit.train import autocast

        self._autocast = lambda: autocast(self.device, precision)
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision={precision!r} is not known; expected one of ['fp32', 'bf16']")
        if method not in SOLVERS:
            raise ValueError(f"unknown method={method!r}; expected one of {list(SOLVERS)}")
        if isinstance(n_images, bool) or not isinstance(n_images, int) or not 1 <= n_images <= 64:
            raise ValueError(f"n_images must be an int in [1, 64], got {n_images!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 999:
            raise ValueError(f"seed must be an int in [0, 999], got {seed!r}")
        self.model, self.config, self.n_images = model, config, n_images
        self.device = widget_device(device, [model])
        if isinstance(model, torch.nn.Module):
            model.to(self.device).eval()
        self.sde = sde_of(config)
        self.classifier = None
        if classifier:
            from gentoolkit.metrics.digits import load_digit_classifier

            self.classifier = load_digit_classifier(self.device)
        self.progress = W.FloatProgress(value=0.0, min=0.0, max=1.0, description="sampling")
        self.last = None  # the last result: {"x", "nfe", "seconds", "diverged"}
        controls = {
            "method": W.ToggleButtons(options=[(v, k) for k, v in SOLVERS.items()], value=method, description="solver"),
            "eps_rel": W.FloatLogSlider(
                value=DEFAULT_EPS_REL if eps_rel is None else eps_rel,
                base=10,
                min=-3,
                max=-0.3,
                step=0.1,
                description="ε_rel",
                readout_format=".3f",
            ),
            "n_steps": W.IntSlider(value=100, min=5, max=1000, step=5, description="steps"),
            "snr": W.FloatSlider(value=0.16, min=0.01, max=0.5, step=0.01, description="snr (PC)"),
            "seed": W.IntSlider(value=seed, min=0, max=999, description="seed"),
        }
        fig = go.Figure(
            go.Heatmap(z=[[0.0]], colorscale="gray", zmin=-1, zmax=1, showscale=False, hoverinfo="skip"),
            layout=dict(height=420, margin=dict(l=10, r=10, t=40, b=10), title=dict(text="", x=0.5)),
        )
        fig.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)
        fig.update_xaxes(visible=False)
        super().__init__(controls, go.FigureWidget(fig), main=MAIN[method])
        box, figure, readout = self.view.children
        self.view.children = (box, self.progress, figure, readout)

    # ------------------------------------------------------------------ sampling
    def options(self) -> dict:
        """The options of :func:`gentoolkit.sde.sample` that the controls set."""
        m = self.value("method")
        opts = {k: self.value(k) for k in KNOBS[m]}
        if m == "ggf":
            opts["eps_abs"] = self.config.eps_abs
        return opts

    def _score(self):
        """The model, reporting the solver's time to the progress bar at each call."""
        t_hi, t_lo = float(self.sde.T), float(self.config.t_eps)

        def score(x, t):
            frac = (t_hi - float(t.reshape(-1)[0])) / (t_hi - t_lo)
            if frac - self.progress.value >= 0.02 or frac >= 1:
                self.progress.value = min(max(frac, 0.0), 1.0)
            with self._autocast():
                return self.model(x, t).float()

        return score

    def draw(self) -> dict:
        """Sample the grid at the current controls (what :meth:`update` shows)."""
        self.progress.value = 0.0
        t0 = time.perf_counter()
        try:
            # inference mode, not just no_grad: no version counters or views to track, about 5% faster per
            # score call on 2 cores (16 images, bf16); the grid is only drawn, never differentiated
            with torch.inference_mode():
                res = sample(
                    self.sde,
                    self._score(),
                    (self.n_images, *IMAGE_SHAPE),
                    self.value("method"),
                    generator=torch.Generator().manual_seed(self.value("seed")),
                    denoise=self.config.denoise,
                    t_eps=self.config.t_eps,
                    device=self.device,
                    progress=False,
                    **self.options(),
                )
        except (RuntimeError, ValueError) as e:  # e.g. GGF's time check on NaN scores
            return {"x": None, "nfe": None, "seconds": time.perf_counter() - t0, "diverged": str(e)}
        x = res.x.float().cpu()
        seconds = time.perf_counter() - t0
        self.progress.value = 1.0
        bad = not bool(torch.isfinite(x).all()) or float(x.abs().max()) > _BLOWUP
        why = f"pixels became NaN/inf or left [-{_BLOWUP:g}, {_BLOWUP:g}]" if bad else None
        return {"x": None if bad else x, "nfe": res.nfe, "seconds": seconds, "diverged": why}

    # ------------------------------------------------------------------ drawing
    def update(self) -> None:
        m = self.value("method")
        for name in ("eps_rel", "n_steps", "snr"):
            self.set_used(name, name in KNOBS[m])
        self.set_main(MAIN[m])
        self.last = out = self.draw()
        label = SOLVERS[m]
        opts = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.options().items())
        f = self.figure
        if out["x"] is None:
            with f.batch_update():
                f.data[0].z = _tile(np.full((self.n_images, *IMAGE_SHAPE[1:]), _GAP), self._nrow())
                f.layout.title.text = f"{label}: diverged, nothing to show"
            self.readout.value = (
                f"<b>{label} ({opts}) diverged</b>: {out['diverged']}. Nothing is drawn. Likely fix: "
                + ("a smaller tolerance ε_rel" if m == "ggf" else "more steps")
            )
            return
        x = out["x"].clamp(-1, 1)[:, 0].numpy()
        with f.batch_update():
            f.data[0].z = _tile(x, self._nrow())
            f.layout.title.text = f"{label}: NFE {out['nfe']}, {out['seconds']:.2f} s"
        self.readout.value = f"<b>{label}</b> ({opts}): NFE <b>{out['nfe']}</b> (score calls on the batch, " + (
            f"incl. the final denoising call) · {out['seconds']:.2f} s" + self._judged(out["x"])
        )

    def _nrow(self) -> int:
        return min(4, self.n_images) if self.n_images <= 16 else 8

    def _judged(self, x: torch.Tensor) -> str:
        if self.classifier is None:
            return ""
        from gentoolkit.metrics.digits import digit_quality

        q = digit_quality(x.to(self.device), self.classifier)
        classes = [d for d in range(10) for _ in range(round(float(q["confident_histogram"][d]) * q["n_confident"]))]
        seen = ", ".join(str(d) for d in classes) or "none"
        return f" · the digit classifier is sure (p ≥ 0.9) of <b>{q['n_confident']} of {q['n']}</b> (digits: {seen})"
