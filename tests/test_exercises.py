import pytest

from gentoolkit import exercises as ex


def test_gaussian_score_check_accepts_the_answer_and_explains_mistakes(capsys):
    ex.check_smoothed_gaussian_score(lambda x, mu, s, sigma: -(x - mu) / (s**2 + sigma**2))
    assert "Correct" in capsys.readouterr().out
    wrong = {
        "check the sign": lambda x, mu, s, sigma: (x - mu) / (s**2 + sigma**2),
        "adds sigma\\^2 to the variance": lambda x, mu, s, sigma: -(x - mu) / s**2,
        "variances do": lambda x, mu, s, sigma: -(x - mu) / (s + sigma) ** 2,
        "not by the standard deviation": lambda x, mu, s, sigma: -(x - mu) / (s**2 + sigma**2) ** 0.5,
        "Not quite": lambda x, mu, s, sigma: -x,
        "not written yet": lambda x, mu, s, sigma: (_ for _ in ()).throw(NotImplementedError),
        "must return a torch.Tensor": lambda x, mu, s, sigma: 1.0,
        "one 2D vector per point": lambda x, mu, s, sigma: x.sum(1),
    }
    for hint, fn in wrong.items():
        with pytest.raises(ex.WrongAnswer, match=hint):
            ex.check_smoothed_gaussian_score(fn)
    with pytest.raises(ex.WrongAnswer, match="must be a function"):
        ex.check_smoothed_gaussian_score(None)


def test_dsm_target_check():
    ex.check_dsm_target(lambda xn, x, sigma: -(xn - x) / sigma**2)
    for hint, fn in {
        "sign": lambda xn, x, sigma: (xn - x) / sigma**2,
        "divide by sigma\\*\\*2, not sigma": lambda xn, x, sigma: -(xn - x) / sigma,
        "noise you added": lambda xn, x, sigma: xn - x,
    }.items():
        with pytest.raises(ex.WrongAnswer, match=hint):
            ex.check_dsm_target(fn)


def test_checks_work_with_float32_answers():
    ex.check_dsm_target(lambda xn, x, sigma: (-(xn - x) / sigma**2).float())
    assert isinstance(ex.WrongAnswer("x"), AssertionError)


def test_scalar_exercise_checks_accept_answers_and_explain_mistakes(capsys):
    import math

    ex.check_mh_log_acceptance(lambda a, b: min(0.0, b - a))
    ex.check_ula_stationary_variance(lambda s2, lam: s2 / (1 - lam / (2 * s2)))
    ex.check_cas_beta(lambda e, g: math.sqrt(1 - (1 - e) ** 2 / g**2))
    ex.check_als_limit(lambda s, e: s * math.sqrt(2 / (2 - e)))
    assert capsys.readouterr().out.count("Correct!") == 4
    for check, fn, hint in [
        (ex.check_mh_log_acceptance, lambda a, b: b - a, "at most 0"),
        (ex.check_mh_log_acceptance, lambda a, b: min(1.0, math.exp(b - a)), "not the probability"),
        (ex.check_ula_stationary_variance, lambda s2, lam: s2, "ULA is biased"),
        (ex.check_cas_beta, lambda e, g: 1 - (1 - e) ** 2 / g**2, "beta squared"),
        (ex.check_als_limit, lambda s, e: s, "never reaches it"),
        (ex.check_als_limit, lambda s, e: 2 * s, "Not quite"),
        (ex.check_cas_beta, lambda e, g: "x", "must return a number"),
    ]:
        with pytest.raises(ex.WrongAnswer, match=hint):
            check(fn)


def test_notebook_04_checks():
    import math

    ex.check_vp_marginal_std(lambda t, b0, b1: math.sqrt(1 - math.exp(-(b0 * t + 0.5 * (b1 - b0) * t**2))))
    ex.check_ggf_step_update(lambda h, e, t, theta=0.9, r=0.9: min(t, theta * h * e ** (-r)))
    with pytest.raises(ex.WrongAnswer, match="return its square root"):
        ex.check_vp_marginal_std(lambda t, b0, b1: 1 - math.exp(-(b0 * t + 0.5 * (b1 - b0) * t**2)))
    with pytest.raises(ex.WrongAnswer, match="cap it with min"):
        ex.check_ggf_step_update(lambda h, e, t, theta=0.9, r=0.9: theta * h * e ** (-r))
    with pytest.raises(ex.WrongAnswer, match="must also take theta and r"):
        ex.check_ggf_step_update(lambda h, e, t: min(t, 0.9 * h * e ** (-0.9)))
    with pytest.raises(ex.WrongAnswer, match="Use the arguments theta and r"):
        ex.check_ggf_step_update(lambda h, e, t, theta=0.9, r=0.9: min(t, 0.9 * h * e ** (-0.9)))
