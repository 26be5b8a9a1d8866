"""Score field viewer: the smoothed density p_sigma of a 2D mixture and its score field,
exact (closed form, :mod:`gentoolkit.data.toy2d`) or from a trained network, and where
they differ.

Controls: dataset, sigma (the noise level of p_sigma = p * N(0, sigma^2 I)), the number of
arrows per side, and - when a network is given - which field to draw (shown only for a
dataset that has a network; elsewhere the exact field is drawn). Panels: contours of
log p_sigma with the score arrows; with a network, a heat map of the error
|s_theta - s*| in units of the typical score size E_{p_sigma}|s*| (a pointwise ratio
|s_theta - s*| / |s*| would blow up at the modes and saddles where s* = 0), with the
density's contour lines on top: the network is accurate where the data is, and not far
from it, where denoising score matching sees no samples (001, Sec. 2.3.1.2). The readout
gives the relative L2 error averaged over points drawn from p_sigma
(:func:`gentoolkit.metrics.score_error`). A network that returns NaN/inf gets no arrows
where it does, and the readout says so.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from gentoolkit.data import toy2d
from gentoolkit.data.toy2d import grid
from gentoolkit.metrics.score import score_error
from gentoolkit.widgets._common import score_fns, widget_device
from gentoolkit.widgets._plot import log_density_grid, quiver
from gentoolkit.widgets.base import Widget

_CONTOUR_RES = 80
_ERROR_POINTS = 2000
_ERROR_TITLE = "error |s_θ − s*| / E|s*|"


class ScoreFieldViewer(Widget):
    """Args:
    dataset: initial dataset name (see ``toy2d.names()``).
    sigma: initial noise level.
    score_fn: None (exact fields only), a callable ``(x, sigma) -> score`` trained on
        ``dataset``, or a dict ``{dataset name: callable}``.
    sigma_range: (min, max) of the sigma slider.
    device: where the networks are evaluated; None: the device of the network's parameters
        (an ``nn.Module``), else :func:`gentoolkit.config.default_device`. The pictures are
        drawn from CPU copies.
    """

    def __init__(
        self, dataset: str = "8gaussians", sigma: float = 0.3, score_fn=None, *, sigma_range=(0.01, 3.0), device=None
    ):
        self.nets = score_fns(score_fn, dataset, toy2d.names())
        lo, hi = sigma_range
        if not 0 < lo < hi:
            raise ValueError(f"sigma_range must be (min, max) with 0 < min < max, got {sigma_range}")
        if not lo <= sigma <= hi:
            raise ValueError(f"sigma={sigma} must lie in sigma_range {sigma_range}")
        self.device = widget_device(device, self.nets.values())
        self._mixtures = {n: toy2d.get(n) for n in toy2d.names()}
        controls = {
            "dataset": W.Dropdown(options=toy2d.names(), value=dataset, description="dataset"),
            "sigma": W.FloatLogSlider(
                value=sigma,
                base=10,
                min=np.log10(lo),
                max=np.log10(hi),
                step=0.05,
                description="σ (noise)",
                readout_format=".3f",
            ),
            "arrows": W.IntSlider(value=16, min=8, max=32, step=2, description="arrows/side"),
        }
        if self.nets:
            controls["field"] = W.ToggleButtons(options=["exact", "network", "both"], value="both", description="field")
        cols = 2 if self.nets else 1
        fig = make_subplots(
            rows=1,
            cols=cols,
            subplot_titles=["log p_σ and its score", _ERROR_TITLE][:cols],
            horizontal_spacing=0.12,
        )
        fig.add_trace(
            go.Contour(name="log p_σ", colorscale="Blues", showscale=False, ncontours=18, line_width=0.5), 1, 1
        )
        fig.add_trace(go.Scatter(name="exact score s*", mode="lines", line=dict(color="black", width=1.2)), 1, 1)
        fig.add_trace(go.Scatter(name="network s_θ", mode="lines", line=dict(color="crimson", width=1.2)), 1, 1)
        if self.nets:
            fig.add_trace(
                go.Heatmap(name="error", colorscale="Reds", zmin=0, zmax=1, colorbar=dict(title="error", x=1.02)), 1, 2
            )
            fig.add_trace(
                go.Contour(
                    name="p_σ contours",
                    showscale=False,
                    ncontours=8,
                    contours_coloring="lines",
                    colorscale="Greys",
                    line_width=0.8,
                    hoverinfo="skip",
                ),
                1,
                2,
            )
        fig.update_layout(
            height=470,
            margin=dict(l=40, r=40, t=40, b=40),
            legend=dict(orientation="h", y=-0.08),
        )
        for c in range(1, cols + 1):
            fig.update_xaxes(constrain="domain", row=1, col=c)
            fig.update_yaxes(scaleanchor=f"x{'' if c == 1 else c}", row=1, col=c)
        super().__init__(controls, go.FigureWidget(fig), main="sigma")

    # ------------------------------------------------------------------ drawing
    def fields(self, pts: torch.Tensor):
        """Exact and network scores (or None) at ``pts`` for the current controls, as numpy."""
        name, sigma = self.value("dataset"), self.value("sigma")
        exact = self._mixtures[name].score(pts, sigma).numpy()
        net = self.nets.get(name)
        if net is None:
            return exact, None
        with torch.no_grad():
            s = torch.full((len(pts),), sigma, device=self.device)
            est = net(pts.to(self.device), s).float().cpu().numpy()
        return exact, est

    def update(self) -> None:
        name, sigma = self.value("dataset"), self.value("sigma")
        mix = self._mixtures[name]
        bounds = mix.bounds(margin=4.0)
        xs, ys, logp = log_density_grid(mix, bounds, _CONTOUR_RES, sigma)
        n_arrows = self.value("arrows")
        ax, ay, apts = grid(bounds, n_arrows)
        spacing = (bounds[1] - bounds[0]) / (n_arrows - 1)
        exact, est = self.fields(apts)
        has_net = name in self.nets
        if self.nets:  # the field choice only means something where there is a network
            self.set_used("field", has_net)
        show = self.value("field") if has_net else "exact"
        f = self.figure
        with f.batch_update():
            f.data[0].update(x=xs, y=ys, z=logp)
            ex, ey = quiver(apts.numpy(), exact, spacing) if show in ("exact", "both") else ([], [])
            f.data[1].update(x=ex, y=ey)
            finite = np.isfinite(est).all(1) if est is not None else None
            if est is not None and show in ("network", "both") and finite.any():
                nx, ny = quiver(apts.numpy()[finite], est[finite], spacing)  # no arrows where it is NaN/inf
            else:
                nx, ny = [], []
            f.data[2].update(x=nx, y=ny)
            if self.nets:
                f.data[3].update(**self._error_map(bounds))
                f.data[4].update(x=xs, y=ys, z=logp)
                f.layout.annotations[1].text = _ERROR_TITLE if has_net else "error: no network for this dataset"
        self.readout.value = self._readout(name, sigma)

    def _error_map(self, bounds) -> dict:
        name = self.value("dataset")
        if name not in self.nets:
            return dict(x=[], y=[], z=[])
        res = 48
        xs, ys, pts = grid(bounds, res)
        exact, est = self.fields(pts)
        typical = self._mean_score_norm(name, self.value("sigma"))
        rel = np.linalg.norm(est - exact, axis=1) / typical
        return dict(x=xs, y=ys, z=np.minimum(rel, 1.0).reshape(res, res))

    def _mean_score_norm(self, name: str, sigma: float) -> float:
        """E|s*(x, sigma)| over x ~ p_sigma (a fixed sample, so it does not flicker)."""
        mix = self._mixtures[name]
        x = mix.sample(_ERROR_POINTS, torch.Generator().manual_seed(0), sigma=sigma)
        return mix.score(x, sigma).norm(dim=1).mean().item()

    def _readout(self, name: str, sigma: float) -> str:
        mix = self._mixtures[name]
        text = f"<b>{name}</b>, σ = {sigma:.3f}: mean |s*| over p_σ = {self._mean_score_norm(name, sigma):.2f}"
        net = self.nets.get(name)
        if net is None:
            return text + (" (no network for this dataset)" if self.nets else "")
        err = score_error(net, mix, [sigma], n=_ERROR_POINTS, seed=0, device=self.device).item()
        if not np.isfinite(err):
            return text + (
                "; <b>the network's score is NaN/inf</b> (at some points of p_σ; no arrows are drawn where it is): "
                "its training diverged - retrain with a smaller learning rate"
            )
        return text + f"; network's relative L2 error = <b>{100 * err:.1f}%</b>"
