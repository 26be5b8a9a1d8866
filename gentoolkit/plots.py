"""Static matplotlib figures for the notebooks (the interactive ones live in ``widgets``; this
module imports no widget code, so drawing a figure never loads ipywidgets or plotly).
``grid(bounds, n)`` is :func:`gentoolkit.data.toy2d.grid`, re-exported for the notebooks.

Every function draws into ``ax`` (a new figure when None) and returns the axes, or returns the
figure when it makes several panels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from gentoolkit.data import toy2d
from gentoolkit.data.toy2d import grid

__all__ = [
    "grid",
    "plot_chains",
    "plot_datasets",
    "plot_density",
    "plot_class_histograms",
    "plot_gan_runs",
    "plot_image_grids",
    "plot_loss",
    "plot_rejection",
    "plot_samples_1d",
    "plot_score_error",
    "plot_smoothing",
    "plot_step_sweep",
]


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


def plot_gan_runs(runs: dict, mixture, *, n_show: int = 1000, curve: bool = True):
    """Side-by-side GAN runs (:func:`gentoolkit.gan.compare.compare`): one panel per run with its
    samples (purple) over the mixture's component means (green crosses), titled with the modes
    covered and the KL of the mode histogram from the weights; with ``curve``, a last panel with
    the modes covered over the training steps of every run (mode collapse, lecture 004, is the
    curve that stays low). Returns the figure."""
    names = list(runs)
    n = len(names) + int(curve)
    fig, axes = plt.subplots(1, n, figsize=(2.7 * n, 2.9))
    axes = np.atleast_1d(axes)
    b = mixture.bounds(margin=3)
    means = mixture.means.numpy()
    for ax, name in zip(axes, names):
        r = runs[name]
        x = r.samples[:n_show].numpy()
        ax.scatter(x[:, 0], x[:, 1], s=1.5, alpha=0.5, color="#762a83")
        ax.scatter(means[:, 0], means[:, 1], marker="x", s=12, color="#1b7837", lw=1)
        kl = r.stats["kl"]
        kl = f"{kl:.2f}" if np.isfinite(kl) else "∞"
        ax.set_title(f"{name}\nmodes {r.stats['covered']}/{r.stats['modes']}, KL {kl}", fontsize=8)
        ax.set(xlim=b[:2], ylim=b[2:], aspect="equal", xticks=[], yticks=[])
    if curve:
        ax = axes[-1]
        for i, name in enumerate(names):
            h = runs[name].history
            ax.plot(h.eval_steps, h.covered, marker="o", ms=2, color=f"C{i}", label=name)
        ax.axhline(mixture.n_components, ls="--", color="gray", lw=1)
        ax.set(xlabel="generator step", ylabel="modes covered", ylim=(-0.5, mixture.n_components + 0.5))
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


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


def _axes(ax, figsize):
    return plt.subplots(figsize=figsize)[1] if ax is None else ax


def plot_samples_1d(samples, density, lo: float, hi: float, *, ax=None, bins: int = 60, title=None, label="samples"):
    """A normalised histogram of 1D ``samples`` on [lo, hi] against the curve ``density(t)``
    (``t`` a float64 tensor of 400 points): checks a sampler by eye (001, Sec. 2.2.1)."""
    x = torch.as_tensor(samples).detach().cpu().double()
    if x.ndim != 1:
        raise ValueError(f"samples must be a 1-D tensor of n draws, got shape {tuple(x.shape)}")
    if not lo < hi:
        raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
    ax = _axes(ax, (4.5, 3))
    t = torch.linspace(lo, hi, 400, dtype=torch.float64)
    ax.hist(x.numpy(), bins=bins, range=(lo, hi), density=True, alpha=0.5, label=label)
    ax.plot(t.numpy(), torch.as_tensor(density(t)).detach().double().numpy(), "k", label="density")
    ax.set(xlabel="x", xlim=(lo, hi), title=title)
    ax.legend(fontsize=8)
    return ax


def plot_rejection(
    log_target,
    proposal_sample,
    proposal_log_prob,
    log_M: float,
    accepted,
    lo: float,
    hi: float,
    *,
    n: int = 400,
    seed=0,
):
    """Rejection sampling seen geometrically (001, Sec. 2.2.1.3). Left: ``n`` proposals x ~ q
    drawn as the points (x, u M q(x)), u ~ U(0, 1), uniform under the envelope M q; those under
    p are the accepted ones. Right: the ``accepted`` samples (e.g. ``rejection_sampling(...).x``)
    against p. The arguments are those of :func:`gentoolkit.sampling.rejection_sampling`, for
    1D densities (float64 tensors in and out)."""
    g = torch.Generator().manual_seed(seed)
    x = proposal_sample(n, g)
    height = torch.rand(n, generator=g, dtype=torch.float64) * (log_M + proposal_log_prob(x)).exp()
    keep = (height < log_target(x).exp()).numpy()
    x, height = x.numpy(), height.numpy()
    t = torch.linspace(lo, hi, 400, dtype=torch.float64)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    axes[0].plot(t.numpy(), (log_M + proposal_log_prob(t)).exp().numpy(), "k--", label="envelope $M q$")
    axes[0].plot(t.numpy(), log_target(t).exp().numpy(), "k", label="target $p$")
    axes[0].scatter(x[keep], height[keep], s=4, color="C0", label="accepted")
    axes[0].scatter(x[~keep], height[~keep], s=4, color="C3", alpha=0.4, label="rejected")
    axes[0].set(xlim=(lo, hi), xlabel="x")
    axes[0].legend(fontsize=8)
    plot_samples_1d(accepted, lambda t: log_target(t).exp(), lo, hi, ax=axes[1], label="accepted samples")
    fig.tight_layout()
    return fig


def plot_density(mixture, *, ax=None, sigma: float = 0.0, res: int = 100, margin: float = 4.0, title=None):
    """Filled contours of a 2D mixture's density p_sigma on its ``bounds(margin)``: the backdrop
    of the chain and sample figures."""
    ax = _axes(ax, (4, 4))
    bounds = mixture.bounds(margin=margin)
    xs, ys, pts = grid(bounds, res)
    ax.contourf(xs, ys, mixture.prob(pts, sigma).reshape(res, res).numpy(), levels=15, cmap="Blues")
    ax.set(xlim=bounds[:2], ylim=bounds[2:], aspect="equal", xticks=[], yticks=[], title=title)
    return ax


def plot_chains(mixture, chain, *, ax=None, n_paths: int = 3, final: bool = True, title=None):
    """Markov chains on a 2D mixture's density (001, Sec. 2.2.2): the final states of all
    chains (``final``) and the trajectories of the first ``n_paths``. ``chain`` has shape
    (T, n_chains, 2), as ``ChainResult.chain``; pass ``result.x[None]`` for final states only."""
    c = torch.as_tensor(chain).detach().cpu().numpy()
    if c.ndim != 3 or c.shape[-1] != 2:
        raise ValueError(f"chain must have shape (T, n_chains, 2), got {tuple(c.shape)}")
    if not 0 <= n_paths <= c.shape[1]:
        raise ValueError(f"n_paths must be between 0 and n_chains = {c.shape[1]}, got {n_paths}")
    ax = plot_density(mixture, ax=ax, title=title)
    if final:
        ax.scatter(c[-1, :, 0], c[-1, :, 1], s=3, color="crimson", alpha=0.6)
    for k in range(n_paths):  # a few trajectories, one line each, in colours that stand out from the blues
        ax.plot(c[:, k, 0], c[:, k, 1], lw=0.7, color=f"C{1 + k % 5}")
    return ax


def plot_step_sweep(noise_stds, acceptance: dict, jump: dict):
    """Acceptance rate (left) and mean squared jump distance (right) against the proposal noise
    std, one curve per sampler: ``acceptance = {name: rates}``, ``jump = {name: jumps}``, one
    value per entry of ``noise_stds`` (001, Sec. 2.2.2.2-2.2.2.3: the step size trades
    acceptance for distance moved)."""
    n = len(noise_stds)
    for name in acceptance:
        if name not in jump or len(acceptance[name]) != n or len(jump[name]) != n:
            raise ValueError(
                f"acceptance[{name!r}] and jump[{name!r}] must both hold one value per noise std ({n}), got "
                f"{len(acceptance[name])} and {len(jump.get(name, ()))}"
            )
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    for name in acceptance:
        axes[0].plot(noise_stds, acceptance[name], "o-", label=name)
        axes[1].plot(noise_stds, jump[name], "o-", label=name)
    axes[0].set(xscale="log", xlabel="proposal noise std", ylabel="acceptance rate", ylim=(0, 1.05))
    axes[1].set(xscale="log", yscale="log", xlabel="proposal noise std", ylabel="mean squared jump")
    axes[0].legend()
    fig.tight_layout()
    return fig


def image_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> torch.Tensor:
    """Tile images (n, C, H, W) in [-1, 1] into one (C, rows * (H + p) + p, nrow * (W + p) + p) image
    in [0, 1], row by row, with ``padding`` pixels of white between and around them; ``nrow``
    images per row (default: ceil(sqrt(n)), a square). One reshape, no loop over images."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a tensor of shape (n, C, H, W), got {got}")
    n, c, h, w = images.shape
    if n == 0:
        raise ValueError("images must hold at least one image, got n = 0")
    nrow = int(np.ceil(np.sqrt(n))) if nrow is None else nrow
    if isinstance(nrow, bool) or not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"nrow must be a positive int, got {nrow!r}")
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be an int >= 0, got {padding!r}")
    rows = -(-n // nrow)
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) / 2).contiguous()
    full = torch.ones(rows * nrow, c, h + padding, w + padding)
    full[:n, :, padding:, padding:] = x
    grid_ = full.view(rows, nrow, c, h + padding, w + padding).permute(2, 0, 3, 1, 4)
    grid_ = grid_.reshape(c, rows * (h + padding), nrow * (w + padding))
    return torch.nn.functional.pad(grid_, (0, padding, 0, padding), value=1.0)


def plot_image_grids(panels: dict, *, nrow: int | None = None, captions: dict | None = None, panel_size: float = 3.2):
    """Sample grids side by side: one panel per entry of ``panels`` (title -> images (n, C, H, W)
    in [-1, 1], tiled by :func:`image_grid` with ``nrow`` images per row), each titled with its key
    and, below, ``captions[key]`` when given (e.g. the quality numbers). Returns the figure."""
    if not isinstance(panels, dict) or not panels:
        raise ValueError(f"panels must be a non-empty dict of title -> images, got {panels!r:.80}")
    captions = {} if captions is None else captions
    if not isinstance(captions, dict):
        raise TypeError(f"captions must be None or a dict of title -> text, got {type(captions).__name__}")
    unknown = sorted(set(captions) - set(panels))
    if unknown:
        raise ValueError(f"captions has titles that are not in panels: {unknown}")
    grids = {title: image_grid(images, nrow) for title, images in panels.items()}
    fig, axes = plt.subplots(1, len(grids), figsize=(panel_size * len(grids), panel_size + 0.6), squeeze=False)
    for ax, (title, g) in zip(axes[0], grids.items()):
        if g.shape[0] == 1:
            ax.imshow(g[0].numpy(), cmap="gray", vmin=0.0, vmax=1.0)
        else:
            ax.imshow(g.permute(1, 2, 0).numpy())
        ax.set_title(str(title), fontsize=10)
        if title in captions:
            ax.set_xlabel(str(captions[title]), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_class_histograms(histograms: dict, *, ax=None, classes: int = 10):
    """Class histograms side by side: grouped bars, one group per class 0..classes-1 and one bar
    per entry of ``histograms`` (label -> fractions, a sequence or tensor of ``classes`` values,
    e.g. :func:`gentoolkit.metrics.digit_quality`'s ``histogram``), with the uniform 1 / classes
    as a dashed line. Returns the axes."""
    if not isinstance(histograms, dict) or not histograms:
        raise ValueError(f"histograms must be a non-empty dict of label -> fractions, got {histograms!r:.80}")
    ax = _axes(ax, (7, 3))
    width = 0.8 / len(histograms)
    x = np.arange(classes)
    for i, (label, h) in enumerate(histograms.items()):
        h = np.asarray(torch.as_tensor(h, dtype=torch.float64).cpu())
        if h.shape != (classes,):
            raise ValueError(f"histograms[{label!r}] must hold {classes} fractions, got shape {h.shape}")
        ax.bar(x + (i - (len(histograms) - 1) / 2) * width, h, width, label=str(label))
    ax.axhline(1 / classes, color="k", ls="--", lw=1, label="uniform")
    ax.set(xticks=x, xlabel="class", ylabel="fraction of samples")
    ax.legend(fontsize=8)
    return ax


def save_image_grid(images: torch.Tensor, path, nrow: int | None = None, padding: int = 2) -> None:
    """Write :func:`image_grid` of ``images`` as an 8-bit PNG (grey for one channel, RGB for three),
    atomically (a temporary file, then a rename), so a reader never sees half an image."""
    import os
    import tempfile
    from pathlib import Path

    g = image_grid(images, nrow, padding)
    if g.shape[0] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels to be saved as PNG, got {g.shape[0]}")
    pixels = (g * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    pixels = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".png")
    os.close(fd)
    try:
        plt.imsave(tmp, pixels, format="png")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
