"""Solver explorer: sample a 2D mixture through a reverse-time SDE with any solver of
:func:`gentoolkit.sde.sample`, using the mixture's exact score under the chosen SDE (or a
trained network), and see quality against compute.

Controls: SDE (VE, VP, sub-VP), dataset, solver, and the solver's knobs, named as the
options of :func:`gentoolkit.sde.sample`: ``n_steps`` (every fixed grid: Euler-Maruyama,
reverse diffusion, ancestral, predictor-corrector, DDIM, EDM's Heun, DPM-Solver++(2M)),
``snr`` (predictor-corrector), ``eps_rel``, ``eps_abs`` and ``memory`` (Gotta Go Fast),
``rtol`` and ``atol`` (the probability-flow ODE), ``eta`` (DDIM), ``rho``, ``s_churn`` and
``s_noise`` (EDM's Heun; ``s_noise`` only while ``s_churn`` > 0, the only time it acts) and
``spacing`` (DPM-Solver++(2M): log-SNR or time-uniform grid). Only the chosen solver's knobs
are shown; the others are hidden and disabled. The main control follows the solver:
``n_steps`` for the fixed grids, ``eps_rel`` for GGF, ``rtol`` for the ODE. The step slider's
range follows the solver too: 10 to 1000 for the first-order SDE solvers, 1 to 100 for the
fast samplers (``FAST``), each family keeping its last value.

Panels: the samples over the data's density; the paths of a few particles (first coordinate
against time; fixed grids only); the step size against time (uniform grids are flat, h =
(T - t_eps) / n_steps; Karras' rho-grid and the log-SNR grid crowd their steps at small t;
GGF's accepted steps show where it speeds up; the ODE's steps are not recorded); and NFE
against the sliced Wasserstein distance to the data for every solver on one plot (each at a
few budgets, ``CURVES``, computed once per SDE and dataset with the same score and particle
count), the data-to-data floor, and the current run as a star. The readout gives the NFE
(score calls, each on the whole batch, including the final Tweedie denoising call; for GGF
until its slowest sample is done), GGF's accepted/rejected steps, and the sliced Wasserstein
distance to a fresh sample of the data (:class:`gentoolkit.metrics.SlicedWasserstein`) next to
the same distance between independent data samples (the floor set by sampling noise: its mean
and standard deviation over 8 pairs). A combination that is not defined (ancestral sampling
on sub-VP), a run that fails, or one that diverges (NaN/inf, or samples far beyond the data)
draws nothing but the density, and the readout says why.
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
from gentoolkit.sde import METHODS, VESDE, VPSDE, SubVPSDE, mixture_score, sample
from gentoolkit.widgets._common import BLOWUP, diverged_step, score_fns, widget_device
from gentoolkit.widgets._plot import density_trace, log_density_grid
from gentoolkit.widgets.base import Widget

SDES = {"VE": lambda: VESDE(0.01, 10.0), "VP": lambda: VPSDE(0.1, 20.0), "sub-VP": lambda: SubVPSDE(0.1, 20.0)}
SOLVERS = ("euler_maruyama", "reverse_diffusion", "ancestral", "pc", "ode", "ggf", "ddim", "edm_heun", "dpmpp_2m")
# options of sde.sample
KNOBS = (
    "n_steps",
    "snr",
    "eps_rel",
    "eps_abs",
    "memory",
    "rtol",
    "atol",
    "eta",
    "rho",
    "s_churn",
    "s_noise",
    "spacing",
)
MAIN = {"ggf": "eps_rel", "ode": "rtol"}  # the main control; n_steps for the fixed grids
#: the fast samplers, whose step slider runs from 1 to 100 (the others': 10 to 1000)
FAST = ("ddim", "edm_heun", "dpmpp_2m")
_STEPS = {False: dict(min=10, max=1000, step=10, value=100), True: dict(min=1, max=100, step=1, value=10)}
#: the budgets of each solver's curve on the NFE-error panel
CURVES = {
    "euler_maruyama": [{"n_steps": k} for k in (10, 30, 100, 300)],
    "reverse_diffusion": [{"n_steps": k} for k in (10, 30, 100, 300)],
    "ancestral": [{"n_steps": k} for k in (10, 30, 100, 300)],
    "pc": [{"n_steps": k} for k in (5, 15, 50, 150)],
    "ode": [{"rtol": r, "atol": r / 10} for r in (1e-1, 1e-2, 1e-3)],
    "ggf": [{"eps_rel": e} for e in (0.3, 0.1, 0.03)],
    "ddim": [{"n_steps": k} for k in (5, 10, 25, 50)],
    "edm_heun": [{"n_steps": k} for k in (3, 6, 12, 25)],
    "dpmpp_2m": [{"n_steps": k} for k in (3, 6, 12, 25)],
}
_TRACKED = 5
_FLOOR_PAIRS = 8
_TITLES = ("samples", "paths (first coordinate)", "step size h against t", "NFE against sliced W2, every solver")
_CURVE0 = 3 + _TRACKED  # the index of the first curve trace
_WIDE = {"description_width": "initial"}  # the fast samplers' knobs: their whole description shows


class SolverExplorer(Widget):
    """Args:
    dataset: a ``toy2d`` name; sde: ``"VE"``, ``"VP"`` or ``"sub-VP"``; method: a solver.
    score_fn: None (exact scores) or {(sde name, dataset): score_fn(x, t)} / a callable for
        the initial pair.
    n_particles: samples per run (2,000 by default); seed: same seed, same picture.
    device: where the solvers and networks run; None: the device of the score network's
        parameters (an ``nn.Module``), else :func:`gentoolkit.config.default_device`. The
        pictures are drawn from CPU copies.
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
        device=None,
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
        self.device = widget_device(device, self.nets.values())
        self._mixtures = {n: toy2d.get(n) for n in toy2d.names()}
        self._refs: dict = {}
        self._curves: dict = {}  # (sde name, dataset) -> {method: [(nfe, sliced W2), ...]}
        self._curves_drawn = None  # the (sde, dataset, method) whose curves the figure shows
        fast = method in FAST
        self._steps = {f: _STEPS[f]["value"] for f in (False, True)}  # each family's last step count
        controls = {
            "sde": W.ToggleButtons(options=list(SDES), value=sde, description="SDE"),
            "dataset": W.Dropdown(options=toy2d.names(), value=dataset, description="dataset"),
            "method": W.Dropdown(options=list(SOLVERS), value=method, description="solver"),
            "n_steps": W.IntSlider(**_STEPS[fast], description="steps"),
            "snr": W.FloatSlider(value=0.16, min=0.01, max=0.5, step=0.01, description="snr"),
            "eps_rel": W.FloatLogSlider(
                value=0.1, base=10, min=-3, max=-0.3, step=0.1, description="ε_rel", readout_format=".3f"
            ),
            "eps_abs": W.FloatLogSlider(
                value=0.0078, base=10, min=-3, max=-1, step=0.1, description="ε_abs", readout_format=".4f"
            ),
            "memory": W.Checkbox(value=True, description="Brownian memory (GGF)"),
            # the ODE's own tolerances: at rtol 1e-3 its samples are as good as at 1e-5 (sliced
            # W2 0.1006 against 0.1005 on 8gaussians/VP) for 57 score calls instead of 99
            "rtol": W.FloatLogSlider(
                value=1e-3, base=10, min=-6, max=-1, step=0.1, description="rtol (ODE)", readout_format=".1e"
            ),
            "atol": W.FloatLogSlider(
                value=1e-4, base=10, min=-7, max=-2, step=0.1, description="atol (ODE)", readout_format=".1e"
            ),
            "eta": W.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.1, description="η (DDIM)", style=_WIDE),
            "rho": W.FloatSlider(value=7.0, min=1.0, max=10.0, step=0.5, description="ρ (EDM)", style=_WIDE),
            "s_churn": W.FloatSlider(value=0.0, min=0.0, max=20.0, step=0.5, description="churn (EDM)", style=_WIDE),
            "s_noise": W.FloatSlider(value=1.0, min=0.9, max=1.2, step=0.01, description="S_noise (EDM)", style=_WIDE),
            "spacing": W.ToggleButtons(
                options=["logsnr", "time"], value="logsnr", description="grid (DPM++)", style=_WIDE
            ),
        }
        # before the base class's observer: a change of solver moves the step slider's range first
        controls["method"].observe(self._on_method, names="value")
        fig = make_subplots(
            rows=2, cols=2, subplot_titles=list(_TITLES), horizontal_spacing=0.08, vertical_spacing=0.14
        )
        fig.add_trace(density_trace(), 1, 1)
        fig.add_trace(
            go.Scattergl(mode="markers", marker=dict(size=2.5, color="crimson"), name="samples", showlegend=False), 1, 1
        )
        for k in range(_TRACKED):
            fig.add_trace(go.Scatter(mode="lines", line=dict(width=1), name=f"particle {k}", showlegend=False), 1, 2)
        fig.add_trace(
            go.Scattergl(
                mode="markers", marker=dict(size=3, color="seagreen"), name="accepted steps", showlegend=False
            ),
            2,
            1,
        )
        for m in SOLVERS:  # one curve per solver, then the floor and the current run
            fig.add_trace(go.Scatter(mode="lines+markers", name=m, showlegend=True), 2, 2)
        fig.add_trace(go.Scatter(mode="lines", line=dict(color="gray", dash="dot"), name="data vs data"), 2, 2)
        star = dict(symbol="star", size=14, color="black")
        fig.add_trace(go.Scatter(mode="markers", marker=star, name="this run"), 2, 2)
        fig.update_xaxes(autorange="reversed", title_text="t", row=1, col=2)
        fig.update_xaxes(autorange="reversed", title_text="t", row=2, col=1)
        fig.update_yaxes(type="log", title_text="h", row=2, col=1)
        fig.update_xaxes(type="log", title_text="NFE", row=2, col=2)
        fig.update_yaxes(type="log", title_text="sliced W2", row=2, col=2)
        fig.update_yaxes(scaleanchor="x", row=1, col=1)
        # the legend names the NFE-error panel's curves, to its right (the figure keeps the cell's width)
        legend = dict(font=dict(size=9), x=1.01, xanchor="left", y=0.0, yanchor="bottom", tracegroupgap=0)
        fig.update_layout(height=700, margin=dict(l=40, r=20, t=40, b=40), showlegend=True, legend=legend)
        super().__init__(controls, go.FigureWidget(fig), main=MAIN.get(method, "n_steps"))

    def _on_method(self, change) -> None:
        """Keep the step slider in the solver family's range (first-order SDE solvers: 10 to 1000;
        the fast samplers: 1 to 100), each family with its last value; no redraw of its own."""
        old, new = change["old"] in FAST, change["new"] in FAST
        if old == new:
            return
        c = self.controls["n_steps"]
        self._steps[old] = c.value
        rng = _STEPS[new]
        with self.quietly():
            c.min, c.max = min(c.min, rng["min"]), max(c.max, rng["max"])
            c.value = self._steps[new]
            c.min, c.max, c.step = rng["min"], rng["max"], rng["step"]

    def options(self) -> dict:
        """The options of :func:`gentoolkit.sde.sample` that the controls set for the chosen
        method (the controls are named after them)."""
        used = METHODS[self.value("method")]
        return {k: self.value(k) for k in KNOBS if k in used}

    def _reference(self, name: str):
        """Per dataset, computed once: a fresh data sample to measure against, the floor of
        the readout's distance (mean and std of the sliced W2 between it and 8 independent
        data samples), the density contours and the bounds."""
        if name not in self._refs:
            mix = self._mixtures[name]
            data = mix.sample(self.n_particles, torch.Generator().manual_seed(self.seed + 1))
            distance = SlicedWasserstein(data, n_projections=64, generator=torch.Generator().manual_seed(3))
            floors = [
                distance(mix.sample(self.n_particles, torch.Generator().manual_seed(self.seed + 2 + k)))
                for k in range(_FLOOR_PAIRS)
            ]
            b = mix.bounds(margin=5)
            self._refs[name] = (distance, (np.mean(floors), np.std(floors)), log_density_grid(mix, b, 50), b)
        return self._refs[name]

    def update(self) -> None:
        m = self.value("method")
        for name in KNOBS:
            self.set_used(name, name in METHODS[m] and (name != "s_noise" or self.value("s_churn") > 0))
        self.set_main(MAIN.get(m, "n_steps"))
        sde_name, data_name = self.value("sde"), self.value("dataset")
        distance, floor, contours, b = self._reference(data_name)
        if m == "ancestral" and sde_name == "sub-VP":
            self._clear(contours, b, "ancestral sampling is not defined for sub-VP")
            self.readout.value = (
                "<b>ancestral sampling is defined for VE and VP only</b> (sub-VP has no discrete chain to sample "
                "ancestrally): nothing is drawn; pick another solver or SDE"
            )
            return
        fixed = "n_steps" in METHODS[m]
        res, paths, where, secs = self._run(sde_name, data_name, b)
        if isinstance(res, Exception):  # the controls are valid: the run itself broke down
            self._clear(contours, b, f"{m} failed")
            self.readout.value = (
                f"<b>{m} failed</b> ({self._opts()}) on {sde_name}: {res}. Nothing is drawn. This usually means the "
                "score returned NaN/inf or the solver diverged: check the score network, or use "
                + ("more steps" if fixed else "smaller tolerances")
            )
        elif where is not None:
            self._clear(contours, b, f"diverged at {where}")
            self.readout.value = (
                f"<b>{m} ({self._opts()}) on {sde_name} diverged at {where}</b>: the samples became NaN/inf or ran "
                f"beyond {BLOWUP:.0f}× the data's extent; nothing is drawn. Likely fix: "
                + ("more steps (a smaller step size h)" if fixed else "smaller tolerances")
                + ", or check the score network"
            )
        else:
            sw = distance(res.x.float().cpu())
            self._draw(res, paths, contours, b, m)
            self._draw_curves(sde_name, data_name, floor, m, (res.nfe, sw))
            self.readout.value = self._readout(res, sw, floor, secs)

    def _score(self, sde_name: str, data_name: str):
        sde = SDES[sde_name]()
        return sde, self.nets.get((sde_name, data_name), mixture_score(self._mixtures[data_name], sde))

    def curves(self, sde_name: str, data_name: str) -> dict:
        """{method: [(NFE, sliced W2 to the data), ...]} at the budgets ``CURVES`` for every solver
        (ancestral skipped on sub-VP; a budget that fails or diverges is left out), from the
        widget's seed, score and particle count; computed once per (SDE, dataset)."""
        key = (sde_name, data_name)
        if key not in self._curves:
            distance, _, _, b = self._reference(data_name)
            sde, score = self._score(sde_name, data_name)
            extent = max(abs(v) for v in b) + sde.prior_std()
            out = {}
            for m in SOLVERS:
                if m == "ancestral" and not sde.has_ancestral_chain:
                    continue
                out[m] = []
                for opts in CURVES[m]:
                    gen = torch.Generator().manual_seed(self.seed)
                    try:
                        shape = (self.n_particles, 2)
                        r = sample(sde, score, shape, m, generator=gen, device=self.device, progress=False, **opts)
                    except (RuntimeError, ValueError):
                        continue
                    if diverged_step(r.x.cpu()[None], extent) is None:
                        out[m].append((r.nfe, distance(r.x.float().cpu())))
            self._curves[key] = out
        return self._curves[key]

    def _run(self, sde_name: str, data_name: str, b):
        """Sample with the chosen solver. Returns (result or the exception it raised, the
        tracked paths, where it diverged or None, seconds)."""
        m = self.value("method")
        sde, score = self._score(sde_name, data_name)
        paths, sizes = [], []

        def record(i, t, x):  # per step: the tracked particles and the largest |x| (no sync)
            paths.append((t, x[:_TRACKED, 0].cpu()))
            sizes.append(x.abs().amax())

        t0 = time.perf_counter()
        try:
            res = sample(
                sde,
                score,
                (self.n_particles, 2),
                m,
                generator=torch.Generator().manual_seed(self.seed),
                callback=record if "n_steps" in METHODS[m] else None,
                device=self.device,
                progress=False,
                **self.options(),
            )
        except (RuntimeError, ValueError) as e:  # e.g. RK45's step underflow, GGF's time check on NaN
            return e, paths, None, 0.0
        secs = time.perf_counter() - t0
        extent = max(abs(v) for v in b) + sde.prior_std()
        bad = diverged_step(torch.stack(sizes).cpu()[:, None], extent) if sizes else None
        if bad is not None:
            return res, paths, f"step {bad + 1} of {len(sizes)} (t = {paths[bad][0]:.3g})", secs
        if diverged_step(res.x.cpu()[None], extent) is not None:
            return res, paths, "an unknown step", secs
        return res, paths, None, secs

    def _clear(self, contours, b, why: str) -> None:
        """Redraw the density; empty every other trace, saying why in the panel titles."""
        xs, ys, logp = contours
        f = self.figure
        self._curves_drawn = None
        with f.batch_update():
            f.data[0].update(x=xs, y=ys, z=logp)
            for t in f.data[1:]:
                t.update(x=[], y=[])
            f.layout.xaxis.range, f.layout.yaxis.range = b[:2], b[2:]
            for a, title in zip(f.layout.annotations, _TITLES):
                a.text = f"{title}: {why}"

    def _draw(self, res, paths, contours, b, m: str) -> None:
        xs, ys, logp = contours
        f = self.figure
        titles = list(_TITLES)
        with f.batch_update():
            f.data[0].update(x=xs, y=ys, z=logp)
            xy = res.x.float().cpu().numpy()
            f.data[1].update(x=xy[:, 0], y=xy[:, 1])
            if paths:
                ts = np.array([p[0] for p in paths])
                vals = torch.stack([p[1] for p in paths]).numpy()
            else:
                titles[1] = "paths: recorded for the fixed-step solvers only"
            for k in range(_TRACKED):
                f.data[2 + k].update(x=ts if paths else [], y=vals[:, k] if paths else [])
            if res.stats is not None and len(res.stats.steps_h):
                keep = slice(None, None, max(1, len(res.stats.steps_h) // 3000))
                ts, hs = res.stats.steps_t[keep].cpu().numpy(), res.stats.steps_h[keep].cpu().numpy()
                titles[2] = "accepted step sizes h against t"
            elif m != "ode":
                ts, hs = res.times[:-1].numpy(), (res.times[:-1] - res.times[1:]).numpy()
            else:
                ts = hs = np.zeros(0)
                titles[2] = "step size h: not recorded by the ODE solver"
            f.data[2 + _TRACKED].update(x=ts, y=hs)
            if len(hs):  # whole decades around the steps (a flat grid would zoom in to rounding noise)
                f.layout.yaxis3.range = [np.floor(np.log10(hs.min()) - 0.3), np.ceil(np.log10(hs.max()) + 0.3)]
            f.layout.xaxis.range, f.layout.yaxis.range = b[:2], b[2:]
            for a, title in zip(f.layout.annotations, titles):
                a.text = title

    def _draw_curves(self, sde_name: str, data_name: str, floor, m: str, point) -> None:
        """The NFE-error panel: every solver's curve (the chosen one bold), the data-to-data floor
        and this run's (NFE, sliced W2) as a star. The curves are redrawn only when the SDE, the
        dataset or the solver changed (``_curves_drawn``; :meth:`_clear` empties them)."""
        curves = self.curves(sde_name, data_name)
        f = self.figure
        nfes = [n for pts in curves.values() for n, _ in pts] + [point[0]]
        key, self._curves_drawn = self._curves_drawn, (sde_name, data_name, m)
        with f.batch_update():
            for k, name in enumerate(SOLVERS if key != self._curves_drawn else ()):  # a new SDE, dataset or solver
                pts, bold = curves.get(name, []), name == m
                f.data[_CURVE0 + k].update(
                    x=[p[0] for p in pts],
                    y=[p[1] for p in pts],
                    opacity=1.0 if bold else 0.45,
                    line=dict(width=3 if bold else 1.2),
                    marker=dict(size=7 if bold else 4),
                )
            f.data[_CURVE0 + len(SOLVERS)].update(x=[min(nfes), max(nfes)], y=[floor[0], floor[0]])
            f.data[_CURVE0 + len(SOLVERS) + 1].update(x=[point[0]], y=[point[1]])

    def _opts(self) -> str:
        return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.options().items())

    def _readout(self, res, sw: float, floor, secs: float) -> str:
        m, sde_name = self.value("method"), self.value("sde")
        extra = ""
        if res.stats is not None:
            st = res.stats
            memory = f"Brownian memory depth {st.max_memory}" if self.value("memory") else "no Brownian memory"
            extra = f" · steps accepted {st.accepted}, rejected {st.rejected} (summed over samples) · {memory}"
        return (
            f"<b>{m}</b> ({self._opts()}) on {sde_name}: NFE <b>{res.nfe}</b> (score calls on the whole batch, "
            f"incl. the final denoising call){extra} · sliced W2 to the data <b>{sw:.3f}</b> "
            f"(two data samples: {floor[0]:.3f} ± {floor[1]:.3f}) · {secs * 1e3:.0f} ms"
        )
