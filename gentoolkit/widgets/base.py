"""The widget base class: named controls, a plotly ``FigureWidget`` and ``update()``.

A subclass builds its controls and figure, then calls ``super().__init__``; every change of
a control's value calls :meth:`Widget.update`, which redraws the figure in place. Tests and
benchmarks drive a widget with :meth:`Widget.set` and read what is drawn from
``widget.figure.data`` - no browser involved.

Redraws run with one torch thread: widget tensors are small, and on a machine whose other
cores are busy (a browser, another kernel) torch's thread pool can make small operations
10-100 times slower (measured here: a GGF redraw took 12 s with 2 threads while another
process used a core, 0.5 s with one). The caller's thread setting is restored afterwards.
"""

from __future__ import annotations

import contextlib

import ipywidgets as W
import plotly.graph_objects as go
import torch


class Widget:
    """Base class. Attributes: ``controls`` (name -> ipywidget), ``figure`` (plotly
    FigureWidget), ``readout`` (an HTML line for numbers), ``view`` (the laid-out box),
    ``main`` (the name of the control a student moves first; its moves change the readout)."""

    def __init__(self, controls: dict[str, W.ValueWidget], figure: go.FigureWidget, *, main: str | None = None):
        self.controls = dict(controls)
        self.figure = figure
        self.readout = W.HTML()
        self.readout.add_class("gentoolkit-readout")
        self.main = main
        if main is not None:
            self.controls[main].add_class("gentoolkit-main")
        self._held = False
        for c in self.controls.values():
            c.observe(self._on_change, names="value")
        # rows of three controls that wrap on narrow screens; the figure takes the cell's width
        # (no fixed width), so nothing scrolls sideways at 1280 px with JupyterLab's sidebar open
        wrap = W.Layout(flex_flow="row wrap")
        controls = list(self.controls.values())
        boxes = [W.HBox(controls[i : i + 3], layout=wrap) for i in range(0, len(controls), 3)]
        self.figure.layout.autosize = True
        self.view = W.VBox([*boxes, self.figure, self.readout])
        self.view.add_class("gentoolkit-widget")  # how the browser tests find widgets
        self._redraw()

    # Subclasses redraw here, reading self.value(name) for each control.
    def update(self) -> None:
        raise NotImplementedError

    def value(self, name: str):
        return self.controls[name].value

    def _redraw(self) -> None:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
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

    def set(self, **values) -> None:
        """Move controls as a user would, e.g. ``w.set(sigma=0.5)``; redraws once."""
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise ValueError(f"unknown control(s) {unknown}; this widget has {sorted(self.controls)}")
        with self.hold():
            for name, v in values.items():
                self.controls[name].value = v

    def _repr_mimebundle_(self, **kwargs):
        return self.view._repr_mimebundle_(**kwargs)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.view)
