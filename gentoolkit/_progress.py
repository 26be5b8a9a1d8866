"""Progress bars for long loops (samplers, likelihoods), like the training loops show.

``progress=None`` (the default of every sampler) shows a bar only when a run makes more than
``THRESHOLD`` score calls, so a quick call in a notebook or a test stays quiet; ``True`` always
shows one, ``False`` never (the widgets pass ``False``: a bar under a slider would flicker).
"""

from __future__ import annotations

from tqdm.auto import tqdm

#: score calls above which ``progress=None`` shows a bar
THRESHOLD = 300


def progress_bar(total: int, progress: bool | None, calls: int, desc: str, unit: str = "step"):
    """A tqdm bar over ``total`` iterations, shown when ``progress`` is True, or when it is None
    and the run makes more than ``THRESHOLD`` score calls (``calls``); a disabled bar (which
    costs nothing per update) otherwise. Use as a context manager and call ``update()``."""
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None (automatic), got {progress!r}")
    show = progress if progress is not None else calls > THRESHOLD
    return tqdm(total=total, desc=desc, unit=unit, disable=not show, leave=False)
