"""Wall time of every sample metric on Inception-sized features: two sets of n x d (default
10,000 x 2048, float32, the FID protocol's size). Target: each under 10 s on 2 CPU cores.

Prints one JSON line per metric: {"metric", "n", "d", "seconds", "value", "target_s"}. The
features are random (a real set and a shifted, rescaled fake set), so the values mean nothing;
the times are what the metrics cost at that size. Run:

    .venv/bin/python benchmarks/metrics_speed.py [--n 10000] [--d 2048] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from gentoolkit.metrics import density_coverage, fid, kid, mmd, precision_recall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--d", type=int, default=2048)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    real = torch.randn(args.n, args.d, generator=g).relu().to(args.device)  # pool features are >= 0
    fake = (1.1 * torch.randn(args.n, args.d, generator=g) + 0.05).relu().to(args.device)
    metrics = {
        "fid": lambda: fid(real, fake),
        "kid (100 subsets of 1000)": lambda: kid(real, fake),
        "mmd (rbf, median bandwidth)": lambda: mmd(real, fake),
        "precision_recall (k=3)": lambda: precision_recall(real, fake, 3),
        "density_coverage (k=5)": lambda: density_coverage(real, fake, 5),
    }
    for name, fn in metrics.items():
        t0 = time.perf_counter()
        value = fn()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        row = {"metric": name, "n": args.n, "d": args.d, "device": args.device, "seconds": round(seconds, 2)}
        print(json.dumps({**row, "value": value, "target_s": 10}), flush=True)


if __name__ == "__main__":
    main()
