"""Time DSM training of the 2D score MLP on "8gaussians" to the issue's accuracy target.

Prints one JSON line: wall time, steps, and the relative L2 score error (averaged over ten
sigma in [0.1, 1], x ~ p_sigma) per seed. Target: error < 0.15 in under 60 s on 2 CPU cores.
Run: .venv/bin/python benchmarks/dsm_train_time.py [--seeds 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from gentoolkit.data import toy2d
from gentoolkit.metrics import score_error
from gentoolkit.nets import ScoreMLP
from gentoolkit.train import train_score


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(2)
    mix = toy2d.get("8gaussians")
    sigmas = torch.logspace(-1.3, 0.5, 40)
    runs = []
    for seed in range(args.seeds):
        net = ScoreMLP(data_std=2.0, seed=seed)
        t = time.perf_counter()
        train_score(net, mix, sigmas, n_steps=args.steps, seed=seed, progress=False, device=args.device)
        secs = time.perf_counter() - t
        err = score_error(net, mix, torch.logspace(-1, 0, 10), n=8192, seed=123, device=args.device).mean().item()
        runs.append({"seed": seed, "seconds": round(secs, 2), "score_error": round(err, 4)})
    print(
        json.dumps(
            {
                "benchmark": "dsm_8gaussians",
                "device": args.device,
                "steps": args.steps,
                "batch_size": 1024,
                "runs": runs,
                "target": {"score_error": 0.15, "seconds": 60},
            }
        )
    )


if __name__ == "__main__":
    main()
