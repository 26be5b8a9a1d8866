"""Check functions for the notebooks' exercises.

Each ``check_*`` takes the student's answer, compares it with the closed form on random
inputs and either prints a short confirmation or raises
:class:`WrongAnswer` whose message explains the most likely mistake - recognised by
comparing the answer with the usual wrong formulas - and how to fix it.
"""

from __future__ import annotations

import torch


class WrongAnswer(AssertionError):
    """The answer is wrong; the message says how."""


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 2, generator=g, dtype=torch.float64) * 2
    mu = torch.randn(2, generator=g, dtype=torch.float64)
    return g, x, mu


def _call(fn, name: str, *args) -> torch.Tensor:
    if not callable(fn):
        raise WrongAnswer(f"{name} must be a function; got {type(fn).__name__}. Define it with `def {name}(...)`.")
    try:
        out = fn(*args)
    except NotImplementedError:
        raise WrongAnswer(f"{name} is not written yet: replace `raise NotImplementedError` with your code.") from None
    if not isinstance(out, torch.Tensor):
        raise WrongAnswer(f"{name} must return a torch.Tensor, got {type(out).__name__}.")
    if out.shape != args[0].shape:
        raise WrongAnswer(
            f"{name} must return one 2D vector per point, shape {tuple(args[0].shape)}; got {tuple(out.shape)}."
        )
    return out.to(torch.float64)


def _diagnose(out: torch.Tensor, expected: torch.Tensor, wrong: dict[str, torch.Tensor], where: str) -> None:
    if torch.allclose(out, expected, rtol=1e-4, atol=1e-6):
        print("Correct!")
        return
    for hint, value in wrong.items():
        if torch.allclose(out, value, rtol=1e-4, atol=1e-6):
            raise WrongAnswer(hint)
    i = int((out - expected).norm(dim=1).argmax())
    raise WrongAnswer(
        f"Not quite. {where}: at the {i}-th test point expected {expected[i].tolist()}, got "
        f"{out[i].tolist()}. Re-derive the formula step by step."
    )


def check_smoothed_gaussian_score(gaussian_score) -> None:
    """Exercise (notebook 01): ``gaussian_score(x, mu, s, sigma)`` must return the score of
    N(mu, s^2 I) convolved with N(0, sigma^2 I), i.e. -(x - mu) / (s^2 + sigma^2), for x of
    shape (n, 2), mu of shape (2,) and floats s, sigma."""
    _, x, mu = _inputs(1)
    s, sigma = 0.7, 0.4
    out = _call(gaussian_score, "gaussian_score", x, mu, s, sigma)
    d = x - mu
    return _diagnose(
        out,
        -d / (s**2 + sigma**2),
        {
            "The score points towards the mean, so it is -(x - mu) / variance: check the sign.": d / (s**2 + sigma**2),
            "That is the score of the clean Gaussian. Smoothing with N(0, sigma^2 I) adds "
            "sigma^2 to the variance: use s**2 + sigma**2.": -d / s**2,
            "Standard deviations do not add; variances do: the smoothed variance is "
            "s**2 + sigma**2, not (s + sigma)**2.": -d / (s + sigma) ** 2,
            "Divide by the variance s**2 + sigma**2, not by the standard deviation "
            "sqrt(s**2 + sigma**2): d/dx of -|x - mu|^2 / (2 v) is -(x - mu) / v.": -d / (s**2 + sigma**2) ** 0.5,
        },
        "gaussian_score(x, mu, s=0.7, sigma=0.4)",
    )


def check_dsm_target(dsm_target) -> None:
    """Exercise (notebook 01): ``dsm_target(x_noisy, x_clean, sigma)`` must return the
    regression target of denoising score matching, grad log q_sigma(x_noisy | x_clean) =
    -(x_noisy - x_clean) / sigma^2 (001, Eq. 2.9 with q_sigma = N(x_clean, sigma^2 I))."""
    g, x, _ = _inputs(2)
    sigma = 0.5
    xn = x + sigma * torch.randn(x.shape, generator=g, dtype=torch.float64)
    out = _call(dsm_target, "dsm_target", xn, x, sigma)
    d = xn - x
    return _diagnose(
        out,
        -d / sigma**2,
        {
            "Check the sign: the target points from the noisy point back to the clean one, "
            "-(x_noisy - x_clean) / sigma^2.": d / sigma**2,
            "The kernel q_sigma has variance sigma^2, so divide by sigma**2, not sigma. "
            "(-(x_noisy - x_clean) / sigma is the noise -z: Eq. 2.11 multiplies the "
            "target by sigma.)": -d / sigma,
            "That is the noise you added, not the score. The score of N(x_clean, sigma^2 I) "
            "at x_noisy is -(x_noisy - x_clean) / sigma**2.": d,
        },
        "dsm_target(x_noisy, x_clean, sigma=0.5)",
    )
