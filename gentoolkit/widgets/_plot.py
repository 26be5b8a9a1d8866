"""Plot helpers shared by the widgets: the density backdrop and quiver arrows as line traces
(the evaluation grid is :func:`gentoolkit.data.toy2d.grid`, shared with the static plots)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from gentoolkit.data.toy2d import grid


def density_trace(**style) -> go.Contour:
    """The filled log-density backdrop under samples (``style`` overrides the defaults)."""
    defaults = dict(showscale=False, colorscale="Blues", ncontours=12, line_width=0.3, hoverinfo="skip", name="log p")
    return go.Contour(**{**defaults, **style})


def log_density_grid(mixture, bounds, n: int, sigma: float = 0.0, nats: float = 12.0):
    """(xs, ys, z): log p_sigma of ``mixture`` on an n x n grid over ``bounds``, clipped to
    ``nats`` below its maximum so the contours show the modes rather than the far tails."""
    xs, ys, pts = grid(bounds, n)
    logp = mixture.log_prob(pts, sigma).reshape(n, n).numpy()
    return xs, ys, np.maximum(logp, logp.max() - nats)


def quiver(pts: np.ndarray, vec: np.ndarray, spacing: float, head: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Arrow polylines (x, y with NaN gaps) for vectors ``vec`` at ``pts``, both (N, 2).

    Lengths are |v|^(1/2) scaled so the longest arrow is 0.9 * ``spacing``: the square root
    keeps the small scores far from the data's edge visible next to the large ones.
    """
    norm = np.linalg.norm(vec, axis=1, keepdims=True)
    comp = np.sqrt(norm)
    scale = 0.9 * spacing / max(float(comp.max()), 1e-12)
    d = vec / np.maximum(norm, 1e-12) * comp * scale
    tip = pts + d
    # two head strokes: the shaft direction rotated by +-150 degrees
    c, s = np.cos(np.deg2rad(150)), np.sin(np.deg2rad(150))
    left = tip + head * np.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]], 1)
    right = tip + head * np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]], 1)
    gap = np.full_like(pts, np.nan)
    seq = np.stack([pts, tip, gap, left, tip, right, gap], 1).reshape(-1, 2)
    return seq[:, 0], seq[:, 1]
