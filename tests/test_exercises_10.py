"""Notebook 10's exercise checks (Heun's step and DPM-Solver++(2M)'s step in EDM's sigma): each accepts
its answer (in float32 and in other correct forms too) and gives each plausible wrong answer, written
here as a student would write it, the hint that names its mistake; on the inputs the check really
uses (recorded by a spy that answers correctly) the wrong answers differ pairwise. Also: the right
answer agrees with the package's solvers (one Heun step of edm_heun, one second-order step of
dpmpp_2m), so the exercises teach what the package does."""

import math

import pytest
import torch

from gentoolkit import exercises as ex
from gentoolkit.sde import VESDE, dpmpp_2m, edm_heun, gaussian_score
from tests.exercise_harness import harness


def heun_answer(x, denoised, denoised_euler, sigma, sigma_next):
    d = (x - denoised) / sigma
    x_euler = x + (sigma_next - sigma) * d
    d_next = (x_euler - denoised_euler) / sigma_next
    return x + (sigma_next - sigma) * (d + d_next) / 2


def heun_with(x, den, den_e, s, s1, *, from_x=False, div=None, half=0.5, from_euler=False, only_next=False):
    d = (x - den) / s
    xe = x + (s1 - s) * d
    d2 = ((x if from_x else xe) - den_e) / (div or s1)
    if only_next:
        return x + (s1 - s) * d2
    return (xe if from_euler else x) + half * (s1 - s) * (d + d2)


HEUN_WRONG = {
    "That is Euler's step": lambda x, den, den_e, s, s1: x + (s1 - s) * (x - den) / s,
    "taken at the Euler point": lambda x, den, den_e, s, s1: heun_with(x, den, den_e, s, s1, from_x=True),
    "its own noise level": lambda x, den, den_e, s, s1: heun_with(x, den, den_e, s, s1, div=s),
    "Average the two slopes": lambda x, den, den_e, s, s1: heun_with(x, den, den_e, s, s1, half=1.0),
    "starts again from x": lambda x, den, den_e, s, s1: heun_with(x, den, den_e, s, s1, from_euler=True),
    "uses only the slope at the Euler point": lambda x, den, den_e, s, s1: heun_with(
        x, den, den_e, s, s1, only_next=True
    ),
    "which is negative": lambda x, den, den_e, s, s1: (
        x + (s - s1) * ((x - den) / s + (x + (s1 - s) * (x - den) / s - den_e) / s1) / 2
    ),
    "Averaging the two denoised outputs": lambda x, den, den_e, s, s1: x + (s1 - s) * (x - 0.5 * (den + den_e)) / s,
    "Check the sign of the slope": lambda x, den, den_e, s, s1: (
        lambda d: x + (s1 - s) * (d + (den_e - (x + (s1 - s) * d)) / s1) / 2
    )((den - x) / s),
}


def dpm_answer(x, denoised, denoised_prev, sigma_prev, sigma, sigma_next):
    h, h_prev = math.log(sigma / sigma_next), math.log(sigma_prev / sigma)
    r = h_prev / h
    mixed = (1 + 1 / (2 * r)) * denoised - 1 / (2 * r) * denoised_prev
    return sigma_next / sigma * x + (1 - sigma_next / sigma) * mixed


def dpm_mixed(x, den, q, mixed):
    return q * x + (1 - q) * mixed


def weights(den, dp, sp, s, s1, a=0.5, inverted=False):
    h, hp = math.log(s / s1), math.log(sp / s)
    r = h / hp if inverted else hp / h
    return (1 + a / r) * den - a / r * dp


DPM_WRONG = {
    "That is the first-order step": lambda x, d, dp, sp, s, s1: dpm_mixed(x, d, s1 / s, d),
    "r is the ratio of the previous step": lambda x, d, dp, sp, s, s1: dpm_mixed(
        x, d, s1 / s, weights(d, dp, sp, s, s1, inverted=True)
    ),
    "Missing factor 1/2": lambda x, d, dp, sp, s, s1: dpm_mixed(x, d, s1 / s, weights(d, dp, sp, s, s1, a=1.0)),
    "Adams-Bashforth": lambda x, d, dp, sp, s, s1: dpm_mixed(x, d, s1 / s, 1.5 * d - 0.5 * dp),
    "Measure the steps in lambda": lambda x, d, dp, sp, s, s1: dpm_mixed(
        x, d, s1 / s, (1 + (s - s1) / (2 * (sp - s))) * d - (s - s1) / (2 * (sp - s)) * dp
    ),
    "The coefficients are swapped": lambda x, d, dp, sp, s, s1: (1 - s1 / s) * x + s1 / s * weights(d, dp, sp, s, s1),
    "sign of the correction": lambda x, d, dp, sp, s, s1: dpm_mixed(x, d, s1 / s, weights(d, dp, sp, s, s1, a=-0.5)),
    "The newer output gets the larger weight": lambda x, d, dp, sp, s, s1: dpm_mixed(
        x, d, s1 / s, weights(dp, d, sp, s, s1)
    ),
    "not its square": lambda x, d, dp, sp, s, s1: dpm_mixed(x, d, (s1 / s) ** 2, weights(d, dp, sp, s, s1)),
}

CHECKS = {
    ex.check_heun_update: (heun_answer, HEUN_WRONG),
    ex.check_dpmpp_2m_update: (dpm_answer, DPM_WRONG),
}
globals().update(harness(CHECKS))  # the five shared tests (tests/exercise_harness.py)


def test_checks_accept_other_correct_forms(capsys):
    def heun_trapezoid(x, denoised, denoised_euler, sigma, sigma_next):  # float32, one line, expm1-free
        x, denoised, denoised_euler = x.float(), denoised.float(), denoised_euler.float()
        h = sigma_next - sigma
        xe = x + h * (x - denoised) / sigma
        return 0.5 * (x + xe + h * (xe - denoised_euler) / sigma_next)

    def dpm_expm1(x, denoised, denoised_prev, sigma_prev, sigma, sigma_next):  # k-diffusion's form
        t_prev, t, t_next = (-math.log(v) for v in (sigma_prev, sigma, sigma_next))
        h, h_last = t_next - t, t - t_prev
        r = h_last / h
        d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * denoised_prev
        return (sigma_next / sigma) * x - math.expm1(-h) * d

    ex.check_heun_update(heun_trapezoid)
    ex.check_dpmpp_2m_update(dpm_expm1)
    assert capsys.readouterr().out.count("Correct!") == 2


def test_the_answers_are_what_the_package_solvers_do():
    """One step of edm_heun and the second step of dpmpp_2m on VE (m = 1, so x^ = x and sigma(t) is
    the kernel std) equal the exercises' answers fed with the exact Gaussian denoiser."""
    sde, mu, s = VESDE(0.01, 10.0), 0.8, 0.6
    score = gaussian_score(sde, mu, s)
    x = 3.0 * torch.randn(8, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    times = torch.tensor([0.9, 0.7, 0.45], dtype=torch.float64)
    sig = sde.edm_sigma(times).tolist()

    def den(y, sigma):
        return mu + s**2 / (s**2 + sigma**2) * (y - mu)

    xe = x + (sig[1] - sig[0]) * (x - den(x, sig[0])) / sig[0]
    want = heun_answer(x, den(x, sig[0]), den(xe, sig[1]), sig[0], sig[1])
    torch.testing.assert_close(edm_heun(sde, score, x, times[:2]), want)
    x1 = dpmpp_2m(sde, score, x, times[:2])  # the first step is first order
    torch.testing.assert_close(x1, sig[1] / sig[0] * x + (1 - sig[1] / sig[0]) * den(x, sig[0]))
    want = dpm_answer(x1, den(x1, sig[1]), den(x, sig[0]), sig[0], sig[1], sig[2])
    torch.testing.assert_close(dpmpp_2m(sde, score, x, times), want)


def test_unrecognised_and_malformed_answers_are_explained():
    with pytest.raises(ex.WrongAnswer, match="Not quite"):
        ex.check_heun_update(lambda x, d, de, s, s1: heun_answer(x, d, de, s, s1) + 0.01)
    with pytest.raises(ex.WrongAnswer, match=r"must return a tensor of the points' shape \(16, 2\)"):
        ex.check_dpmpp_2m_update(lambda x, d, dp, sp, s, s1: x[:, 0])
    with pytest.raises(ex.WrongAnswer, match="changed its input x in place"):
        ex.check_heun_update(lambda x, d, de, s, s1: x.sub_(d))
