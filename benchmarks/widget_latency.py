"""Python-side latency of every widget: move its main slider many times, time each redraw.

Prints one JSON line per widget: {"widget", "control", "moves", "p50_ms", "p95_ms",
"target_p50_ms"}. Target: p50 < 100 ms on 2 cores at default settings (DigitSampler, which
runs a U-Net solver: < 2 s for its 16-image grid; MetricExplorer's change of failure, which
computes every metric at 11 strengths: < 2 s).
Run: .venv/bin/python benchmarks/widget_latency.py [--moves N]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from gentoolkit.data import toy2d
from gentoolkit.nets import ScoreMLP
from gentoolkit.widgets import (
    DigitSampler,
    GANLiveView,
    LandscapeExplorer,
    MetricExplorer,
    NoiseTracker,
    ParallelLinesView,
    RelativisticView,
    SamplerExplorer,
    ScoreFieldViewer,
    SolverExplorer,
)


def measure(widget, control: str, values, moves: int) -> dict:
    # a named control, or a widget attribute such as GANLiveView's Play ("play"), whose ticks are value changes
    c = widget.controls[control] if control in widget.controls else getattr(widget, control)
    times = []
    for i in range(moves):
        t = time.perf_counter()
        c.value = values[i % len(values)]
        times.append(1e3 * (time.perf_counter() - t))
    return {
        "control": control,
        "moves": moves,
        "p50_ms": round(float(np.percentile(times, 50)), 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", type=int, default=60)
    ap.add_argument("--only", default="", help="run only widgets whose name contains this")
    args = ap.parse_args()
    torch.set_num_threads(2)
    sigmas = list(np.geomspace(0.02, 2.5, 23))
    cases = {
        "ScoreFieldViewer (exact)": (lambda: ScoreFieldViewer(), "sigma", sigmas),
        "ScoreFieldViewer (network)": (
            lambda: ScoreFieldViewer(score_fn={n: ScoreMLP(data_std=2.0) for n in toy2d.names()}),
            "sigma",
            sigmas,
        ),
        "ScoreFieldViewer (dataset)": (
            lambda: ScoreFieldViewer(score_fn={n: ScoreMLP(data_std=2.0) for n in toy2d.names()}),
            "dataset",
            toy2d.names()[1:] + toy2d.names()[:1],
        ),
        # the flagship, at default settings (2,000 particles, exact score): its main slider is eps
        "NoiseTracker (eps)": (lambda: NoiseTracker(), "eps", list(np.geomspace(2.6e-4, 4e-3, 17))),
        "NoiseTracker (level shown)": (lambda: NoiseTracker(), "level", list(range(1, 11))),
        # (the label predates the rename: the control is the proposal noise std h, not lambda)
        "SamplerExplorer (step size)": (lambda: SamplerExplorer(), "proposal_std", list(np.geomspace(0.02, 2.0, 15))),
        # the targets: an EM-100 redraw and a GGF redraw at 2,000 particles
        "SolverExplorer (EM, steps ~100)": (lambda: SolverExplorer(), "n_steps", [90, 100, 110, 100]),
        "SolverExplorer (GGF, eps_rel)": (
            lambda: SolverExplorer(method="ggf"),
            "eps_rel",
            list(np.geomspace(0.08, 0.125, 7)),
        ),
        # the ODE's own tolerance (its main control), around its default rtol = 1e-3
        "SolverExplorer (ODE, rtol)": (
            lambda: SolverExplorer(method="ode"),
            "rtol",
            list(np.geomspace(6e-4, 1.6e-3, 5)),
        ),
        # the fast samplers (issue 11): a Heun redraw around its default 10 steps (21 score calls), and a new
        # SDE, which computes every solver's NFE-error curve once (4 budgets each at 2,000 particles)
        "SolverExplorer (Heun, steps ~10)": (lambda: SolverExplorer(method="edm_heun"), "n_steps", [9, 10, 11, 10]),
        "SolverExplorer (SDE, curves uncached)": (lambda: SolverExplorer(), "sde", ["VE", "sub-VP"]),
        # the target: one training step plus redraw at 2,000 points (defaults, 1 step per tick);
        # each tick of the Play is a higher value
        "GANLiveView (train tick)": (
            lambda: GANLiveView(steps_per_frame=1),
            "play",
            list(range(1, args.moves + 1)),
        ),
        # divergence landscapes: the generator's mean moves the marker over a cached landscape; a new scale
        # computes a new slice (25 x 25 generators against the mixture on the density grid)
        "LandscapeExplorer (mean x)": (lambda: LandscapeExplorer(), "mean_x", list(np.linspace(-2.5, 2.5, 21))),
        "LandscapeExplorer (scale, uncached)": (
            lambda: LandscapeExplorer(),
            "scale",
            list(np.round(np.arange(0.3, 1.5001, 0.05), 2)),
        ),
        # metric explorer at 2,000 points (the target): the strength moves a marker along cached curves and
        # redraws the fakes; a new failure computes the 11-strength curves (every metric 11 times at n = 2,000)
        "MetricExplorer (strength)": (lambda: MetricExplorer(), "strength", list(np.round(np.arange(0, 1.01, 0.1), 1))),
        "MetricExplorer (failure, uncached)": (
            lambda: MetricExplorer(),
            "failure",
            ["blur", "shift", "add noise (outliers)", "memorize"],  # not "drop modes": built with it
        ),
        "ParallelLinesView (theta)": (lambda: ParallelLinesView(), "theta", list(np.round(np.linspace(-1, 1, 41), 2))),
        "RelativisticView (shift)": (lambda: RelativisticView(), "shift", list(np.arange(-3, 3.01, 0.25))),
        # the pretrained MNIST score model: a 16-image grid per move of the seed at the default tolerance
        # (the target: under 2 s on 2 cores)
        "DigitSampler (seed, default eps_rel)": (lambda: DigitSampler(device="cpu"), "seed", list(range(1, 9))),
    }
    targets = {
        "DigitSampler (seed, default eps_rel)": 2000,
        "MetricExplorer (failure, uncached)": 2000,
        "SolverExplorer (SDE, curves uncached)": 2000,
    }
    for name, (build, control, values) in cases.items():
        if args.only not in name:
            continue
        w = build()
        moves = min(args.moves, len(values)) if name in targets else args.moves
        row = {"widget": name, **measure(w, control, values, moves), "target_p50_ms": targets.get(name, 100)}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
