"""Metric explorer: which sample-quality metric catches which failure of a generator, and how
noisy each estimate is at a given sample size (lecture 002, "Evaluation of likelihood-free
models": FID, MMD, precision-recall; notebook 07).

The data is the 25-Gaussian grid (``toy2d.get("25gaussians")``). A *training* sample of n
points plays the real set every metric compares with; a *held-out test* sample of n points
of the same law is what a memorizing generator cannot copy. The "generator" is the true law
with one controlled failure whose strength s runs from 0 (no failure: a fresh sample of the
true law) to 1:

- **drop modes**: only 25 - round(24 s) of the modes are kept (their weights renormalised);
- **blur**: every mode is widened, std x (1 + 4 s);
- **shift**: every point moves by s/2 of the grid spacing along both axes (s = 1: halfway
  between the modes);
- **add noise (outliers)**: a fraction s/2 of the points is replaced by uniform points over
  the data's box;
- **memorize**: a fraction s of the points are exact copies of training points (s = 1: the
  training set itself, reordered).

The same random numbers serve every strength (common random numbers), so a curve over s is
smooth and s = 0 is the same fresh sample for every failure.

Metrics (fake against the training sample, both n points; definitions in
:mod:`gentoolkit.metrics`): FID on the raw 2D coordinates (the Fréchet distance of the two
Gaussian fits, :func:`gentoolkit.metrics.fid`), KID's kernel (the unbiased MMD^2 with KID's
cubic kernel (x.y/d + 1)^3 on the whole sets, which is what KID's subset average estimates),
MMD^2 (unbiased, RBF kernel of fixed bandwidth ``BANDWIDTH`` = 2 mode stds, so it sees
structure at the scale of one mode; the median heuristic's bandwidth would be about the
grid's size), precision and recall (k = 3), density and coverage (k = 5), the fraction of
modes covered (:func:`gentoolkit.metrics.mode_stats`), and the **copy rate**: the fraction of
fakes closer to a training point than 95% of held-out test points are (a fresh sample scores
about 0.05; a memorized one up to 1). The kNN and kernel metrics are computed here in one
pass over the real-fake and fake-fake distance matrices (float32), with the training side's
radii and kernel sums cached; ``tests/test_metric_explorer.py`` checks every value against
the library functions.

Panels: the training points and the fakes (fakes flagged as copies in red); one small panel
per metric: its value over the failure's strength, the grey band of a fresh sample's values
(mean +- 3 std over ``NOISE_SEEDS`` seeds at the current n) and a marker at the current
strength, red where the metric *catches* the failure (leaves the band on the side that means
worse: see :meth:`MetricExplorer.caught`); and the noise panel:
each metric's std over seeds against the sample size, relative to its std at the smallest
size, with the n^(-1/2) and n^(-1) slopes for reference.

Controls: failure, strength (main), sample size n, seed. Curves are cached per (failure, n,
seed); the noise floor per n, shared by all explorers (it depends on n only).
"""

from __future__ import annotations

import math

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from gentoolkit.data import toy2d
from gentoolkit.metrics import fid, mode_stats
from gentoolkit.widgets._common import choice
from gentoolkit.widgets.base import Widget

FAILURES = ("drop modes", "blur", "shift", "add noise (outliers)", "memorize")
SIZES = (125, 250, 500, 1000, 2000)
STRENGTHS = tuple(round(0.1 * i, 1) for i in range(11))
NOISE_SEEDS = 10
BANDWIDTH = 0.2  # RBF bandwidth of the MMD (2 mode stds of the 25-Gaussian grid)
K_PR, K_DC = 3, 5  # neighbours of precision/recall and of density/coverage
BAND = 3.0  # a metric catches a failure when it leaves mean +- BAND std of a fresh sample

# name -> (label, which way is better: -1 lower, +1 higher, 0 near the fresh value)
METRICS = {
    "fid": ("FID (2D)", -1),
    "kid": ("KID kernel MMD²", -1),
    "mmd": ("MMD² (RBF)", -1),
    "precision": ("precision", +1),
    "recall": ("recall", +1),
    "density": ("density", 0),
    "coverage": ("coverage", +1),
    "modes": ("modes covered", +1),
    "copies": ("copy rate", -1),
}
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"]
_CHUNK = 1024
_NOISE: dict = {}  # n -> the noise floor (MetricExplorer.noise)


def _sq_dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T).clamp_(min=0)


def _kernel_sum(d: torch.Tensor) -> float:
    """Sum of exp(-d / (2 h^2)) over squared distances d (float32, summed per row in float32 and
    across rows in float64). The exponent is clamped at -80: exp of a very negative float32
    underflows to a denormal number, which the CPU computes 10-20 times more slowly (e^-80
    is 2e-35, far below anything the sums resolve)."""
    return float(torch.mul(d, -1 / (2 * BANDWIDTH**2)).clamp_(min=-80).exp_().sum(1).double().sum())


def _poly_features(x: torch.Tensor) -> torch.Tensor:
    """phi(x) with phi(x).phi(y) = (x.y / 2 + 1)^3 for 2D x: the monomials of (1, x1/sqrt2,
    x2/sqrt2) of degree 3 with multinomial weights (10 features), so KID's kernel sums cost O(n)."""
    u = torch.cat([torch.ones(len(x), 1, dtype=x.dtype), x / math.sqrt(2)], 1)
    cols = []
    for i in range(3):
        for j in range(i, 3):
            for k in range(j, 3):
                idx = (i, j, k)
                mult = math.factorial(3)
                for v in set(idx):
                    mult //= math.factorial(idx.count(v))
                cols.append(math.sqrt(mult) * u[:, i] * u[:, j] * u[:, k])
    return torch.stack(cols, 1)


class RealSide:
    """What the metrics need from the training sample (computed once per (n, seed)): kNN radii,
    the RBF kernel sum, KID's feature sums, and the copy threshold from a held-out test sample."""

    def __init__(self, train: torch.Tensor, test: torch.Tensor):
        x = train.float()
        self.x, self.n = x, len(x)
        radii, kxx, nn_test = [], 0.0, []
        for s in range(0, len(x), _CHUNK):
            d = _sq_dist(x[s : s + _CHUNK], x)
            radii.append(d.topk(K_DC + 1, dim=1, largest=False).values)  # the point itself first
            kxx += _kernel_sum(d)
        r = torch.cat(radii)
        self.r_pr, self.r_dc = r[:, K_PR], r[:, K_DC]  # squared radii
        self.kxx = (kxx - len(x)) / (len(x) * (len(x) - 1))
        phi = _poly_features(x.double())
        self.phi_sum = phi.sum(0)
        self.kid_xx = (self.phi_sum @ self.phi_sum - (phi * phi).sum()) / (len(x) * (len(x) - 1))
        for s in range(0, len(test), _CHUNK):
            nn_test.append(_sq_dist(test[s : s + _CHUNK].float(), x).amin(1))
        self.copy_threshold = float(torch.quantile(torch.cat(nn_test), 0.05))  # squared distance


@torch.no_grad()
def evaluate(real: RealSide, fake: torch.Tensor, mixture) -> dict:
    """Every metric of :data:`METRICS` for ``fake`` (m, 2) against the training sample of
    ``real``; also ``"copy_mask"``, the fakes flagged as copies (a bool tensor)."""
    y = fake.float()
    m = len(y)
    r_fake, kyy = [], 0.0
    for s in range(0, m, _CHUNK):
        d = _sq_dist(y[s : s + _CHUNK], y)
        r_fake.append(d.topk(K_PR + 1, dim=1, largest=False).values[:, K_PR])
        kyy += _kernel_sum(d)
    ry = torch.cat(r_fake)
    inside_pr, inside_dc, nearest, kxy = [], 0, [], 0.0
    covered = torch.zeros(real.n, dtype=torch.bool)
    recalled = torch.zeros(real.n, dtype=torch.bool)
    for s in range(0, m, _CHUNK):
        d = _sq_dist(y[s : s + _CHUNK], real.x)  # (fakes of this chunk, reals)
        inside_pr.append((d <= real.r_pr[None, :]).any(1))
        within = d <= real.r_dc[None, :]
        inside_dc += int(within.sum())
        covered |= within.any(0)
        recalled |= (d <= ry[s : s + _CHUNK, None]).any(0)
        nearest.append(d.amin(1))
        kxy += _kernel_sum(d)
    phi = _poly_features(y.double())
    phi_sum = phi.sum(0)
    kid_yy = (phi_sum @ phi_sum - (phi * phi).sum()) / (m * (m - 1))
    kid_xy = (real.phi_sum @ phi_sum) / (real.n * m)
    copy_mask = torch.cat(nearest) < real.copy_threshold
    return {
        "fid": fid(real.x, y),
        "kid": float(real.kid_xx + kid_yy - 2 * kid_xy),
        "mmd": real.kxx + (kyy - m) / (m * (m - 1)) - 2 * kxy / (real.n * m),
        "precision": float(torch.cat(inside_pr).double().mean()),
        "recall": float(recalled.double().mean()),
        "density": inside_dc / (K_DC * m),
        "coverage": float(covered.double().mean()),
        "modes": mode_stats(y, mixture)["covered"] / mixture.n_components,
        "copies": float(copy_mask.double().mean()),
        "copy_mask": copy_mask,
    }


class Draws:
    """The random numbers of one seed at one size n: the training and test samples, and what
    every failure's fake sample is made of (shared by all strengths)."""

    def __init__(self, mixture, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.mixture, self.n = mixture, n
        self.train = mixture.sample(n, generator=g)
        self.test = mixture.sample(n, generator=g)
        self.u_comp = torch.rand(n, generator=g, dtype=torch.float64)  # picks a mode
        self.z = torch.randn(n, 2, generator=g, dtype=torch.float64)
        self.u_out = torch.rand(n, generator=g, dtype=torch.float64)  # who becomes an outlier
        lo, hi = -3.0, 3.0
        self.uniform = lo + (hi - lo) * torch.rand(n, 2, generator=g, dtype=torch.float64)
        self.perm = torch.randperm(n, generator=g)  # training points a memorizer copies

    def fake(self, failure: str, s: float) -> torch.Tensor:
        mix = self.mixture
        k_all = mix.n_components
        keep = k_all - round((k_all - 1) * s) if failure == "drop modes" else k_all
        w = mix.weights[:keep] / mix.weights[:keep].sum()
        comp = torch.searchsorted(torch.cumsum(w, 0), self.u_comp * (1 - 1e-12)).clamp(max=keep - 1)
        std = mix.stds[comp] * (1 + 4 * s if failure == "blur" else 1.0)
        x = mix.means[comp] + std[:, None] * self.z
        if failure == "shift":
            x = x + 0.5 * s  # the grid spacing is 1
        elif failure == "add noise (outliers)":
            out = self.u_out < s / 2
            x = torch.where(out[:, None], self.uniform, x)
        elif failure == "memorize":
            n_copy = round(s * self.n)
            x = x.clone()
            x[:n_copy] = self.train[self.perm[:n_copy]].double()
        return x.float()


class MetricExplorer(Widget):
    """Args:
    failure: the initial failure (one of :data:`FAILURES`).
    strength: its initial strength in [0, 1] (steps of 0.1).
    n: the sample size (one of :data:`SIZES`); 2,000 by default.
    seed: seeds the training, test and fake samples (same seed, same pictures).
    """

    def __init__(self, failure: str = "drop modes", strength: float = 0.5, *, n: int = 2000, seed: int = 0):
        choice("failure", failure, FAILURES)
        choice("n", n, SIZES)
        self.mixture = toy2d.get("25gaussians")
        controls = {
            "failure": W.Dropdown(options=list(FAILURES), value=failure, description="failure"),
            "strength": W.SelectionSlider(
                options=list(STRENGTHS), value=round(float(strength), 1), description="strength"
            ),
            "n": W.SelectionSlider(options=list(SIZES), value=n, description="sample size n"),
            "seed": W.IntSlider(value=seed, min=0, max=20, description="seed"),
        }
        names = list(METRICS)
        titles = ["training sample and fakes", "noise of each estimate vs n", ""] + [METRICS[k][0] for k in names]
        specs = [[{}, {"colspan": 2}, None]] + [[{}, {}, {}] for _ in range(3)]
        fig = make_subplots(
            rows=4,
            cols=3,
            specs=specs,
            subplot_titles=titles[:2] + titles[3:],
            vertical_spacing=0.07,
            horizontal_spacing=0.08,
        )
        fig.add_trace(go.Scattergl(mode="markers", marker=dict(size=3, color="#9aa5b1"), name="training sample"), 1, 1)
        fig.add_trace(go.Scattergl(mode="markers", marker=dict(size=3, color="#1f77b4"), name="fakes"), 1, 1)
        fig.add_trace(
            go.Scattergl(mode="markers", marker=dict(size=4, color="crimson"), name="fakes flagged as copies"), 1, 1
        )
        for i, key in enumerate(names):
            fig.add_trace(
                go.Scatter(mode="lines+markers", line=dict(color=COLORS[i]), name=METRICS[key][0], legendgroup=key),
                1,
                2,
            )
        for name, dash in (("∝ n^(-1/2)", "dash"), ("∝ n^(-1)", "dot")):
            fig.add_trace(go.Scatter(mode="lines", line=dict(color="black", dash=dash), name=name), 1, 2)
        fig.add_trace(
            go.Scatter(mode="lines", line=dict(color="gray", width=1), name="current n", showlegend=False), 1, 2
        )
        self._first_metric_trace = len(fig.data)
        for i, key in enumerate(names):
            row, col = 2 + i // 3, 1 + i % 3
            fig.add_trace(
                go.Scatter(
                    mode="lines",
                    fill="toself",
                    fillcolor="rgba(128,128,128,0.25)",
                    line=dict(width=0),
                    hoverinfo="skip",
                    showlegend=False,
                    name="fresh sample ± 3 std",
                ),
                row,
                col,
            )
            fig.add_trace(
                go.Scatter(mode="lines", line=dict(color=COLORS[i]), showlegend=False, name=METRICS[key][0]), row, col
            )
            fig.add_trace(
                go.Scatter(mode="markers", marker=dict(size=11, symbol="diamond"), showlegend=False, name="current"),
                row,
                col,
            )
            fig.update_xaxes(range=[-0.03, 1.03], row=row, col=col)
        fig.update_xaxes(scaleanchor=None, row=1, col=1)
        fig.update_yaxes(scaleanchor="x", row=1, col=1)
        fig.update_xaxes(type="log", title_text="sample size n", row=1, col=2)
        fig.update_yaxes(type="log", title_text="std / std at n = 125", row=1, col=2)
        for col in (1, 2, 3):
            fig.update_xaxes(title_text="strength", row=4, col=col)
        fig.update_layout(height=1150, margin=dict(l=50, r=20, t=40, b=40), legend=dict(orientation="h", y=-0.05))
        self._real: dict = {}
        self._draws: dict = {}
        self._curves: dict = {}
        self._drawn_key = None
        super().__init__(controls, go.FigureWidget(fig), main="strength")

    # ------------------------------------------------------------------ computation (cached)
    def _side(self, n: int, seed: int) -> tuple[Draws, RealSide]:
        key = (n, seed)
        if key not in self._draws:
            d = Draws(self.mixture, n, seed)
            self._draws[key], self._real[key] = d, RealSide(d.train, d.test)
        return self._draws[key], self._real[key]

    def curves(self, failure: str, n: int, seed: int) -> list[dict]:
        """The metrics at every strength of :data:`STRENGTHS` (cached)."""
        key = (failure, n, seed)
        if key not in self._curves:
            draws, real = self._side(n, seed)
            self._curves[key] = [evaluate(real, draws.fake(failure, s), self.mixture) for s in STRENGTHS]
        return self._curves[key]

    def noise(self, n: int) -> dict:
        """Mean and std of each metric over :data:`NOISE_SEEDS` fresh samples of size n (no
        failure; seeds 1000.. , independent of the seed control). Cached."""
        if n not in _NOISE:  # shared by every explorer: it depends on n only
            rows = []
            for r in range(NOISE_SEEDS):
                draws = Draws(self.mixture, n, 1000 + r)
                rows.append(evaluate(RealSide(draws.train, draws.test), draws.fake("blur", 0.0), self.mixture))
            v = {k: np.array([row[k] for row in rows]) for k in METRICS}
            _NOISE[n] = {k: (float(a.mean()), float(a.std(ddof=1))) for k, a in v.items()}
        return _NOISE[n]

    def caught(self, failure: str, strength: float, n: int, seed: int = 0) -> dict:
        """{metric: True where its value at this failure and strength leaves the band of a fresh
        sample (mean +- 3 std over NOISE_SEEDS seeds at size n)}."""
        values = self.curves(failure, n, seed)[STRENGTHS.index(round(strength, 1))]
        return self._caught(values, self.noise(n))

    @classmethod
    def _caught(cls, values: dict, floor: dict) -> dict:
        """A metric catches a failure when its value leaves the fresh sample's band on the side
        that means worse (a lower precision, a higher FID; either side for density, which is
        about 1 for a fresh sample and above 1 when fakes crowd around the real points)."""
        out = {}
        for k, (_, better) in METRICS.items():
            z = (values[k] - floor[k][0]) / cls._halfwidth(floor[k])
            out[k] = z > 1 if better < 0 else z < -1 if better > 0 else abs(z) > 1
        return out

    @staticmethod
    def _halfwidth(mean_std) -> float:
        mean, std = mean_std
        return max(BAND * std, 1e-9 + 1e-6 * abs(mean))

    # ------------------------------------------------------------------ drawing
    def update(self) -> None:
        failure, s, n, seed = (self.value(k) for k in ("failure", "strength", "n", "seed"))
        curve = self.curves(failure, n, seed)
        floor = self.noise(n)
        i_s = STRENGTHS.index(round(s, 1))
        values = curve[i_s]
        draws, _ = self._side(n, seed)
        fake = draws.fake(failure, s).numpy()
        mask = values["copy_mask"].numpy()
        caught = self._caught(values, floor)
        f = self.figure
        base = self._first_metric_trace
        key = (failure, n, seed)
        with f.batch_update():
            train = draws.train.numpy()
            f.data[0].update(x=train[:, 0], y=train[:, 1])
            f.data[1].update(x=fake[~mask, 0], y=fake[~mask, 1])
            f.data[2].update(x=fake[mask, 0], y=fake[mask, 1])
            if key != self._drawn_key:
                self._draw_noise(n)
                for j, k in enumerate(METRICS):
                    mean, _ = floor[k]
                    h = self._halfwidth(floor[k])
                    f.data[base + 3 * j].update(x=[0, 1, 1, 0, 0], y=[mean - h, mean - h, mean + h, mean + h, mean - h])
                    f.data[base + 3 * j + 1].update(x=list(STRENGTHS), y=[row[k] for row in curve])
                self._drawn_key = key
            for j, k in enumerate(METRICS):
                f.data[base + 3 * j + 2].update(
                    x=[s], y=[values[k]], marker_color="crimson" if caught[k] else "seagreen"
                )
                f.layout.annotations[
                    2 + j
                ].text = f"{METRICS[k][0]}: {values[k]:.3g} · {'<b>caught</b>' if caught[k] else 'missed'}"
            f.layout.annotations[0].text = f"{failure}, strength {s:.1f}: training (grey) and {n} fakes"
        self.readout.value = self._readout(failure, s, n, values, caught, floor)

    def _draw_noise(self, n: int) -> None:
        f = self.figure
        stds = {size: self.noise(size) for size in SIZES}
        sizes = np.array(SIZES, dtype=float)
        lo, hi = np.inf, 0.0
        for j, k in enumerate(METRICS):
            sd = np.array([stds[size][k][1] for size in SIZES])
            rel = sd / sd[0] if sd[0] > 0 else np.full_like(sd, np.nan)
            rel = np.where(rel > 0, rel, np.nan)
            f.data[3 + j].update(x=sizes, y=rel)
            if np.isfinite(rel).any():
                lo, hi = min(lo, np.nanmin(rel)), max(hi, np.nanmax(rel))
        f.data[3 + len(METRICS)].update(x=sizes, y=(sizes / sizes[0]) ** -0.5)
        f.data[4 + len(METRICS)].update(x=sizes, y=(sizes / sizes[0]) ** -1.0)
        lo = min(lo, (sizes[-1] / sizes[0]) ** -1.0)
        f.data[5 + len(METRICS)].update(x=[n, n], y=[lo / 1.5, max(hi, 1.0) * 1.5])

    def _readout(self, failure, s, n, values, caught, floor) -> str:
        label = {k: METRICS[k][0] for k in METRICS}
        hit = [label[k] for k in METRICS if caught[k]]
        miss = [label[k] for k in METRICS if not caught[k]]
        parts = [f"<b>{failure}</b>, strength {s:.1f}, n = {n}"]
        if s == 0:
            parts.append("strength 0: the fakes are a fresh sample of the true law (no failure)")
        if hit and s == 0:
            parts.append(
                f"<b>false alarm</b> from {', '.join(hit)}: there is no failure at strength 0; the band is estimated "
                f"from {NOISE_SEEDS} fresh samples, and a fresh sample falls outside it now and then"
            )
        elif hit:
            parts.append(f"<b>caught by</b> {', '.join(hit)} (worse than a fresh sample's mean ± {BAND:g} std)")
        elif s > 0:
            parts.append("<b>no metric catches it</b> at this sample size")
        else:
            parts.append("no metric raises an alarm")
        if miss and s > 0:
            parts.append(f"<b>missed by</b> {', '.join(miss)}")
        if failure == "memorize" and s > 0:
            parts.append(
                f"copies of the training set look <i>perfect</i> to FID ({values['fid']:.3g}), precision "
                f"({values['precision']:.3f}) and recall ({values['recall']:.3f}); only the copy rate "
                f"({values['copies']:.3f}, fresh ≈ {floor['copies'][0]:.3f}), which compares with a held-out "
                "test set, reveals them"
            )
        return " · ".join(parts)
