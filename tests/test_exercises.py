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
