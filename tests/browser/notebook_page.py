"""Driving a notebook in JupyterLab as a student would: open it, Run All, move every control
of every gentoolkit widget with the keyboard, and read what the page draws.

Shared by tests/browser/test_notebooks.py and benchmarks/browser_latency.py. Facts this relies
on (JupyterLab 4.6, ipywidgets 8, plotly 7): Run All is the Run menu's "Run All Cells"; the
kernel state is shown in #jp-main-statusbar; a slider's handle has role=slider, is focusable
and moves one step per arrow key, and its value is in aria-valuetext; a plotly figure is a
.js-plotly-plot element whose ``data`` holds the traces; gentoolkit widgets carry the
classes gentoolkit-widget and gentoolkit-readout (gentoolkit/widgets/base.py).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

# A signature of every trace's x, y and z (count and weighted sum) and visibility: changes when
# data changes or a view swaps which traces are shown (e.g. a surface for a contour plot).
SIGNATURE_JS = """(gd) => {
  const parts = [];
  for (const tr of (gd && gd.data) || []) {
    parts.push('visible:' + (tr.visible === undefined ? true : tr.visible));
    for (const key of ['x', 'y', 'z']) {
      let n = 0, sum = 0;
      const walk = (a) => {
        if (a == null || typeof a === 'string') return;
        if (typeof a === 'number') { n++; if (isFinite(a)) sum += a * (1 + (n % 7)); return; }
        if (a.length !== undefined) for (let i = 0; i < a.length; i++) walk(a[i]);
      };
      walk(tr[key]);
      parts.push(key + ':' + n + ':' + sum.toPrecision(12));
    }
  }
  return parts.join('|');
}"""

KERNEL_IDLE_JS = """() => {
  const st = document.querySelector('#jp-main-statusbar');
  if (!st || !st.textContent.includes('Idle')) return false;
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];
  return !prompts.some(p => p.textContent.includes('*'));
}"""

# error outputs (tracebacks) as JupyterLab renders them
ERRORS_JS = """() => [...document.querySelectorAll('.jp-OutputArea-output')]
  .filter(o => o.getAttribute('data-mime-type') === 'application/vnd.jupyter.stderr'
               && /Traceback|Error/.test(o.textContent) && !/Warning/.test(o.textContent.split('\\n')[0]))
  .map(o => o.textContent.slice(0, 2000))"""


@dataclass
class Move:
    """One control moved: what it is, its value before and after, and what changed."""

    kind: str
    label: str
    before: str
    after: str
    figure_changed: bool
    readout_before: str = ""
    readout_after: str = ""
    main: bool = False  # the widget's main control (class gentoolkit-main)


@dataclass
class WidgetReport:
    index: int
    moves: list[Move] = field(default_factory=list)
    overflow_px: float = 0.0
    unlabeled: list[str] = field(default_factory=list)


def open_notebook(page, lab, relpath: str, timeout_s: float = 120) -> None:
    """Open ``relpath`` alone (``reset``: a fresh workspace, no other tab), other kernels stopped."""
    lab.shutdown_kernels()
    page.goto(lab.url(f"lab/tree/{relpath}?reset"))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout_s * 1000)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout_s * 1000, polling=250)


def run_all(page, timeout_s: float = 600) -> None:
    """Run menu -> Run All Cells, then wait until every cell has run and the kernel is idle."""
    page.locator("#jp-menu-panel").get_by_text("Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    page.wait_for_timeout(500)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout_s * 1000, polling=500)


def errors(page) -> list[str]:
    return page.evaluate(ERRORS_JS)


def unexecuted_cells(page) -> int:
    prompts = page.evaluate(
        "() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent)"
    )
    return sum(1 for p in prompts if not re.search(r"\[\d+\]", p))


def widgets(page):
    return page.locator(".gentoolkit-widget").element_handles()


def signature(plot) -> str:
    return plot.evaluate(SIGNATURE_JS)


def _wait_idle(page, timeout_s: float) -> None:
    page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout_s * 1000, polling=100)


def _changed(page, plot, before: str, timeout_s: float) -> bool:
    try:
        page.wait_for_function(
            f"([gd, before]) => ({SIGNATURE_JS})(gd) !== before",
            arg=[plot, before],
            timeout=timeout_s * 1000,
            polling=50,
        )
        return True
    except Exception:  # playwright's TimeoutError
        return False


def controls(widget) -> list[tuple[str, object]]:
    """(kind, element) for every enabled control of a widget: sliders, checkboxes and toggle
    buttons first, dropdowns (dataset, solver: they change what the others mean) last."""
    found = []
    for h in widget.query_selector_all("[role=slider]"):
        if not h.evaluate("e => !!e.closest('[disabled]') || e.getAttribute('aria-disabled') === 'true'"):
            found.append(("slider", h))
    for c in widget.query_selector_all(".widget-checkbox input[type=checkbox]"):
        if not c.is_disabled():
            found.append(("checkbox", c))
    for group in widget.query_selector_all(".widget-toggle-buttons"):
        buttons = [b for b in group.query_selector_all("button") if not b.is_disabled()]
        if len(buttons) > 1:
            found.append(("toggle", group))
    for s in widget.query_selector_all(".widget-dropdown select"):
        if not s.is_disabled():
            found.append(("dropdown", s))
    return found


def label(el) -> str:
    """The description shown next to a control."""
    return el.evaluate(
        """e => { const box = e.closest('.widget-inline-hbox, .widget-hbox, .widget-toggle-buttons') || e.parentElement;
                  const l = box && box.querySelector('.widget-label'); return l ? l.textContent.trim() : ''; }"""
    )


def _value(kind: str, el) -> str:
    if kind == "slider":
        return el.get_attribute("aria-valuetext") or el.get_attribute("aria-valuenow") or ""
    if kind == "dropdown":
        return el.evaluate("e => e.value")
    if kind == "checkbox":
        return str(el.is_checked())
    return el.evaluate("g => (g.querySelector('button.mod-active') || {}).textContent || ''")


def press(page, kind: str, el) -> None:
    """Move one control one step with the keyboard, as a user would."""
    if kind == "slider":
        at_max = el.evaluate("e => Number(e.getAttribute('aria-valuenow')) >= Number(e.getAttribute('aria-valuemax'))")
        el.focus()
        page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
    elif kind == "dropdown":  # choose the next option (arrow keys do not change a closed <select> here)
        i, n = el.evaluate("e => [e.selectedIndex, e.options.length]")
        el.focus()
        el.select_option(index=i - 1 if i == n - 1 else i + 1)
    elif kind == "checkbox":
        el.focus()
        page.keyboard.press("Space")
    else:  # toggle buttons: focus one that is not active and press it
        target = el.query_selector("button:not(.mod-active):not([disabled])")
        target.focus()
        page.keyboard.press("Space")


def exercise_widget(page, widget, index: int, *, timeout_s: float = 30) -> WidgetReport:
    """Move every enabled control of one widget once; record whether the figure and the
    readout changed. Controls are re-read after each move (a solver choice can enable others)."""
    report = WidgetReport(index)
    widget.scroll_into_view_if_needed()
    plot = widget.query_selector(".js-plotly-plot")
    readout = widget.query_selector(".gentoolkit-readout")
    report.overflow_px = widget.evaluate(
        "w => { const o = w.closest('.jp-OutputArea-output') || w; return Math.max(0, o.scrollWidth - o.clientWidth); }"
    )
    done: set[str] = set()
    while True:
        todo = [(k, el) for k, el in controls(widget) if f"{k}:{label(el)}" not in done]
        if not todo:
            break
        kind, el = todo[0]
        name = label(el)
        done.add(f"{kind}:{name}")
        if not name:
            report.unlabeled.append(kind)
        before, r_before = signature(plot), readout.inner_text() if readout else ""
        v_before = _value(kind, el)
        press(page, kind, el)
        changed = _changed(page, plot, before, timeout_s)
        _wait_idle(page, timeout_s)
        main = el.evaluate("e => !!e.closest('.gentoolkit-main')")
        r_after = readout.inner_text() if readout else ""
        # the kernel is idle once it has sent the new readout, but the page may apply the figure's
        # message before the readout's: give the readout a few seconds to arrive after a redraw
        deadline = time.monotonic() + 5
        while readout and changed and r_after == r_before and time.monotonic() < deadline:
            page.wait_for_timeout(100)
            r_after = readout.inner_text()
        report.moves.append(Move(kind, name, v_before, _value(kind, el), changed, r_before, r_after, main))
    return report
