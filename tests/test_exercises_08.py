"""Notebook 08's exercise checks (discriminator rejection sampling, latent Langevin): each accepts its
answer (written another way and in float32 too) and gives each plausible wrong answer, written here as a
student would write it, the hint that names its mistake. On the inputs the check really uses (recorded
by a spy that answers correctly) the wrong answers differ pairwise, so no two mistakes can get each
other's hint."""

import math

import pytest
import torch

from gentoolkit import exercises as ex
from gentoolkit.gan import drs_accept_prob
from tests.exercise_harness import harness, recorded_inputs


def drs_answer(d, m):
    return torch.exp(d - m)


def step_answer(z, e, n, eps):
    return z - eps / 2 * e + math.sqrt(eps) * n


DRS_WRONG = {
    "That is sigmoid\\(D~ - D~_M\\)": lambda d, m: 1 / (1 + torch.exp(m - d)),
    "log of the acceptance probability": lambda d, m: d - m,
    "Check the order: the sample's logit comes first": lambda d, m: torch.exp(m - d),
    "without the bound M": lambda d, m: torch.exp(d),
    "That is sigmoid\\(D~\\), the discriminator's probability": lambda d, m: torch.sigmoid(d),
    "ratio of the discriminator's probabilities": lambda d, m: torch.sigmoid(d) / (1 / (1 + math.exp(-m))),
    "normalised over the batch \\(a softmax\\)": lambda d, m: torch.exp(d) / torch.exp(d).sum(),
    "divided by the batch's largest logit": lambda d, m: torch.exp(d) / torch.exp(d).max(),
}

STEP_WRONG = {
    "Check the sign of the drift": lambda z, e, n, eps: z + eps / 2 * e + math.sqrt(eps) * n,
    "Missing factor 1/2 in the drift": lambda z, e, n, eps: z - eps * e + math.sqrt(eps) * n,
    "gradient descent on E, without the noise": lambda z, e, n, eps: z - 0.5 * eps * e,
    "standard deviation is sqrt\\(eps\\), not eps:": lambda z, e, n, eps: z - eps / 2 * e + eps * n,
    "notebook 02's ULA with step eps": lambda z, e, n, eps: z - eps * e + (2 * eps) ** 0.5 * n,
    "not sqrt\\(eps / 2\\)": lambda z, e, n, eps: z - eps / 2 * e + (eps / 2) ** 0.5 * n,
    "left out the current state": lambda z, e, n, eps: -eps / 2 * e + math.sqrt(eps) * n,
}

CHECKS = {
    ex.check_drs_accept: (drs_answer, DRS_WRONG),
    ex.check_latent_langevin_step: (step_answer, STEP_WRONG),
}
globals().update(harness(CHECKS))  # the five shared tests (tests/exercise_harness.py)


def test_checks_accept_other_correct_forms(capsys):
    ex.check_drs_accept(lambda d, m: torch.exp(d) / math.exp(m))
    ex.check_drs_accept(lambda d, m: torch.exp(d.float() - m))  # float32
    ex.check_drs_accept(lambda d, m: torch.clamp(torch.exp(d - m), max=1.0))  # min(1, ...) changes nothing
    # Azadi et al.'s F(x) with gamma = 0 and a small eps, as the package writes it
    ex.check_drs_accept(lambda d, m: drs_accept_prob(d, m, gamma=0.0, eps=1e-6))
    ex.check_latent_langevin_step(lambda z, e, n, eps: z + eps / 2 * (-e) + eps**0.5 * n)
    ex.check_latent_langevin_step(
        lambda z, e, n, eps: z.float() - eps / 2 * e.float() + math.sqrt(eps) * n.float()  # float32
    )
    assert capsys.readouterr().out.count("Correct!") == 6


def test_drs_inputs_respect_the_bound_and_one_is_above_the_batch_max():
    cases = recorded_inputs(ex.check_drs_accept, drs_answer)
    assert all(float(d.max()) <= m for d, m in cases)  # acceptance probabilities <= 1
    assert any(float(d.max()) < m for d, m in cases)  # a running maximum above the batch's: the last wrong answer
    assert all((drs_answer(d, m) <= 1).all() for d, m in cases)


def test_langevin_step_uses_distinct_step_sizes():
    cases = recorded_inputs(ex.check_latent_langevin_step, step_answer)
    eps = [c[3] for c in cases]
    assert len(set(eps)) == len(eps) and all(e not in (0.25, 0.5, 1.0, 2.0) for e in eps)


def test_in_place_update_and_random_noise_are_explained():
    def in_place(z, e, n, eps):
        z -= eps / 2 * e
        return z + math.sqrt(eps) * n

    with pytest.raises(ex.WrongAnswer, match="changed its input z in place"):
        ex.check_latent_langevin_step(in_place)
    with pytest.raises(ex.WrongAnswer, match="Not quite"):  # fresh noise instead of the one given
        ex.check_latent_langevin_step(lambda z, e, n, eps: z - eps / 2 * e + math.sqrt(eps) * torch.randn_like(n))
    with pytest.raises(ex.WrongAnswer, match="points' shape"):
        ex.check_drs_accept(lambda d, m: torch.exp(d - m).mean())
    with pytest.raises(ex.WrongAnswer, match="^Not done yet: .* is not written yet"):

        def todo(d, m):
            raise NotImplementedError

        ex.check_drs_accept(todo)
