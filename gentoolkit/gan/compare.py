"""GANs side by side: train several setups (losses, regularizers, tricks, optimiser settings) on
the same data from the same initial networks and the same random stream, and measure each with
the same mode statistics (:func:`gentoolkit.metrics.mode_stats`). Notebook 05 compares losses,
the tricks against mode collapse (lecture 004: "the generator of a GAN collapses to one or few
distribution modes"; the 2D grids of assignment 003) and the relativistic losses of thesis 001,
Ch. 4 with it.

Each setup is a dict of :func:`gentoolkit.gan.train.train_gan` arguments (``loss``,
``regularizer``, ``lr_g``, ``betas``, ``unrolled_steps``, ...); what is not in it comes from
:func:`compare`'s arguments, so every run differs from the others only by what its setup says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from gentoolkit._checks import positive_int
from gentoolkit.gan.train import GANHistory, train_gan
from gentoolkit.metrics import mode_stats
from gentoolkit.nets import MLPDiscriminator, MLPGenerator

#: train_gan arguments a setup may not set: compare() owns the networks, the length and the seed.
_OWNED = ("n_steps", "seed", "n_eval", "log_every", "progress", "device", "mixture")


@dataclass
class GANRun:
    """One trained setup: its ``setup`` (the train_gan arguments it changed), the training
    ``history``, ``samples`` (G on fresh noise, CPU, ``n_samples`` points), their ``stats``
    (:func:`gentoolkit.metrics.mode_stats`: ``covered``, ``modes``, ``kl``, ``high_quality``)
    and ``seconds`` (training wall time); ``generator`` and ``critic`` are the trained networks
    (in eval mode)."""

    setup: dict
    history: GANHistory
    samples: torch.Tensor = field(repr=False)
    stats: dict
    seconds: float
    generator: torch.nn.Module = field(repr=False, compare=False)
    critic: torch.nn.Module = field(repr=False, compare=False)


def compare(
    mixture,
    setups: dict,
    *,
    n_steps: int,
    seed: int = 0,
    hidden: int = 128,
    depth: int = 3,
    n_samples: int = 2048,
    log_every: int | None = None,
    device="cpu",
    progress: bool = False,
) -> dict[str, GANRun]:
    """Train one fresh generator / critic pair per entry of ``setups`` (name -> dict of
    :func:`~gentoolkit.gan.train.train_gan` arguments) on ``mixture`` for ``n_steps`` generator
    steps and return name -> :class:`GANRun`, in the order given.

    Every run starts from the same networks (``MLPGenerator(seed=seed)`` and
    ``MLPDiscriminator(seed=seed + 100)``, ``hidden`` wide and ``depth`` deep, as in
    tests/test_gan_train.py) and the same training seed, and its samples are G on the same
    noise, so the runs differ only by their setups. The mode counts are logged ``log_every``
    steps (default: 10 times per run) on ``n_samples`` points.
    """
    if not isinstance(setups, dict) or not setups:
        raise TypeError(f"setups must be a non-empty dict name -> dict of train_gan arguments, got {setups!r}")
    n_steps = positive_int("n_steps", n_steps)
    n_samples = positive_int("n_samples", n_samples)
    log_every = max(1, n_steps // 10) if log_every is None else positive_int("log_every", log_every)
    for name, setup in setups.items():
        if not isinstance(setup, dict):
            raise TypeError(f"setups[{name!r}] must be a dict of train_gan arguments, got {type(setup).__name__}")
        owned = sorted(set(setup) & set(_OWNED))
        if owned:
            raise ValueError(f"setups[{name!r}] sets {owned}: these are compare()'s arguments, the same for every run")
    runs = {}
    for name, setup in setups.items():
        G = MLPGenerator(hidden=hidden, depth=depth, seed=seed)
        D = MLPDiscriminator(hidden=hidden, depth=depth, seed=seed + 100)
        history = train_gan(
            mixture,
            G,
            D,
            n_steps=n_steps,
            seed=seed,
            n_eval=n_samples,
            log_every=log_every,
            device=device,
            progress=progress,
            **setup,
        )
        z = torch.randn(n_samples, G.latent_dim, generator=torch.Generator().manual_seed(seed + 1))
        with torch.no_grad():
            samples = G(z.to(next(G.parameters()))).cpu()
        runs[name] = GANRun(dict(setup), history, samples, mode_stats(samples, mixture), history.seconds, G, D)
    return runs


def table(runs: dict, *, extra: dict | None = None) -> str:
    """A markdown table of the runs: modes covered (of K), the KL of the mode histogram from the
    mixture's weights (nats; 0 = every mode at its weight), the fraction of samples within 3 std
    of a mode, and the training time. ``extra``: more rows, name -> (stats dict, seconds), e.g. a
    score model measured with the same :func:`~gentoolkit.metrics.mode_stats`."""
    rows = [(name, r.stats, r.seconds) for name, r in runs.items()]
    rows += [(name, stats, seconds) for name, (stats, seconds) in (extra or {}).items()]
    lines = [
        "| run | modes covered | KL(mode histogram ‖ weights) | within 3 std of a mode | training time |",
        "|---|---|---|---|---|",
    ]
    for name, st, seconds in rows:
        kl = "∞" if not math.isfinite(st["kl"]) else f"{st['kl']:.3f}"
        lines.append(
            f"| {name} | {st['covered']} / {st['modes']} | {kl} | {100 * st['high_quality']:.0f}% | {seconds:.1f} s |"
        )
    return "\n".join(lines)
