"""End-to-end widget latency in a real browser: from a key press on a widget's main slider to
the figure's data changing on the page (JupyterLab in Debian's Chromium, via Playwright;
kernel round trip, Python redraw, plotly re-render, all included).

Each widget is measured next to a trivial reference widget in the same run: one slider
rescaling a 2,000-point plotly scatter, the floor that JupyterLab, ipywidgets and plotly set.
Prints one JSON line per widget: {"widget", "control", "moves", "p50_ms", "p95_ms",
"reference_p50_ms", "ratio_p50", "target_ratio": 1.5}; the target is every widget's p50
within 1.5x of the reference's. Widgets are built with their defaults (2,000 particles where
they have particles), not in fast mode. Times are read in the page (performance.now() at the
keydown, polled every animation frame), so they include what the student waits for.

Run: .venv/bin/python benchmarks/browser_latency.py [--moves 20] [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))
from lab import Lab, chromium_path  # noqa: E402
from notebook_page import KERNEL_IDLE_JS, SIGNATURE_JS, label, open_notebook, run_all, widgets  # noqa: E402

REFERENCE = """import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

_xy = np.random.default_rng(0).normal(size=(2, 2000))
ref_fig = go.FigureWidget(go.Scatter(x=_xy[0], y=_xy[1], mode="markers", marker_size=3))
ref_fig.update_layout(height=380, xaxis_range=[-8, 8], yaxis_range=[-8, 8])
ref_slider = W.FloatSlider(value=1.0, min=0.5, max=3.0, step=0.25, description="scale")
ref_slider.add_class("gentoolkit-main")
ref_slider.observe(lambda c: ref_fig.data[0].update(x=_xy[0] * c["new"], y=_xy[1] * c["new"]), names="value")
reference = W.VBox([ref_slider, ref_fig])
reference.add_class("gentoolkit-widget")
reference"""

WIDGETS = {
    "reference (2,000-point scatter)": REFERENCE,
    "ScoreFieldViewer (sigma)": "from gentoolkit.widgets import ScoreFieldViewer\nScoreFieldViewer()",
    "NoiseTracker (eps)": "from gentoolkit.widgets import NoiseTracker\nNoiseTracker()",
    "SamplerExplorer (step size)": "from gentoolkit.widgets import SamplerExplorer\nSamplerExplorer()",
    "SolverExplorer (EM, steps)": "from gentoolkit.widgets import SolverExplorer\nSolverExplorer()",
    "SolverExplorer (GGF, eps_rel)": "from gentoolkit.widgets import SolverExplorer\nSolverExplorer(method='ggf')",
    # its main control is the learning rate: a move reconfigures the run and redraws the critic's heatmap, both
    # point clouds, the push arrows and the loss curves (2,000 points, the defaults)
    "GANLiveView (lr)": "from gentoolkit.widgets import GANLiveView\nGANLiveView()",
    # the strength moves markers along cached curves and redraws 2,000 fakes (defaults: n = 2,000)
    "MetricExplorer (strength)": "from gentoolkit.widgets import MetricExplorer\nMetricExplorer()",
}

MOVE_JS = f"""([gd, before]) => {{
  const now = ({SIGNATURE_JS})(gd);
  return now !== before ? performance.now() - window.__keydown : false;
}}"""


def measure(page, widget, moves: int) -> tuple[str, list[float]]:
    widget.scroll_into_view_if_needed()
    plot = widget.query_selector(".js-plotly-plot")
    handle = widget.query_selector(".gentoolkit-main [role=slider]")
    name = label(handle)
    page.evaluate("() => document.addEventListener('keydown', () => { window.__keydown = performance.now(); }, true)")
    times = []
    for i in range(moves):
        before = plot.evaluate(SIGNATURE_JS)
        handle.focus()
        page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
        elapsed = page.wait_for_function(MOVE_JS, arg=[plot, before], polling="raf", timeout=60_000)
        times.append(float(elapsed.json_value()))
        page.wait_for_function(KERNEL_IDLE_JS, polling=100, timeout=60_000)
        page.wait_for_timeout(150)
    return name, times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", type=int, default=20)
    ap.add_argument("--only", default="", help="measure only widgets whose name contains this (and the reference)")
    args = ap.parse_args()
    if chromium_path() is None:
        sys.exit("no Chromium: apt-get install -y chromium, or set CHROMIUM_PATH")
    from playwright.sync_api import sync_playwright

    names = [n for n in WIDGETS if n.startswith("reference") or args.only in n]
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell(WIDGETS[n]) for n in names]
    with Lab(notebooks=[], fast=False) as lab, sync_playwright() as p:
        nbformat.write(nb, lab.root / "notebooks" / "browser_latency.ipynb")
        browser = p.chromium.launch(executable_path=chromium_path())
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        open_notebook(page, lab, "notebooks/browser_latency.ipynb")
        run_all(page)
        found = widgets(page)
        assert len(found) == len(names), f"{len(found)} widgets rendered, expected {len(names)}"
        results = {}
        for name, w in zip(names, found):
            control, times = measure(page, w, args.moves)
            results[name] = (control, times)
        browser.close()
    ref = float(np.percentile(results[names[0]][1], 50))
    for name in names:
        control, times = results[name]
        p50 = float(np.percentile(times, 50))
        line = {
            "widget": name,
            "control": control,
            "moves": len(times),
            "p50_ms": round(p50, 1),
            "p95_ms": round(float(np.percentile(times, 95)), 1),
            "reference_p50_ms": round(ref, 1),
            "ratio_p50": round(p50 / ref, 2),
            "target_ratio": 1.5,
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
