"""How fast an MNIST preset gets good on CPU: its quality curve against wall time, training and
evaluation included, through the command line's own ``train`` and ``evaluate``.

The run is trained with ``python -m gentoolkit train PRESET`` in chunks of ``--eval-every`` steps
(``--resume`` continues it exactly: the chunked run ends with the weights of one uninterrupted
run of the same length, tests/test_cli.py), and after each chunk ``evaluate`` draws ``--n``
samples from the EMA weights with the preset's sampler and judges them with gentoolkit's digit
classifier (:mod:`gentoolkit.metrics.digits`): the fraction it gives >= 0.9 probability, and
the class histogram of all samples. The issue's targets on 2 cores: the GAN preset >= 65%
confident with every class between 5% and 15% in under 10 minutes, the score-model preset
>= 80% in under 20 minutes.

Prints one JSON line per evaluation (minutes since the start; ``train_and_eval_minutes``, the
training time to this point plus this one evaluation, which is what a student waits for
``train --steps S`` followed by ``evaluate`` and what the target is judged on, except that from the
second chunk on it also holds each earlier chunk's start-up and closing PNG grid, which one
uninterrupted run does not make (about 25 s a chunk for the VP preset): an upper bound, exact with
one chunk, ``--eval-every S``; steps, confident
fraction, histogram, sampling NFE and seconds, whether the target is met) and a summary line. The run's
folder (``--out``) is a checkpoint of the last chunk, usable as a pretrained model. Run:

    .venv/bin/python benchmarks/mnist_quality.py mnist-dcgan-ns --minutes 10 --eval-every 1000
    .venv/bin/python benchmarks/mnist_quality.py mnist-vp-ggf --minutes 20 --eval-every 1500 --n 500

Other flags are passed to ``train`` (hyper-parameter overrides, e.g. ``--lr 1e-3``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time

import torch

from gentoolkit import cli, presets

TARGETS = {"gan": (0.65, 10.0), "ncsn": (0.80, 20.0), "vp": (0.80, 20.0)}


def _cli(argv: list[str]) -> dict | None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(argv)
    if code != 0:
        raise SystemExit(f"gentoolkit {' '.join(argv)} failed with exit code {code}")
    text = out.getvalue().strip()
    return json.loads(text) if text else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("preset", choices=presets.names())
    ap.add_argument("--minutes", type=float, default=None, help="stop after this much wall time (default: target)")
    ap.add_argument("--eval-every", type=int, default=1000, help="training steps between evaluations")
    ap.add_argument("--n", type=int, default=1000, help="samples per evaluation")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="the run's folder (default: a temporary one)")
    args, overrides = ap.parse_known_args()
    args.overrides = [a for a in overrides if a != "--"]  # train's hyper-parameter flags, e.g. --lr 1e-3
    torch.set_num_threads(args.threads)
    kind = presets.get(args.preset).config.kind
    goal, minutes_goal = TARGETS[kind]
    limit = minutes_goal if args.minutes is None else args.minutes
    out = args.out or tempfile.mkdtemp(prefix=f"{args.preset}-")
    t0, first, k, train_s = time.perf_counter(), None, 0, 0.0
    while True:
        k += 1
        steps = k * args.eval_every
        argv = ["train", args.preset, "--out", out, "--steps", str(steps), "--no-progress", *args.overrides]
        t1 = time.perf_counter()
        _cli(argv + (["--resume"] if k > 1 else []))
        t2 = time.perf_counter()
        train_s += t2 - t1
        ev = _cli(["evaluate", "--run", out, "--n", str(args.n), "--device", "cpu", "--no-progress"])
        minutes = (time.perf_counter() - t0) / 60
        # what a student waits for `train --steps S` and then one `evaluate`: the earlier evaluations
        # of this curve are not part of it
        student = (train_s + time.perf_counter() - t2) / 60
        hist = [round(h, 3) for h in ev["samples"]["histogram"]]
        ok = ev["samples"]["confident"] >= goal and min(hist) >= 0.05 and max(hist) <= 0.15 and student < minutes_goal
        row = {
            "minutes": round(minutes, 2),
            "train_and_eval_minutes": round(student, 2),
            "steps": steps,
            "confident": round(ev["samples"]["confident"], 3),
            "histogram": hist,
            "nfe": ev["nfe"],
            "sampling_s": ev["seconds"],
            "meets_target": ok,
        }
        print(json.dumps(row), flush=True)
        if ok and first is None:
            first = row
        if minutes >= limit:
            break
    target = {"confident": goal, "classes": [0.05, 0.15], "minutes": minutes_goal}
    print(json.dumps({"summary": True, "preset": args.preset, "target": target, "first_meeting_target": first,
                      "run": out, "threads": args.threads, "n": args.n}))  # fmt: skip


if __name__ == "__main__":
    main()
