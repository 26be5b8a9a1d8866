"""Notebook 09's exercise checks (the expected denoised sample on images, the StackedMNIST KL): each
accepts its answer (in float32 and another correct form too) and gives each plausible wrong answer,
written here as a student would write it, the hint that names its mistake; on the inputs the check
really uses (recorded by a spy that answers correctly) the wrong answers differ pairwise."""

import math

import pytest
import torch

from gentoolkit import exercises as ex
from tests.exercise_harness import harness


def eds_answer(x, score, sigma):
    return x + sigma**2 * score


def hist(r, g, b, labels=None):
    labels = 100 * r + 10 * g + b if labels is None else labels
    return torch.bincount(labels, minlength=1000).double() / len(labels)


def kl_answer(r, g, b):
    p = hist(r, g, b)
    p = p[p > 0]
    return (p * torch.log(1000 * p)).sum()


def kl_of(p, k=1000):
    p = p[p > 0]
    return (p * torch.log(k * p)).sum()


EDS_WRONG = {
    "not by sigma": lambda x, s, sigma: x + sigma * s,
    "Check the sign": lambda x, s, sigma: x - sigma**2 * s,
    "only the correction": lambda x, s, sigma: sigma**2 * s,
    "instead of dividing": lambda x, s, sigma: x + s / sigma**2,
    "right only for sigma = 1": lambda x, s, sigma: x + s,
    "Langevin step": lambda x, s, sigma: x + 0.5 * sigma**2 * s,
}

KL_WRONG = {
    "natural log": lambda r, g, b: (lambda p: (p * torch.log2(1000 * p)).sum())(hist(r, g, b)[hist(r, g, b) > 0]),
    "wrong direction": lambda r, g, b: (0.001 * torch.log(0.001 / hist(r, g, b))).sum(),
    "r \\+ g \\+ b adds the digits": lambda r, g, b: kl_of(hist(r, g, b, r + g + b)),
    "10 r \\+ 10 g \\+ b": lambda r, g, b: kl_of(hist(r, g, b, 10 * r + 10 * g + b)),
    "not over the modes you saw": lambda r, g, b: kl_of(hist(r, g, b), int((hist(r, g, b) > 0).sum())),
    "counts into frequencies": lambda r, g, b: kl_of(torch.bincount(100 * r + 10 * g + b, minlength=1000).double()),
    "0 \\* log 0 = nan": lambda r, g, b: (hist(r, g, b) * torch.log(1000 * hist(r, g, b))).sum(),
    "don't average": lambda r, g, b: (lambda p: torch.where(p > 0, p * torch.log(1000 * p), 0.0).mean())(hist(r, g, b)),
}

CHECKS = {
    ex.check_expected_denoised: (eds_answer, EDS_WRONG),
    ex.check_stacked_kl: (kl_answer, KL_WRONG),
}
globals().update(harness(CHECKS))  # the five shared tests (tests/exercise_harness.py)


def test_checks_accept_other_correct_forms(capsys):
    ex.check_expected_denoised(lambda x, s, sigma: x.float() + s.float() * sigma * sigma)  # float32

    def kl_counts(r, g, b):  # from the counts: sum c/n log(1000 c / n), float32
        c = torch.bincount(100 * r + 10 * g + b, minlength=1000).float()
        c = c[c > 0]
        n = len(r)
        return float((c / n * (math.log(1000) + torch.log(c) - math.log(n))).sum())

    ex.check_stacked_kl(kl_counts)
    assert capsys.readouterr().out.count("Correct!") == 2


def test_unrecognised_and_malformed_answers_are_explained():
    with pytest.raises(ex.WrongAnswer, match="Not quite"):
        ex.check_expected_denoised(lambda x, s, sigma: x + sigma**3 * s)
    with pytest.raises(ex.WrongAnswer, match="must return one number"):
        ex.check_stacked_kl(lambda r, g, b: hist(r, g, b))
    with pytest.raises(ex.WrongAnswer, match="^Not done yet: .* is not written yet"):
        ex.check_stacked_kl(lambda r, g, b: (_ for _ in ()).throw(NotImplementedError))
