"""Noise tracker: annealed Langevin sampling (ALS, 001 Alg. 4) and consistent annealed
sampling (CAS, Alg. 5) side by side, on the same data, score, initial points and seed.

Panels:
1-2. the samples of each sampler after the chosen level (over the data's density contours);
3.   the noise std at each level i, measured, against the schedule sigma_i, Prop. 1's limit
     sigma_i sqrt(2 / (2 - eta)) and the exact finite-n_sigma prediction of App. C.6
     (:func:`gentoolkit.sampling.als_noise_std`). For ALS the noise after level i's n_sigma
     updates (what the score at sigma_i assumed to be sigma_i); for CAS the noise entering
     level i (after level i - 1, the initial sigma_1 z for i = 1), which Prop. 2 says is
     exactly sigma_i. The measure is :func:`gentoolkit.metrics.effective_noise`, the
     maximum-likelihood noise level: for the "point mass" (std 1e-3) it is exactly the RMS
     of the samples, as in the propositions' proofs. For a mixture, noise much smaller than
     the components' own std s cannot be told from the data's spread (the relative error of
     the estimate grows like 1 + s^2 / v^2), so levels whose estimate falls below s / 2 are
     not drawn; the "narrow" datasets (std 0.01) are measurable down to small sigma. The
     search runs within a factor 4 of the expected level (App. C.6 for ALS, sigma_i for
     CAS); a level beyond it is reported as "above", never as the search range's end;
4.   final sample quality with and without denoising (the EDS, Eq. 8.3): the RMS distance of
     the samples to the nearest component mean, next to the data's own value.

Controls: eps, n_sigma (ALS: steps per level; CAS: the schedule dilated n_sigma times,
Sec. 8.4.2), number of levels L, sigma_max, sigma_min, dataset, and the level shown (it
follows L: at the last level it stays at the last level, and it never exceeds L). A CAS eps
outside its valid range is reported in the readout (and CAS is not drawn). A sampler that
diverges (NaN/inf, or samples beyond 1000 times the data's extent, e.g. ALS with eta >= 2 on
narrow data) is not drawn from the level where it diverged, and the readout says where and
what to change.
"""

from __future__ import annotations

import math

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from gentoolkit.data import toy2d
from gentoolkit.data.toy2d import Mixture2D
from gentoolkit.metrics.score import effective_noise
from gentoolkit.sampling.annealed import als, als_noise_std, cas, cas_betas, dilate_sigmas, eds, geometric_sigmas
from gentoolkit.widgets._common import BLOWUP, diverged_step, score_fns, widget_device
from gentoolkit.widgets._plot import density_trace, log_density_grid
from gentoolkit.widgets.base import Widget

POINT_MASS = "point mass"
_CONTOUR_RES = 60
_NOISE_POINTS = 400
_NOISE_RANGE = 4.0  # effective_noise(center=sigma_i) searches sigma_i * 4^[-1, 1]


def _unmeasured(good: bool, v: float, floor: float, top: float) -> str | None:
    """Why a measured noise level ``v`` is not shown as a number (None: it is)."""
    if not good:
        return "not measured (diverged)"
    if v < floor:
        return "not measurable (below the data's spread)"
    if v > 0.95 * top:  # at the end of the search range: the true level may be far larger
        return f"above {top:.3g} (beyond the measure's range)"
    return None


def datasets() -> dict[str, Mixture2D]:
    """The tracker's datasets: a point mass at 0 (std 1e-3, where noise is measured exactly),
    narrow (std 0.01) versions of the Gaussian grids, and every ``toy2d`` dataset."""
    out = {POINT_MASS: Mixture2D([[0.0, 0.0]], 1e-3, name=POINT_MASS)}
    for n in ("8gaussians", "25gaussians"):
        m = toy2d.get(n, std=0.01)
        m.name = f"{n} (narrow)"
        out[m.name] = m
    out.update({n: toy2d.get(n) for n in toy2d.names()})
    return out


class NoiseTracker(Widget):
    """Args:
    dataset: initial dataset (``"point mass"`` or a ``toy2d`` name).
    score_fn: None (exact scores), a callable for ``dataset``, or {dataset: callable}.
    n_particles: samples per sampler (2,000 by default).
    seed: seeds the initial points and the noise (same seed, same pictures).
    device: where the samplers and the networks run; None: the device of the score network's
        parameters (an ``nn.Module``), else :func:`gentoolkit.config.default_device`. The
        pictures are drawn from CPU copies.
    """

    def __init__(
        self,
        dataset: str = "8gaussians (narrow)",
        score_fn=None,
        *,
        n_particles: int = 2000,
        seed: int = 0,
        device=None,
    ):
        self._data = datasets()
        self.nets = score_fns(score_fn, dataset, list(self._data))
        self.n_particles, self.seed = int(n_particles), int(seed)
        self.device = widget_device(device, self.nets.values())
        controls = {
            "eps": W.FloatLogSlider(
                value=5e-4, base=10, min=-6, max=-2, step=0.1, description="ε (step)", readout_format=".1e"
            ),
            "n_sigma": W.IntSlider(value=5, min=1, max=20, description="n_σ"),
            "n_levels": W.IntSlider(value=10, min=2, max=30, description="levels L"),
            "sigma_max": W.FloatLogSlider(value=5.0, base=10, min=-0.5, max=1.5, step=0.05, description="σ_max"),
            "sigma_min": W.FloatLogSlider(value=0.05, base=10, min=-2.5, max=-0.5, step=0.05, description="σ_min"),
            "dataset": W.Dropdown(options=list(self._data), value=dataset, description="dataset"),
            "level": W.IntSlider(value=10, min=1, max=10, description="level shown"),
        }
        fig = make_subplots(
            rows=2,
            cols=2,
            subplot_titles=["ALS samples", "CAS samples", "noise std per level", "final samples: distance to the data"],
            vertical_spacing=0.12,
            horizontal_spacing=0.1,
        )
        for col in (1, 2):
            fig.add_trace(density_trace(), 1, col)
            fig.add_trace(
                go.Scattergl(
                    mode="markers",
                    marker=dict(size=2.5, color="crimson" if col == 1 else "seagreen"),
                    name=["ALS", "CAS"][col - 1],
                ),
                1,
                col,
            )
        for name, style in [
            ("schedule σ_i", dict(color="black", width=2)),
            ("Prop. 1 limit σ_i √(2/(2−η))", dict(color="gray", dash="dash")),
            ("App. C.6, n_σ steps", dict(color="crimson", dash="dot")),
        ]:
            fig.add_trace(go.Scatter(mode="lines", line=style, name=name), 2, 1)
        fig.add_trace(
            go.Scatter(
                mode="markers", marker=dict(color="crimson", size=8, symbol="circle-open"), name="ALS: after level i"
            ),
            2,
            1,
        )
        fig.add_trace(
            go.Scatter(mode="markers", marker=dict(color="seagreen", size=7, symbol="x"), name="CAS: entering level i"),
            2,
            1,
        )
        fig.add_trace(
            go.Bar(
                marker_color=["crimson", "#f4a6a6", "seagreen", "#a6dcb8", "steelblue"],
                name="RMS distance",
                showlegend=False,
            ),
            2,
            2,
        )
        fig.update_yaxes(type="log", title_text="noise std", row=2, col=1)
        fig.update_xaxes(title_text="level i", row=2, col=1)
        fig.update_yaxes(type="log", title_text="RMS distance to nearest mean", row=2, col=2)
        for col in (1, 2):
            fig.update_yaxes(scaleanchor=f"x{'' if col == 1 else col}", row=1, col=col)
        fig.update_layout(height=800, margin=dict(l=50, r=20, t=40, b=40), legend=dict(orientation="h", y=-0.06))
        self._key = None
        # registered before the base class's redraw observer, so the level follows L first
        controls["n_levels"].observe(self._follow_levels, names="value")
        super().__init__(controls, go.FigureWidget(fig), main="eps")

    def _follow_levels(self, change) -> None:
        """The level shown follows L: at the last level it stays at the last level; never
        above L. Its slider's range is changed quietly (the redraw for L follows)."""
        lvl, n = self.controls["level"], change["new"]
        at_last = lvl.value == lvl.max
        with self.quietly():
            if n > lvl.max:
                lvl.max = n
                if at_last:
                    lvl.value = n
            else:
                lvl.value = min(lvl.value, n)
                lvl.max = n

    # ------------------------------------------------------------------ computation
    def sigmas(self) -> torch.Tensor:
        """The training schedule sigma_1 > ... > sigma_L set by the sliders."""
        smax, smin = self.value("sigma_max"), self.value("sigma_min")
        return geometric_sigmas(max(smax, smin * 1.01), smin, self.value("n_levels"))

    def run(self) -> dict:
        """Run both samplers from the same x0 = sigma_1 z with the same seed; record the
        samples after each training level (for CAS: after each n_sigma-th dilated level)."""
        name = self.value("dataset")
        mix = self._data[name]
        score = self.nets.get(name, mix.score)
        s = self.sigmas()
        eps, n_sigma = self.value("eps"), self.value("n_sigma")
        g = torch.Generator().manual_seed(self.seed)
        x0 = (s[0].item() * torch.randn(self.n_particles, 2, generator=g)).to(self.device)
        out: dict = {"sigmas": s, "eta": eps / s[-1].item() ** 2, "mix": mix, "cas_error": None, "x0": x0.cpu()}
        snaps: list[torch.Tensor] = []
        x_als = als(
            score,
            x0,
            s,
            eps,
            n_sigma,
            denoise=False,
            generator=torch.Generator().manual_seed(self.seed + 1),
            callback=lambda i, sig, x: snaps.append(x.cpu()),
            progress=False,
        )
        out["als"], out["als_final"] = snaps, x_als
        dil = dilate_sigmas(s, n_sigma)
        try:
            cas_betas(dil, eps)
        except ValueError as e:
            out["cas"], out["cas_final"], out["cas_error"] = None, None, str(e)
            return out
        snaps_cas: list[torch.Tensor] = []

        last = len(dil) - 1

        def keep(i, sig, x):  # after the n_sigma dilated levels that stand for training level k
            if (i + 1) % n_sigma == 0 or i == last:
                snaps_cas.append(x.cpu())

        out["cas_final"] = cas(
            score,
            x0,
            dil,
            eps,
            denoise=False,
            generator=torch.Generator().manual_seed(self.seed + 1),
            callback=keep,
            progress=False,
        )
        out["cas"] = snaps_cas
        return out

    def _measure(self, res: dict) -> None:
        """Per level: where each sampler diverged, its noise std (NaN where it cannot be
        measured, with the reason in ``res[key + "_why"]``), and the final samples' quality."""
        s, mix, eta = res["sigmas"], res["mix"], res["eta"]
        extent = s[0].item() + max(abs(v) for v in mix.bounds(margin=4))
        res["als_bad"] = diverged_step(torch.stack(res["als"]), extent)
        res["cas_bad"] = diverged_step(torch.stack(res["cas"]), extent) if res["cas"] is not None else None
        # expected levels, the centres of the measure's search: App. C.6 for ALS, sigma_i for CAS (Prop. 2)
        pred = als_noise_std(s, self.value("eps"), self.value("n_sigma"), v0=s[0].item()) if eta < 2 else s
        sets = [(res["als"], res["als_bad"], pred)]
        if res["cas"] is not None:  # entering level i = after level i - 1
            bad = None if res["cas_bad"] is None else res["cas_bad"] + 1
            sets.append(([res["x0"]] + res["cas"][:-1], bad, s))
        measured = self._noise(mix, sets)
        res["als_noise"], res["als_why"] = measured[0]
        res["cas_noise"], res["cas_why"] = measured[1] if len(measured) > 1 else (None, None)
        score = self.nets.get(mix.name, mix.score)
        last = s[-1].item()
        finals = {}
        with torch.no_grad():
            for key, label in (("als", "ALS"), ("cas", "CAS")):
                x = res[key + "_final"]
                if x is not None and res[key + "_bad"] is None:
                    finals[label], finals[label + " + EDS"] = x, eds(score, x, last)
        data = mix.sample(self.n_particles, torch.Generator().manual_seed(self.seed + 2))
        finals["data"] = data
        res["quality"] = {k: self._rms_to_means(mix, x.cpu()) for k, x in finals.items()}

    @staticmethod
    def _noise(mix: Mixture2D, sets: list) -> list:
        """For each (snapshots, first diverged level or None, centres): effective_noise of each
        level's samples searched around its centre (one batched call for all sets), NaN where
        there is no number, and why: diverged, below the data's own spread, or above the
        search range (a number there would only be the range's end)."""
        ok = [[bad is None or i < bad for i in range(len(snaps))] for snaps, bad, _ in sets]
        stacked = torch.stack(
            [x if good else torch.zeros_like(x) for (snaps, _, _), oks in zip(sets, ok) for x, good in zip(snaps, oks)]
        )
        centers = torch.cat([c for _, _, c in sets])
        v_all = effective_noise(mix, stacked, center=centers, max_points=_NOISE_POINTS, rtol=1e-2)
        out, start = [], 0
        for (snaps, _, center), oks in zip(sets, ok):
            v, start = v_all[start : start + len(snaps)], start + len(snaps)
            top = _NOISE_RANGE * center
            floor = 0.5 * mix.stds.max().item()
            why = [_unmeasured(good, v[i].item(), floor, top[i].item()) for i, good in enumerate(oks)]
            valid = torch.tensor([w is None for w in why])
            out.append((torch.where(valid, v, torch.full_like(v, float("nan"))), why))
        return out

    @staticmethod
    def _rms_to_means(mix: Mixture2D, x: torch.Tensor) -> float:
        d = torch.cdist(x.double(), mix.means).min(1).values
        return max(d.pow(2).mean().sqrt().item(), 1e-6)

    # ------------------------------------------------------------------ drawing
    def update(self) -> None:
        n_levels = self.value("n_levels")
        key = tuple(self.value(k) for k in ("eps", "n_sigma", "n_levels", "sigma_max", "sigma_min", "dataset"))
        if key != self._key:
            self._res = self.run()
            self._measure(self._res)
            self._key = key
        self._draw(self._res, min(self.value("level"), n_levels) - 1)

    def _draw(self, res: dict, i: int) -> None:
        s, mix, eta = res["sigmas"], res["mix"], res["eta"]
        levels = np.arange(1, len(s) + 1)
        b = mix.bounds(margin=4, sigma=0.0)
        pad = max(b[1] - b[0] + 1.0, 2 * 2.5 * s[i].item())
        cx, cy = (b[0] + b[1]) / 2, (b[2] + b[3]) / 2
        view = (cx - pad / 2, cx + pad / 2, cy - pad / 2, cy + pad / 2)
        xs, ys, logp = log_density_grid(mix, view, _CONTOUR_RES, s[i].item(), nats=10)
        titles = []
        f = self.figure
        with f.batch_update():
            for k, key in ((0, "als"), (2, "cas")):
                f.data[k].update(x=xs, y=ys, z=logp)
                snaps, bad = res[key], res[key + "_bad"]
                shown = snaps is not None and (bad is None or i < bad)
                xy = snaps[i].numpy() if shown else np.zeros((0, 2))
                f.data[k + 1].update(x=xy[:, 0], y=xy[:, 1])
                name = key.upper()
                if shown:
                    titles.append(f"{name} samples after level {i + 1} (σ = {s[i].item():.3g})")
                elif snaps is None:
                    titles.append(f"{name} not run (ε outside its valid range)")
                else:
                    titles.append(f"{name} diverged at level {bad + 1}: not drawn")
            f.data[4].update(x=levels, y=s.numpy())
            f.data[5].update(x=levels, y=(s * math.sqrt(2 / (2 - eta))).numpy() if eta < 2 else [])
            pred = als_noise_std(s, self.value("eps"), self.value("n_sigma"), v0=s[0].item()).numpy() if eta < 2 else []
            f.data[6].update(x=levels if eta < 2 else [], y=pred)
            f.data[7].update(x=levels, y=res["als_noise"].numpy())
            cas_noise = res["cas_noise"]
            f.data[8].update(
                x=levels if cas_noise is not None else [], y=cas_noise.numpy() if cas_noise is not None else []
            )
            colors = {"ALS": "crimson", "ALS + EDS": "#f4a6a6", "CAS": "seagreen", "CAS + EDS": "#a6dcb8"}
            q = res["quality"]
            f.data[9].update(x=list(q), y=list(q.values()), marker_color=[colors.get(k, "steelblue") for k in q])
            f.layout.xaxis.range = view[:2]
            f.layout.yaxis.range = view[2:]
            f.layout.xaxis2.range = view[:2]
            f.layout.yaxis2.range = view[2:]
            f.layout.annotations[0].text, f.layout.annotations[1].text = titles
        self.readout.value = self._readout(res, i)

    def _readout(self, res: dict, i: int) -> str:
        s, eta = res["sigmas"], res["eta"]
        last = s[-1].item()

        def fmt(key):
            why = res[key + "_why"][i]
            return why if why is not None else f"{res[key + '_noise'][i].item():.3g}"

        parts = [f"η = ε/σ_L² = <b>{eta:.3g}</b>"]
        parts.append(f"level {i + 1}: σ_i = {s[i].item():.3g}, ALS noise after it = <b>{fmt('als')}</b>")
        if eta < 2:
            parts.append(f"Prop. 1 limit = {s[i].item() * math.sqrt(2 / (2 - eta)):.3g}")
        else:
            parts.append("<b>η ≥ 2: ALS diverges</b> (|1 − η| ≥ 1: each update amplifies the noise)")
        network = " or check the score network" if res["mix"].name in self.nets else ""
        if res["als_bad"] is not None:
            k = res["als_bad"]
            parts.append(
                f"<b>ALS diverged at level {k + 1}</b> (σ = {s[k].item():.3g}): its samples became NaN/inf or ran "
                f"beyond {BLOWUP:.0f}× the data's extent; likely fix: a smaller ε"
                + (f" (η < 2 needs ε < 2σ_L² = {2 * last**2:.3g})" if eta >= 2 else "")
                + network
            )
        if res["cas_error"]:
            parts.append(f"<b>CAS not run</b>: {res['cas_error']}")
        elif res["cas_bad"] is not None:
            k = res["cas_bad"]
            parts.append(
                f"<b>CAS diverged at level {k + 1}</b> (σ = {s[k].item():.3g}): its samples became NaN/inf or ran "
                f"beyond {BLOWUP:.0f}× the data's extent; likely fix: a smaller ε{network}"
            )
        else:
            parts.append(f"CAS noise entering it = <b>{fmt('cas')}</b>")
        return " · ".join(parts)
