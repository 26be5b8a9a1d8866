"""Mutation testing of the numeric core (data, score, sampling, sde, metrics, divergences, gan) that resumes
across machines: `mutmut` keeps its verdicts in `mutants/`, which a fresh clone lacks, and a
full run (about 8,200 mutants) takes longer than one sitting on 2 cores.
Each survivor of the numeric core is explained in `.ci/mutmut/SURVIVORS.md`.

    .venv/bin/python .ci/mutation.py run [--recheck] [--max-children N] [PATTERN ...]
    .venv/bin/python .ci/mutation.py table [--list survived|timeout|"no tests"|"not checked"]

`run` restores the committed verdicts (`.ci/mutmut/verdicts.json`) into `mutants/`, where
mutmut keeps a verdict only while the mutated function's source hash is unchanged (an edited
function is tested again), then runs mutmut and writes the verdicts back, also when it is
interrupted (Ctrl-C): commit the file to keep them. `--recheck` forgets survivors and
timeouts (of the mutants the PATTERNs select, all without one), for after new tests.

Timeouts: mutmut limits a mutant's CPU time from the test durations it records, and those
are 3-35 times shorter than the tests' real durations here (median 3x), so surviving mutants
of slow tests were reported as timeouts. `run` therefore replaces the recorded durations with
the measured ones in `.ci/mutmut/durations.json` (``pytest --durations=0``: setup + call +
teardown per test; regenerate with `durations`) before the mutants run.
"""

from __future__ import annotations

import collections
import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT / ".ci" / "mutmut"
VERDICTS, DURATIONS = STORE / "verdicts.json", STORE / "durations.json"
MUTANTS = ROOT / "mutants"
MUTMUT = [sys.executable, __file__, "mutmut"]  # mutmut's CLI, patched by no_grad_mutable()
# one torch thread per mutant: two mutants run at once on 2 cores, and spinning OpenMP threads
# would burn the CPU time that mutmut's timeouts count (tests/conftest.py reads the first)
ENV = {**os.environ, "GENTOOLKIT_TEST_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
COLUMNS = ["killed", "timeout", "survived", "no tests", "not checked"]


def no_grad_mutable() -> None:
    """Let mutmut mutate functions decorated with ``@torch.no_grad()``.

    mutmut skips every decorated function (copying it for its trampoline could repeat a
    decorator's side effects, e.g. a route registration), which silently left ALS, CAS, every
    SDE solver, ``sample``, ``mode_stats``, ``score_error`` and ``effective_noise`` unmutated.
    ``torch.no_grad()`` has no such side effect, so for a function whose only decorators are
    ``torch.no_grad()`` the skip rule is asked as if it had none; the trampoline and every
    mutant keep the decorator."""
    import libcst as cst
    from mutmut.mutation.file_mutation import MutationVisitor

    def is_no_grad(d: cst.Decorator) -> bool:
        f = d.decorator.func if isinstance(d.decorator, cst.Call) else None
        return (
            isinstance(f, cst.Attribute)
            and f.attr.value == "no_grad"
            and isinstance(f.value, cst.Name)
            and f.value.value == "torch"
        )

    skip = MutationVisitor._skip_node_and_children

    def patched(self, node):
        if isinstance(node, cst.FunctionDef) and node.decorators and all(map(is_no_grad, node.decorators)):
            saved = node.decorators
            object.__setattr__(node, "decorators", ())  # libcst nodes are frozen; the same node keeps its metadata
            try:
                return skip(self, node)
            finally:
                object.__setattr__(node, "decorators", saved)
        return skip(self, node)

    MutationVisitor._skip_node_and_children = patched


def status(code) -> str:
    """mutmut's name for an exit code (killed, survived, timeout, no tests, not checked, ...)."""
    from mutmut.stats import status_by_exit_code

    return status_by_exit_code[code]


def restore(recheck: bool, patterns: list[str]) -> None:
    """Write the stored verdicts into ``mutants/``; with ``recheck``, forget the survivors and
    timeouts of the mutants that ``patterns`` select (all when none are given), so that mutmut
    runs them again while the others keep their verdicts."""
    if not VERDICTS.is_file():
        return
    for path, meta in json.loads(VERDICTS.read_text()).items():
        target = MUTANTS / (path + ".meta")
        if target.is_file():  # a local run is further along than the stored one: keep it
            local = json.loads(target.read_text())
            if recheck:
                local["exit_code_by_key"] = forget(local["exit_code_by_key"], patterns)
                target.write_text(json.dumps(local))
            continue
        codes = forget(meta["exit_code_by_key"], patterns) if recheck else meta["exit_code_by_key"]
        target.parent.mkdir(parents=True, exist_ok=True)
        empty = {"type_check_error_by_key": {}, "durations_by_key": {}, "estimated_durations_by_key": {}}
        target.write_text(json.dumps({"exit_code_by_key": codes, "hash_by_function_name": meta["hashes"], **empty}))


def forget(codes: dict, patterns: list[str]) -> dict:
    """``codes`` with the survivors and timeouts that ``patterns`` select (mutmut's glob
    patterns of mutant names; all when empty) marked unchecked, so mutmut runs them again."""

    def again(key, v):
        chosen = not patterns or any(fnmatch.fnmatchcase(key, p) for p in patterns)
        return chosen and status(v) in ("survived", "timeout")

    return {k: (None if again(k, v) else v) for k, v in codes.items()}


def save() -> None:
    out = {}
    for meta in sorted(MUTANTS.glob("gentoolkit/**/*.py.meta")):
        d = json.loads(meta.read_text())
        out[str(meta.relative_to(MUTANTS))[: -len(".meta")]] = {
            "exit_code_by_key": d["exit_code_by_key"],
            "hashes": d["hash_by_function_name"],
        }
    STORE.mkdir(parents=True, exist_ok=True)
    VERDICTS.write_text(json.dumps(out, indent=0, sort_keys=True) + "\n")


def patch_durations() -> None:
    stats = MUTANTS / "mutmut-stats.json"
    if not (stats.is_file() and DURATIONS.is_file()):
        return
    d, measured = json.loads(stats.read_text()), json.loads(DURATIONS.read_text())
    # a test missing from the measurement (new since) keeps mutmut's figure, scaled like the median
    d["duration_by_test"] = {t: measured.get(t, 3.0 * v) for t, v in d["duration_by_test"].items()}
    stats.write_text(json.dumps(d))


def durations() -> None:
    """Measure every test mutmut runs (its pytest options) and store setup + call + teardown."""
    args = json.loads(json.dumps(_config().get("pytest_add_cli_args", [])))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--durations=0", "-vv", *args, "tests"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
    ).stdout
    total: dict[str, float] = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)s (setup|call|teardown)\s+(\S+)", line)
        if m:
            total[m.group(3)] += float(m.group(1))
    STORE.mkdir(parents=True, exist_ok=True)
    DURATIONS.write_text(json.dumps(dict(sorted(total.items())), indent=0) + "\n")
    print(f"{len(total)} tests, {sum(total.values()):.0f} s in all -> {DURATIONS.relative_to(ROOT)}")


def _config() -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]


def table(show: list[str]) -> None:
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    names: dict[str, list[str]] = collections.defaultdict(list)
    source = json.loads(VERDICTS.read_text()) if VERDICTS.is_file() else {}
    for path, meta in source.items():
        module = path[: -len(".py")].replace("/", ".")
        for key, code in meta["exit_code_by_key"].items():
            counts[module][status(code)] += 1
            names[status(code)].append(key)
    columns = COLUMNS + sorted({s for c in counts.values() for s in c} - set(COLUMNS))
    print("| module | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns))
    for module in sorted(counts):
        print(f"| {module} | " + " | ".join(str(counts[module][c]) for c in columns) + " |")
    total = collections.Counter()
    for c in counts.values():
        total.update(c)
    print("| all | " + " | ".join(str(total[c]) for c in columns) + " |")
    for s in show:
        print(f"\n{s}:", *sorted(names[s]), sep="\n  ")


def main(argv: list[str]) -> int:
    if argv[:1] == ["mutmut"]:  # mutmut's own CLI with the patch above (what `run` calls)
        from mutmut.__main__ import cli

        no_grad_mutable()
        sys.argv = argv
        cli()
        return 0
    if not argv or argv[0] not in ("run", "table", "durations"):
        print(__doc__)
        return 2
    if argv[0] == "durations":
        durations()
        return 0
    if argv[0] == "table":
        show = [argv[i + 1] for i, a in enumerate(argv) if a == "--list" and i + 1 < len(argv)]
        table(show)
        return 0
    rest = argv[1:]
    recheck = "--recheck" in rest
    rest = [a for a in rest if a != "--recheck"]
    MUTANTS.mkdir(exist_ok=True)
    restore(recheck, [a for a in rest if a.startswith("gentoolkit")])  # the mutant-name patterns
    try:
        # pass 1 generates the mutants (merging the restored verdicts) and collects test stats;
        # it matches no mutant, so it stops at its clean-test step, which is expected
        subprocess.run([*MUTMUT, "run", "gentoolkit.no_such_module*"], cwd=ROOT, env=ENV, capture_output=True)
        patch_durations()
        return subprocess.run([*MUTMUT, "run", *rest], cwd=ROOT, env=ENV).returncode
    finally:
        save()
        table([])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
