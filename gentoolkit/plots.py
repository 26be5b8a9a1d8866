"""Static matplotlib figures for the notebooks (the interactive ones live in ``widgets``; this
module imports no widget code, so drawing a figure never loads ipywidgets or plotly).
``grid(bounds, n)`` is :func:`gentoolkit.data.toy2d.grid`, re-exported for the notebooks."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from gentoolkit.data import toy2d
from gentoolkit.data.toy2d import grid

__all__ = ["grid", "plot_datasets", "plot_loss", "plot_score_error", "plot_smoothing"]


def plot_datasets(n: int = 2000, seed: int = 0, names=None):
    """Samples of every standard 2D dataset, one panel each."""
    names = list(names or toy2d.names())
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.8))
    g = torch.Generator().manual_seed(seed)
    for ax, name in zip(np.atleast_1d(axes), names):
        mix = toy2d.get(name)
        x = mix.sample(n, g).numpy()
        ax.scatter(x[:, 0], x[:, 1], s=1.5, alpha=0.5)
        ax.set_title(f"{name} (K={mix.n_components})", fontsize=9)
        b = mix.bounds(margin=3)
        ax.set(xlim=b[:2], ylim=b[2:], aspect="equal", xticks=[], yticks=[])
    fig.tight_layout()
    return fig


def plot_smoothing(mixture, sigmas, res: int = 120, arrows: int = 15):
    """The smoothed density p_sigma (filled contours) and its exact score (arrows), one
    panel per noise level: how the data's density and score change as sigma grows."""
    sigmas = list(sigmas)
    fig, axes = plt.subplots(1, len(sigmas), figsize=(3.0 * len(sigmas), 3.1))
    b = mixture.bounds(margin=4)
    xs, ys, pts = grid(b, res)
    ax_, ay_, apts = grid(b, arrows)
    for ax, s in zip(np.atleast_1d(axes), sigmas):
        p = mixture.prob(pts, s).reshape(res, res).numpy()
        ax.contourf(xs, ys, p, levels=20, cmap="Blues")
        v = mixture.score(apts, s).numpy()
        length = np.linalg.norm(v, axis=1, keepdims=True)
        v = v / np.maximum(length, 1e-12) * np.sqrt(length)  # sqrt compression, as the widget
        ax.quiver(apts[:, 0], apts[:, 1], v[:, 0], v[:, 1], color="k", width=0.004)
        ax.set(title=f"σ = {s:g}", aspect="equal", xticks=[], yticks=[])
    fig.tight_layout()
    return fig


def plot_loss(history, window: int = 50, ax=None, label=None):
    """A training loss curve with its moving average over ``window`` steps."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    h = np.asarray(history, dtype=float)
    ax.plot(h, alpha=0.25, color="C0")
    if len(h) >= window:
        ax.plot(
            np.arange(window - 1, len(h)), np.convolve(h, np.ones(window) / window, "valid"), color="C0", label=label
        )
    ax.set(xlabel="step", ylabel="loss")
    return ax


def plot_score_error(curves: dict, ax=None, target: float | None = None):
    """Relative score error against sigma (log axis), one curve per label:
    ``curves = {label: (sigmas, errors)}``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for label, (s, e) in curves.items():
        ax.plot(np.asarray(s), 100 * np.asarray(e), marker="o", ms=3, label=label)
    if target is not None:
        ax.axhline(100 * target, ls="--", color="gray", lw=1, label=f"{100 * target:.0f}%")
    ax.set(xscale="log", xlabel="σ", ylabel="relative L2 error of the score (%)")
    ax.legend(fontsize=8)
    return ax
