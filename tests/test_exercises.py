"""The exercise checks: every check accepts its answer (float32 too) and gives each plausible
wrong answer the hint that names its mistake. The wrong answers are written here as a student
would write them (independently of the check's own list); on the inputs the check really uses
(recorded by a spy that answers correctly) they must differ pairwise by more than ten times the
check's tolerance, so that no two mistakes can get each other's hint (the review's sigma = 0.5,
where 2 sigma^2 = sigma and a factor-2 error got the hint for dividing by sigma)."""

import inspect
import itertools
import json
import math
from pathlib import Path

import pytest
import torch

from gentoolkit import exercises as ex
from tests.exercise_harness import harness, outputs, recorded_inputs

ROOT = Path(__file__).resolve().parents[1]


def gaussian_answer(x, mu, s, sigma):
    return -(x - mu) / (s**2 + sigma**2)


def dsm_answer(xn, x, sigma):
    return -(xn - x) / sigma**2


def ggf_answer(h, e, t, theta=0.9, r=0.9):
    return min(t, theta * h * e ** (-r))


def vp_b(t, b0, b1):
    return b0 * t + 0.5 * (b1 - b0) * t**2


# check -> (answer, {regex the hint must match: wrong answer})
CHECKS = {
    ex.check_smoothed_gaussian_score: (
        gaussian_answer,
        {
            "Check the sign": lambda x, mu, s, sigma: (x - mu) / (s**2 + sigma**2),
            "score of the clean Gaussian": lambda x, mu, s, sigma: -(x - mu) / s**2,
            "noise N\\(0, sigma\\^2 I\\) alone": lambda x, mu, s, sigma: -(x - mu) / sigma**2,
            "Standard deviations do not add": lambda x, mu, s, sigma: -(x - mu) / (s + sigma) ** 2,
            "not by the standard deviation": lambda x, mu, s, sigma: -(x - mu) / math.sqrt(s**2 + sigma**2),
            "adds standard deviations and is not squared": lambda x, mu, s, sigma: -(x - mu) / (s + sigma),
            "Missing factor 2": lambda x, mu, s, sigma: -(x - mu) / (2 * s**2 + 2 * sigma**2),
            "\\*product\\* of the two densities": lambda x, mu, s, sigma: -(x - mu) / s**2 - (x - mu) / sigma**2,
            "left out the mean": lambda x, mu, s, sigma: -x / (s**2 + sigma**2),
            "x - mu, not x \\+ mu": lambda x, mu, s, sigma: -(x + mu) / (s**2 + sigma**2),
        },
    ),
    ex.check_dsm_target: (
        dsm_answer,
        {
            "Check the sign": lambda xn, x, sigma: (xn - x) / sigma**2,
            "divide by sigma\\*\\*2, not sigma\\.": lambda xn, x, sigma: -(xn - x) / sigma,
            "Missing factor 2.*not 2 sigma\\*\\*2": lambda xn, x, sigma: -(xn - x) / (2 * sigma**2),
            "kernel of variance 1": lambda xn, x, sigma: x - xn,
            "noise you added": lambda xn, x, sigma: xn - x,
            "standard normal z": lambda xn, x, sigma: (xn - x) / sigma,
            "instead of multiplying": lambda xn, x, sigma: -(xn - x) * sigma**2,
            "centred at x_clean": lambda xn, x, sigma: -xn / sigma**2,
        },
    ),
    ex.check_mh_log_acceptance: (
        lambda a, b: min(0.0, b - a),
        {
            "its log is at most 0": lambda a, b: b - a,
            "Check the order": lambda a, b: min(0.0, a - b),
            "not the probability itself": lambda a, b: min(1.0, math.exp(b - a)),
            "min, not the max": lambda a, b: max(0.0, b - a),
            "log 1 = 0": lambda a, b: min(1.0, b - a),
            "ratio becomes a difference": lambda a, b: min(1.0, b / a),
            "difference, not a sum": lambda a, b: min(0.0, a + b),
        },
    ),
    ex.check_ula_stationary_variance: (
        lambda s2, lam: s2 / (1 - lam / (2 * s2)),
        {
            "ULA is biased": lambda s2, lam: s2,
            "expand 1 - a\\^2": lambda s2, lam: s2 / (1 - lam / s2),
            "Check the sign: 1 - \\(1 - a\\)\\^2": lambda s2, lam: 2 * lam / (2 * lam / s2 + (lam / s2) ** 2),
            "Square the factor": lambda s2, lam: 2 * lam / (1 - (1 - lam / s2)),
            "variance 2 lam, not lam": lambda s2, lam: lam / (1 - (1 - lam / s2) ** 2),
            "not its standard deviation sqrt\\(2 lam\\)": lambda s2, lam: (
                math.sqrt(2 * lam) / (1 - (1 - lam / s2) ** 2)
            ),
            "That is the standard deviation": lambda s2, lam: (s2 / (1 - lam / (2 * s2))) ** 0.5,
            "first-order approximation": lambda s2, lam: s2 + lam / 2,
        },
    ),
    ex.check_cas_beta: (
        lambda e, g: math.sqrt(1 - (1 - e) ** 2 / g**2),
        {
            "That is beta squared": lambda e, g: 1 - (1 - e) ** 2 / g**2,
            "Square gamma too": lambda e, g: math.sqrt(1 - (1 - e) ** 2 / g),
            # raises ValueError (math domain error) at eta=0.5, gamma=0.6, like the check's own formula
            "Square \\(1 - eta\\) too": lambda e, g: math.sqrt(1 - (1 - e) / g**2),
            "Square both": lambda e, g: math.sqrt(1 - (1 - e) / g),
            "fraction \\(1 - eta\\) of its noise, not eta": lambda e, g: math.sqrt(1 - e**2 / g**2),
            "divide \\(1 - eta\\)\\^2 by gamma\\^2 instead of multiplying": lambda e, g: math.sqrt(
                1 - ((1 - e) * g) ** 2
            ),
            "That is beta \\* gamma": lambda e, g: math.sqrt(g**2 - (1 - e) ** 2),
            "keeps the noise at sigma_i": lambda e, g: math.sqrt(e * (2 - e)),
            "ALS's noise factor": lambda e, g: math.sqrt(2 * e),
        },
    ),
    ex.check_als_limit: (
        lambda s, e: s * math.sqrt(2 / (2 - e)),
        {
            "never reaches it": lambda s, e: s,
            "That is the variance": lambda s, e: 2 * s**2 / (2 - e),
            "Check the sign": lambda s, e: s * math.sqrt(2 / (2 + e)),
            "Square \\(1 - eta\\)": lambda s, e: s * math.sqrt(2 * e / (1 - (1 - e))),
            "not 1 - eta\\^2": lambda s, e: s * math.sqrt(2 * e / (1 - (1 - e**2))),
            "square sigma": lambda s, e: math.sqrt(2 * e * s / (1 - (1 - e) ** 2)),
            "square root of 2 / \\(2 - eta\\) too": lambda s, e: s * 2 / (2 - e),
            "noise one step adds": lambda s, e: math.sqrt(2 * e) * s,
        },
    ),
    ex.check_vp_marginal_std: (
        lambda t, b0, b1: math.sqrt(1 - math.exp(-vp_b(t, b0, b1))),
        {
            "return its square root": lambda t, b0, b1: 1 - math.exp(-vp_b(t, b0, b1)),
            "That is the mean factor": lambda t, b0, b1: math.exp(-vp_b(t, b0, b1) / 2),
            "factor 1/2; beta\\(t\\) \\* t is not": lambda t, b0, b1: math.sqrt(
                1 - math.exp(-(b0 + t * (b1 - b0)) * t)
            ),
            "not 1 - exp\\(-B\\(t\\) / 2\\)": lambda t, b0, b1: math.sqrt(1 - math.exp(-vp_b(t, b0, b1) / 2)),
            "not 1 - exp\\(-2 B\\(t\\)\\)": lambda t, b0, b1: math.sqrt(1 - math.exp(-vp_b(t, b0, b1)) ** 2),
            "noise the SDE injects": lambda t, b0, b1: math.sqrt(vp_b(t, b0, b1)),
            "swapped beta_min and beta_max": lambda t, b0, b1: math.sqrt(1 - math.exp(-vp_b(t, b1, b0))),
            "mean of beta over \\[0, 1\\], not over \\[0, t\\]": lambda t, b0, b1: math.sqrt(
                1 - math.exp(-(b0 + b1) / 2 * t)
            ),
            "left out the beta_min t term": lambda t, b0, b1: math.sqrt(1 - math.exp(-(b1 - b0) * t**2 / 2)),
            "uses beta\\(t\\) itself": lambda t, b0, b1: math.sqrt(1 - math.exp(-(b0 + t * (b1 - b0)))),
        },
    ),
    ex.check_ggf_step_update: (
        ggf_answer,
        {
            "cap it with min\\(t_remaining": lambda h, e, t, theta=0.9, r=0.9: theta * h * e ** (-r),
            "sign of the exponent": lambda h, e, t, theta=0.9, r=0.9: min(t, theta * h * e**r),
            "safety factor theta": lambda h, e, t, theta=0.9, r=0.9: min(t, h * e ** (-r)),
            "take the min, not the max": lambda h, e, t, theta=0.9, r=0.9: max(t, theta * h * e ** (-r)),
            "Use the arguments theta and r": lambda h, e, t, theta=0.9, r=0.9: min(t, 0.9 * h / e**0.9),
            "not 1 / err \\(that is r = 1\\)": lambda h, e, t, theta=0.9, r=0.9: min(t, theta * h / e),
            "not -1 / r": lambda h, e, t, theta=0.9, r=0.9: min(t, theta * h / e ** (1 / r)),
            "multiply by h": lambda h, e, t, theta=0.9, r=0.9: min(t, theta * e ** (-r)),
            "not by the last step h": lambda h, e, t, theta=0.9, r=0.9: min(h, theta * h * e ** (-r)),
            "theta and r are swapped": lambda h, e, t, theta=0.9, r=0.9: min(t, r * h * e ** (-theta)),
            "not h \\* \\(theta / err\\) \\*\\* r": lambda h, e, t, theta=0.9, r=0.9: min(t, h * (theta / e) ** r),
        },
    ),
}
IDS = [check.__name__ for check in CHECKS]
globals().update(harness(CHECKS))  # the five shared tests (tests/exercise_harness.py)


def test_a_mistake_that_fails_on_some_inputs_is_still_recognised():
    # sqrt(1 - (1 - eta) / gamma^2) raises "math domain error" where 1 - eta > gamma^2: the check
    # must recognise it from the values elsewhere and the failures there, not report the error.
    def wrong(e, g):
        return math.sqrt(1 - (1 - e) / g**2)

    cases = recorded_inputs(ex.check_cas_beta, CHECKS[ex.check_cas_beta][0])
    failing = [case for case in cases if math.isnan(outputs(wrong, [case]))]
    assert 0 < len(failing) < len(cases)
    with pytest.raises(ex.WrongAnswer, match="^Square \\(1 - eta\\) too"):
        ex.check_cas_beta(wrong)


def test_dsm_sigmas_separate_the_powers_of_sigma():
    # The review's case: at sigma = 0.5, 2 sigma^2 = sigma. Every sigma the check uses keeps the
    # four candidate denominators apart.
    for _, _, sigma in recorded_inputs(ex.check_dsm_target, dsm_answer):
        dens = [sigma, sigma**2, 2 * sigma**2, math.sqrt(sigma), 1.0]
        assert all(not math.isclose(a, b, rel_tol=1e-2) for a, b in itertools.combinations(dens, 2)), sigma


def test_inputs_are_the_same_every_time():
    first = recorded_inputs(ex.check_dsm_target, dsm_answer)
    again = recorded_inputs(ex.check_dsm_target, dsm_answer)
    assert all(torch.equal(a, b) for ca, cb in zip(first, again) for a, b in zip(ca[:2], cb[:2]))


@pytest.mark.parametrize("check", CHECKS, ids=IDS)
def test_unwritten_non_callable_and_missing_return_are_explained(check):
    def unwritten(*args):
        raise NotImplementedError

    with pytest.raises(ex.WrongAnswer, match="^Not done yet: .* is not written yet"):
        check(unwritten)
    for value in (None, 3.0):
        with pytest.raises(ex.WrongAnswer, match="must be a function; got"):
            check(value)
    with pytest.raises(ex.WrongAnswer, match="forget the `return`"):
        check(lambda *args: None)


def test_wrong_return_types_and_shapes_are_explained():
    with pytest.raises(ex.WrongAnswer, match="must return a torch.Tensor of shape \\(32, 2\\), got float"):
        ex.check_smoothed_gaussian_score(lambda x, mu, s, sigma: 1.0)
    with pytest.raises(ex.WrongAnswer, match="shape \\(32, 2\\).*got shape \\(32,\\)"):
        ex.check_smoothed_gaussian_score(lambda x, mu, s, sigma: gaussian_answer(x, mu, s, sigma).sum(1))
    with pytest.raises(ex.WrongAnswer, match="must return a torch.Tensor.*got ndarray"):
        ex.check_dsm_target(lambda xn, x, sigma: dsm_answer(xn, x, sigma).numpy())
    with pytest.raises(ex.WrongAnswer, match="must return a number \\(a float\\), got str"):
        ex.check_cas_beta(lambda e, g: "x")
    with pytest.raises(ex.WrongAnswer, match="must return one number, got a tensor of shape \\(2,\\)"):
        ex.check_mh_log_acceptance(lambda a, b: torch.tensor([a, b]))
    with pytest.raises(ex.WrongAnswer, match="must return a number \\(a float\\), got bool"):
        ex.check_mh_log_acceptance(lambda a, b: b > a)


def test_wrong_signature_is_explained():
    with pytest.raises(ex.WrongAnswer, match="must take the arguments of `def ggf_next_h\\(h, err, t_remaining, theta"):
        ex.check_ggf_step_update(lambda h, e, t: min(t, 0.9 * h * e ** (-0.9)))
    with pytest.raises(ex.WrongAnswer, match="same defaults.*cannot be called with 3 arguments"):
        ex.check_ggf_step_update(lambda h, e, t, theta, r: ggf_answer(h, e, t, theta, r))
    with pytest.raises(ex.WrongAnswer, match="must take the arguments of `def gaussian_score\\(x, mu, s, sigma\\)`"):
        ex.check_smoothed_gaussian_score(lambda x, mu, sigma: -(x - mu) / sigma**2)


def test_answer_that_changes_its_input_in_place_is_detected():
    def shifts_x(x, mu, s, sigma):
        x -= mu  # the returned value is right for the original x: only the copy shows the change
        return -x / (s**2 + sigma**2)

    def shifts_noisy(x_noisy, x_clean, sigma):
        return x_noisy.sub_(x_clean).div_(-(sigma**2))

    with pytest.raises(ex.WrongAnswer, match="changed its input x in place.*compute a new tensor"):
        ex.check_smoothed_gaussian_score(shifts_x)
    with pytest.raises(ex.WrongAnswer, match="changed its input x_noisy in place"):
        ex.check_dsm_target(shifts_noisy)


def raises_from_code():
    def reads_a_third_coordinate(x, mu, s, sigma):
        return -(x[:, 2] - mu) / (s**2 + sigma**2)

    return reads_a_third_coordinate


@pytest.mark.parametrize(
    "check, fn, pattern",
    [
        # ZeroDivisionError at eta = 1 (a valid step): said where, and why the answer is finite there
        (
            ex.check_als_limit,
            lambda s, e: s * math.sqrt(1 / (1 - e)),
            "divides by zero for als_limit_std\\(sigma=2, eta=1\\), where the answer is 2.82843.*finite",
        ),
        # ValueError math domain error on every case: the upside-down ratio
        (
            ex.check_cas_beta,
            lambda e, g: math.sqrt(1 - g**2 / (1 - e) ** 2),
            "square root or the log of a negative number.*cas_beta\\(eta=0.2, gamma=0.9\\).*upside down",
        ),
        # the same with ** 0.5, which gives a complex number instead of raising
        (ex.check_cas_beta, lambda e, g: (1 - g**2 / (1 - e) ** 2) ** 0.5, "returns a complex number"),
        (ex.check_vp_marginal_std, lambda t, b0, b1: math.sqrt(1 - math.exp(vp_b(t, b0, b1))), "exp\\(\\+B\\(t\\)\\)"),
        (ex.check_mh_log_acceptance, lambda a, b: min(0.0, math.log(b) - math.log(a)), "already logs"),
        # torch with nan instead of an exception
        (
            ex.check_dsm_target,
            lambda xn, x, sigma: -(xn - x) / (sigma**2 - sigma**2) * 0,
            "returns nan",
        ),
        # errors in the code: the exception, the inputs, the line and a way out
        (ex.check_smoothed_gaussian_score, raises_from_code(), "raised IndexError.*x has shape \\(32, 2\\)"),
        (ex.check_smoothed_gaussian_score, raises_from_code(), "in the line `return -\\(x\\[:, 2\\] - mu\\)"),
        (
            ex.check_smoothed_gaussian_score,
            lambda x, mu, s, sigma: -(x - mu[:, None]) / (s**2 + sigma**2),
            "raised RuntimeError.*do not broadcast",
        ),
        (ex.check_cas_beta, lambda e, g: torch.sqrt(1 - (1 - e) ** 2 / g**2), "raised TypeError.*Python floats"),
        (ex.check_ula_stationary_variance, lambda s2, lam: s2 / (1 - lam / (2 * s2s)), "raised NameError.*misspelt"),  # noqa: F821
        (ex.check_ula_stationary_variance, lambda s2, lam: [s2][1], "raised IndexError.*floats, not sequences"),
        (ex.check_mh_log_acceptance, lambda a, b: a.clamp(max=b), "raised AttributeError"),
        (ex.check_mh_log_acceptance, lambda a, b: int("log"), "raised ValueError: invalid literal"),
    ],
)
def test_an_answer_that_raises_gets_an_explanation_not_the_exception(check, fn, pattern):
    with pytest.raises(ex.WrongAnswer, match=pattern) as err:
        check(fn)
    assert err.value.__cause__ is None  # no chained raw traceback
    assert err.value.__context__ is None or err.value.__suppress_context__


def test_checks_accept_float32_and_other_correct_forms(capsys):
    ex.check_smoothed_gaussian_score(lambda x, mu, s, sigma: gaussian_answer(x.float(), mu.float(), s, sigma))
    ex.check_dsm_target(lambda xn, x, sigma: (xn.float() - x.float()) / -(sigma**2))
    ex.check_mh_log_acceptance(lambda a, b: math.log(min(1.0, math.exp(b - a))))
    ex.check_mh_log_acceptance(lambda a, b: torch.clamp(torch.tensor(b - a, dtype=torch.float32), max=0.0))
    ex.check_ula_stationary_variance(lambda s2, lam: 2 * lam / (1 - (1 - lam / s2) ** 2))
    ex.check_cas_beta(lambda e, g: (1 - ((1 - e) / g) ** 2) ** 0.5)
    ex.check_als_limit(lambda s, e: math.sqrt(2 * e * s**2 / (1 - (1 - e) ** 2)))
    ex.check_vp_marginal_std(
        lambda t, b0, b1: torch.sqrt(-torch.expm1(-torch.tensor(vp_b(t, b0, b1), dtype=torch.float32)))
    )
    ex.check_ggf_step_update(lambda h, err, t_remaining, theta=0.9, r=0.9: min(t_remaining, theta * h / err**r))
    assert capsys.readouterr().out.count("Correct!") == 9


def test_tolerance_is_relative_plus_absolute():
    ula = CHECKS[ex.check_ula_stationary_variance][0]
    ex.check_ula_stationary_variance(lambda s2, lam: ula(s2, lam) * (1 + 2e-5))  # within rtol 1e-4
    with pytest.raises(ex.WrongAnswer, match="1.001 times the right answer at every input"):
        ex.check_ula_stationary_variance(lambda s2, lam: ula(s2, lam) * 1.001)
    # mh's case (0.3, 0.3) has the answer 0: an absolute error below 1e-6 passes there, a larger one does not
    ex.check_mh_log_acceptance(lambda a, b: min(0.0, b - a) + 5e-7)
    with pytest.raises(ex.WrongAnswer, match="Not quite"):
        ex.check_mh_log_acceptance(lambda a, b: min(0.0, b - a) + 1e-4)


def test_unrecognised_answers_get_the_failing_input_and_a_factor_when_there_is_one():
    with pytest.raises(
        ex.WrongAnswer, match="Not quite. For gaussian_score\\(x of shape \\(32, 2\\).*at the point x\\["
    ):
        ex.check_smoothed_gaussian_score(lambda x, mu, s, sigma: -x)
    with pytest.raises(ex.WrongAnswer, match="3 times the right answer"):
        ex.check_smoothed_gaussian_score(lambda x, mu, s, sigma: 3 * gaussian_answer(x, mu, s, sigma))
    with pytest.raises(ex.WrongAnswer, match="opposite sign of the right answer"):
        ex.check_ula_stationary_variance(lambda s2, lam: -s2 / (1 - lam / (2 * s2)))
    with pytest.raises(ex.WrongAnswer, match="Not quite. For als_limit_std\\(sigma=.*expected .*got") as err:
        ex.check_als_limit(lambda s, e: s + e)
    assert "times the right answer" not in str(err.value)


def solution_cells():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        for i, cell in enumerate(cells):
            if "solution" in cell["metadata"].get("tags", []):
                yield pytest.param("".join(cell["source"]), "".join(cells[i + 1]["source"]), id=f"{path.stem}-{i}")


@pytest.mark.parametrize("solution, check", list(solution_cells()))
def test_notebook_solutions_pass_their_checks(solution, check, capsys):
    namespace = {"math": math, "torch": torch, "exercises": ex}
    exec(solution, namespace)
    exec(check, namespace)
    assert "Correct!" in capsys.readouterr().out


def test_every_failure_is_an_exercise_error_and_still_an_assertion_error():
    assert issubclass(ex.WrongAnswer, ex.ExerciseError) and issubclass(ex.WrongAnswer, AssertionError)
    assert issubclass(ex.NotDoneYet, ex.WrongAnswer)
    checks = [getattr(ex, n) for n in dir(ex) if n.startswith("check_")]
    assert len(checks) == 20  # two per notebook, 01-10
    # each check's argument is the function the student writes; TODO has its not-done-yet hint
    assert {next(iter(inspect.signature(c).parameters)) for c in checks} == set(ex.TODO)


def test_a_sign_flip_inside_cas_beta_is_caught():
    with pytest.raises(ex.WrongAnswer):
        ex.check_cas_beta(lambda e, g: math.sqrt(1 + (1 - e) ** 2 / g**2))
