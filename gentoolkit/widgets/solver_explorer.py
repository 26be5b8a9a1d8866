"""Solver explorer: sample a 2D mixture through a reverse-time SDE with any solver of
:func:`gentoolkit.sde.sample`, using the mixture's exact score under the chosen SDE (or a
trained network), and see quality against compute.

Controls: SDE (VE, VP, sub-VP), dataset, solver, and the solver's knobs: number of steps
(Euler-Maruyama, reverse diffusion, ancestral, predictor-corrector), snr (predictor-corrector),
eps_rel and eps_abs (Gotta Go Fast; for the ODE they are its rtol and atol), and Brownian
memory (Gotta Go Fast). Knobs the chosen solver does not use are greyed out.

Panels: the samples over the data's density; the paths of a few particles (first coordinate
against time); the step size against time (fixed grids are flat; GGF's accepted steps show
where it speeds up). The readout gives NFE (batched score calls, and per sample for GGF),
accepted/rejected steps, and the sliced Wasserstein distance to a fresh sample of the data
(:class:`gentoolkit.metrics.SlicedWasserstein`), next to the same distance between two data
samples (the floor set by sampling noise).
"""

from __future__ import annotations

import time

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from gentoolkit.data import toy2d
from gentoolkit.metrics.distances import SlicedWasserstein
from gentoolkit.sde import VESDE, VPSDE, SubVPSDE, mixture_score, sample
from gentoolkit.widgets._common import score_fns
from gentoolkit.widgets._plot import density_trace, log_density_grid
from gentoolkit.widgets.base import Widget

SDES = {"VE": lambda: VESDE(0.01, 10.0), "VP": lambda: VPSDE(0.1, 20.0), "sub-VP": lambda: SubVPSDE(0.1, 20.0)}
SOLVERS = ("euler_maruyama", "reverse_diffusion", "ancestral", "pc", "ode", "ggf")
_USES = {
    "n_steps": {"euler_maruyama", "reverse_diffusion", "ancestral", "pc"},
    "snr": {"pc"},
    "eps_rel": {"ggf", "ode"},
    "eps_abs": {"ggf", "ode"},
    "memory": {"ggf"},
}
_TRACKED = 5


class SolverExplorer(Widget):
    """Args:
    dataset: a ``toy2d`` name; sde: ``"VE"``, ``"VP"`` or ``"sub-VP"``; method: a solver.
    score_fn: None (exact scores) or {(sde name, dataset): score_fn(x, t)} / a callable for
        the initial pair.
    n_particles: samples per run (2,000 by default); seed: same seed, same picture.
    """

    def __init__(
        self,
        dataset: str = "8gaussians",
        sde: str = "VP",
        method: str = "euler_maruyama",
        *,
        score_fn=None,
        n_particles: int = 2000,
        seed: int = 0,
    ):
        if sde not in SDES:
            raise ValueError(f"unknown sde={sde!r}; expected one of {list(SDES)}")
        if method not in SOLVERS:
            raise ValueError(f"unknown method={method!r}; expected one of {list(SOLVERS)}")
        if score_fn is None or isinstance(score_fn, dict):
            self.nets = dict(score_fn or {})
        else:  # a callable for the initial (sde, dataset)
            self.nets = {(sde, k): v for k, v in score_fns(score_fn, dataset, toy2d.names()).items()}
        for key, f in self.nets.items():
            if not (isinstance(key, tuple) and key[0] in SDES and key[1] in toy2d.names() and callable(f)):
                raise ValueError(f"score_fn keys must be (sde name, dataset name) with callable values; got {key!r}")
        self.n_particles, self.seed = int(n_particles), int(seed)
        self._mixtures = {n: toy2d.get(n) for n in toy2d.names()}
        self._refs: dict = {}
        controls = {
            "sde": W.ToggleButtons(options=list(SDES), value=sde, description="SDE"),
            "dataset": W.Dropdown(options=toy2d.names(), value=dataset, description="dataset"),
            "method": W.Dropdown(options=list(SOLVERS), value=method, description="solver"),
            "n_steps": W.IntSlider(value=100, min=10, max=1000, step=10, description="steps"),
            "snr": W.FloatSlider(value=0.16, min=0.01, max=0.5, step=0.01, description="snr"),
            "eps_rel": W.FloatLogSlider(
                value=0.1, base=10, min=-3, max=-0.3, step=0.1, description="ε_rel", readout_format=".3f"
            ),
            "eps_abs": W.FloatLogSlider(
                value=0.0078, base=10, min=-3, max=-1, step=0.1, description="ε_abs", readout_format=".4f"
            ),
            "memory": W.Checkbox(value=True, description="Brownian memory (GGF)"),
        }
        fig = make_subplots(
            rows=1,
            cols=3,
            subplot_titles=["samples", "paths (first coordinate)", "step size h against t"],
            horizontal_spacing=0.08,
        )
        fig.add_trace(density_trace(), 1, 1)
        fig.add_trace(go.Scattergl(mode="markers", marker=dict(size=2.5, color="crimson"), name="samples"), 1, 1)
        for k in range(_TRACKED):
            fig.add_trace(go.Scatter(mode="lines", line=dict(width=1), name=f"particle {k}", showlegend=False), 1, 2)
        fig.add_trace(go.Scattergl(mode="markers", marker=dict(size=3, color="seagreen"), name="accepted steps"), 1, 3)
        fig.update_xaxes(autorange="reversed", title_text="t", row=1, col=2)
        fig.update_xaxes(autorange="reversed", title_text="t", row=1, col=3)
        fig.update_yaxes(type="log", title_text="h", row=1, col=3)
        fig.update_yaxes(scaleanchor="x", row=1, col=1)
        fig.update_layout(height=380, margin=dict(l=40, r=20, t=40, b=40), showlegend=False)
        super().__init__(controls, go.FigureWidget(fig), main="eps_rel" if method in ("ggf", "ode") else "n_steps")

    def options(self) -> dict:
        """The solver options the controls set for the chosen method."""
        m = self.value("method")
        if m == "ggf":
            return {"eps_rel": self.value("eps_rel"), "eps_abs": self.value("eps_abs"), "memory": self.value("memory")}
        if m == "ode":
            return {"rtol": self.value("eps_rel"), "atol": self.value("eps_abs")}
        if m == "pc":
            return {"n_steps": self.value("n_steps"), "snr": self.value("snr")}
        return {"n_steps": self.value("n_steps")}

    def _reference(self, name: str):
        """Per dataset, computed once: a fresh data sample, the sliced W2 between two data
        samples (the noise floor of the readout's distance), the density contours, bounds."""
        if name not in self._refs:
            mix = self._mixtures[name]
            data = mix.sample(self.n_particles, torch.Generator().manual_seed(self.seed + 1))
            ref = mix.sample(self.n_particles, torch.Generator().manual_seed(self.seed + 2))
            distance = SlicedWasserstein(data, n_projections=64, generator=torch.Generator().manual_seed(3))
            floor = distance(ref)
            b = mix.bounds(margin=5)
            self._refs[name] = (distance, floor, log_density_grid(mix, b, 50), b)
        return self._refs[name]

    def update(self) -> None:
        m = self.value("method")
        for name, users in _USES.items():
            self.controls[name].disabled = m not in users
        sde_name, data_name = self.value("sde"), self.value("dataset")
        sde, mix = SDES[sde_name](), self._mixtures[data_name]
        score = self.nets.get((sde_name, data_name), mixture_score(mix, sde))
        if m == "ancestral" and sde_name == "sub-VP":
            self.readout.value = "<b>ancestral sampling is defined for VE and VP only</b>: pick another solver or SDE"
            with self.figure.batch_update():
                self.figure.data[1].update(x=[], y=[])
            return
        paths = []

        def record(i, t, x):
            paths.append((t, x[:_TRACKED, 0].clone()))

        t0 = time.perf_counter()
        res = sample(
            sde,
            score,
            (self.n_particles, 2),
            m,
            generator=torch.Generator().manual_seed(self.seed),
            callback=record if m not in ("ode", "ggf") else None,
            **self.options(),
        )
        secs = time.perf_counter() - t0
        x = res.x
        distance, floor, (xs, ys, logp), b = self._reference(data_name)
        sw = distance(x)
        f = self.figure
        with f.batch_update():
            f.data[0].update(x=xs, y=ys, z=logp)
            xy = x.float().numpy()
            f.data[1].update(x=xy[:, 0], y=xy[:, 1])
            if paths:
                ts = np.array([p[0] for p in paths])
                vals = torch.stack([p[1] for p in paths]).numpy()
                for k in range(_TRACKED):
                    f.data[2 + k].update(x=ts, y=vals[:, k])
            else:
                for k in range(_TRACKED):
                    f.data[2 + k].update(x=[], y=[])
            if res.stats is not None and len(res.stats.steps_h):
                keep = slice(None, None, max(1, len(res.stats.steps_h) // 3000))
                ts, hs = res.stats.steps_t[keep].numpy(), res.stats.steps_h[keep].numpy()
            elif m != "ode":
                ts, hs = res.times[:-1].numpy(), (res.times[:-1] - res.times[1:]).numpy()
            else:
                ts = hs = np.zeros(0)
            f.data[2 + _TRACKED].update(x=ts, y=hs)
            if len(hs):  # whole decades around the steps (a flat grid would zoom in to rounding noise)
                f.layout.yaxis3.range = [np.floor(np.log10(hs.min()) - 0.3), np.ceil(np.log10(hs.max()) + 0.3)]
            f.layout.xaxis.range, f.layout.yaxis.range = b[:2], b[2:]
        extra = ""
        if res.stats is not None:
            extra = (
                f" · {res.stats.nfe_per_sample:.0f} NFE per sample · accepted {res.stats.accepted}, "
                f"rejected {res.stats.rejected} · Brownian memory depth {res.stats.max_memory}"
            )
        opts = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.options().items())
        self.readout.value = (
            f"<b>{m}</b> ({opts}) on {sde_name}: NFE <b>{res.nfe}</b>{extra} · sliced W2 to the data "
            f"<b>{sw:.3f}</b> (two data samples: {floor:.3f}) · {secs * 1e3:.0f} ms"
        )
