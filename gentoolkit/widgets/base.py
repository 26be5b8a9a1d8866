"""The widget base class: named controls, a plotly ``FigureWidget`` and ``update()``.

A subclass builds its controls and figure, then calls ``super().__init__``; every change of
a control's value calls :meth:`Widget.update`, which redraws the figure in place. Tests and
benchmarks drive a widget with :meth:`Widget.set` and read what is drawn from
``widget.figure.data`` - no browser involved. :meth:`Widget.save` writes the current figure.

Redraws run with one torch thread: widget tensors are small, and on a machine whose other
cores are busy (a browser, another kernel) torch's thread pool can make small operations
10-100 times slower (measured here: a GGF redraw took 12 s with 2 threads while another
process used a core, 0.5 s with one). The caller's thread setting is restored afterwards.
"""

from __future__ import annotations

import contextlib
import html
import math
import numbers
from pathlib import Path

import ipywidgets as W
import plotly.graph_objects as go
import plotly.io as pio
import torch

MAIN_CLASS = "gentoolkit-main"  # the control a student moves first (the browser tests look for it)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".svg", ".pdf")


class Widget:
    """Base class. Attributes: ``controls`` (name -> ipywidget), ``figure`` (plotly
    FigureWidget), ``readout`` (an HTML line for numbers), ``view`` (the laid-out box),
    ``main`` (the name of the control a student moves first; its moves change the readout;
    a subclass moves it with :meth:`set_main` when another control takes that role)."""

    def __init__(self, controls: dict[str, W.ValueWidget], figure: go.FigureWidget, *, main: str | None = None):
        self.controls = dict(controls)
        self.figure = figure
        self.readout = W.HTML()
        self.readout.add_class("gentoolkit-readout")
        self.main = None
        if main is not None:
            self.set_main(main)
        self._held = False
        for c in self.controls.values():
            c.observe(self._on_change, names="value")
        # one box whose controls wrap on narrow screens (a control hidden with set_used() leaves no
        # gap); the figure takes the cell's width (no fixed width), so nothing scrolls sideways
        # at 1280 px with JupyterLab's sidebar open
        box = W.HBox(list(self.controls.values()), layout=W.Layout(flex_flow="row wrap"))
        self.figure.layout.autosize = True
        self.view = W.VBox([box, self.figure, self.readout])
        self.view.add_class("gentoolkit-widget")  # how the browser tests find widgets
        self._redraw()

    # Subclasses redraw here, reading self.value(name) for each control.
    def update(self) -> None:
        raise NotImplementedError

    def value(self, name: str):
        return self.controls[name].value

    def set_main(self, name: str) -> None:
        """Make control ``name`` the main one (CSS class ``gentoolkit-main``, ``self.main``)."""
        if name not in self.controls:
            raise ValueError(f"unknown control {name!r}; this widget has {sorted(self.controls)}")
        if self.main is not None and self.main != name:
            self.controls[self.main].remove_class(MAIN_CLASS)
        self.controls[name].add_class(MAIN_CLASS)
        self.main = name

    def set_used(self, name: str, used: bool) -> None:
        """Show and enable control ``name`` when ``used``, else hide and disable it (a knob
        the current choice does not use)."""
        c = self.controls[name]
        c.disabled = not used
        c.layout.display = None if used else "none"

    #: torch threads a redraw runs with: 1 (small tensors, see the module docstring), or None to
    #: keep the caller's setting (a subclass whose batches are large, e.g. a U-Net on images)
    redraw_threads: int | None = 1

    def _redraw(self) -> None:
        threads = torch.get_num_threads()
        if self.redraw_threads is not None:
            torch.set_num_threads(self.redraw_threads)
        try:
            self.update()
        finally:
            torch.set_num_threads(threads)

    def _on_change(self, change) -> None:
        if not self._held:
            self._redraw()

    @contextlib.contextmanager
    def hold(self):
        """Change several controls and redraw once at the end."""
        self._held = True
        try:
            yield
        finally:
            self._held = False
        self._redraw()

    @contextlib.contextmanager
    def quietly(self):
        """Change controls without redrawing (a subclass keeping one control in step with
        another, e.g. a slider's range with the value that sets it)."""
        held, self._held = self._held, True
        try:
            yield
        finally:
            self._held = held

    def set(self, **values) -> None:
        """Move controls as a user would, e.g. ``w.set(sigma=0.5)``; redraws once. A value
        outside a slider's range or not among a menu's options raises a ValueError (ipywidgets
        would silently clamp or refuse it)."""
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise ValueError(f"unknown control(s) {unknown}; this widget has {sorted(self.controls)}")
        with self.hold():
            for name, v in values.items():  # in order: a control may change another's range
                self.controls[name].value = checked_value(name, self.controls[name], v)

    def save(self, path) -> Path:
        """Write the current figure to ``path``: ``.html`` (always available; the readout is
        written under the figure) or an image (``.png``, ``.jpg``, ``.jpeg``, ``.webp``,
        ``.svg``, ``.pdf``; needs plotly's image exporter, ``pip install kaleido``). Returns
        the path."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            plot = pio.to_html(self.figure, full_html=False, include_plotlyjs=True)
            title = html.escape(type(self).__name__)
            readout = f'<div class="gentoolkit-readout">{self.readout.value}</div>'
            path.write_text(
                f'<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8"><title>{title}</title></head>\n'
                f"<body>\n{plot}\n{readout}\n</body>\n</html>\n",
                encoding="utf-8",
            )
            return path
        if suffix not in IMAGE_SUFFIXES:
            raise ValueError(
                f"path={str(path)!r}: cannot save a figure as {suffix or 'a file without a suffix'!r}; "
                f"expected .html or an image suffix {list(IMAGE_SUFFIXES)}"
            )
        try:
            import kaleido  # noqa: F401  (plotly's image exporter)
        except ImportError:
            raise ImportError(
                f"saving {path.name} needs plotly's image exporter: pip install kaleido "
                "(or save as .html, which needs nothing)"
            ) from None
        width = 1200 if len(self.figure.data) > 2 else 800
        self.figure.write_image(str(path), width=width, height=self.figure.layout.height or 500)
        return path

    def _repr_mimebundle_(self, **kwargs):
        return self.view._repr_mimebundle_(**kwargs)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.view)


def checked_value(name: str, control, value):
    """``value`` if control ``name`` can take it as given, else a ValueError/TypeError naming
    the control, the value and what it accepts."""
    options = getattr(control, "options", None)
    if options is not None:  # Dropdown, ToggleButtons: (label, value) pairs or plain values
        allowed = [o[1] if isinstance(o, tuple) and len(o) == 2 else o for o in options]
        if value not in allowed:
            raise ValueError(f"{name}={value!r} is not an option; expected one of {allowed}")
        return value
    if isinstance(control, W.Checkbox | W.ToggleButton):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")
        return value
    if not hasattr(control, "min"):
        return value
    integral = isinstance(control, W.IntSlider | W.IntRangeSlider | W.BoundedIntText)
    kind = numbers.Integral if integral else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an int' if integral else 'a number'}, got {value!r}")
    lo, hi = control.min, control.max
    if isinstance(control, W.FloatLogSlider):  # min and max are exponents of the base
        lo, hi = control.base**lo, control.base**hi
    slack = 1e-9 * max(abs(lo), abs(hi))  # base ** exponent rounding at the ends
    if not (math.isfinite(value) and lo - slack <= value <= hi + slack):
        raise ValueError(f"{name}={value!r} is outside the slider's range [{lo:.4g}, {hi:.4g}]")
    return min(max(value, lo), hi) if not integral else int(value)
