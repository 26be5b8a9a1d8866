"""Notebook 05's exercise checks (GAN losses on logits): each accepts its answer (in float32 and
other correct forms too) and gives each plausible wrong answer the hint that names its mistake.
The wrong answers are written here as a student would write them, independently of the check's
own list; on the inputs the check really uses (recorded by a spy that answers correctly) they
must differ pairwise, so that no two mistakes can get each other's hint."""

import math

import pytest
import torch
import torch.nn.functional as F

from gentoolkit import exercises as ex
from tests.exercise_harness import harness, recorded_inputs


def ns_answer(c):
    return -F.logsigmoid(c).mean()


def rasgan_answer(cr, cf):
    return -F.logsigmoid(cr - cf.mean()).mean() - F.logsigmoid(-(cf - cr.mean())).mean()


def _eps_log(p):
    return torch.log(p + 1e-8)


# check -> (answer, {regex the hint must match: wrong answer})
CHECKS = {
    ex.check_ns_generator_loss: (
        ns_answer,
        {
            "minimax \\(saturating\\) generator loss mean\\(log\\(1 - sigmoid\\(C_f\\)\\)\\): its gradient": (
                lambda c: F.logsigmoid(-c).mean()
            ),
            "minimax \\(saturating\\).*-inf for large C": lambda c: torch.log(1 - torch.sigmoid(c)).mean(),
            "Check the sign: the generator \\*minimizes\\*": lambda c: F.logsigmoid(c).mean(),
            "mean over the batch, not the sum": lambda c: -F.logsigmoid(c).sum(),
            "right but not stable: sigmoid\\(C\\) rounds to 0": lambda c: -torch.log(torch.sigmoid(c)).mean(),
            "critic's loss on the fakes": lambda c: -F.logsigmoid(-c).mean(),
            "mean of the logs, not the log of the mean": lambda c: -torch.log(torch.sigmoid(c).mean()),
            "its negative \\*log\\*": lambda c: -torch.sigmoid(c).mean(),
            # an epsilon inside the log: right on moderate logits, wrong on a confident critic
            "Right for moderate logits, wrong for very large \\|C\\|.*softplus": (
                lambda c: -_eps_log(torch.sigmoid(c)).mean()
            ),
        },
    ),
    ex.check_rasgan_critic_loss: (
        rasgan_answer,
        {
            "relativistic \\*paired\\* loss \\(RSGAN": lambda cr, cf: -F.logsigmoid(cr - cf).mean(),
            "\\*other\\* batch's mean": lambda cr, cf: (
                -F.logsigmoid(cr - cr.mean()).mean() - F.logsigmoid(cf.mean() - cf).mean()
            ),
            "standard \\(non-relativistic\\) critic loss": lambda cr, cf: (
                -F.logsigmoid(cr).mean() - F.logsigmoid(-cf).mean()
            ),
            "That is the generator's loss": lambda cr, cf: (
                -F.logsigmoid(cf - cr.mean()).mean() - F.logsigmoid(cf.mean() - cr).mean()
            ),
            "fake term is -mean\\(log\\(1 - sigmoid\\(D~_f\\)\\)\\)": lambda cr, cf: (
                -F.logsigmoid(cr - cf.mean()).mean() - F.logsigmoid(cf - cr.mean()).mean()
            ),
            "left out the fake term": lambda cr, cf: -F.logsigmoid(cr - cf.mean()).mean(),
            "right but not stable: when the critic is confidently wrong": lambda cr, cf: (
                -torch.log(torch.sigmoid(cr - cf.mean())).mean() - torch.log(1 - torch.sigmoid(cf - cr.mean())).mean()
            ),
            "means over the batches, not sums": lambda cr, cf: (
                -F.logsigmoid(cr - cf.mean()).sum() - F.logsigmoid(cr.mean() - cf).sum()
            ),
            "Check the sign: the loss is a sum of negative log-probabilities": lambda cr, cf: (
                F.logsigmoid(cr - cf.mean()).mean() + F.logsigmoid(cr.mean() - cf).mean()
            ),
            "averaged the loss over every pair": lambda cr, cf: (
                -F.logsigmoid(cr[:, None] - cf[None, :]).mean() - F.logsigmoid(cr[None, :] - cf[:, None]).mean()
            ),
            "Right for moderate logits, wrong for very large \\|C\\|": lambda cr, cf: (
                -_eps_log(torch.sigmoid(cr - cf.mean())).mean() - _eps_log(1 - torch.sigmoid(cf - cr.mean())).mean()
            ),
        },
    ),
}
IDS = [check.__name__ for check in CHECKS]
# the five shared tests (tests/exercise_harness.py)
globals().update(harness(CHECKS, hint=lambda err: str(err).split(" (For ")[0]))


@pytest.mark.parametrize("check", CHECKS, ids=IDS)
def test_inputs_include_a_confident_critic(check):
    # |C| in the hundreds, where sigmoid rounds to 0 or 1 in float64: the unstable forms must show there
    cases = recorded_inputs(check, CHECKS[check][0])
    assert any(max(float(t.abs().max()) for t in case) > 745 for case in cases)
    assert all(t.dtype == torch.float64 for case in cases for t in case)


def test_checks_accept_float32_and_other_correct_forms(capsys):
    ex.check_ns_generator_loss(lambda c: F.softplus(-c.float()).mean())
    ex.check_ns_generator_loss(
        lambda fake_logits: torch.mean(
            F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits), reduction="none")
        )
    )
    ex.check_rasgan_critic_loss(lambda cr, cf: F.softplus(cf.mean() - cr).mean() + F.softplus(cf - cr.mean()).mean())
    ex.check_rasgan_critic_loss(
        lambda cr, cf: (
            F.binary_cross_entropy_with_logits(cr.float() - cf.float().mean(), torch.ones_like(cr.float()))
            + F.binary_cross_entropy_with_logits(cf.float() - cr.float().mean(), torch.zeros_like(cf.float()))
        )
    )
    assert capsys.readouterr().out.count("Correct!") == 4


@pytest.mark.parametrize("check", CHECKS, ids=IDS)
def test_unwritten_non_callable_missing_return_and_wrong_shapes_are_explained(check):
    def unwritten(*args):
        raise NotImplementedError

    with pytest.raises(ex.WrongAnswer, match="^Not done yet: .* is not written yet"):
        check(unwritten)
    with pytest.raises(ex.WrongAnswer, match="must be a function; got float"):
        check(3.0)
    with pytest.raises(ex.WrongAnswer, match="forget the `return`"):
        check(lambda *args: None)
    with pytest.raises(ex.WrongAnswer, match="must return one number, the loss averaged.*got a tensor of shape"):
        check(lambda *args: F.softplus(-args[-1]))  # per-sample losses, no mean
    with pytest.raises(ex.WrongAnswer, match="must return a number \\(a float\\), got str"):
        check(lambda *args: "loss")
    with pytest.raises(ex.WrongAnswer, match="must take the arguments of `def "):
        check(lambda a, b, c: 0.0)


def test_answers_that_raise_or_change_inputs_are_explained():
    def shifts(fake_logits):
        fake_logits.neg_()  # in place: the caller's logits would change
        return F.softplus(fake_logits).mean()

    with pytest.raises(ex.WrongAnswer, match="changed its input fake_logits in place"):
        ex.check_ns_generator_loss(shifts)
    with pytest.raises(ex.WrongAnswer, match="raised RuntimeError.*real_logits has shape \\(6,\\)") as err:
        ex.check_rasgan_critic_loss(lambda cr, cf: F.softplus(cf - cr[:4]).mean())
    assert err.value.__cause__ is None
    with pytest.raises(ex.WrongAnswer, match="returns nan.*log of a negative number.*apply the sigmoid first"):
        ex.check_ns_generator_loss(lambda c: -torch.log(c).mean())
    with pytest.raises(ex.WrongAnswer, match="raised ValueError.*use torch functions.*not math.log"):
        ex.check_ns_generator_loss(lambda c: math.log(c))


def test_an_unrecognised_answer_gets_the_failing_input():
    with pytest.raises(ex.WrongAnswer, match="Not quite. For ns_generator_loss\\(fake_logits of shape .*expected"):
        ex.check_ns_generator_loss(lambda c: ns_answer(c) + 0.1)
    with pytest.raises(ex.WrongAnswer, match="2 times the right answer"):
        ex.check_rasgan_critic_loss(lambda cr, cf: 2 * rasgan_answer(cr, cf))
