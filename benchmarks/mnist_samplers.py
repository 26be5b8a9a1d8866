"""Score calls (NFE) against sample quality for the SDE solvers on the pretrained MNIST score model.

The pretrained ``mnist-vp-ggf`` model (:mod:`gentoolkit.pretrained`) is sampled with
Euler-Maruyama at several step counts, predictor-corrector (reverse diffusion + one Langevin
corrector step, snr 0.16: two score calls per step) at several step counts, Gotta Go Fast
(001 Alg. 6) at several tolerances eps_rel, and the deterministic samplers beyond the thesis
(:mod:`gentoolkit.sde.fast_samplers`): DDIM (eta 0; Song et al. 2021, Eq. 12), EDM's Heun
sampler (Karras et al. 2022, Alg. 1: rho 7, no churn; two score calls per step) and
DPM-Solver++(2M) (Lu et al. 2022, Alg. 2, log-SNR grid) at a few step counts, all from the same
prior noise (``--seed``), all denoised with Tweedie's formula at t_eps. Quality is the
fraction of samples that gentoolkit's digit classifier gives >= 0.9 probability
(:func:`gentoolkit.metrics.digit_quality`), with its binomial standard error
sqrt(p (1 - p) / n), the class histogram, and FID-MNIST (:func:`gentoolkit.metrics.fid_mnist`:
the Fréchet distance on the classifier's 64-d features against the 10,000 MNIST test digits;
not comparable with an Inception FID, and biased upwards at small n, so compare only rows with
the same n). The confident fraction rewards clean but
over-smoothed digits; FID-MNIST also sees missing detail and diversity.

The summary line answers the thesis' question (001 Table 10.1: Euler-Maruyama needs 5.6x the
score calls of GGF at equal FID on CIFAR-10): how many score calls Euler-Maruyama needs to reach
the FID-MNIST that GGF reaches at each tolerance (and each other sampler at each setting), read
off EM's curve by linear interpolation in log NFE between the two step counts that bracket it
(None when EM never reaches it), and the ratio to that sampler's calls; ``em_same_*_at_most``
marks a row whose quality EM's fewest steps already reach, so the EM calls and the ratio are only
upper bounds. The first line judges n real training digits the same way: the floor that
FID-MNIST at this n cannot go below, and (``fid_mnist_of_chunks``) the spread of FID-MNIST over
``--fid-chunks`` disjoint chunks of n real digits: its own noise at this n, against which
differences between rows are to be read (at n = 128 its sd was 9.0 on a mean of 29.8: rows
within 10-20 of each other are not told apart).

Prints one JSON line per sampler setting and a summary line. Run (with the preset's 966k-parameter
U-Net, n = 128 in float32 took 10 minutes on 2 idle cores, EM, PC and GGF 8.5 of them; bf16
halves it; time grows with ``--n``, standard errors shrink with its square root; an empty list,
e.g. ``--em ""``, skips a sampler):

    .venv/bin/python benchmarks/mnist_samplers.py --n 512 --precision bf16
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import statistics
import time
from pathlib import Path

import torch

from gentoolkit import pretrained
from gentoolkit.data.images import MNIST, find_root
from gentoolkit.metrics import digit_quality, fid_mnist, load_digit_classifier
from gentoolkit.runs import IMAGE_SHAPE, sde_of
from gentoolkit.sde import sample


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v]


def run_one(net, config, method: str, options: dict, n: int, seed: int, precision: str, batch: int, save=None) -> dict:
    """One sampler setting: n samples from ``seed`` (in batches), NFE per batch, seconds, quality;
    the samples are written to ``save`` (a .pt path) when given."""
    sde = sde_of(config)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" else contextlib.nullcontext

    def score(x, t):
        with autocast():
            return net(x, t).float()

    g = torch.Generator().manual_seed(seed)
    xs, nfe, t0 = [], [], time.perf_counter()
    with torch.no_grad():
        for start in range(0, n, batch):
            m = min(batch, n - start)
            res = sample(
                sde,
                score,
                (m, *IMAGE_SHAPE),
                method,
                generator=g,
                denoise=config.denoise,
                t_eps=config.t_eps,
                device="cpu",
                progress=False,
                **options,
            )
            xs.append(res.x.float())
            nfe.append(res.nfe)
    seconds = time.perf_counter() - t0
    x = torch.cat(xs)
    if save is not None:
        torch.save(x, save)
    return {"nfe": round(sum(nfe) / len(nfe), 1), "seconds": round(seconds, 1), **judge(x)}


def judge(x: torch.Tensor) -> dict:
    """Quality of samples x (n, 1, 28, 28): confident fraction, its standard error, histogram, FID-MNIST."""
    n = len(x)
    if not bool(torch.isfinite(x).all()):
        return {"confident": 0.0, "se": 0.0, "fid_mnist": None, "diverged": True}
    classifier = load_digit_classifier("cpu")
    q = digit_quality(x.clamp(-1, 1), classifier)
    p = q["confident"]
    return {
        "confident": round(p, 4),
        "se": round(math.sqrt(p * (1 - p) / n), 4),
        "histogram": [round(float(h), 3) for h in q["histogram"]],
        "fid_mnist": round(fid_mnist(_test_digits(), x.clamp(-1, 1), classifier), 3),
    }


@functools.cache
def _test_digits() -> torch.Tensor:
    mnist = MNIST(find_root(), split="test")
    return mnist.batch(torch.arange(len(mnist)))[0]


def nfe_to_reach(curve: list[tuple[float, float]], target: float) -> tuple[float | None, bool]:
    """The NFE at which a (nfe, quality) curve, sorted by NFE, first reaches ``target``: linear in
    log NFE between the bracketing points; None if it never does. The flag says the NFE is only an
    upper bound: the curve's first point (EM's fewest steps) already reaches the target, so EM
    might need fewer calls than any it was run with."""
    if curve and curve[0][1] >= target:
        return curve[0][0], True
    for (n0, p0), (n1, p1) in zip(curve, curve[1:]):
        if p1 >= target:
            w = (target - p0) / (p1 - p0)
            return math.exp(math.log(n0) + w * (math.log(n1) - math.log(n0))), False
    return None, False


def summary(rows: list[dict], steps: int) -> dict:
    """EM's score calls to reach each other row's FID-MNIST (and confident fraction), and the ratio
    (GGF rows as before: ``ggf_nfe``, ``ggf_fid_mnist``; the others ``method``, ``n_steps``,
    ``nfe``, ``fid_mnist``, ``em_to_this_same_*``)."""
    em = [r for r in rows if r["method"] == "euler_maruyama" and r.get("fid_mnist") is not None]
    by_fid = sorted((r["nfe"], -r["fid_mnist"]) for r in em)  # higher is better: -FID
    by_conf = sorted((r["nfe"], r["confident"]) for r in em)
    ratios = []
    for r in rows:
        if r["method"] == "euler_maruyama" or r.get("fid_mnist") is None:
            continue
        if r["method"] == "ggf":
            out = {"eps_rel": r["eps_rel"], "ggf_nfe": r["nfe"], "ggf_fid_mnist": r["fid_mnist"]}
        else:
            out = {"method": r["method"], "n_steps": r["n_steps"], "nfe": r["nfe"], "fid_mnist": r["fid_mnist"]}
        for key, curve, target in (("fid", by_fid, -r["fid_mnist"]), ("confident", by_conf, r["confident"])):
            need, bound = nfe_to_reach(curve, target)
            out[f"em_nfe_same_{key}"] = None if need is None else round(need, 1)
            ratio = "em_to_ggf" if r["method"] == "ggf" else "em_to_this"
            out[f"{ratio}_same_{key}"] = None if need is None else round(need / r["nfe"], 2)
            out[f"em_same_{key}_at_most"] = bound  # true: EM's fewest steps already match it (ratio <= this)
        ratios.append(out)
    return {"summary": "Euler-Maruyama's score calls at each sampler's quality", "model_steps": steps, "ratios": ratios}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=128, help="samples per setting (the same noise for every setting)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=128, help="samples per solver call")
    ap.add_argument("--em", type=_ints, default=[50, 100, 250, 500], help="Euler-Maruyama step counts")
    ap.add_argument("--pc", type=_ints, default=[50, 125], help="predictor-corrector step counts")
    ap.add_argument("--ggf", type=_floats, default=[0.1, 0.05, 0.02], help="GGF tolerances eps_rel")
    ap.add_argument("--ddim", type=_ints, default=[10, 25, 50], help="DDIM (eta 0) step counts")
    ap.add_argument("--heun", type=_ints, default=[5, 12, 24], help="EDM Heun (rho 7) step counts")
    ap.add_argument("--dpm", type=_ints, default=[5, 10, 25], help="DPM-Solver++(2M) (log-SNR grid) step counts")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="the network's forward passes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--fid-chunks", type=int, default=10, help="disjoint chunks of n real digits whose FID-MNIST spread is printed"
    )
    ap.add_argument("--save", default=None, help="a folder to keep each setting's samples in (METHOD-VALUE.pt)")
    ap.add_argument(
        "--rejudge",
        default=None,
        help="a JSON-lines file of an earlier run with --save: judge its kept samples again, no sampling",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    net, config, info = pretrained.load("mnist-vp-ggf", device="cpu")
    net.eval()
    settings = [("euler_maruyama", {"n_steps": k}) for k in args.em]
    settings += [("pc", {"n_steps": k, "snr": 0.16}) for k in args.pc]
    settings += [("ggf", {"eps_rel": e, "eps_abs": config.eps_abs}) for e in args.ggf]
    settings += [("ddim", {"n_steps": k}) for k in args.ddim]
    settings += [("edm_heun", {"n_steps": k}) for k in args.heun]
    settings += [("dpmpp_2m", {"n_steps": k}) for k in args.dpm]
    if args.rejudge:
        settings = []
        for line in Path(args.rejudge).read_text().splitlines():
            row = json.loads(line)
            if "method" in row:
                settings.append(row)
    # the floor: n real training digits judged the same way (FID-MNIST is biased upwards at small n)
    train = MNIST(find_root(), split="train")
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(args.seed))
    real = {"method": "real training digits", "n": args.n, **judge(train.batch(perm[: args.n])[0])}
    # FID-MNIST's own noise at this n: disjoint chunks of n real digits, each against the test digits
    fids = [judge(train.batch(perm[k * args.n : (k + 1) * args.n])[0])["fid_mnist"] for k in range(args.fid_chunks)]
    if len(fids) > 1:
        real["fid_mnist_of_chunks"] = {
            "chunks": len(fids),
            "mean": round(statistics.mean(fids), 2),
            "sd": round(statistics.stdev(fids), 2),
            "min": min(fids),
            "max": max(fids),
        }
    print(json.dumps(real), flush=True)
    rows = []
    for item in settings:
        if args.rejudge:
            row = {k: v for k, v in item.items() if k not in ("confident", "se", "histogram", "fid_mnist")}
            knob = row.get("n_steps") if row["method"] != "ggf" else row["eps_rel"]
            row.update(judge(torch.load(Path(args.save) / f"{row['method']}-{knob}.pt", weights_only=True)))
        else:
            method, options = item
            row = {"method": method, **options, "n": args.n, "precision": args.precision}
            save = None
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                save = Path(args.save) / f"{method}-{list(options.values())[0]}.pt"
            row.update(run_one(net, config, method, options, args.n, args.seed, args.precision, args.batch, save))
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps(summary(rows, info["steps"])))


if __name__ == "__main__":
    main()
