"""Noise tracker: annealed Langevin sampling (ALS, 001 Alg. 4) and consistent annealed
sampling (CAS, Alg. 5) side by side, on the same data, score, initial points and seed.

Panels:
1-2. the samples of each sampler after the chosen level (over the data's density contours);
3.   the noise std at each level i, measured, against the schedule sigma_i, Prop. 1's limit
     sigma_i sqrt(2 / (2 - eta)) and the exact finite-n_sigma prediction of App. C.6
     (:func:`gentoolkit.score.als_noise_std`). For ALS the noise after level i's n_sigma
     updates (what the score at sigma_i assumed to be sigma_i); for CAS the noise entering
     level i (after level i - 1, the initial sigma_1 z for i = 1), which Prop. 2 says is
     exactly sigma_i. The measure is :func:`gentoolkit.score.effective_noise`, the
     maximum-likelihood noise level: for the "point mass" (std 1e-3) it is exactly the RMS
     of the samples, as in the propositions' proofs. For a mixture, noise much smaller than
     the components' own std s cannot be told from the data's spread (the relative error of
     the estimate grows like 1 + s^2 / v^2), so levels whose estimate falls below s / 2 are
     not drawn; the "narrow" datasets (std 0.01) are measurable down to small sigma;
4.   final sample quality with and without denoising (the EDS, Eq. 8.3): the RMS distance of
     the samples to the nearest component mean, next to the data's own value.

Controls: eps, n_sigma (ALS: steps per level; CAS: the schedule dilated n_sigma times,
Sec. 8.4.2), number of levels L, sigma_max, sigma_min, dataset, and the level shown. A
CAS eps outside its valid range is reported in the readout (and CAS is not drawn).
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
from gentoolkit.widgets._common import score_fns
from gentoolkit.widgets._plot import density_trace, log_density_grid
from gentoolkit.widgets.base import Widget

POINT_MASS = "point mass"
_CONTOUR_RES = 60
_NOISE_POINTS = 400


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
    device: where the samplers and the networks run (the pictures are drawn from CPU copies).
    """

    def __init__(
        self,
        dataset: str = "8gaussians (narrow)",
        score_fn=None,
        *,
        n_particles: int = 2000,
        seed: int = 0,
        device="cpu",
    ):
        self._data = datasets()
        self.nets = score_fns(score_fn, dataset, list(self._data))
        self.n_particles, self.seed = int(n_particles), int(seed)
        self.device = torch.device(device)
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
        super().__init__(controls, go.FigureWidget(fig), main="eps")

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
            score, x0, dil, eps, denoise=False, generator=torch.Generator().manual_seed(self.seed + 1), callback=keep
        )
        out["cas"] = snaps_cas
        return out

    def _measure(self, res: dict) -> None:
        s, mix = res["sigmas"], res["mix"]
        sets = [res["als"]] + ([[res["x0"]] + res["cas"][:-1]] if res["cas"] is not None else [])
        stacked = torch.stack([x for snaps in sets for x in snaps])
        centers = torch.cat([s] * len(sets))  # both are expected near sigma_i
        v = effective_noise(mix, stacked, center=centers, max_points=_NOISE_POINTS, rtol=1e-2)
        v = torch.where(v >= 0.5 * mix.stds.max(), v, torch.full_like(v, float("nan")))  # not measurable
        res["als_noise"] = v[: len(s)]
        res["cas_noise"] = v[len(s) :] if res["cas"] is not None else None
        score = self.nets.get(mix.name, mix.score)
        last = s[-1].item()
        with torch.no_grad():
            rows = [res["als_final"], eds(score, res["als_final"], last)]
            if res["cas_final"] is not None:
                rows += [res["cas_final"], eds(score, res["cas_final"], last)]
        rows = [r.cpu() for r in rows]
        data = mix.sample(self.n_particles, torch.Generator().manual_seed(self.seed + 2))
        res["quality"] = [self._rms_to_means(mix, x) for x in rows] + [self._rms_to_means(mix, data)]

    @staticmethod
    def _rms_to_means(mix: Mixture2D, x: torch.Tensor) -> float:
        d = torch.cdist(x.double(), mix.means).min(1).values
        return max(d.pow(2).mean().sqrt().item(), 1e-6)

    # ------------------------------------------------------------------ drawing
    def update(self) -> None:
        lvl = self.controls["level"]
        if lvl.max != self.value("n_levels"):
            with lvl.hold_trait_notifications():
                lvl.max = self.value("n_levels")
        key = tuple(self.value(k) for k in ("eps", "n_sigma", "n_levels", "sigma_max", "sigma_min", "dataset"))
        if key != self._key:
            self._res = self.run()
            self._measure(self._res)
            self._key = key
        self._draw(self._res, min(lvl.value, self.value("n_levels")) - 1)

    def _draw(self, res: dict, i: int) -> None:
        s, mix, eta = res["sigmas"], res["mix"], res["eta"]
        levels = np.arange(1, len(s) + 1)
        b = mix.bounds(margin=4, sigma=0.0)
        pad = max(b[1] - b[0] + 1.0, 2 * 2.5 * s[i].item())
        cx, cy = (b[0] + b[1]) / 2, (b[2] + b[3]) / 2
        view = (cx - pad / 2, cx + pad / 2, cy - pad / 2, cy + pad / 2)
        xs, ys, logp = log_density_grid(mix, view, _CONTOUR_RES, s[i].item(), nats=10)
        f = self.figure
        with f.batch_update():
            for k, key in ((0, "als"), (2, "cas")):
                f.data[k].update(x=xs, y=ys, z=logp)
                snaps = res[key]
                xy = snaps[i].numpy() if snaps is not None else np.zeros((0, 2))
                f.data[k + 1].update(x=xy[:, 0], y=xy[:, 1])
            f.data[4].update(x=levels, y=s.numpy())
            f.data[5].update(x=levels, y=(s * math.sqrt(2 / (2 - eta))).numpy() if eta < 2 else [])
            pred = als_noise_std(s, self.value("eps"), self.value("n_sigma"), v0=s[0].item()).numpy() if eta < 2 else []
            f.data[6].update(x=levels, y=pred)
            f.data[7].update(x=levels, y=res["als_noise"].numpy())
            cas_noise = res["cas_noise"]
            f.data[8].update(
                x=levels if cas_noise is not None else [], y=cas_noise.numpy() if cas_noise is not None else []
            )
            labels = ["ALS", "ALS + EDS", "CAS", "CAS + EDS", "data"]
            q = res["quality"]
            if len(q) == 3:
                labels = ["ALS", "ALS + EDS", "data"]
            f.data[9].update(
                x=labels,
                y=q,
                marker_color=(
                    ["crimson", "#f4a6a6", "seagreen", "#a6dcb8", "steelblue"]
                    if len(q) == 5
                    else ["crimson", "#f4a6a6", "steelblue"]
                ),
            )
            f.layout.xaxis.range = view[:2]
            f.layout.yaxis.range = view[2:]
            f.layout.xaxis2.range = view[:2]
            f.layout.yaxis2.range = view[2:]
            f.layout.annotations[0].text = f"ALS samples after level {i + 1} (σ = {s[i].item():.3g})"
            f.layout.annotations[1].text = f"CAS samples after level {i + 1}"
        self.readout.value = self._readout(res, i)

    def _readout(self, res: dict, i: int) -> str:
        s, eta = res["sigmas"], res["eta"]

        def fmt(v):
            return "not measurable (below the data's spread)" if math.isnan(v) else f"{v:.3g}"

        parts = [f"η = ε/σ_L² = <b>{eta:.3g}</b>"]
        parts.append(
            f"level {i + 1}: σ_i = {s[i].item():.3g}, ALS noise after it = <b>{fmt(res['als_noise'][i].item())}</b>"
        )
        if eta < 2:
            parts.append(f"Prop. 1 limit = {s[i].item() * math.sqrt(2 / (2 - eta)):.3g}")
        else:
            parts.append("<b>η ≥ 2: ALS diverges</b>")
        if res["cas_error"]:
            parts.append(f"<b>CAS not run</b>: {res['cas_error']}")
        else:
            parts.append(f"CAS noise entering it = <b>{fmt(res['cas_noise'][i].item())}</b>")
        return " · ".join(parts)
