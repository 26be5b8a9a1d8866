"""Every notebook in notebooks/, run in JupyterLab in a real browser; every control of every
gentoolkit widget moved with the keyboard; what is drawn must change. A new notebook is
covered without editing this file (the list is globbed)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from notebook_page import errors, exercise_widget, open_notebook, run_all, unexecuted_cells, widgets

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def check_notebook(page, lab, relpath: str, artifacts: Path, *, timeout_s: float = 30) -> list:
    """Open, Run All, fail on any error output, then move every control of every widget and
    fail unless the figure changed (and the readout, where it shows numbers)."""
    open_notebook(page, lab, relpath)
    run_all(page)
    assert not errors(page), f"{relpath}: error output after Run All:\n" + "\n---\n".join(errors(page))
    assert unexecuted_cells(page) == 0, f"{relpath}: {unexecuted_cells(page)} code cells did not run"
    reports = []
    name = Path(relpath).stem
    for i, w in enumerate(widgets(page)):
        report = exercise_widget(page, w, i, timeout_s=timeout_s)
        w.screenshot(path=str(artifacts / f"{name}-widget{i}.png"))
        reports.append(report)
        assert report.moves, f"{relpath}: widget {i} has no enabled control"
        for m in report.moves:
            assert m.after != m.before, f"{relpath}: widget {i}: {m.kind} '{m.label}' did not move ({m.before})"
            assert m.figure_changed, (
                f"{relpath}: widget {i}: moving {m.kind} '{m.label}' from {m.before} to {m.after} "
                "did not change the figure"
            )
            if m.main and re.search(r"\d", m.readout_before):  # the numbers a student watches
                assert m.readout_after != m.readout_before, (
                    f"{relpath}: widget {i}: moving its main control '{m.label}' did not change the readout"
                )
        assert any(m.main for m in report.moves), f"{relpath}: widget {i}: its main control was not found or disabled"
        assert not report.unlabeled, f"{relpath}: widget {i}: controls without a description: {report.unlabeled}"
        assert report.overflow_px <= 1, f"{relpath}: widget {i} scrolls sideways by {report.overflow_px} px at 1280 px"
    assert not errors(page), f"{relpath}: error output after moving the widgets:\n" + "\n---\n".join(errors(page))
    page.screenshot(path=str(artifacts / f"{name}.png"))
    return reports


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_every_widget_responds(page, lab, artifacts, notebook):
    nb = nbformat.read(notebook, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", "kernelspec metadata (no Select Kernel dialog)"
    reports = check_notebook(page, lab, f"notebooks/{notebook.name}", artifacts)
    has_widget = any(".widgets import" in c.source for c in nb.cells if c.cell_type == "code")
    assert reports or not has_widget, f"{notebook.name} imports widgets but none rendered in the browser"


BROKEN = {
    "frozen": "        if getattr(self, '_drawn', False):\n            return  # a callback that never redraws\n",
    "raises": "        if getattr(self, '_drawn', False):\n            raise RuntimeError('broken on purpose')\n",
}


@pytest.mark.parametrize("how", sorted(BROKEN))
def test_a_broken_widget_fails_the_check(page, lab, artifacts, how):
    """A deliberately broken copy of a widget (its callback stops redrawing, or raises) must
    make the check fail: the test above can fail."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from gentoolkit.widgets import ScoreFieldViewer\n\n"
            "class Broken(ScoreFieldViewer):\n"
            "    def update(self):\n" + BROKEN[how] + "        self._drawn = True\n        super().update()\n\n"
            "Broken()"
        )
    ]
    path = lab.root / "broken" / f"broken_{how}.ipynb"
    path.parent.mkdir(exist_ok=True)
    nbformat.write(nb, path)
    with pytest.raises(AssertionError, match="did not change the figure|error output"):
        check_notebook(page, lab, f"broken/{path.name}", artifacts, timeout_s=5)
