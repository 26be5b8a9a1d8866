"""The project's promises: set-up files agree with each other, notebooks follow the course
format, and `make nbval` fails when a notebook cell fails."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

import gentoolkit

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli package (a dev extra there)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _name(req: str) -> str:
    return re.split(r"[<>=!\[ ;]", req.strip(), maxsplit=1)[0].lower()


def _applies(req: str, python: str) -> bool:
    """Whether a requirement's environment marker (e.g. ``; python_version < '3.11'``) holds
    for that Python version."""
    from packaging.requirements import Requirement

    marker = Requirement(req).marker
    return marker is None or marker.evaluate({"python_version": python})


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_has_the_same_packages_as_pyproject():
    project = _pyproject()["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))[7:]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    wanted = {_name(r) for r in reqs if _applies(r, python)}
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    conda = {"torch" if n == "pytorch" else n for n in conda} - {"python", "pip"}
    assert conda == wanted
    assert {"--editable ."} <= set(next(d["pip"] for d in env["dependencies"] if isinstance(d, dict)))


def test_binder_is_cpu_only_and_complete():
    lines = [ln.strip() for ln in (ROOT / "binder/requirements.txt").read_text().splitlines()]
    reqs = [ln for ln in lines if ln and not ln.startswith("#")]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in reqs
    torch_pins = [r for r in reqs if _name(r) == "torch"]
    assert torch_pins == ["torch==2.13.0+cpu"]  # a local +cpu version exists only on the CPU index
    assert not any(_name(r).startswith("nvidia") for r in reqs)
    runtime = {_name(r) for r in _pyproject()["project"]["dependencies"]}
    assert runtime <= {_name(r) for r in reqs if not r.startswith("-")}
    post = (ROOT / "binder/postBuild").read_text()
    assert "--no-deps" in post and "01_scores_on_2d_mixtures.ipynb" in post
    assert (ROOT / "notebooks/01_scores_on_2d_mixtures.ipynb").exists()


def test_makefile_pins_torch_and_ci_runs_make_test():
    mk = (ROOT / "Makefile").read_text()
    assert "torch==2.13.0" in mk and "GENTOOLKIT_FAST=1" in mk
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_readme_lists_every_notebook_and_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    for nb in NOTEBOOKS:
        assert nb.name in readme, nb.name


def test_fast_mode_helper():
    assert gentoolkit.fast(100, 10) == (10 if gentoolkit.FAST else 100)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_format(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "**Objectives**" in first.source and "**Prerequisites**" in first.source
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.get("outputs"), f"cell {i} stores outputs: clear them before committing"
        if "solution" in cell.metadata.get("tags", []):
            assert "# BEGIN SOLUTION" in cell.source and "# END SOLUTION" in cell.source, f"cell {i}"
            before = nb.cells[i - 1]
            assert before.cell_type == "markdown" and "Exercise" in before.source, f"cell {i}: task first"
            check = nb.cells[i + 1]
            assert check.cell_type == "code" and "exercises.check_" in check.source, f"cell {i}: check next"
    assert any("solution" in c.metadata.get("tags", []) for c in nb.cells), "every notebook has an exercise"


@pytest.mark.slow
def test_make_nbval_fails_when_a_cell_fails(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise RuntimeError('boom')")]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    good = tmp_path / "good.ipynb"
    nb.cells = nb.cells[:1]
    nbformat.write(nb, good)
    bin_dir = Path(sys.executable).parent
    run = lambda path: subprocess.run(  # noqa: E731
        ["make", "-s", "nbval", f"NOTEBOOKS={path}", f"BIN={bin_dir}", "STAMP="],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    failed, passed = run(bad), run(good)
    assert failed.returncode != 0 and "boom" in failed.stdout + failed.stderr
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert json.loads(bad.read_text())["cells"][1]["source"]  # nbval never rewrites the notebook


def test_static_figures_import_no_widget_code():
    # drawing a matplotlib figure must not load ipywidgets or plotly (about 2 s)
    code = (
        "import sys, gentoolkit.plots; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ipywidgets', 'plotly')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_no_module_imports_another_modules_private_names():
    # one place for each helper: shared ones are public names (of gentoolkit._checks etc.)
    import ast

    for path in sorted((ROOT / "gentoolkit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gentoolkit"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.relative_to(ROOT)} imports {private} from {node.module}"


def test_old_import_paths_warn_and_point_to_the_new_ones(monkeypatch):
    import warnings

    import gentoolkit.metrics
    import gentoolkit.sampling
    import gentoolkit.score

    # the warning must point at the frame that called the code that warns (stacklevel=2): the
    # line that used the old path, not gentoolkit (stacklevel 1) or one frame further out (3).
    # A spy on warnings.warn records that frame, so the check also holds under mutation
    # testing, where mutmut's trampoline (two frames) sits between this test and gentoolkit
    real_warn, callers = warnings.warn, []

    def spy(message, category=None, stacklevel=1, **kw):
        frame = sys._getframe(2)  # 0: spy, 1: the code that warns, 2: its caller
        callers.append((frame.f_code.co_filename, frame.f_lineno))
        real_warn(message, category, stacklevel + 1, **kw)

    monkeypatch.setattr(warnings, "warn", spy)
    for name, new in (
        ("als", gentoolkit.sampling),
        ("geometric_sigmas", gentoolkit.sampling),
        ("score_error", gentoolkit.metrics),
    ):
        with pytest.warns(DeprecationWarning, match=f"gentoolkit.score.{name} moved to {new.__name__}.{name}") as rec:
            assert getattr(gentoolkit.score, name) is getattr(new, name)
        assert (rec[0].filename, rec[0].lineno) == callers[-1]
        if "MUTANT_UNDER_TEST" not in os.environ:  # no trampoline: the caller is this test
            assert rec[0].filename == __file__, rec[0].filename
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        gentoolkit.score.nothing  # noqa: B018


@pytest.mark.slow
def test_readme_example_prints_the_number_its_comment_gives():
    # the README's number is measured by running the README's own code, so it cannot drift
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    code = next(b for b in blocks if "score_error" in b)
    about = float(re.search(r"# about ([0-9.]+)", code).group(1))
    code = code.replace("n_steps=3000, seed=0)", "n_steps=3000, seed=0, progress=False)")
    assert "progress=False" in code  # the replacement matched: the same call, without its bar
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    printed = float(re.search(r"tensor\(([0-9.]+)", out.stdout).group(1))
    assert abs(printed - about) < 0.005, f"README says about {about}, the code prints {printed}"
