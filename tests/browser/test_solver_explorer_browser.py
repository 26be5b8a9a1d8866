"""The solver explorer's fast samplers (issue 11) in JupyterLab in Chromium: for DDIM, EDM's Heun and
DPM-Solver++(2M), a notebook shows ``SolverExplorer(method=...)`` and the keyboard walk of
test_notebooks.py moves every enabled control once, failing unless each move changes the figure
(and the main control the readout). Here it must also reach each sampler's own knobs: eta for DDIM;
rho, churn and S_noise for Heun (S_noise appears once churn is on, so the walk, which re-reads the
controls after each move, gets to it); the grid toggle for DPM-Solver++(2M). A copy whose churn is
ignored must fail the check: a knob that does not change the drawing is caught."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from test_notebooks import check_notebook

KNOBS = {
    "ddim": {"steps", "η (DDIM)"},
    "edm_heun": {"steps", "ρ (EDM)", "churn (EDM)", "S_noise (EDM)"},
    "dpmpp_2m": {"steps", "grid (DPM++)"},
}


def _notebook(path: Path, source: str) -> None:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell(source)]
    path.parent.mkdir(exist_ok=True)
    nbformat.write(nb, path)


@pytest.mark.parametrize("method", sorted(KNOBS))
def test_every_fast_sampler_knob_changes_the_drawing(page, lab, artifacts, method):
    path = lab.root / "solver_explorer" / f"{method}.ipynb"
    view = f'SolverExplorer(method="{method}", n_particles=500, device="cpu")'
    _notebook(path, "from gentoolkit.widgets import SolverExplorer\n\n" + view)
    (report,) = check_notebook(page, lab, f"solver_explorer/{path.name}", artifacts)
    moved = {m.label for m in report.moves}
    assert KNOBS[method] <= moved, f"{method}: moved {sorted(moved)}, missing {sorted(KNOBS[method] - moved)}"


def test_a_knob_that_changes_nothing_fails_the_check(page, lab, artifacts):
    path = lab.root / "solver_explorer" / "broken_churn.ipynb"
    _notebook(
        path,
        "from gentoolkit.widgets import SolverExplorer\n\n"
        "class Broken(SolverExplorer):\n"
        "    def options(self):\n"
        "        return {k: v for k, v in super().options().items() if k not in ('s_churn', 's_noise')}\n\n"
        'Broken(method="edm_heun", n_particles=500, device="cpu")',
    )
    with pytest.raises(AssertionError, match="churn \\(EDM\\)' from .* did not change the figure"):
        check_notebook(page, lab, f"solver_explorer/{path.name}", artifacts, timeout_s=8)
