"""The course editions (gentoolkit/editions.py, `make editions`): the build lists every notebook's
exercises; the student edition keeps no solution and no output, and each blanked exercise makes
its check cell raise an ExerciseError that says it is not done yet (not another exception); the
instructor edition is the notebooks themselves (which nbval runs in fast mode); malformed markers
stop the build with the notebook and the cell named. Also the course format every notebook
follows: it opens with objectives, prerequisites, run times and a GPU note, and its last markdown
cell is a summary that lists its exercises; the README's table has the same columns and a Binder
link per notebook."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gentoolkit import editions
from gentoolkit import exercises as ex

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# the exercises of each notebook: a new one must be added here (and in the notebook's summary)
COUNTS = {"01": 2, "02": 2, "03": 2, "04": 2, "05": 2, "06": 2, "07": 2, "08": 2, "09": 2, "10": 2}
EXERCISES = [(path.name, e) for path in NOTEBOOKS for e in editions.exercises(path)[1]]


def source(cell: dict) -> str:
    return "".join(cell["source"])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The editions of the repository's notebooks and what the build printed."""
    out = tmp_path_factory.mktemp("editions")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert editions.main(["build", str(out)]) == 0
    return out, printed.getvalue()


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_the_build_lists_each_notebooks_exercises(built):
    _, printed = built
    assert {p.name[:2] for p in NOTEBOOKS} == set(COUNTS)
    for path in NOTEBOOKS:
        tagged = sum("solution" in c["metadata"].get("tags", []) for c in cells(path))
        count = COUNTS[path.name[:2]]
        assert count >= 2 and tagged == count, path.name
        assert f"{path.name}: {count} exercises\n" in printed
        for k in range(1, count + 1):
            assert re.search(rf"^  {int(path.name[:2])}\.{k}  cell +\d+  \w+  \(check_\w+\): \S", printed, re.M)
    assert printed.rstrip().endswith(
        f"{sum(COUNTS.values())} exercises in {len(NOTEBOOKS)} notebooks -> "
        f"{built[0] / 'student'}, {built[0] / 'instructor'}"
    )


def test_the_student_edition_has_no_solution_and_no_output(built):
    out, _ = built
    for path in NOTEBOOKS:
        original, student = cells(path), cells(out / "student" / path.name)
        assert len(student) == len(original)
        solutions = {e["cell"]: e for name, e in EXERCISES if name == path.name}
        for i, (was, cell) in enumerate(zip(original, student)):
            text = source(cell)
            assert editions.BEGIN not in text and editions.END not in text, f"{path.name}, cell {i}"
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None
            if i not in solutions:
                assert text == source(was), f"{path.name}, cell {i}: only solution cells change"
                continue
            e = solutions[i]
            lines = was["source"]
            (begin, end), *_ = e["blocks"]
            for line in lines[begin + 1 : end]:  # every line of the answer is gone
                assert line.strip() == "" or line.strip() not in text, f"{path.name}, cell {i}: {line!r}"
            indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
            stub = f'{indent}raise NotImplementedError("Exercise {e["number"]}: {e["title"]}")'
            stub += "\n" if lines[end].endswith("\n") else ""
            assert text == "".join(lines[:begin]) + stub + "".join(lines[end + 1 :])  # the def line stays


@pytest.mark.parametrize("notebook, exercise", EXERCISES, ids=[f"{n[:2]}-{e['function']}" for n, e in EXERCISES])
def test_each_blank_exercise_makes_its_check_cell_raise_an_exercise_error(built, notebook, exercise):
    out, _ = built
    student = cells(out / "student" / notebook)
    stub, check = source(student[exercise["cell"]]), source(student[exercise["cell"] + 1])
    assert f"exercises.{exercise['check']}({exercise['function']})" in check
    namespace = {"math": math, "torch": torch, "exercises": ex}
    exec(stub, namespace)  # the stub only defines the function
    with pytest.raises(ex.ExerciseError) as err:  # any other exception fails the test
        exec(check, namespace)
    assert isinstance(err.value, ex.NotDoneYet)
    message = str(err.value)
    assert message.startswith(f"Not done yet: {exercise['function']} is not written yet")
    assert f"(Exercise {exercise['number']}: {exercise['title']})" in message
    assert "Where to look: " in message


def test_in_a_kernel_each_check_cell_after_its_stub_shows_not_done_yet(built):
    # the student's view: the stub and check cells of the student edition, run by a Jupyter kernel
    # (nbclient, as nbval does; one kernel for all 18, about 3 s)
    import nbclient
    import nbformat

    out, _ = built
    run = [nbformat.v4.new_code_cell("import math\nimport torch\nfrom gentoolkit import exercises")]
    for notebook, e in EXERCISES:
        student = cells(out / "student" / notebook)
        run += [nbformat.v4.new_code_cell(source(student[e["cell"] + k])) for k in (0, 1)]
    nb = nbformat.v4.new_notebook(cells=run)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    assert nb.cells[0].outputs == [] and all(c.outputs == [] for c in nb.cells[1::2])  # imports and stubs run
    for (notebook, e), check in zip(EXERCISES, nb.cells[2::2]):
        (error,) = [o for o in check.outputs if o.output_type == "error"]
        assert error.ename == "NotDoneYet", (notebook, e["number"], error.ename, error.evalue)
        assert error.evalue.startswith(f"Not done yet: {e['function']} is not written yet")


def test_the_instructor_edition_is_the_notebooks(built):
    out, _ = built
    assert sorted(p.name for p in (out / "instructor").glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        assert (out / "instructor" / path.name).read_bytes() == path.read_bytes()


def test_the_student_edition_keeps_the_repositorys_json_format(built):
    out, _ = built
    text = (out / "student" / NOTEBOOKS[0].name).read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=1, ensure_ascii=False) + "\n"


# --- small generated notebooks ----------------------------------------------------------------------------------


def notebook(*cells: tuple[str, str, list[str]]) -> dict:
    """A notebook of (cell type, source, tags) cells, in the repository's format."""
    made = []
    for kind, text, tags in cells:
        cell = {"cell_type": kind, "metadata": {"tags": tags} if tags else {}, "source": text.splitlines(True)}
        if kind == "code":
            cell |= {"execution_count": 3, "outputs": [{"output_type": "stream", "name": "stdout", "text": ["x\n"]}]}
        made.append(cell)
    return {"cells": made, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}


def write(folder: Path, name: str, nb: dict) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


TASK = ("markdown", "Intro.\n\n### Exercise 1: write f\n\nWrite `f(x)`.", [])
GOOD = ("code", "def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION", ["solution"])
CHECK = ("code", "exercises.check_f(f)", [])

MALFORMED = {
    "BEGIN without END": (
        ("code", "def f(x):\n    # BEGIN SOLUTION\n    return 2 * x", ["solution"]),
        "cell 1: '# BEGIN SOLUTION' without '# END SOLUTION' \\(line 2\\)",
    ),
    "END without BEGIN": (
        ("code", "def f(x):\n    return 2 * x\n    # END SOLUTION", ["solution"]),
        "cell 1: '# END SOLUTION' without '# BEGIN SOLUTION' \\(line 3\\)",
    ),
    "nested BEGIN": (
        ("code", "# BEGIN SOLUTION\ndef f(x):\n    # BEGIN SOLUTION\n    return x\n    # END SOLUTION", ["solution"]),
        "cell 1: nested '# BEGIN SOLUTION' \\(line 3; the open one is on line 1\\)",
    ),
    "tag without markers": (
        ("code", "def f(x):\n    return 2 * x", ["solution"]),
        "cell 1: tagged 'solution' but has no '# BEGIN SOLUTION' ... '# END SOLUTION' block",
    ),
    "markers without tag": (
        ("code", "def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION", []),
        "cell 1: has '# BEGIN SOLUTION' markers but is not tagged 'solution'",
    ),
    "tagged markdown": (
        ("markdown", "The answer is 2 x.", ["solution"]),
        "cell 1: a markdown cell is tagged 'solution'; tag the code cell",
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_markers_stop_the_build_naming_notebook_and_cell(tmp_path, case):
    bad, pattern = MALFORMED[case]
    src = tmp_path / "src"
    write(src, "01_good.ipynb", notebook(TASK, GOOD, CHECK))
    write(src, "02_bad.ipynb", notebook(TASK, bad, CHECK, GOOD))
    with pytest.raises(editions.EditionError, match=f"^02_bad.ipynb, {pattern}"):
        editions.build(tmp_path / "out", src)
    assert not (tmp_path / "out").exists()  # checked before anything is written


def test_a_notebook_without_exercises_stops_the_build_and_the_command_fails(tmp_path):
    src = tmp_path / "src"
    write(src, "01_good.ipynb", notebook(TASK, GOOD, CHECK))
    write(src, "03_plain.ipynb", notebook(("markdown", "# Notes", []), ("code", "x = 1", [])))
    with pytest.raises(
        editions.EditionError, match="^03_plain.ipynb: no exercise \\(no code cell tagged 'solution'\\)"
    ):
        editions.build(tmp_path / "out", src)
    run = subprocess.run(
        [sys.executable, "-m", "gentoolkit.editions", "build", str(tmp_path / "out"), "--notebooks", str(src)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == "editions: 03_plain.ipynb: no exercise (no code cell tagged 'solution')\n"


def test_the_stub_keeps_signature_docstring_indentation_and_the_rest_of_the_cell(tmp_path):
    title = "a task whose heading is far longer than the sixty characters a stub message keeps"
    task = ("markdown", f"## 4. A section\n\nText.\n\n### Exercise 2: {title}\n\nWrite `g`.", [])
    cell = (
        'import math\n\n\ndef g(x, y=1.0):\n    """Docstring kept."""\n    if x > 0:\n        # BEGIN SOLUTION\n'
        "        return math.sqrt(x) * y\n        # END SOLUTION\n    return 0.0\n\n\nLIMIT = 3\n"
    )
    src = tmp_path / "src"
    write(src, "07_demo.ipynb", notebook(TASK, GOOD, CHECK, task, ("code", cell, ["solution"]), CHECK))
    listed = editions.build(tmp_path / "out", src)
    assert [(e["number"], e["cell"], e["function"], e["check"]) for e in listed["07_demo.ipynb"]] == [
        ("7.1", 1, "f", "check_f"),
        ("7.2", 4, "g", "check_f"),
    ]
    short = listed["07_demo.ipynb"][1]["title"]
    assert short == title[:57].rstrip() + "..." and len(short) <= editions.TITLE_CHARS
    student = cells(tmp_path / "out" / "student" / "07_demo.ipynb")
    assert source(student[4]) == cell.replace(
        "        # BEGIN SOLUTION\n        return math.sqrt(x) * y\n        # END SOLUTION\n",
        f'        raise NotImplementedError("Exercise 7.2: {short}")\n',
    )
    assert source(student[1]) == 'def f(x):\n    raise NotImplementedError("Exercise 7.1: write f")'
    assert all(c.get("outputs") in (None, []) and c.get("execution_count") is None for c in student)
    namespace = {}
    exec(source(student[4]), namespace)
    assert namespace["LIMIT"] == 3 and namespace["g"](-1.0) == 0.0 and namespace["g"].__doc__ == "Docstring kept."
    with pytest.raises(NotImplementedError, match="^Exercise 7.2: a task whose"):
        namespace["g"](1.0)
    # the instructor copy keeps the outputs; a second build replaces the first
    assert cells(tmp_path / "out" / "instructor" / "07_demo.ipynb")[1]["outputs"]
    (tmp_path / "out" / "student" / "old.ipynb").write_text("{}")
    editions.build(tmp_path / "out", src)
    assert not (tmp_path / "out" / "student" / "old.ipynb").exists()


# --- the course format of every notebook -------------------------------------------------------------------------


def markdown(path: Path) -> list[str]:
    return [source(c) for c in cells(path) if c["cell_type"] == "markdown"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_each_notebook_opens_with_objectives_prerequisites_run_times_and_gpu(path):
    first = cells(path)[0]
    assert first["cell_type"] == "markdown"
    text = source(first)
    assert "**Objectives**" in text and "**Prerequisites**" in text
    run_time = next((line for line in text.splitlines() if line.startswith("**Run time**")), "")
    assert "fast mode" in run_time and "full mode" in run_time and "**GPU**" in run_time, run_time
    if path.name[:2] != "01":
        assert re.search(r"\*\*Prerequisites\*\*.*notebooks? 0\d", text), "names the earlier notebooks it needs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_each_notebook_ends_with_a_summary_that_lists_its_exercises(path):
    last = markdown(path)[-1]
    assert "## Summary" in last and "**Exercises**" in last
    listed = last[last.index("**Exercises**") :]
    for e in editions.exercises(path)[1]:
        assert f"{e['number']} " in listed and f"`{e['function']}`" in listed, e["number"]


def test_the_readme_table_has_each_notebooks_columns_and_binder_link():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    header = next(line for line in readme.splitlines() if line.startswith("| notebook | objectives"))
    assert [c.strip() for c in header.split("|")[1:-1]] == [
        "notebook",
        "objectives / topics",
        "prerequisites (notebooks)",
        "fast mode (2 cores)",
        "full mode (2 cores)",
        "GPU helps?",
        "Binder",
    ]
    for path in NOTEBOOKS:
        row = next(line for line in readme.splitlines() if line.startswith(f"| [`{path.name}`]"))
        columns = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        assert len(columns) == 7 and all(columns), row
        binder = f"(https://mybinder.org/v2/gh/OWNER/gentoolkit/HEAD?urlpath=lab/tree/notebooks/{path.name})"
        assert columns[6] == f"[launch]{binder}"
        run_time = next(line for line in source(cells(path)[0]).splitlines() if line.startswith("**Run time**"))
        assert f"as under test) {columns[3]};" in run_time, (path.name, columns[3])  # the same measured fast-mode time
