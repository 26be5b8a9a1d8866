"""Argument handling and checks shared by the widgets."""

from __future__ import annotations

import torch

from gentoolkit.config import device_for

BLOWUP = 1e3  # samples farther than this many times the data's extent have diverged


def choice(name: str, value, options):
    """``value`` if it is one of ``options``, else a ValueError naming the argument and the options."""
    if value not in options:
        raise ValueError(f"unknown {name}={value!r}; expected one of {list(options)}")
    return value


def score_fns(score_fn, dataset: str, names: list[str]) -> dict:
    """Normalise ``score_fn`` (None, a callable for ``dataset``, or {name: callable})."""
    if dataset not in names:
        raise ValueError(f"unknown dataset={dataset!r}; expected one of {names}")
    if score_fn is None:
        return {}
    if not isinstance(score_fn, dict):
        if not callable(score_fn):
            raise TypeError(f"score_fn must be callable or a dict of callables, got {type(score_fn).__name__}")
        return {dataset: score_fn}
    for name, f in score_fn.items():
        if name not in names or not callable(f):
            raise ValueError(f"score_fn keys must be dataset names {names} with callable values; got {name!r}")
    return dict(score_fn)


def widget_device(device, nets) -> torch.device:
    """Where a widget computes: :func:`gentoolkit.config.device_for` applied to the first score
    network (an ``nn.Module`` with parameters) among ``nets``: ``device`` when given, else that
    network's device, else ``cuda`` when available."""
    modules = [f for f in nets if isinstance(f, torch.nn.Module) and next(f.parameters(), None) is not None]
    return device_for(modules[0] if modules else None, device)


def diverged_step(states: torch.Tensor, extent: float):
    """The first index along dim 0 of ``states`` (T, n, ...) whose samples are not all finite
    or lie beyond ``BLOWUP * extent`` (a run that has blown up), or None."""
    bad = ~torch.isfinite(states) | (states.abs() > BLOWUP * extent)
    rows = bad.flatten(1).any(1)
    return int(rows.nonzero()[0, 0]) if bool(rows.any()) else None
