"""Run-time settings shared by the package and the notebooks.

``GENTOOLKIT_FAST=1`` (set by ``make test``) puts notebooks in *fast mode*: the same code
path with fewer steps and less data. Notebooks ask for sizes through :func:`fast`, so a
notebook never branches into different code under test.
"""

from __future__ import annotations

import os

import torch

FAST: bool = os.environ.get("GENTOOLKIT_FAST", "0").strip().lower() not in ("", "0", "false", "no")


def fast(full, quick):
    """Return ``quick`` in fast mode (``GENTOOLKIT_FAST=1``), else ``full``.

    >>> n_steps = fast(3000, 200)  # 3000 training steps normally, 200 under test
    """
    return quick if FAST else full


def default_device() -> torch.device:
    """``cuda`` when a GPU is available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device) -> torch.device:
    """Turn ``None`` / ``"cpu"`` / ``"cuda"`` / ``torch.device`` into a ``torch.device``.

    ``None`` means :func:`default_device`. Raises ``ValueError`` for an unknown name and
    for ``cuda`` on a machine without a GPU, naming the argument.
    """
    if device is None:
        return default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device={device!r} is not a device; expected 'cpu', 'cuda' or None") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but no CUDA GPU is available; use 'cpu'")
    return dev


def device_for(fn, device=None) -> torch.device:
    """Where to evaluate ``fn``: ``device`` when given (see :func:`resolve_device`); else the
    device of ``fn``'s parameters when it is a ``torch.nn.Module`` that has some (a network
    trained on a GPU stays there); else :func:`default_device` (``cuda`` when available)."""
    if device is not None:
        return resolve_device(device)
    if isinstance(fn, torch.nn.Module):
        p = next(fn.parameters(), None)
        if p is not None:
            return p.device
    return default_device()
