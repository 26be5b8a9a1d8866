"""Divergence landscapes (issue 16, item 6): what each divergence and each GAN loss measures, drawn.

- :class:`LandscapeExplorer`: each divergence and each GAN loss's optimal-critic value
  (:func:`gentoolkit.divergences.gaussian_landscape`) between a 2D mixture and a Gaussian generator
  N(mean, scale^2 I), as a surface or contour plot over two generator parameters.
- :class:`ParallelLinesView`: the parallel-lines example (lecture 004, "Wasserstein distance vs KL vs
  JSD"; Arjovsky et al. 2017, Example 1): KL, JS and W1 between P = (0, Z) and Q_theta = (theta, Z).
- :class:`RelativisticView`: f_S, f_LS, f_Hinge (thesis 001, Sec. 6.4, Fig. 6.1) and the relativistic
  divergence D_f^kind(P, Q) = sup_C F(P, Q, C, f) (001, Theorem 1) between two discrete
  distributions, computed by :func:`relativistic_divergence`.
"""

from __future__ import annotations

import math

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from gentoolkit.data import toy2d
from gentoolkit.divergences import (
    F_DIVERGENCES,
    LANDSCAPE_NAMES,
    RELATIVISTIC_F,
    RELATIVISTIC_KINDS,
    RELATIVISTIC_SUP_F,
    gaussian_landscape,
    parallel_lines,
    relativistic_divergence,
)
from gentoolkit.widgets._common import choice
from gentoolkit.widgets._plot import density_trace, log_density_grid
from gentoolkit.widgets.base import Widget

AXES = ("mean x / mean y", "mean x / scale")
MEAN_RANGE, SCALE_RANGE = (-2.5, 2.5), (0.3, 1.5)
N_PARAM = 25  # parameter grid per axis
SIGNED = ("gan", "minimax", "ns", "lsgan", "hinge")  # values that can be negative: no log scale
MEANING = {
    **{k: d.formula for k, d in F_DIVERGENCES.items()},
    "sw1": "sliced W1",
    "minimax": "2 JS - log 4 at the optimal critic D* = p/(p+q)",
    "ns": "the same critic as minimax: 2 JS - log 4",
    "lsgan": "Delta/4 - 1/2, Delta = sum (p-q)^2/(p+q) (Mao et al., Thm. 2)",
    "hinge": "2 TV - 2",
    "wgan": "W1, shown as its sliced version sw1",
    **{f"f:{k}": f"D_f = {k}" for k in F_DIVERGENCES if k != "gan"},
}


def _in_range(arg, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{arg} must be a number in [{lo}, {hi}], got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ValueError(f"{arg}={value!r} is outside [{lo}, {hi}]")
    return float(value)


# ---------------------------------------------------------------------------------------- landscapes
class LandscapeExplorer(Widget):
    """A landscape of ``quantity`` (one of :data:`~gentoolkit.divergences.LANDSCAPE_NAMES`) between the
    mixture ``dataset`` and N(mean, scale^2 I), over (mean x, mean y) at the current scale or over
    (mean x, scale) at the current mean y. The marker is the current generator, also drawn on the right
    as its 1- and 2-scale circles over the data's log-density. Densities live on an ``n`` x ``n`` grid over
    fixed bounds per dataset (:meth:`grid_for`), so that every generator of the sliders fits in it;
    landscapes are cached per (dataset, quantity, axes, fixed value). ``log_scale`` draws log10 of a
    non-negative quantity (hidden for the GAN values that can be negative); non-finite values are left
    blank and counted in the readout."""

    def __init__(
        self,
        dataset: str = "8gaussians",
        quantity: str = "js",
        axes: str = AXES[0],
        view: str = "surface",
        *,
        mean=(1.5, 1.0),
        scale: float = 0.6,
    ):
        choice("dataset", dataset, toy2d.names())
        choice("quantity", quantity, LANDSCAPE_NAMES)
        choice("axes", axes, AXES)
        choice("view", view, ("surface", "contour"))
        if not isinstance(mean, tuple | list) or len(mean) != 2:
            raise TypeError(f"mean must be a pair (x, y), got {mean!r}")
        mx, my = (_in_range(f"mean[{i}]", v, *MEAN_RANGE) for i, v in enumerate(mean))
        scale = _in_range("scale", scale, *SCALE_RANGE)
        self._mixtures = {n: toy2d.get(n) for n in toy2d.names()}
        self._cache: dict = {}
        slider = lambda v, r, d: W.FloatSlider(value=v, min=r[0], max=r[1], step=0.05, description=d)  # noqa: E731
        controls = {
            "dataset": W.Dropdown(options=toy2d.names(), value=dataset, description="data"),
            "quantity": W.Dropdown(options=list(LANDSCAPE_NAMES), value=quantity, description="quantity"),
            "axes": W.ToggleButtons(options=list(AXES), value=axes, description="axes"),
            "view": W.ToggleButtons(options=["surface", "contour"], value=view, description="view"),
            "log_scale": W.Checkbox(value=False, description="log10 scale"),
            "mean_x": slider(mx, MEAN_RANGE, "mean x"),
            "mean_y": slider(my, MEAN_RANGE, "mean y"),
            "scale": slider(scale, SCALE_RANGE, "scale"),
        }
        fig = go.Figure(
            [
                go.Surface(colorscale="Viridis", showscale=False, name="landscape", scene="scene"),
                go.Scatter3d(mode="markers", marker=dict(color="crimson", size=6), name="generator", scene="scene"),
                go.Contour(colorscale="Viridis", showscale=False, name="landscape", xaxis="x", yaxis="y"),
                go.Scatter(mode="markers", marker=dict(color="crimson", size=12, symbol="x"), xaxis="x", yaxis="y"),
                density_trace(xaxis="x2", yaxis="y2"),
                go.Scatter(mode="lines", line=dict(color="crimson"), name="generator", xaxis="x2", yaxis="y2"),
            ]
        )
        fig.update_layout(
            scene=dict(domain=dict(x=[0, 0.5], y=[0, 1])),
            xaxis=dict(domain=[0, 0.45]),
            yaxis=dict(anchor="x"),
            xaxis2=dict(domain=[0.55, 1], anchor="y2", title_text="x"),
            yaxis2=dict(anchor="x2", scaleanchor="x2"),
            height=420,
            margin=dict(l=40, r=20, t=40, b=40),
            showlegend=False,
            annotations=[
                dict(text="", x=0.22, y=1.06, xref="paper", yref="paper", showarrow=False),
                dict(text="data and generator", x=0.78, y=1.06, xref="paper", yref="paper", showarrow=False),
            ],
        )
        super().__init__(controls, go.FigureWidget(fig), main="mean_x")

    def grid_for(self, dataset: str) -> tuple[tuple[float, float, float, float], int]:
        """(bounds, n) of the density grid for ``dataset``: the data and every generator of the sliders
        (mean +- 2.9 max scale) inside, spacing at most 1.9 x the data's smallest std (n >= 48)."""
        mix = self._mixtures[dataset]
        b = mix.bounds(4.0)
        r = max(max(abs(v) for v in b), MEAN_RANGE[1] + 2.9 * SCALE_RANGE[1])
        return (-r, r, -r, r), max(48, math.ceil(2 * r / (1.9 * mix.stds.min().item())) + 1)

    def parameters(self):
        """(a, b, mean (N, N, 2), scale (N, N) or a float): the parameter grid of the current axes."""
        a = np.linspace(*MEAN_RANGE, N_PARAM)
        if self.value("axes") == AXES[0]:
            b = np.linspace(*MEAN_RANGE, N_PARAM)
            mean = torch.tensor(np.stack(np.meshgrid(a, b, indexing="xy"), -1))
            return a, b, mean, float(self.value("scale"))
        b = np.linspace(*SCALE_RANGE, N_PARAM)
        aa, bb = np.meshgrid(a, b, indexing="xy")
        mean = torch.tensor(np.stack([aa, np.full_like(aa, self.value("mean_y"))], -1))
        return a, b, mean, torch.tensor(bb)

    def landscape(self) -> np.ndarray:
        """The quantity on the parameter grid (rows: the second axis), cached."""
        name, q, axes = self.value("dataset"), self.value("quantity"), self.value("axes")
        key = (name, q, axes, self.value("scale") if axes == AXES[0] else self.value("mean_y"))
        if key not in self._cache:
            bounds, n = self.grid_for(name)
            _, _, mean, scale = self.parameters()
            self._cache[key] = gaussian_landscape(self._mixtures[name], mean, scale, [q], n=n, bounds=bounds)[q].numpy()
        return self._cache[key]

    def data_density(self):
        """(xs, ys, log p) of the current dataset on a 60 x 60 grid, cached (it does not move with
        the generator's sliders)."""
        name = self.value("dataset")
        if ("density", name) not in self._cache:
            mix = self._mixtures[name]
            self._cache[("density", name)] = log_density_grid(mix, mix.bounds(4.0), 60)
        return self._cache[("density", name)]

    def point_value(self) -> float:
        name, q = self.value("dataset"), self.value("quantity")
        bounds, n = self.grid_for(name)
        mean = torch.tensor([[self.value("mean_x"), self.value("mean_y")]], dtype=torch.float64)
        return gaussian_landscape(self._mixtures[name], mean, self.value("scale"), [q], n=n, bounds=bounds)[q].item()

    def update(self) -> None:
        q, axes, surface = self.value("quantity"), self.value("axes"), self.value("view") == "surface"
        self.set_used("log_scale", q not in SIGNED)
        use_log = self.value("log_scale") and q not in SIGNED
        a, b, _, _ = self.parameters()
        z, v = self.landscape(), self.point_value()
        pa, pb = self.value("mean_x"), self.value("mean_y" if axes == AXES[0] else "scale")
        bad = ~np.isfinite(z) | ((z <= 0) if use_log else False)
        shown = np.where(bad, np.nan, np.log10(np.where(bad, 1.0, z)) if use_log else z)
        pv = (math.log10(v) if v > 0 else math.nan) if use_log else v
        xs, ys, logp = self.data_density()
        t = np.linspace(0, 2 * np.pi, 73)
        s, m = self.value("scale"), (self.value("mean_x"), self.value("mean_y"))
        circle = lambda k: (m[0] + k * s * np.cos(t), m[1] + k * s * np.sin(t))  # noqa: E731
        (c1x, c1y), (c2x, c2y) = circle(1), circle(2)
        label = f"log10 {q}" if use_log else q
        f = self.figure
        with f.batch_update():
            f.data[0].update(x=a, y=b, z=shown, visible=surface)
            f.data[1].update(x=[pa], y=[pb], z=[pv], visible=surface)
            f.data[2].update(x=a, y=b, z=shown, visible=not surface)
            f.data[3].update(x=[pa], y=[pb], visible=not surface)
            f.data[4].update(x=xs, y=ys, z=logp)
            f.data[5].update(x=np.r_[c1x, np.nan, c2x, np.nan, m[0]], y=np.r_[c1y, np.nan, c2y, np.nan, m[1]])
            # the scene is moved out of the way in contour view (it would cover the 2D axes)
            f.layout.scene.domain = dict(x=[0, 0.5], y=[0, 1] if surface else [0, 0.001])
            f.layout.xaxis.visible = f.layout.yaxis.visible = not surface
            names = ("mean x", "mean y" if axes == AXES[0] else "scale")
            f.layout.scene.xaxis.title, f.layout.scene.yaxis.title, f.layout.scene.zaxis.title = (*names, label)
            f.layout.xaxis.title.text, f.layout.yaxis.title.text = names
            fixed = f"scale = {s:.2f}" if axes == AXES[0] else f"mean y = {m[1]:.2f}"
            f.layout.annotations[0].text = f"{label} over ({names[0]}, {names[1]}), {fixed}"
        self.readout.value = self._readout(q, v, z, a, b, names, use_log, bad)

    def _readout(self, q, v, z, a, b, names, use_log, bad) -> str:
        s, m = self.value("scale"), (self.value("mean_x"), self.value("mean_y"))
        text = f"<b>{q}</b> ({MEANING[q]}) at N(({m[0]:.2f}, {m[1]:.2f}), {s:.2f}²I): <b>{v:.4g}</b>"
        if not math.isfinite(v):
            text = f"<b>{q}</b> at N(({m[0]:.2f}, {m[1]:.2f}), {s:.2f}²I) is <b>{v}</b> (not drawn)"
        finite = np.isfinite(z)
        if finite.any():
            i, j = np.unravel_index(np.where(finite, z, np.inf).argmin(), z.shape)
            text += f" · grid minimum {z[i, j]:.4g} at {names[0]} = {a[j]:.2f}, {names[1]} = {b[i]:.2f}"
        if bad.any():
            why = "infinite or undefined" if not use_log else "infinite, undefined or ≤ 0 (no log10)"
            text += f" · <b>{int(bad.sum())} of {bad.size} grid values are {why} and left blank</b>"
        if use_log:
            text += " · heights are log10 of the values"
        return text


# ---------------------------------------------------------------------------------------- parallel lines
THETAS = np.linspace(-1, 1, 201)  # theta = 0 is THETAS[100]
OTHERS = tuple(k for k in F_DIVERGENCES if k not in ("kl", "js"))
_INF_LABEL = "∞"


class ParallelLinesView(Widget):
    """The parallel-lines example of lecture 004 ("Wasserstein distance vs KL vs JSD"; Arjovsky et al.
    2017, Example 1; values from :func:`gentoolkit.divergences.parallel_lines`): P is uniform on the
    segment {0} x [0, 1], Q_theta on {theta} x [0, 1]. Left: the two segments. Right: KL, JS, W1 and one
    more f-divergence (``other``, or "none") against theta, with the current theta marked. A value that
    is infinite (KL, and reverse_kl and pearson, for every theta != 0) is drawn on the top line of the
    plot, whose tick reads ∞, and said in the readout; the jump at theta = 0 is drawn as a gap with the
    value at 0 as a dot, never as a line through it."""

    def __init__(self, theta: float = 0.5, other: str = "none"):
        theta = _in_range("theta", theta, -1.0, 1.0)
        choice("other", other, ("none", *OTHERS))
        controls = {
            "theta": W.FloatSlider(value=theta, min=-1, max=1, step=0.05, description="θ"),
            "other": W.Dropdown(options=["none", *OTHERS], value=other, description="also show"),
        }
        fig = make_subplots(rows=1, cols=2, subplot_titles=["P (blue) and Q_θ (red)", "divergence against θ"])
        fig.add_trace(go.Scatter(x=[0, 0], y=[0, 1], mode="lines", line=dict(color="royalblue", width=6)), 1, 1)
        fig.add_trace(go.Scatter(mode="lines", line=dict(color="crimson", width=6)), 1, 1)
        for name, color in (("kl", "black"), ("js", "seagreen"), ("w1", "darkorange"), ("other", "purple")):
            fig.add_trace(go.Scatter(mode="lines", name=name, line=dict(color=color)), 1, 2)
        fig.add_trace(go.Scatter(mode="markers", marker=dict(size=8, color="gray"), name="at θ = 0"), 1, 2)
        fig.add_trace(go.Scatter(mode="markers+text", textposition="top right", marker=dict(size=11)), 1, 2)
        fig.update_xaxes(range=[-1.1, 1.1], title_text="x", row=1, col=1)
        fig.update_yaxes(range=[-0.1, 1.1], row=1, col=1)
        fig.update_xaxes(title_text="θ", row=1, col=2)
        fig.update_layout(height=380, margin=dict(l=40, r=20, t=40, b=40), legend=dict(x=1.02, y=1))
        super().__init__(controls, go.FigureWidget(fig), main="theta")

    def curves(self) -> dict[str, np.ndarray]:
        """{name: values on THETAS} for kl, js, w1 and the other divergence (inf kept as inf)."""
        values = parallel_lines(torch.tensor(THETAS))
        names = ["kl", "js", "w1"] + ([self.value("other")] if self.value("other") != "none" else [])
        return {k: values[k].numpy() for k in names}

    def update(self) -> None:
        theta, curves = self.value("theta"), self.curves()
        at = {k: v.item() for k, v in parallel_lines(theta).items() if k in curves}
        finite = [v for c in curves.values() for v in c if np.isfinite(v)]
        top = 1.15 * max(finite) + 0.3
        low = min(-0.1, 1.1 * min(finite))
        show = lambda v: np.where(np.isinf(v), top, v)  # noqa: E731
        f = self.figure
        with f.batch_update():
            f.data[1].update(x=[theta, theta], y=[0, 1])
            for i, k in enumerate(curves):
                y = show(curves[k]).astype(float)
                if k != "w1":
                    y[100] = np.nan  # the jump at theta = 0: a gap, its value is a dot
                f.data[2 + i].update(x=THETAS, y=y, name=k, visible=True)
            if len(curves) == 3:
                f.data[5].update(x=[], y=[], visible=False)
            f.data[6].update(x=[0.0] * len(curves), y=[c[100] for c in curves.values()])
            f.data[7].update(
                x=[theta] * len(at),
                y=[show(np.array(v)).item() for v in at.values()],
                text=[f"{k} = {_INF_LABEL if math.isinf(v) else f'{v:.3g}'}" for k, v in at.items()],
                marker=dict(color=["black", "seagreen", "darkorange", "purple"][: len(at)]),
            )
            ticks = [t for t in np.arange(math.ceil(low * 2) / 2, top - 0.2, 0.5)]
            f.layout.yaxis2.update(
                range=[low, top + 0.15], tickvals=[*ticks, top], ticktext=[f"{t:g}" for t in ticks] + [_INF_LABEL]
            )
        self.readout.value = self._readout(theta, at)

    @staticmethod
    def _readout(theta, at) -> str:
        parts = [f"{k} = <b>{'∞' if math.isinf(v) else f'{v:.4g}'}</b>" for k, v in at.items()]
        text = f"θ = {theta:.2f}: " + ", ".join(parts)
        if theta == 0:
            return text + " · P = Q: every divergence is 0 (gan: -log 4)."
        inf = [k for k, v in at.items() if math.isinf(v)]
        return (
            text + f" · the segments are disjoint, so {', '.join(inf)} = ∞ (P has mass where Q_θ has none) and JS is "
            "stuck at log 2 however close θ is to 0: no gradient; W1 = |θ| shrinks with θ."
        )


# ---------------------------------------------------------------------------------------- relativistic
SUPPORT = np.arange(11)  # the discrete support of RelativisticView
P_MASSES = {3: 0.1, 4: 0.4, 5: 0.3, 6: 0.2}
SHIFTS = np.round(np.arange(-3, 3.001, 0.25), 2)


def shifted(shift: float) -> np.ndarray:
    """Q = P moved by ``shift`` on SUPPORT, a non-integer move splitting each mass linearly between the
    two nearest points."""
    q = np.zeros(len(SUPPORT))
    for x, m in P_MASSES.items():
        lo = math.floor(x + shift)
        w = x + shift - lo
        q[lo] += (1 - w) * m
        if w > 0:
            q[lo + 1] += w * m
    return q


class RelativisticView(Widget):
    """The concave functions of relativistic f-divergences, f_S, f_LS and f_Hinge (001, Sec. 6.4,
    Fig. 6.1; the chosen ``f`` drawn thick), two discrete distributions P and Q = P shifted by ``shift``
    (bars), and D_f^kind(P, Q) against the shift (:func:`relativistic_divergence`, cached per f and
    kind), with the current shift marked."""

    def __init__(self, f: str = "s", kind: str = "rp", shift: float = 1.0):
        choice("f", f, RELATIVISTIC_F)
        choice("kind", kind, RELATIVISTIC_KINDS)
        shift = _in_range("shift", shift, SHIFTS[0], SHIFTS[-1])
        self._cache: dict = {}
        controls = {
            "f": W.ToggleButtons(
                options=[("f_S", "s"), ("f_LS", "ls"), ("f_Hinge", "hinge")], value=f, description="f"
            ),
            "kind": W.ToggleButtons(options=list(RELATIVISTIC_KINDS), value=kind, description="kind"),
            "shift": W.FloatSlider(value=shift, min=SHIFTS[0], max=SHIFTS[-1], step=0.25, description="shift"),
        }
        fig = make_subplots(rows=1, cols=3, subplot_titles=["f (Fig. 6.1)", "P and Q", "D_f(P, Q) against the shift"])
        z = np.linspace(-3, 3, 121)
        for k, color in zip(RELATIVISTIC_F, ("royalblue", "seagreen", "darkorange")):
            y = RELATIVISTIC_F[k](torch.tensor(z)).numpy()
            fig.add_trace(go.Scatter(x=z, y=y, mode="lines", name=f"f_{k}", line=dict(color=color)), 1, 1)
        fig.add_trace(go.Bar(x=SUPPORT, y=shifted(0.0), name="P", marker_color="royalblue", opacity=0.6), 1, 2)
        fig.add_trace(go.Bar(name="Q", marker_color="crimson", opacity=0.6), 1, 2)
        fig.add_trace(go.Scatter(mode="lines+markers", line=dict(color="gray"), name="D_f"), 1, 3)
        fig.add_trace(go.Scatter(mode="markers", marker=dict(color="crimson", size=13, symbol="star")), 1, 3)
        fig.update_yaxes(range=[-3, 1.5], row=1, col=1)
        fig.update_xaxes(title_text="z = C(x) - C(y)", row=1, col=1)
        fig.update_xaxes(title_text="shift", row=1, col=3)
        fig.update_layout(height=380, margin=dict(l=40, r=20, t=40, b=40), barmode="overlay", showlegend=False)
        super().__init__(controls, go.FigureWidget(fig), main="shift")

    def curve(self) -> np.ndarray:
        """D_f^kind(P, Q_shift) at every shift of SHIFTS (cached)."""
        key = (self.value("f"), self.value("kind"))
        if key not in self._cache:
            q = torch.tensor(np.stack([shifted(s) for s in SHIFTS]))
            p = torch.tensor(shifted(0.0)).expand_as(q)
            self._cache[key] = relativistic_divergence(*key[:1], p, q, key[1])[0].numpy()
        return self._cache[key]

    def update(self) -> None:
        f, kind, shift = self.value("f"), self.value("kind"), self.value("shift")
        d = self.curve()
        i = int(np.argmin(np.abs(SHIFTS - shift)))
        fig = self.figure
        with fig.batch_update():
            for j, k in enumerate(RELATIVISTIC_F):
                fig.data[j].line.width = 5 if k == f else 1.5
                fig.data[j].opacity = 1.0 if k == f else 0.35
            fig.data[4].update(x=SUPPORT, y=shifted(shift))
            fig.data[5].update(x=SHIFTS, y=d)
            fig.data[6].update(x=[SHIFTS[i]], y=[d[i]])
            fig.layout.yaxis3.range = [-0.05, 2 * RELATIVISTIC_SUP_F[f] * 1.08]
            fig.layout.annotations[2].text = f"D_f^{kind}(P, Q), f = f_{f}, against the shift"
        self.readout.value = (
            f"f_{f}, {kind}: D(P, Q) = <b>{d[i]:.4g}</b> at shift {SHIFTS[i]:g} · 0 at shift 0 (P = Q) · "
            f"bounded by 2 sup f = {2 * RELATIVISTIC_SUP_F[f]:.4g}, "
            "reached once the supports are disjoint (|shift| ≥ 4)"
        )
