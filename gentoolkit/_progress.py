"""Progress bars for long loops (``tqdm.auto``, as :mod:`gentoolkit.train`).

Every sampler (``gentoolkit.sampling``: ALS, CAS, MH, ULA, MALA; ``gentoolkit.sde``: every
solver) and :func:`gentoolkit.sde.log_likelihood` take ``progress``: ``True`` always shows a
bar, ``False`` never (the widgets: a bar under a slider would flicker), ``None`` (the default)
shows one when the run makes more than ``FEW_HUNDRED`` score calls. A fixed grid knows its
count in advance (a bar over its steps); an adaptive solver does not, so its bar runs over time
from the first time to the last and, under ``None``, opens once the count passes
``FEW_HUNDRED``.
"""

from __future__ import annotations

from tqdm.auto import tqdm

#: score calls above which ``progress=None`` shows a bar
FEW_HUNDRED = 300


def check_progress(progress) -> bool | None:
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r} ({type(progress).__name__})")
    return progress


def steps(n_steps: int, calls_per_step: int, progress, desc: str):
    """``range(n_steps)``, wrapped in a bar when ``progress`` asks for one."""
    show = check_progress(progress)
    if show is None:
        show = n_steps * calls_per_step > FEW_HUNDRED
    return tqdm(range(n_steps), desc=desc, leave=False) if show else range(n_steps)


class TimeBar:
    """A bar over solver time from ``t_start`` to ``t_end`` (either direction)."""

    def __init__(self, t_start: float, t_end: float, progress, desc: str):
        self.t_start, self.span, self.desc = t_start, abs(t_end - t_start), desc
        self.show, self.bar, self.done = check_progress(progress), None, 0.0
        if self.show:
            self._open()

    def _open(self) -> None:
        fmt = "{desc}: {percentage:3.0f}%|{bar}| t {postfix} [{elapsed}<{remaining}]"
        self.bar = tqdm(total=self.span, desc=self.desc, bar_format=fmt, leave=False)

    def wanted(self, calls: int) -> bool:
        """Whether the bar is (or, after ``calls`` score calls, should be) shown: a solver
        reads its current time only then."""
        return self.bar is not None or (self.show is None and calls > FEW_HUNDRED)

    def update(self, t: float, calls: int) -> None:
        """The run has reached time ``t`` after ``calls`` score calls."""
        if not self.wanted(calls):
            return
        if self.bar is None:
            self._open()
        done = min(abs(t - self.t_start), self.span)
        if done > self.done:
            self.bar.set_postfix_str(f"{t:.4g}", refresh=False)
            self.bar.update(done - self.done)
            self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
