"""A small training loop for score models: progress bar, divergence check, atomic and
exactly-resumable checkpoints. Works on CPU and CUDA (``device``).

The pieces every trainer shares live here and are public, so that the GAN trainer
(:mod:`gentoolkit.gan.train`) uses them instead of a copy: :func:`save_checkpoint` /
:func:`load_checkpoint` (atomic write, ``weights_only`` load), :func:`snapshot` /
:func:`apply_snapshot` / :func:`restore` (the state of a run: modules, optimisers, the
random generator, the step), :func:`check_finite` and :class:`TrainingDiverged` (NaN/inf
detection with a likely fix), :func:`batch_sampler` (minibatches from a dataset or a tensor)
and :func:`progress_bar` (tqdm).

Randomness: one CPU ``torch.Generator`` seeded from ``seed`` draws the minibatches, the noise
levels and the noise, so the same seed gives the same run on any device, and its state is
part of the checkpoint, so a resumed run continues exactly where the saved one stopped.
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import math
import numbers
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from gentoolkit._checks import positive_float, positive_int
from gentoolkit.config import resolve_device
from gentoolkit.score.adversarial import adversarial_dsm_losses
from gentoolkit.score.losses import dsm_loss, ssm_loss

LOSSES = {"dsm": dsm_loss, "ssm": ssm_loss}


@dataclass
class TrainResult:
    """What :func:`train_score` returns: the loss of every step since step 0 (a resumed run
    includes the saved history), the number of steps done, the wall time of this call, and the
    EMA-averaged copy of the network (``ema=``; None without one)."""

    history: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    ema: torch.nn.Module | None = None


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite."""


def save_checkpoint(path, state: dict) -> None:
    """Write ``state`` with ``torch.save`` atomically: a temp file in the same folder, then
    ``os.replace``, so a crash mid-write never leaves a truncated checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path, map_location="cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: tensors
    and plain Python containers only, never arbitrary pickled code)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint={str(path)!r} does not exist")
    return torch.load(path, map_location=map_location, weights_only=True)


def apply_snapshot(state: dict, g: torch.Generator, stateful: dict) -> None:
    """Load a :func:`snapshot` into every ``stateful`` object (modules and optimisers, by key)
    and the random generator ``g``."""
    for key, obj in stateful.items():
        obj.load_state_dict(state[key])
    g.set_state(state["generator"].cpu())


def restore(checkpoint, resume: bool, dev, g: torch.Generator, stateful: dict) -> dict | None:
    """With ``resume`` and an existing ``checkpoint``: load it onto ``dev`` and
    :func:`apply_snapshot` it; return the whole state (None otherwise)."""
    if not (resume and checkpoint is not None and Path(checkpoint).is_file()):
        return None
    state = load_checkpoint(checkpoint, map_location=dev)
    apply_snapshot(state, g, stateful)
    return state


def snapshot(step: int, g: torch.Generator, stateful: dict, **extra) -> dict:
    """Everything a resumed run needs: state dicts, the generator state, the step, ``extra``."""
    return {
        **{key: obj.state_dict() for key, obj in stateful.items()},
        "generator": g.get_state(),
        "step": step,
        **extra,
    }


def check_finite(value: torch.Tensor, step: int, what: str, hint: str) -> None:
    """Raise :class:`TrainingDiverged` naming the step, the loss and ``hint`` (the likely fix,
    a sentence) when the scalar ``value`` is NaN or infinite."""
    if not torch.isfinite(value):
        raise TrainingDiverged(
            f"training diverged at step {step}: the {what} loss is {value.item()}. Likely fix: {hint}"
        )


PRECISIONS = ("fp32", "bf16")


def autocast(device, precision: str):
    """The context a training step's forward passes run in: nothing for ``"fp32"``; for ``"bf16"``,
    ``torch.autocast`` to bfloat16 on ``device``'s type (matrix products and convolutions in bf16,
    losses, norms and the weights in float32). On CPUs with bf16 instructions it about doubles the
    images/s of the MNIST nets (``benchmarks/train_throughput.py``); the weights, the optimizer and
    the EMA stay float32, and a run is as deterministic as in float32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not known; expected one of {list(PRECISIONS)}")
    dev = torch.device(device)
    return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16")


class EMA:
    """An exponential moving average of a module's weights (Polyak averaging), the weights score
    models are sampled with (001, Sec. 8.7: EMA .999 on 3-Stacked MNIST, .9999 on CIFAR-10,
    following Song and Ermon 2020) and a common stabilizer of GAN generators.

    After each optimizer step, :meth:`update` sets shadow <- d * shadow + (1 - d) * weight for
    every floating-point parameter and buffer (BatchNorm's running statistics included) and copies
    the others (e.g. ``num_batches_tracked``). The decay d is ``decay``; with ``warmup=True`` it is
    d_t = min(decay, (1 + t) / (10 + t)) at update t = 0, 1, 2, ... (TensorFlow's
    ``ExponentialMovingAverage(num_updates=t)``): a plain EMA of a short run keeps the weight
    decay^t of the random initial weights (5% after 3,000 updates at .999), the warm-up forgets
    them from the start. :attr:`module` is the averaged copy, in eval mode and without gradients:
    sample from it. Its state is part of every checkpoint, and t is the trainer's step, so a resumed
    run continues the average exactly."""

    def __init__(self, module: torch.nn.Module, decay: float = 0.999, *, warmup: bool = False):
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay < 1:
            raise ValueError(f"ema decay must be a number in [0, 1), got {decay!r}")
        if not isinstance(warmup, bool):
            raise TypeError(f"warmup must be True or False, got {warmup!r}")
        self.decay, self.warmup = float(decay), warmup
        self.source = module
        self.module = copy.deepcopy(module).eval().requires_grad_(False)

    def decay_at(self, t: int) -> float:
        """The decay d_t of update number ``t`` (0 for the first)."""
        return min(self.decay, (1 + t) / (10 + t)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, t: int | None = None) -> None:
        """One averaging step; ``t`` (the update's number, the trainer's step) is needed with warm-up."""
        if t is None:
            if self.warmup:
                raise ValueError("EMA(warmup=True).update needs t, the number of the update (0 for the first)")
            t = 0
        elif isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
            raise ValueError(f"t must be an int >= 0 (the number of the update), got {t!r}")
        d = self.decay_at(int(t))
        for shadow, weight in zip(self.module.state_dict().values(), self.source.state_dict().values()):
            if shadow.is_floating_point():
                shadow.lerp_(weight.to(shadow.dtype), 1 - d)
            else:
                shadow.copy_(weight)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)


class RunLog:
    """A CSV file of a run's scalars: a row every ``every`` steps (columns "step" and the keys of the
    first row), and the same scalars to TensorBoard when ``tensorboard`` is a folder and the
    ``tensorboard`` package is installed (silently skipped otherwise: it is optional).

    A run resumed at step ``start`` keeps the rows of the steps before it and drops the later ones
    (logged after the checkpoint it resumed from), so the file reads as one uninterrupted run."""

    def __init__(self, path, *, every: int = 1, start: int = 0, tensorboard=None):
        self.path, self.every = Path(path), positive_int("log_every", every)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept, self.columns = [], None
        if start > 0 and self.path.is_file():
            with open(self.path, newline="") as f:
                reader = csv.DictReader(f)
                self.columns = reader.fieldnames
                kept = [row for row in reader if int(row["step"]) < start]
        self._file = open(self.path, "w", newline="")  # noqa: SIM115 (closed by close())
        self._writer = None
        if self.columns:
            self._start_writer(self.columns)
            self._writer.writerows(kept)
        self._tb = None
        if tensorboard is not None and importlib.util.find_spec("tensorboard") is not None:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(tensorboard), purge_step=start or None)

    def _start_writer(self, columns) -> None:
        self.columns = list(columns)
        self._writer = csv.DictWriter(self._file, self.columns, extrasaction="ignore", restval="")
        self._writer.writeheader()

    def write(self, step: int, values: dict) -> None:
        if step % self.every:
            return
        if self._writer is None:
            self._start_writer(["step", *values])
        self._writer.writerow({"step": step, **values})
        self._file.flush()
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def run_loop(
    step_fn,
    *,
    start: int,
    n_steps: int,
    desc: str,
    progress: bool = True,
    postfix=None,
    state_fn=None,
    checkpoint=None,
    checkpoint_every: int = 500,
    emas=(),
    log=None,
    log_every: int = 1,
    tensorboard=None,
    sample_fn=None,
    sample_every: int = 500,
    sample_dir=None,
    callback=None,
) -> float:
    """The loop every trainer runs (score models, adversarial score matching, GANs): for each step
    from ``start`` to ``n_steps - 1``, ``out = step_fn(step)`` (the step's scalars, a dict), then
    the EMAs' updates, the CSV/TensorBoard row (:class:`RunLog` at ``log``), the progress bar's
    ``postfix(step)``, a checkpoint of ``state_fn(step + 1)`` every ``checkpoint_every`` steps and at
    the end (atomic), a sample grid ``sample_fn()`` saved as ``sample_dir/step_XXXXXX.png`` every
    ``sample_every`` steps and at the end, and ``callback(step, out)``. Returns the wall time."""
    checkpoint_every = positive_int("checkpoint_every", checkpoint_every)
    sample_every = positive_int("sample_every", sample_every)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    if sample_fn is not None and sample_dir is None:
        raise ValueError("sample_dir must be a folder when sample_fn is given (where the PNG grids go)")
    writer = RunLog(log, every=log_every, start=start, tensorboard=tensorboard) if log is not None else None

    def grid(step: int) -> None:
        from gentoolkit.plots import save_image_grid

        save_image_grid(sample_fn(), Path(sample_dir) / f"step_{step:06d}.png")

    t0 = time.perf_counter()
    bar = progress_bar(start, n_steps, progress, desc)
    try:
        for step in bar:
            out = step_fn(step)
            for ema in emas:
                ema.update(step)
            if writer is not None:
                writer.write(step, out)
            if progress and postfix is not None and (step % 50 == 0 or step == n_steps - 1):
                bar.set_postfix(postfix(step))
            if checkpoint is not None and (step + 1) % checkpoint_every == 0:
                save_checkpoint(checkpoint, state_fn(step + 1))
            if sample_fn is not None and (step + 1) % sample_every == 0:
                grid(step + 1)
            if callback is not None:
                callback(step, out)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    if checkpoint is not None:
        save_checkpoint(checkpoint, state_fn(n_steps))
    if sample_fn is not None and n_steps % sample_every:
        grid(n_steps)
    return time.perf_counter() - t0


def _sample_from(sample_fn, model: torch.nn.Module) -> torch.Tensor:
    """``sample_fn(model)`` with ``model`` in eval mode (dropout off), its mode restored after."""
    mode = model.training
    model.eval()
    try:
        with torch.no_grad():
            return sample_fn(model)
    finally:
        model.train(mode)


def _score_hint(lr: float) -> str:
    return f"lower lr (now {lr:g}), or raise the smallest noise level (the loss of tiny sigmas is the stiffest)."


def progress_bar(start: int, n_steps: int, progress: bool, desc: str):
    """A tqdm bar over the steps ``start .. n_steps - 1`` (a resumed run starts part-way)."""
    return tqdm(range(start, n_steps), total=n_steps, initial=start, disable=not progress, desc=desc)


def _cosine(opt: torch.optim.Optimizer, lr: float, step: int, n_steps: int) -> None:
    """lr follows a cosine from lr to lr / 20 over n_steps (a function of the step only)."""
    frac = step / max(1, n_steps - 1)
    for group in opt.param_groups:
        group["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def batch_sampler(data, batch_size: int, device: torch.device):
    """A function ``draw(generator) -> (batch_size, ...)`` batch on ``device``: ``data.sample`` for a
    dataset that draws its own samples (the 2D mixtures), uniform draws with replacement from the
    items of an indexable image dataset (``len`` and ``batch(indices) -> (images, labels)``, e.g.
    :class:`gentoolkit.data.images.MNIST`; labels dropped) or from the rows of a tensor."""
    if hasattr(data, "sample"):
        return lambda g: data.sample(batch_size, g).to(device)
    if hasattr(data, "batch") and hasattr(data, "__len__"):
        if len(data) < 1:
            raise ValueError("data must hold at least one item, got an empty dataset")
        return lambda g: data.batch(torch.randint(len(data), (batch_size,), generator=g), device=device)[0]
    if isinstance(data, torch.Tensor):
        if data.ndim < 2 or data.shape[0] == 0 or not data.is_floating_point():
            raise ValueError(
                f"data tensor must be floating point of shape (N, ...) with N >= 1, got {tuple(data.shape)}"
            )
        return lambda g: data[torch.randint(len(data), (batch_size,), generator=g)].to(device)
    raise TypeError(
        f"data must be a dataset with .sample(n, generator) or .batch(indices), or a tensor, got {type(data).__name__}"
    )


def train_score(
    net: torch.nn.Module,
    data,
    sigmas,
    *,
    loss: str = "dsm",
    n_steps: int = 3000,
    batch_size: int = 1024,
    lr: float = 3e-3,
    lr_decay: bool = True,
    seed: int = 0,
    device=None,
    progress: bool = True,
    checkpoint=None,
    checkpoint_every: int = 500,
    resume: bool = False,
    callback=None,
    ema: float | None = None,
    ema_warmup: bool = False,
    precision: str = "fp32",
    log=None,
    log_every: int = 1,
    tensorboard=None,
    sample_fn=None,
    sample_every: int = 500,
    sample_dir=None,
) -> TrainResult:
    """Train a noise-conditional score network with Adam.

    Args:
        net: a module ``(x, sigma) -> score``; it is moved to ``device`` and trained in place.
        data: a dataset with ``.sample(n, generator)`` (e.g. a ``toy2d`` mixture) or a tensor
            of shape (N, ...) to draw minibatches from.
        sigmas: the noise levels the loss draws from (see :func:`gentoolkit.score.dsm_loss`).
        loss: ``"dsm"`` (denoising) or ``"ssm"`` (sliced, variance-reduced), or any callable
            ``loss(net, x, generator) -> scalar`` (then ``sigmas`` must be None), e.g.
            ``functools.partial(sde_dsm_loss, sde=VPSDE())`` for the SDE models.
        n_steps: total optimisation steps (a resumed run continues up to this number).
        lr / lr_decay: Adam learning rate; with ``lr_decay`` it follows a cosine from lr to
            lr / 20 over ``n_steps`` (a function of the step, so resuming needs no state).
        seed: seeds everything random in the run.
        device: ``"cpu"``, ``"cuda"`` or None (cuda when available).
        progress: show a tqdm progress bar with the running loss.
        checkpoint: a file path; written atomically every ``checkpoint_every`` steps and at
            the end. With ``resume=True`` and an existing file, training continues from it.
        callback: called as ``callback(step, loss)`` after every step (e.g. a live plot).
        ema: None, or the decay of an :class:`EMA` of the network's weights (e.g. 0.999), returned
            as ``result.ema`` and saved in the checkpoint; ``ema_warmup`` starts it with the
            decay min(ema, (1 + t) / (10 + t)) (:class:`EMA`'s ``warmup``), for short runs.
        precision: ``"fp32"`` or ``"bf16"``, the loss's forward pass under bf16 :func:`autocast`.
        log / log_every / tensorboard: a CSV file with the loss every ``log_every`` steps, and a
            TensorBoard folder when the package is installed (:class:`RunLog`).
        sample_fn / sample_every / sample_dir: ``sample_fn(model)`` returns images (n, C, H, W) in
            [-1, 1] sampled from ``model`` (the EMA copy when ``ema`` is set, else the network, in
            eval mode for the call), saved as a PNG grid in ``sample_dir`` every ``sample_every``
            steps and at the end.

    Raises ``TrainingDiverged`` naming the step if the loss becomes NaN or infinite.
    """
    if callable(loss):
        if sigmas is not None:
            raise ValueError("sigmas must be None when loss is a callable (it draws its own noise levels)")
        custom = loss

        def loss_fn(net_, x_, _sigmas, g_):
            return custom(net_, x_, g_)

        loss = getattr(custom, "__name__", None) or getattr(getattr(custom, "func", None), "__name__", "custom")
    elif loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is not known; expected one of {sorted(LOSSES)} or a callable")
    else:
        loss_fn = LOSSES[loss]
    n_steps = positive_int("n_steps", n_steps)
    batch_size = positive_int("batch_size", batch_size)
    checkpoint_every = positive_int("checkpoint_every", checkpoint_every)
    lr = positive_float("lr", lr)
    if not isinstance(net, torch.nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    dev = resolve_device(device)
    autocast(dev, precision)  # checks precision before any work
    net.to(dev).train()
    draw = batch_sampler(data, batch_size, dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(int(seed))
    stateful = {"model": net, "optimizer": opt}
    averaged = None if ema is None else EMA(net, ema, warmup=ema_warmup)
    if averaged is not None:
        stateful["ema"] = averaged
    state = restore(checkpoint, resume, dev, g, stateful)
    history: list[float] = list(state["history"]) if state else []
    start = int(state["step"]) if state else 0

    def step_fn(step: int) -> dict:
        if lr_decay:
            _cosine(opt, lr, step, n_steps)
        x = draw(g)
        with autocast(dev, precision):
            value = loss_fn(net, x, sigmas, g)
        check_finite(value, step, loss, _score_hint(lr))
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        history.append(value.item())
        return {"loss": history[-1]}

    seconds = run_loop(
        step_fn,
        start=start,
        n_steps=n_steps,
        desc=f"{loss} training",
        progress=progress,
        postfix=lambda step: {"loss": f"{sum(history[-50:]) / len(history[-50:]):.4f}"},
        state_fn=lambda step: snapshot(step, g, stateful, history=history, loss_name=loss),
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        emas=[averaged] if averaged is not None else [],
        log=log,
        log_every=log_every,
        tensorboard=tensorboard,
        sample_fn=None if sample_fn is None else lambda: _sample_from(sample_fn, averaged.module if averaged else net),
        sample_every=sample_every,
        sample_dir=sample_dir,
        callback=None if callback is None else lambda step, out: callback(step, out["loss"]),
    )
    net.eval()
    return TrainResult(
        history=history, steps=n_steps, seconds=seconds, ema=None if averaged is None else averaged.module
    )


@dataclass
class AdversarialResult:
    """What :func:`train_adversarial_score` returns: per score-network step, the DSM term and
    the score network's total loss (Eq. 8.5) on the score step's batch, and the loss (Eq. 8.4)
    of the discriminator's last step before it, on that step's own batch."""

    dsm: list[float] = field(default_factory=list)
    score: list[float] = field(default_factory=list)
    disc: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0


def train_adversarial_score(
    net: torch.nn.Module,
    disc: torch.nn.Module,
    data,
    sigmas,
    *,
    lam: float = 1.0,
    n_steps: int = 3000,
    n_disc: int = 1,
    batch_size: int = 1024,
    lr: float = 3e-3,
    lr_disc: float = 1e-3,
    seed: int = 0,
    device=None,
    progress: bool = True,
    checkpoint=None,
    checkpoint_every: int = 500,
    resume: bool = False,
    callback=None,
) -> AdversarialResult:
    """Adversarial score matching (001, Sec. 8.6): for each score-network step, ``n_disc``
    discriminator steps on Eq. 8.4, then one score step on Eq. 8.5 (see
    :mod:`gentoolkit.score.adversarial`). Adam with beta1 = 0, beta2 = 0.9 for both networks:
    App. C.2 used (0, .9) for the score network and (-.5, .9) for the discriminator, but
    torch's Adam forbids a negative beta1, so the discriminator gets the closest allowed value.
    The score network's learning rate follows the cosine of :func:`train_score`. Randomness,
    divergence checks and checkpoints (both networks and optimisers) work as in
    :func:`train_score`; ``callback(step, losses_dict)`` runs after each score step.
    """
    n_steps = positive_int("n_steps", n_steps)
    n_disc = positive_int("n_disc", n_disc)
    batch_size = positive_int("batch_size", batch_size)
    checkpoint_every = positive_int("checkpoint_every", checkpoint_every)
    lr, lr_disc = positive_float("lr", lr), positive_float("lr_disc", lr_disc)
    for name, m in (("net", net), ("disc", disc)):
        if not isinstance(m, torch.nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(m).__name__}")
    dev = resolve_device(device)
    net.to(dev).train()
    disc.to(dev).train()
    draw = batch_sampler(data, batch_size, dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr_disc, betas=(0.0, 0.9))
    g = torch.Generator().manual_seed(int(seed))
    res = AdversarialResult()
    stateful = {"model": net, "disc": disc, "optimizer": opt, "optimizer_disc": opt_d}
    state = restore(checkpoint, resume, dev, g, stateful)
    if state:
        res.dsm, res.score, res.disc = list(state["dsm"]), list(state["score"]), list(state["disc_loss"])
    start = int(state["step"]) if state else 0

    def step_fn(step: int) -> dict:
        _cosine(opt, lr, step, n_steps)
        for _ in range(n_disc):  # the critic's steps, each on a fresh batch
            loss_d = adversarial_dsm_losses(net, disc, draw(g), sigmas, g, lam=lam, part="disc")["disc"]
            check_finite(loss_d, step, "discriminator", _score_hint(lr_disc))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        losses = adversarial_dsm_losses(net, disc, draw(g), sigmas, g, lam=lam, part="score")
        check_finite(losses["score"], step, "adversarial score", _score_hint(lr))
        opt.zero_grad(set_to_none=True)
        losses["score"].backward()
        opt.step()
        res.dsm.append(losses["dsm"].item())
        res.score.append(losses["score"].item())
        res.disc.append(loss_d.item())  # the loss of the critic's last step, on its own batch
        return {"dsm": res.dsm[-1], "score": res.score[-1], "disc": res.disc[-1]}

    seconds = run_loop(
        step_fn,
        start=start,
        n_steps=n_steps,
        desc="adversarial DSM",
        progress=progress,
        postfix=lambda step: {"dsm": f"{sum(res.dsm[-50:]) / len(res.dsm[-50:]):.4f}", "disc": f"{res.disc[-1]:.3f}"},
        state_fn=lambda step: snapshot(step, g, stateful, dsm=res.dsm, score=res.score, disc_loss=res.disc),
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        callback=callback,
    )
    net.eval()
    disc.eval()
    res.steps, res.seconds = n_steps, seconds
    return res
