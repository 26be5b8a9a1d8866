"""The Quiz widget (gentoolkit.widgets.Quiz), driven as a student would in a plain Python test:
pick an option or type a number, press Check; the feedback says right or wrong and always
explains the right answer. Bad arguments name the argument."""

import json
import math
import re
from pathlib import Path

import ipywidgets as W
import pytest

from gentoolkit.widgets import Quiz

OPTIONS = ["towards higher density", "towards lower density", "along the level sets"]


def choice_quiz():
    return Quiz(
        "Which way does the score $\\nabla_x \\log p$ point?",
        OPTIONS,
        answer="towards higher density",
        explanation="it is the gradient of log p, the direction in which log p grows fastest.",
    )


def test_a_choice_quiz_driven_by_clicks_gives_feedback_that_explains():
    quiz = choice_quiz()
    assert isinstance(quiz.choice, W.RadioButtons) and quiz.choice.value is None  # nothing chosen for the student
    assert quiz.feedback.value == "" and quiz.correct is None and quiz.attempts == 0
    quiz.button.click()  # nothing chosen yet: a prompt, no answer given away
    assert "Choose one of the options" in quiz.feedback.value and "gradient" not in quiz.feedback.value
    assert quiz.attempts == 0
    quiz.choice.value = "towards lower density"
    quiz.button.click()
    wrong = quiz.feedback.value
    assert wrong.startswith("✘ Not quite: you answered towards lower density.")
    assert "The answer is “towards higher density”: it is the gradient of log p" in wrong
    assert quiz.correct is False and quiz.attempts == 1
    quiz.choice.value = "towards higher density"
    quiz.button.click()
    assert quiz.feedback.value.startswith("✔ Right. The answer is “towards higher density”: it is the gradient")
    assert quiz.correct is True and quiz.attempts == 2


def test_check_returns_whether_the_value_is_right_and_moves_the_control():
    quiz = choice_quiz()
    assert quiz.check("along the level sets") is False and quiz.choice.value == "along the level sets"
    assert "Not quite" in quiz.feedback.value and "gradient of log p" in quiz.feedback.value
    assert quiz.check("towards higher density") is True and quiz.check() is True  # the control's own value
    with pytest.raises(ValueError, match="value='sideways' is not one of the options"):
        quiz.check("sideways")


def test_a_numeric_quiz_accepts_answers_within_its_relative_tolerance():
    quiz = Quiz(
        "JS(P, Q) for disjoint P and Q, in nats?",
        answer=math.log(2),
        tolerance=0.01,
        explanation="each half-KL is log 2 when M puts half of its mass outside each support.",
    )
    assert isinstance(quiz.choice, W.FloatText)
    quiz.choice.value = 0.69  # 0.45% from log 2
    quiz.button.click()
    assert quiz.correct is True and quiz.feedback.value.startswith("✔ Right. The answer is 0.693147: each half-KL")
    quiz.choice.value = 0.68  # 1.9% off
    quiz.button.click()
    assert quiz.correct is False and quiz.feedback.value.startswith("✘ Not quite: you answered 0.68.")
    assert "The answer is 0.693147: each half-KL" in quiz.feedback.value
    assert quiz.check(1) is False and quiz.check(math.log(2) * 1.009) is True and quiz.attempts == 4
    with pytest.raises(TypeError, match="value must be a finite number, got 'log 2'"):
        quiz.check("log 2")
    with pytest.raises(TypeError, match="value must be a finite number, got nan"):
        quiz.check(math.nan)


def test_a_numeric_answer_of_zero_uses_the_tolerance_as_absolute():
    quiz = Quiz("KL(P || P)?", answer=0, tolerance=1e-3, explanation="log(p / p) = 0 everywhere.")
    assert quiz.check(5e-4) is True and quiz.check(2e-3) is False
    assert Quiz("1 + 1?", answer=2, explanation="two.").tolerance == 0.01  # the default


def test_text_is_escaped_and_math_is_kept():
    quiz = Quiz("Is <b>this</b> $x < y$?", ["yes", "no"], answer="yes", explanation="a < b & c")
    title = quiz.view.children[0].value
    assert "&lt;b&gt;this&lt;/b&gt;" in title and "$x &lt; y$" in title
    quiz.check("no")
    assert "a &lt; b &amp; c" in quiz.feedback.value


def test_it_displays_as_one_box_that_the_browser_tests_leave_alone():
    quiz = choice_quiz()
    assert quiz.view.children == (quiz.view.children[0], quiz.choice, quiz.button, quiz.feedback)
    assert "gentoolkit-quiz" in quiz.view._dom_classes and "gentoolkit-widget" not in quiz.view._dom_classes
    assert "application/vnd.jupyter.widget-view+json" in quiz._repr_mimebundle_()


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"question": "  "}, ValueError, "question must not be empty"),
        ({"question": None}, TypeError, "question must be a string, got NoneType"),
        ({"explanation": ""}, ValueError, "explanation must not be empty"),
        ({"answer": "sideways"}, ValueError, "answer='sideways' is not one of the options"),
        ({"options": ["only one"], "answer": "only one"}, ValueError, "options must be at least two distinct"),
        ({"options": ["a", "a"], "answer": "a"}, ValueError, "options must be at least two distinct"),
        ({"options": "ab", "answer": "a"}, TypeError, "options must be a list of non-empty strings"),
        ({"options": [1, 2], "answer": 1}, TypeError, "options must be a list of non-empty strings"),
        ({"tolerance": 0.1}, ValueError, "tolerance=0.1 applies to numeric questions only"),
        ({"options": None, "answer": "two"}, TypeError, "answer must be a finite number .*got 'two'"),
        ({"options": None, "answer": math.inf}, TypeError, "answer must be a finite number"),
        ({"options": None, "answer": True}, TypeError, "answer must be a finite number"),
        ({"options": None, "answer": 2.0, "tolerance": 0}, ValueError, "tolerance must be a number > 0.*got 0"),
        ({"options": None, "answer": 2.0, "tolerance": -0.1}, ValueError, "tolerance must be a number > 0"),
        ({"options": None, "answer": 2.0, "tolerance": math.nan}, ValueError, "tolerance must be a number > 0"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, pattern):
    args = {"question": "Which?", "options": ["a", "b"], "answer": "a", "explanation": "because."} | kwargs
    with pytest.raises(error, match=pattern):
        Quiz(args.pop("question"), args.pop("options"), **args)


NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_each_notebook_has_one_quiz_after_a_one_sentence_lead_in_and_its_answer_checks(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = ["".join(c["source"]) for c in cells]
    (i,) = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and text[i].startswith("Quiz(")]
    assert cells[i - 1]["cell_type"] == "markdown" and "\n" not in text[i - 1].strip()
    assert re.search(r"^from gentoolkit\.widgets(\.quiz)? import .*\bQuiz\b", text[1], re.M)  # the import cell
    quiz = eval(text[i], {"Quiz": Quiz, "math": math})
    assert quiz.check(quiz.answer) is True and quiz.feedback.value.startswith("✔ Right.")
