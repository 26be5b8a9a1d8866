"""The exercise checks of notebook 06: each accepts its answer (written two ways, float32 too) and
gives each plausible wrong answer, written here as a student would write it (plain math.log, no
special case for 0 unless the mistake is elsewhere), the hint that names its mistake. On the inputs
the check really uses (recorded by a spy that answers correctly) the wrong answers differ pairwise,
so no two mistakes can get each other's hint."""

import math

import pytest
import torch

from gentoolkit import exercises as ex
from tests.exercise_harness import harness


def xlog(x, y):  # a careful student's x log(x / y)
    return x * math.log(x / y) if x > 0 else 0.0


def kl(a, b):
    return xlog(a, b) + xlog(1 - a, 1 - b)


def js(a, b):
    m = (a + b) / 2
    return 0.5 * kl(a, m) + 0.5 * kl(b, m)


def naive_js(a, b):  # right formula, but 0 log 0 evaluated literally
    m = (a + b) / 2
    return 0.5 * (a * math.log(a / m) + (1 - a) * math.log((1 - a) / (1 - m))) + 0.5 * (
        b * math.log(b / m) + (1 - b) * math.log((1 - b) / (1 - m))
    )


JS_WRONG = {
    "Missing factor 1/2": lambda a, b: kl(a, (a + b) / 2) + kl(b, (a + b) / 2),
    "log base 2": lambda a, b: js(a, b) / math.log(2),
    "KL in the wrong direction": lambda a, b: 0.5 * kl((a + b) / 2, a) + 0.5 * kl((a + b) / 2, b),
    "P \\+ Q without the 1/2": lambda a, b: (
        0.5 * (xlog(a, a + b) + xlog(1 - a, 2 - a - b)) + 0.5 * (xlog(b, a + b) + xlog(1 - b, 2 - a - b))
    ),
    "KL\\(P \\|\\| Q\\) itself": kl,
    "symmetrised KL": lambda a, b: 0.5 * kl(a, b) + 0.5 * kl(b, a),
    "only 1/2 KL\\(P \\|\\| M\\)": lambda a, b: 0.5 * kl(a, (a + b) / 2),
    "heads .* and tails": lambda a, b: 0.5 * xlog(a, (a + b) / 2) + 0.5 * xlog(b, (a + b) / 2),
    "2 JS - log 4": lambda a, b: 2 * js(a, b) - math.log(4),
}

D_WRONG = {
    "probability of 'fake'": lambda p, q: q / (p + q),
    "density ratio p / q": lambda p, q: p / q,
    "logit, log\\(p / q\\)": lambda p, q: torch.log(p) - torch.log(q),
    "That is log D\\*": lambda p, q: torch.log(p / (p + q)),
    "1/2 is D\\* only where p = q": lambda p, q: 0.5 * torch.ones_like(p),
    "sigmoid\\(p - q\\)": lambda p, q: 1 / (1 + torch.exp(q - p)),
    "p / \\(1 \\+ q\\)": lambda p, q: p / (1 + q),
}

CHECKS = {
    ex.check_js_coins: (js, JS_WRONG),
    ex.check_optimal_discriminator: (lambda p, q: p / (p + q), D_WRONG),
}
globals().update(harness(CHECKS))  # the five shared tests (tests/exercise_harness.py)


def test_checks_accept_other_correct_forms(capsys):
    def js_entropy(a, b):  # JS = H(M) - (H(P) + H(Q)) / 2
        h = lambda x: -xlog(x, 1) - xlog(1 - x, 1)  # noqa: E731
        return h((a + b) / 2) - (h(a) + h(b)) / 2

    ex.check_js_coins(js_entropy)
    ex.check_optimal_discriminator(lambda p, q: torch.sigmoid(torch.log(p.float()) - torch.log(q.float())))
    ex.check_optimal_discriminator(lambda p, q: 1 / (1 + q / p))  # inf at p = 0 gives 0
    assert capsys.readouterr().out.count("Correct!") == 3


def test_js_zero_probability_is_explained():
    # the right formula with 0 log 0 taken literally: math.log(0) raises; the hint says 0 log 0 = 0
    with pytest.raises(ex.WrongAnswer, match="js_coins\\(a=0, b=0.5\\).*0 log 0 = 0"):
        ex.check_js_coins(naive_js)
    # KL(M || P) divides by zero where p = 0, as the check's own wrong formula does: still recognised
    with pytest.raises(ex.WrongAnswer, match="^KL in the wrong direction"):
        ex.check_js_coins(
            lambda a, b: (
                0.5 * sum(m * math.log(m / x) for m, x in (((a + b) / 2, a), (1 - (a + b) / 2, 1 - a)))
                + 0.5 * sum(m * math.log(m / x) for m, x in (((a + b) / 2, b), (1 - (a + b) / 2, 1 - b)))
            )
        )


def test_optimal_discriminator_shape_and_unrecognised_answers():
    with pytest.raises(ex.WrongAnswer, match="points' shape \\(16,\\) \\(one value per point\\)"):
        ex.check_optimal_discriminator(lambda p, q: (p / (p + q)).sum())
    with pytest.raises(ex.WrongAnswer, match="Not quite"):
        ex.check_optimal_discriminator(lambda p, q: p / (p + q) ** 2)


def test_a_sign_flip_inside_the_optimal_discriminator_is_caught():
    with pytest.raises(ex.WrongAnswer):
        ex.check_optimal_discriminator(lambda p, q: p / (p - q))
