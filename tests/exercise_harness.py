"""The five tests every exercise check gets, shared by tests/test_exercises*.py: the right
answer passes; each plausible wrong answer fails with its own hint (the one naming that
mistake); the wrong answers differ pairwise on the inputs the check uses (else a hint could
name the wrong mistake); the answer with its sign flipped or a factor 2 missing fails; the
student edition's stub (``raise NotImplementedError("Exercise N.k: ...")``) gets an
:class:`~gentoolkit.exercises.ExerciseError` that says the exercise is not done yet. A test
module binds them to its own ``test_*`` names with ``globals().update(harness(CHECKS))``."""

from __future__ import annotations

import inspect
import itertools
import math

import pytest
import torch


def recorded_inputs(check, answer) -> list[tuple]:
    """The inputs ``check`` calls the student's function with (copies: an answer that changes
    its input in place must not change the record), via a spy that answers correctly."""
    seen = []

    def spy(*args):
        seen.append(tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args))
        return answer(*args)

    check(spy)
    return seen


def outputs(fn, cases) -> torch.Tensor:
    """``fn`` on every case, flattened into one float64 vector, nan where it is undefined."""
    values = []
    for case in cases:
        try:
            out = fn(*case)
        except (ArithmeticError, ValueError):
            out = torch.full(case[0].shape, math.nan) if isinstance(case[0], torch.Tensor) else math.nan
        out = math.nan if isinstance(out, complex) else out
        values.append(torch.as_tensor(out, dtype=torch.float64).flatten())
    return torch.cat(values)


def harness(checks: dict, hint=str):
    """The five tests, {name: test}, for ``checks``:
    {check: (answer, {hint pattern: wrong answer})}. ``hint(err)``: the part of a WrongAnswer's
    message that must differ between mistakes."""
    from gentoolkit import exercises as ex

    ids = [check.__name__ for check in checks]
    each = pytest.mark.parametrize("check", checks, ids=ids)

    @each
    def test_check_accepts_the_answer(check, capsys):
        check(checks[check][0])
        assert capsys.readouterr().out == "Correct!\n"

    @each
    def test_each_wrong_answer_gets_the_hint_that_names_its_mistake(check):
        hints = set()
        for pattern, wrong in checks[check][1].items():
            with pytest.raises(ex.WrongAnswer, match=pattern) as err:
                check(wrong)
            hints.add(hint(err.value))
        assert len(hints) == len(checks[check][1])  # one distinct hint per mistake

    @each
    def test_wrong_answers_differ_pairwise_on_the_checks_inputs(check):
        answer, wrong = checks[check]
        cases = recorded_inputs(check, answer)
        assert len(cases) >= 3
        values = {"the answer": outputs(answer, cases)} | {h: outputs(fn, cases) for h, fn in wrong.items()}
        for (a, va), (b, vb) in itertools.combinations(values.items(), 2):
            assert not torch.allclose(va, vb, rtol=1e-3, atol=1e-5, equal_nan=True), f"{a!r} and {b!r} coincide"

    @each
    def test_a_sign_flip_and_a_missing_factor_are_caught(check):
        answer = checks[check][0]
        for wrong in (lambda *args: -answer(*args), lambda *args: answer(*args) / 2):
            with pytest.raises(ex.WrongAnswer):
                check(wrong)

    @each
    def test_the_student_stub_is_not_done_yet_with_a_hint(check, capsys):
        def stub(*args):
            raise NotImplementedError("Exercise 9.9: the task's first line")

        with pytest.raises(ex.ExerciseError) as err:
            check(stub)
        name = next(iter(inspect.signature(check).parameters))  # the check's argument is named as the function
        what, where = ex.TODO[name]
        message = str(err.value)
        assert isinstance(err.value, ex.NotDoneYet) and isinstance(err.value, ex.WrongAnswer)
        assert message.startswith(f"Not done yet: {name} is not written yet")
        assert "(Exercise 9.9: the task's first line)" in message  # the stub's own words
        assert f"{name} must return {what}. Where to look: {where}." in message
        assert err.value.__cause__ is None and err.value.__suppress_context__  # no traceback of the stub
        assert capsys.readouterr().out == ""  # no "Correct!"

    return {name: test for name, test in locals().items() if name.startswith("test_")}
