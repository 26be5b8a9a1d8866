"""A quick self-check for a pause in a notebook: one question, multiple choice or numeric,
checked in the kernel, with feedback that always explains the right answer::

    Quiz("Which way does the score point?", ["towards higher density", "towards lower density"],
         answer="towards higher density", explanation="It is the gradient of log p.")
    Quiz("KL(P || Q) for P = Q?", answer=0.0, tolerance=1e-6, explanation="log(p / p) = 0 everywhere.")

Not a :class:`~gentoolkit.widgets.base.Widget` (it has no figure): a plain class with the
ipywidgets ``choice`` (radio buttons; a ``FloatText`` for a numeric question), ``button``
("Check") and ``feedback`` (an ``HTMLMath`` line, so ``$...$`` renders), laid out in ``view``.
A test drives it without a browser: set ``quiz.choice.value`` and call ``quiz.button.click()``,
or call ``quiz.check(value)``.
"""

from __future__ import annotations

import html
import math
import numbers

import ipywidgets as W


class Quiz:
    """Args:
    question: the question (text; ``$...$`` is rendered as math).
    options: the choices (at least two distinct strings), or None for a numeric question.
    answer: one of ``options``, or the number for a numeric question.
    explanation: why the answer is right, shown after every check.
    tolerance: for a numeric question, the relative tolerance of a right answer, |value -
        answer| <= tolerance |answer| (absolute when the answer is 0); default 0.01.

    After a check, ``correct`` is True or False (None before) and ``attempts`` counts checks.
    """

    def __init__(self, question: str, options=None, *, answer, explanation: str, tolerance: float | None = None):
        self.question = _text("question", question)
        self.explanation = _text("explanation", explanation)
        if options is None:
            if isinstance(answer, bool) or not isinstance(answer, numbers.Real) or not math.isfinite(answer):
                raise TypeError(f"answer must be a finite number for a numeric question (no options), got {answer!r}")
            tolerance = 0.01 if tolerance is None else tolerance
            if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or not tolerance > 0:
                raise ValueError(f"tolerance must be a number > 0 (relative to the answer), got {tolerance!r}")
            self.options, self.answer, self.tolerance = None, float(answer), float(tolerance)
            self.choice = W.FloatText(value=0.0, description="answer")
        else:
            if isinstance(options, str) or not all(isinstance(o, str) and o.strip() for o in options):
                raise TypeError(f"options must be a list of non-empty strings, got {options!r}")
            options = list(options)
            if len(options) < 2 or len(set(options)) != len(options):
                raise ValueError(f"options must be at least two distinct choices, got {options!r}")
            if answer not in options:
                raise ValueError(f"answer={answer!r} is not one of the options {options}")
            if tolerance is not None:
                raise ValueError(f"tolerance={tolerance!r} applies to numeric questions only (options=None)")
            self.options, self.answer, self.tolerance = options, answer, None
            self.choice = W.RadioButtons(options=options, value=None, layout=W.Layout(width="auto"))
        self.correct, self.attempts = None, 0
        self.button = W.Button(description="Check", button_style="info")
        self.button.on_click(lambda _: self.check())
        self.feedback = W.HTMLMath(value="")
        title = W.HTMLMath(value=f"<b>Quick check.</b> {html.escape(self.question)}")
        self.view = W.VBox([title, self.choice, self.button, self.feedback])
        self.view.add_class("gentoolkit-quiz")

    def check(self, value=None) -> bool:
        """Check ``value`` (an option, or a number), or the control's current value when None;
        shows the feedback and returns whether it is right."""
        if value is not None:
            self.choice.value = self._valid(value)
        value = self.choice.value
        if value is None:  # no option selected yet: nothing to check
            self.feedback.value = "Choose one of the options, then press Check."
            return False
        self.attempts += 1
        if self.options is None:
            self.correct = abs(value - self.answer) <= self.tolerance * (abs(self.answer) or 1.0)
            right = f"{self.answer:g}"
        else:
            self.correct = value == self.answer
            right = f"“{self.answer}”"
        verdict = "✔ Right." if self.correct else f"✘ Not quite: you answered {html.escape(str(value))}."
        self.feedback.value = f"{verdict} The answer is {html.escape(right)}: {html.escape(self.explanation)}"
        return self.correct

    def _valid(self, value):
        if self.options is not None:
            if value not in self.options:
                raise ValueError(f"value={value!r} is not one of the options {self.options}")
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise TypeError(f"value must be a finite number, got {value!r}")
        return float(value)

    def _repr_mimebundle_(self, **kwargs):
        return self.view._repr_mimebundle_(**kwargs)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.view)


def _text(name: str, value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value
