"""The GAN live view (gentoolkit.widgets.GANLiveView, issue 16 item 4) in JupyterLab in Chromium,
driven as a student would: press Play and watch the figure change while training advances,
pause and see it stop, press step and see exactly one frame of training, clear the drawn data
and click on the figure to draw points that the real-data trace then shows where they were
clicked. test_notebooks.py moves the view's sliders and dropdowns; this file covers what a
keyboard walk over the controls cannot: the Play, the buttons and clicks on the figure.

The view runs with one generator step per frame, so a press of step must add exactly 1 to the
step counter in the readout ("step N").
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from notebook_page import KERNEL_IDLE_JS, errors, open_notebook, run_all, signature, widgets

VIEW = "from gentoolkit.widgets import GANLiveView\n\nGANLiveView(n_points=1000, steps_per_frame=1, interval=200)"

# the real-data trace (data[1]: the mixture's sample or the drawn points) as [x..], [y..]
REAL_JS = "gd => [Array.from(gd.data[1].x || []), Array.from(gd.data[1].y || [])]"
# the left panel's axis ranges, to turn a click's pixel into data coordinates
RANGES_JS = "gd => [gd._fullLayout.xaxis.range.slice(), gd._fullLayout.yaxis.range.slice()]"


def _notebook(path: Path, source: str) -> None:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell(source)]
    path.parent.mkdir(exist_ok=True)
    nbformat.write(nb, path)


def _step(readout) -> int:
    m = re.search(r"step (\d+)", readout.inner_text())
    assert m, f"no step counter in the readout: {readout.inner_text()!r}"
    return int(m.group(1))


def _idle(page, timeout_s: float = 60) -> None:
    page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout_s * 1000, polling=100)


def _settled_step(page, readout, timeout_s: float) -> int:
    """The step counter once it has not moved for 1 s. The Play widget's ticks sent just before a pause
    may still wait in the kernel's queue on a loaded machine, and they run; a view that keeps training
    never settles, and fails here."""
    last = _step(readout)
    for _ in range(int(timeout_s)):
        page.wait_for_timeout(1000)
        _idle(page)
        now = _step(readout)
        if now == last:
            return now
        last = now
    raise AssertionError(f"still training after pause: the step counter kept moving for {timeout_s} s (at {last})")


def _wait(page, predicate, timeout_s: float, what: str):
    """Poll ``predicate()`` (Python, reading the page) until it is truthy; fail naming ``what``."""
    for _ in range(int(timeout_s / 0.1)):
        value = predicate()
        if value:
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def check_live_view(page, lab, relpath: str, artifacts: Path, *, timeout_s: float = 30) -> dict:
    """Play, pause, step and click-to-draw on the one GANLiveView in ``relpath``; returns what
    was measured. Raises AssertionError naming the part that did not work."""
    open_notebook(page, lab, relpath)
    run_all(page)
    assert not errors(page), "error output after Run All:\n" + "\n---\n".join(errors(page))
    (view,) = widgets(page)
    view.scroll_into_view_if_needed()
    plot = view.query_selector(".js-plotly-plot")
    readout = view.query_selector(".gentoolkit-readout")
    play = view.query_selector(".widget-play button")  # ipywidgets 8: one play/pause toggle, then stop
    assert play is not None, "no Play widget in the live view"
    buttons = {b.inner_text().strip(): b for b in view.query_selector_all("button.widget-button, .widget-button")}
    assert {"step", "clear drawn"} <= set(buttons), f"buttons found: {sorted(buttons)}"
    out = {"start_step": _step(readout)}

    # Play: training advances and the figure keeps changing
    sig0 = signature(plot)
    play.click()
    sigs = [sig0]
    for _ in range(3):  # three successive redraws, each different from the one before
        sigs.append(
            _wait(
                page, lambda: (s := signature(plot)) != sigs[-1] and s, timeout_s, "the figure to change while playing"
            )
        )
    playing_step = _wait(
        page, lambda: (n := _step(readout)) >= out["start_step"] + 3 and n, timeout_s, "steps while playing"
    )
    out["steps_while_playing"] = playing_step - out["start_step"]

    # Pause: training stops, and so does the figure
    view.query_selector(".widget-play button").click()
    _idle(page)
    paused_step = _settled_step(page, readout, timeout_s)
    paused_sig = signature(plot)
    page.wait_for_timeout(1500)
    assert _step(readout) == paused_step and signature(plot) == paused_sig, (
        f"still training after pause: step {paused_step} -> {_step(readout)}"
    )
    out["paused_at"] = paused_step

    # Step: exactly one frame (one generator step here), and a redraw
    buttons["step"].click()
    _wait(page, lambda: signature(plot) != paused_sig, timeout_s, "the figure to change after step")
    _idle(page)
    assert _step(readout) == paused_step + 1, f"step pressed once: {paused_step} -> {_step(readout)}"
    page.wait_for_timeout(800)
    assert _step(readout) == paused_step + 1, "step kept training after its frame"

    # Draw: clear, then click twice on the left panel; each click adds points where it was clicked
    buttons["clear drawn"].click()
    _wait(page, lambda: len(plot.evaluate(REAL_JS)[0]) == 0, timeout_s, "clear drawn to empty the real-data trace")
    _idle(page)
    box = plot.query_selector('.nsewdrag[data-subplot="xy"]').bounding_box()
    (x0, x1), (y0, y1) = plot.evaluate(RANGES_JS)
    counts = []
    for fx, fy in ((0.3, 0.35), (0.7, 0.7)):
        before = len(plot.evaluate(REAL_JS)[0])
        px, py = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
        page.mouse.move(px, py)
        page.wait_for_timeout(200)
        page.mouse.click(px, py)
        xs, ys = _wait(
            page,
            lambda b=before: (r := plot.evaluate(REAL_JS)) and len(r[0]) > b and r,
            timeout_s,
            "a click to draw points",
        )
        _idle(page)
        xs, ys = plot.evaluate(REAL_JS)
        new = list(zip(xs[before:], ys[before:]))
        cx, cy = x0 + fx * (x1 - x0), y1 - fy * (y1 - y0)  # the clicked point in data coordinates
        mx, my = sum(p[0] for p in new) / len(new), sum(p[1] for p in new) / len(new)
        # plotly reports the nearest point under the cursor (the heatmap cell or a generated point within its
        # hover radius), so the drawn cluster lies within a few tens of pixels of the click
        tol = 0.12 * (x1 - x0)
        assert abs(mx - cx) < tol and abs(my - cy) < tol, f"drawn at ({mx:.2f}, {my:.2f}), clicked ({cx:.2f}, {cy:.2f})"
        counts.append(len(xs))
    assert counts[0] > 0 and counts[1] > counts[0], f"real-data trace sizes after two clicks: {counts}"
    assert re.search(rf"{counts[1]} drawn points", plot.evaluate("gd => gd.layout.annotations[0].text"))
    out["drawn_after_clicks"] = counts
    view.screenshot(path=str(artifacts / f"{Path(relpath).stem}.png"))
    assert not errors(page), "error output while driving the view:\n" + "\n---\n".join(errors(page))
    return out


def test_gan_live_view_plays_pauses_steps_and_draws(page, lab, artifacts):
    path = lab.root / "gan_live" / "gan_live.ipynb"
    _notebook(path, VIEW)
    out = check_live_view(page, lab, "gan_live/gan_live.ipynb", artifacts)
    assert out["steps_while_playing"] >= 3 and out["drawn_after_clicks"][0] >= 2


BROKEN = {
    # a click that draws nothing
    "click": "class Broken(GANLiveView):\n    def _on_click(self, trace, points, state):\n        pass\n\n\n"
    "view = Broken(n_points=1000, steps_per_frame=1, interval=200)\nview",
    # a step button that redraws without training (the Play still trains)
    "step": "view = GANLiveView(n_points=1000, steps_per_frame=1, interval=200)\n"
    "view.buttons['step']._click_handlers.callbacks.clear()\n"
    "view.buttons['step'].on_click(lambda _: view._redraw())\nview",
}


@pytest.mark.parametrize("how", sorted(BROKEN))
def test_a_broken_live_view_fails_the_check(page, lab, artifacts, how):
    """The check above can fail: a copy of the view whose click draws nothing, or whose step
    button redraws without training, is caught."""
    path = lab.root / "gan_live" / f"broken_{how}.ipynb"
    _notebook(path, "from gentoolkit.widgets import GANLiveView\n\n" + BROKEN[how])
    match = {"click": "a click to draw points", "step": "the figure to change after step|step pressed once"}[how]
    with pytest.raises(AssertionError, match=match):
        check_live_view(page, lab, f"gan_live/{path.name}", artifacts, timeout_s=8)
