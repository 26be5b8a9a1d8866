"""Training throughput on 28x28 images: images per second for one GAN step (DCGAN, non-saturating
loss, one critic step per generator step) and one score-model step (ScoreUNet, denoising score
matching), through the trainers' own step code, in float32 and under bf16 autocast.

Prints one JSON line per device (CPU always, CUDA when available): images/s for each model and
precision, and the setting. A GAN step processes batch_size real and 2 x batch_size fake images
(critic and generator step); the number reported is batch_size / seconds per step, the rate at
which training consumes data. Run on 2 CPU cores, as students have:

    .venv/bin/python benchmarks/train_throughput.py [--batch 64] [--steps 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time

import torch

from gentoolkit.gan import GANTrainer
from gentoolkit.nets import DCGANDiscriminator, DCGANGenerator, ScoreUNet, count_parameters
from gentoolkit.score import dsm_loss


def _rate(step, batch: int, steps: int) -> float:
    step()  # warm-up: allocator, autotuning
    step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t)


def _autocast(device: str, bf16: bool):
    return torch.autocast(device, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def measure(device: str, batch: int, steps: int) -> dict:
    data = torch.rand(1024, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = {"device": device, "batch": batch, "threads": torch.get_num_threads()}
    for bf16 in (False, True):
        tag = "bf16" if bf16 else "fp32"
        G, D = DCGANGenerator(seed=0), DCGANDiscriminator(seed=1)
        trainer = GANTrainer(data, G, D, loss="ns", batch_size=batch, device=device, n_eval=16)

        def gan_step(trainer=trainer, bf16=bf16):
            with _autocast(device, bf16):
                trainer.step()

        out[f"gan_{tag}_images_per_s"] = round(_rate(gan_step, batch, steps), 1)
        net = ScoreUNet(seed=0).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        g = torch.Generator().manual_seed(0)
        x = data[:batch].to(device)

        def score_step(net=net, opt=opt, bf16=bf16, x=x, g=g):
            with _autocast(device, bf16):
                loss = dsm_loss(net, x, torch.logspace(-2, 1.7, 100), g)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        out[f"score_{tag}_images_per_s"] = round(_rate(score_step, batch, steps), 1)
    out["gan_parameters"] = count_parameters(G) + count_parameters(D)
    out["score_parameters"] = count_parameters(net)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        print(json.dumps(measure(device, args.batch, args.steps)))


if __name__ == "__main__":
    main()
