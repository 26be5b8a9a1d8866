"""Argument handling shared by the widgets."""

from __future__ import annotations


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
