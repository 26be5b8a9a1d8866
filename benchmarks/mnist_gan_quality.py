"""How fast an MNIST GAN gets good on CPU: the quality curve of a DCGAN recipe against wall time.

Quality is judged by gentoolkit's digit classifier (:mod:`gentoolkit.metrics.digits`): the fraction
of samples it gives >= 0.9 probability, and the class histogram (every class should be near 10%).
The issue's target: >= 65% confident with every class between 5% and 15%, in under 10 minutes
of wall time on 2 cores, evaluation included.

Prints one JSON line per evaluation (minutes, steps, confident fraction of the EMA generator and of
the raw generator, histogram) and a summary line. Run:

    .venv/bin/python benchmarks/mnist_gan_quality.py [--minutes 10] [--eval-every 250] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from gentoolkit.data.images import MNIST
from gentoolkit.gan import GANTrainer
from gentoolkit.metrics import digit_quality, load_digit_classifier
from gentoolkit.nets import DCGANDiscriminator, DCGANGenerator
from gentoolkit.train import EMA


@torch.no_grad()
def _quality(G, clf, z) -> dict:
    mode = G.training
    G.eval()
    try:
        return digit_quality(G(z), clf)
    finally:
        G.train(mode)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--latent", type=int, default=100)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast for the training steps")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    data = MNIST(split="train")
    G = DCGANGenerator(latent_dim=args.latent, width=args.width, seed=args.seed)
    D = DCGANDiscriminator(width=args.width, seed=args.seed + 1)
    trainer = GANTrainer(
        data, G, D, loss="ns", setup="dcgan", lr_g=args.lr, lr_d=args.lr, batch_size=args.batch, seed=args.seed,
        device="cpu", n_eval=16,
    )  # fmt: skip
    ema = EMA(G, args.ema)
    clf = load_digit_classifier()
    z = torch.randn(1000, args.latent, generator=torch.Generator().manual_seed(123))
    best = None
    while True:
        for _ in range(args.eval_every):
            if args.bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    trainer.step()
            else:
                trainer.step()
            ema.update()
        q_ema, q_raw = _quality(ema.module, clf, z), _quality(G, clf, z)
        minutes = (time.perf_counter() - t0) / 60
        hist = [round(h, 3) for h in q_ema["histogram"].tolist()]
        ok = q_ema["confident"] >= 0.65 and 0.05 <= min(hist) and max(hist) <= 0.15
        row = {
            "minutes": round(minutes, 2),
            "steps": trainer.steps,
            "confident_ema": round(q_ema["confident"], 3),
            "confident_raw": round(q_raw["confident"], 3),
            "histogram_ema": hist,
            "meets_target": ok,
        }
        print(json.dumps(row), flush=True)
        if ok and best is None:
            best = row
        if minutes >= args.minutes:
            break
    print(json.dumps({"summary": True, "first_time_meeting_target": best, "args": vars(args)}))


if __name__ == "__main__":
    main()
