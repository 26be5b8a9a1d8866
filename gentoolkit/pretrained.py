"""Pretrained MNIST models: small files made by the command line's own presets, shipped with the
package so that a 90-minute lab can sample from a trained model without waiting for training.

A pretrained file is the sampling network of a run, nothing else: the EMA weights (the GAN's
generator, or the score model), the preset's name and every hyper-parameter, and the number of
training steps. The command line writes one from a finished run::

    python -m gentoolkit train mnist-dcgan-ns --out runs/dcgan
    python -m gentoolkit export --run runs/dcgan --out gentoolkit/pretrained_weights/mnist-dcgan-ns.pt

(:func:`export`; the write is atomic). :func:`load` reads one with ``torch.load(weights_only=True)``
after checking its sha256 against :data:`PRETRAINED` (for the shipped files), rebuilds the
network from the hyper-parameters (:func:`gentoolkit.runs.build_model`) and returns it in eval
mode with its config; :func:`gentoolkit.runs.draw_samples` samples from it the way ``python -m
gentoolkit sample`` does. The README lists each shipped model's command and quality.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path

import torch

from gentoolkit import presets
from gentoolkit.config import resolve_device
from gentoolkit.runs import build_model

__all__ = ["FORMAT", "PRETRAINED", "QUALITY", "PRETRAINED_DIR", "export", "file_state", "load", "names", "sha256"]

FORMAT = 1
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained_weights"

#: The shipped models: name -> sha256 of ``PRETRAINED_DIR / f"{name}.pt"``, written by
#: ``python -m gentoolkit export`` (which prints the checksum) from the command in the README.
PRETRAINED: dict[str, str] = {
    "mnist-dcgan-ns": "fd73c8ca0324e87d75c2e1bf0ac98d72b5d7fadccf8f7327e0c80cef87d61b99",
    "mnist-vp-ggf": "b5fb5f48e582a1499b73568fe117a53b25e54f8154348f752361e30f230268c0",
}

#: Their quality as benchmarks/mnist_quality.py measured it (``evaluate --n N``, seed 0): the
#: fraction of samples the digit classifier gives >= 0.9, and over how many samples.
QUALITY: dict[str, dict] = {
    "mnist-dcgan-ns": {"confident": 0.678, "n": 1000, "steps": 8000},
    "mnist-vp-ggf": {"confident": 0.82, "n": 200, "steps": 4000},
}


def names() -> list[str]:
    """The names of the shipped pretrained models."""
    return sorted(PRETRAINED)


def sha256(path) -> str:
    """The sha256 hex digest of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _net_key(config) -> str:
    return "generator" if config.kind == "gan" else "model"


def file_state(preset: str, config, weights: dict, steps: int) -> dict:
    """What a pretrained file holds (plain values and float32 CPU tensors, as
    ``torch.load(weights_only=True)`` reads them)."""
    hyper = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}
    return {
        "format": FORMAT,
        "preset": preset,
        "kind": config.kind,
        "hyper": hyper,
        "steps": int(steps),
        "weights": {
            k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype) for k, v in weights.items()
        },
    }


def export(preset: str, config, weights: dict, steps: int, path) -> dict:
    """Write the pretrained file of a run's sampling network to ``path`` (atomically: a temporary
    file in the same folder, then a rename). Returns ``{"path", "bytes", "sha256"}``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(file_state(preset, config, weights, steps), tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": sha256(path)}


def load(name_or_path, device=None) -> tuple[torch.nn.Module, object, dict]:
    """A pretrained model: ``(network, config, info)``.

    Args:
        name_or_path: a name of :func:`names` (the shipped file, its sha256 checked against
            :data:`PRETRAINED`), or the path of a file written by :func:`export` (not checked:
            it is yours).
        device: where the network goes (None: cuda when available).

    Returns the sampling network in eval mode (the GAN's generator or the score model), its
    checked preset config (:mod:`gentoolkit.presets`), and ``info`` = {"preset", "steps",
    "path"}. Raises ValueError for an unknown name, a checksum that differs or a file that is
    not a pretrained model, FileNotFoundError for a missing file.
    """
    dev = resolve_device(device)
    if isinstance(name_or_path, str) and name_or_path in PRETRAINED:
        path = PRETRAINED_DIR / f"{name_or_path}.pt"
        if not path.is_file():
            raise FileNotFoundError(f"the pretrained model {name_or_path!r} is missing: {path} does not exist")
        found = sha256(path)
        if found != PRETRAINED[name_or_path]:
            raise ValueError(
                f"the pretrained model {str(path)!r} has sha256 {found}, expected {PRETRAINED[name_or_path]}: "
                "the file is modified or corrupt; restore it from git"
            )
    elif isinstance(name_or_path, (str, os.PathLike)) and (
        os.fspath(name_or_path).endswith(".pt") or os.sep in os.fspath(name_or_path)
    ):
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist")
    else:
        raise ValueError(
            f"name_or_path={name_or_path!r} is neither a pretrained model ({names()}) nor the path of a .pt file"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch.load raises many types on a file that is not a checkpoint
        raise ValueError(f"cannot read {path} as a pretrained model: {type(e).__name__}: {e}") from None
    keys = {"preset", "kind", "hyper", "weights"}
    if not isinstance(state, dict) or state.get("format") != FORMAT or not keys <= set(state):
        raise ValueError(f"{path} is not a gentoolkit pretrained model (format {FORMAT})")
    config = presets.from_dict(state["kind"], state["hyper"])
    net = build_model(config)[_net_key(config)]
    net.load_state_dict(state["weights"])
    info = {"preset": state["preset"], "steps": state.get("steps"), "path": str(path)}
    return net.to(dev).eval(), config, info
