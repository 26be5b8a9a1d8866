"""The course's two editions of the notebooks: ``python -m gentoolkit.editions build OUT``
(``make editions``).

- ``OUT/instructor/``: the notebooks as they are, solutions and outputs kept.
- ``OUT/student/``: every solution block, the lines from ``# BEGIN SOLUTION`` to
  ``# END SOLUTION``, replaced by ``raise NotImplementedError("Exercise N.k: <task>")`` at the
  BEGIN line's indentation (the ``def`` line and docstring above it stay); outputs and
  execution counts cleared. N is the notebook's number (``01_...`` -> 1), k the exercise's
  rank in it, ``<task>`` the first line of the markdown task above it. The check cell that
  follows then raises :class:`gentoolkit.exercises.NotDoneYet` until the student writes it.

An exercise is a code cell tagged ``solution``. The build lists the exercises of every
notebook, and stops with an :class:`EditionError` naming the notebook and the cell when a
notebook has no exercise, a BEGIN has no END (or an END no BEGIN, or a BEGIN is nested), a
tagged cell has no markers, or an untagged cell has them. Notebooks are read and written
with the json module, in the format of the repository's files (one-space indent, UTF-8).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TAG, BEGIN, END = "solution", "# BEGIN SOLUTION", "# END SOLUTION"
TITLE_CHARS = 60  # the task's first line is cut to this length in the stub's message


class EditionError(ValueError):
    """A notebook the build cannot split into editions; the message names the notebook and cell."""


def _lines(cell: dict) -> list[str]:
    source = cell["source"]  # a list of lines in the repository's files, one string in some others
    return list(source) if isinstance(source, list) else source.splitlines(keepends=True)


def _blocks(lines: list[str], where: str) -> list[tuple[int, int]]:
    """(BEGIN index, END index) of every solution block in ``lines``; malformed markers raise."""
    blocks, start = [], None
    for i, line in enumerate(lines):
        marker = line.strip()
        if marker == BEGIN:
            if start is not None:
                raise EditionError(f"{where}: nested {BEGIN!r} (line {i + 1}; the open one is on line {start + 1})")
            start = i
        elif marker == END:
            if start is None:
                raise EditionError(f"{where}: {END!r} without {BEGIN!r} (line {i + 1})")
            blocks.append((start, i))
            start = None
    if start is not None:
        raise EditionError(f"{where}: {BEGIN!r} without {END!r} (line {start + 1})")
    return blocks


def _title(cells: list[dict], index: int) -> str:
    """The first line of the markdown task above cell ``index`` (its "Exercise" heading when it has one)."""
    before = cells[index - 1] if index > 0 else {}
    if before.get("cell_type") != "markdown":
        return ""
    lines = [line.strip() for line in _lines(before) if line.strip()]
    headings = [line for line in lines if line.startswith("#") and "Exercise" in line]
    title = headings[-1] if headings else lines[0] if lines else ""
    title = title.lstrip("#").strip()
    title = re.sub(r"^Exercise\s*\d*\s*[:.]\s*", "", title)  # the stub says "Exercise N.k: " itself
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 3].rstrip() + "..."


def exercises(path: Path) -> tuple[dict, list[dict]]:
    """The notebook at ``path`` and its exercises, in order: dicts with ``number`` ("1.2"),
    ``cell`` (index), ``title``, ``function`` (the ``def`` in the cell), ``check`` (the
    ``exercises.check_*`` the next cell calls, or None) and ``blocks`` (line ranges)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    digits = re.match(r"\d+", path.name)
    if digits is None:
        raise EditionError(f"{path.name}: the file name must start with the notebook's number (01_...)")
    found, cells = [], nb["cells"]
    for index, cell in enumerate(cells):
        where = f"{path.name}, cell {index}"
        tagged = TAG in cell.get("metadata", {}).get("tags", [])
        lines = _lines(cell)
        if cell["cell_type"] != "code":
            if tagged:
                raise EditionError(f"{where}: a {cell['cell_type']} cell is tagged {TAG!r}; tag the code cell")
            continue
        blocks = _blocks(lines, where)
        if tagged and not blocks:
            raise EditionError(f"{where}: tagged {TAG!r} but has no {BEGIN!r} ... {END!r} block")
        if blocks and not tagged:
            raise EditionError(f"{where}: has {BEGIN!r} markers but is not tagged {TAG!r}")
        if not tagged:
            continue
        function = re.search(r"^\s*def (\w+)", "".join(lines), flags=re.M)
        after = "".join(_lines(cells[index + 1])) if index + 1 < len(cells) else ""
        check = re.search(r"exercises\.(check_\w+)\(", after)
        found.append(
            {
                "number": f"{int(digits.group())}.{len(found) + 1}",
                "cell": index,
                "title": _title(cells, index),
                "function": function and function.group(1),
                "check": check and check.group(1),
                "blocks": blocks,
            }
        )
    if not found:
        raise EditionError(f"{path.name}: no exercise (no code cell tagged {TAG!r})")
    return nb, found


def student(nb: dict, found: list[dict]) -> dict:
    """A copy of ``nb`` with every solution block replaced by its stub and every output cleared."""
    nb = json.loads(json.dumps(nb))
    for exercise in found:
        cell = nb["cells"][exercise["cell"]]
        lines = _lines(cell)
        message = f"Exercise {exercise['number']}: {exercise['title']}".rstrip(": ")
        for begin, end in reversed(exercise["blocks"]):
            indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
            newline = "\n" if lines[end].endswith("\n") else ""
            lines[begin : end + 1] = [
                f"{indent}raise NotImplementedError({json.dumps(message, ensure_ascii=False)}){newline}"
            ]
        cell["source"] = lines
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    nb["metadata"].pop("widgets", None)  # saved widget state is output too
    return nb


def _write(nb: dict, path: Path) -> None:
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def build(out, notebooks=NOTEBOOKS) -> dict[str, list[dict]]:
    """Write ``out/student/`` and ``out/instructor/`` from the ``*.ipynb`` in ``notebooks``;
    returns {notebook file name: its exercises}. Every notebook is checked before anything is
    written, so a malformed one leaves ``out`` as it was."""
    paths = sorted(Path(notebooks).glob("*.ipynb"))
    if not paths:
        raise EditionError(f"no notebooks (*.ipynb) in {notebooks}")
    parsed = {path: exercises(path) for path in paths}
    out = Path(out)
    for edition in ("student", "instructor"):
        (out / edition).mkdir(parents=True, exist_ok=True)
        for old in (out / edition).glob("*.ipynb"):
            old.unlink()
    for path, (nb, found) in parsed.items():
        shutil.copyfile(path, out / "instructor" / path.name)
        _write(student(nb, found), out / "student" / path.name)
    return {path.name: found for path, (_, found) in parsed.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gentoolkit.editions", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("build", help="write OUT/student/ and OUT/instructor/")
    command.add_argument("out", type=Path, help="output folder, e.g. build/editions")
    command.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="source folder (default: notebooks/)")
    args = parser.parse_args(argv)
    try:
        listed = build(args.out, args.notebooks)
    except EditionError as err:
        print(f"editions: {err}", file=sys.stderr)
        return 1
    for name, found in listed.items():
        print(f"{name}: {len(found)} exercises")
        for e in found:
            print(f"  {e['number']}  cell {e['cell']:>2}  {e['function']}  ({e['check']}): {e['title']}")
    total = sum(len(found) for found in listed.values())
    print(f"{total} exercises in {len(listed)} notebooks -> {args.out / 'student'}, {args.out / 'instructor'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
