"""Train the digit classifier of ``gentoolkit.metrics.digits`` with its default recipe and measure it.

Prints one JSON line: training seconds, epochs, test accuracy on the 10,000 MNIST test digits,
and ``digit_quality`` (confident fraction at 0.9 and mean confidence) on real test images, on
uniform noise in [-1, 1] and on Gaussian-blurred test images (sigma 1.5 pixels). Targets:
accuracy >= 0.985 in under ~3 minutes on 2 CPU cores.

With ``--write`` the weights are written atomically to gentoolkit/metrics/weights/digits.pt and
the sha256 to paste into ``DIGITS_SHA256`` is printed.
Run: .venv/bin/python benchmarks/digit_classifier.py [--write] [--epochs 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from gentoolkit.data.images import MNIST
from gentoolkit.metrics import digits
from gentoolkit.train import save_checkpoint


def gaussian_blur(x: torch.Tensor, sigma: float = 1.5, radius: int = 4) -> torch.Tensor:
    """Separable Gaussian blur of (n, 1, 28, 28) images, background (-1) padding."""
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    xp = F.pad(x, (radius,) * 4, value=-1.0)
    xp = F.conv2d(xp, k.view(1, 1, 1, -1))
    return F.conv2d(xp, k.view(1, 1, -1, 1))


def quality(images, net) -> dict:
    q = digits.digit_quality(images, net)
    return {"confident": round(q["confident"], 4), "mean_confidence": round(q["mean_confidence"], 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--write", action="store_true", help="write the weights to " + str(digits.WEIGHTS_PATH))
    args = ap.parse_args()
    torch.set_num_threads(2)
    train, test = MNIST(split="train"), MNIST(split="test")
    t = time.perf_counter()
    net = digits.train_digit_classifier(train, epochs=args.epochs, seed=args.seed, device=args.device, progress=False)
    secs = time.perf_counter() - t
    net = net.cpu()
    x = test.images()
    with torch.no_grad():
        acc = float((net(x).argmax(1) == test.targets).double().mean())
    noise = torch.rand(10_000, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    result = {
        "benchmark": "digit_classifier",
        "device": args.device,
        "seconds": round(secs, 1),
        "epochs": args.epochs,
        "seed": args.seed,
        "parameters": sum(p.numel() for p in net.parameters()),
        "test_accuracy": round(acc, 4),
        "real": quality(x, net),
        "uniform_noise": quality(noise, net),
        "blurred_sigma1.5": quality(gaussian_blur(x), net),
        "target": {"test_accuracy": 0.985, "seconds": 180},
    }
    if args.write:
        state = digits.weights_state(
            net, test_accuracy=round(acc, 4), epochs=args.epochs, seed=args.seed, torch=str(torch.__version__)
        )
        save_checkpoint(digits.WEIGHTS_PATH, state)
        torch.load(digits.WEIGHTS_PATH, weights_only=True)  # what load_digit_classifier will do
        result["written"] = str(digits.WEIGHTS_PATH)
        result["sha256"] = digits._sha256(digits.WEIGHTS_PATH)
    print(json.dumps(result))
    if args.write:
        print(f'DIGITS_SHA256 = "{result["sha256"]}"')


if __name__ == "__main__":
    main()
