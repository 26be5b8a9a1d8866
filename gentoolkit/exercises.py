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


def _scalar_check(fn, name: str, cases, expected, wrong: dict, where: str) -> None:
    """Call ``fn(*case)`` for each case and compare with ``expected(*case)``; recognise the
    ``wrong`` formulas (hint -> function) and explain them."""
    if not callable(fn):
        raise WrongAnswer(f"{name} must be a function; got {type(fn).__name__}.")
    try:
        got = torch.tensor([float(fn(*c)) for c in cases], dtype=torch.float64)
    except NotImplementedError:
        raise WrongAnswer(f"{name} is not written yet: replace `raise NotImplementedError` with your code.") from None
    except (TypeError, ValueError) as e:
        raise WrongAnswer(f"{name} must return a number for inputs like {cases[0]}; it raised {e!r}.") from None
    ref = torch.tensor([expected(*c) for c in cases], dtype=torch.float64)
    ref_t, got_t = ref[:, None], got[:, None]
    _diagnose(
        got_t,
        ref_t,
        {hint: torch.tensor([w(*c) for c in cases], dtype=torch.float64)[:, None] for hint, w in wrong.items()},
        where,
    )


def check_mh_log_acceptance(mh_log_accept) -> None:
    """Exercise (notebook 02): ``mh_log_accept(log_p_current, log_p_proposal)`` must return the
    log of the random-walk Metropolis-Hastings acceptance probability,
    log min(1, p(x') / p(x)) = min(0, log p(x') - log p(x)) (001, Eq. 2.1, symmetric q)."""
    import math

    cases = [(-1.0, -3.0), (-2.0, -0.5), (0.3, 0.3), (-10.0, -4.0), (-4.0, -10.0)]
    _scalar_check(
        mh_log_accept,
        "mh_log_accept",
        cases,
        lambda a, b: min(0.0, b - a),
        {
            "A probability is at most 1, so its log is at most 0: take min(0, ...).": lambda a, b: b - a,
            "Check the order: the ratio is p(proposal) / p(current), so log p(x') - log p(x).": lambda a, b: min(
                0.0, a - b
            ),
            "Return the log of the acceptance probability, not the probability itself.": lambda a, b: min(
                1.0, math.exp(b - a)
            ),
        },
        "mh_log_accept(log_p_current, log_p_proposal)",
    )


def check_ula_stationary_variance(ula_variance) -> None:
    """Exercise (notebook 02): ``ula_variance(s2, lam)`` must return the stationary variance of
    ULA, x <- x + lam * (-x / s2) + sqrt(2 lam) z, on N(0, s2): s2 / (1 - lam / (2 s2))."""
    cases = [(1.0, 0.1), (2.0, 0.5), (0.5, 0.2), (1.0, 0.8)]
    _scalar_check(
        ula_variance,
        "ula_variance",
        cases,
        lambda s2, lam: s2 / (1 - lam / (2 * s2)),
        {
            "ULA is biased: its stationary variance is not the target's s2. Solve "
            "v = (1 - lam/s2)^2 v + 2 lam for v.": lambda s2, lam: s2,
            "Close: in v = a^2 v + 2 lam, a = 1 - lam / s2, so v = 2 lam / (1 - a^2); "
            "expand 1 - a^2 = 2 lam / s2 - lam^2 / s2^2 carefully.": lambda s2, lam: s2 / (1 - lam / s2),
            "The variance grows with the step (the discretisation adds energy): check the sign "
            "in the denominator.": lambda s2, lam: s2 / (1 + lam / (2 * s2)),
        },
        "ula_variance(s2, lam)",
    )


def check_cas_beta(cas_beta) -> None:
    """Exercise (notebook 03): ``cas_beta(eta, gamma)`` must return CAS's noise factor
    beta = sqrt(1 - (1 - eta)^2 / gamma^2) (001, Alg. 5, App. C.7)."""
    cases = [(0.2, 0.9), (0.5, 0.6), (0.1, 0.95), (0.6, 0.7)]
    _scalar_check(
        cas_beta,
        "cas_beta",
        cases,
        lambda e, g: (1 - (1 - e) ** 2 / g**2) ** 0.5,
        {
            "That is beta squared: the noise factor is its square root.": lambda e, g: 1 - (1 - e) ** 2 / g**2,
            "Square gamma too: the variance condition is sigma_i^2 (1 - eta)^2 + sigma_{i+1}^2 beta^2 "
            "= sigma_{i+1}^2 with sigma_i = sigma_{i+1} / gamma.": lambda e, g: (1 - (1 - e) ** 2 / g) ** 0.5,
            "The sample keeps a fraction (1 - eta) of its noise, not eta.": lambda e, g: (1 - e**2 / g**2) ** 0.5,
        },
        "cas_beta(eta, gamma)",
    )


def check_als_limit(als_limit_std) -> None:
    """Exercise (notebook 03): ``als_limit_std(sigma, eta)`` must return the noise std that ALS
    converges to at a level sigma with the exact score: sigma sqrt(2 / (2 - eta)) (Prop. 1)."""
    cases = [(1.0, 0.1), (0.5, 0.5), (2.0, 1.0), (0.1, 0.01)]
    _scalar_check(
        als_limit_std,
        "als_limit_std",
        cases,
        lambda s, e: s * (2 / (2 - e)) ** 0.5,
        {
            "That is what the schedule assumes, but Prop. 1 says ALS never reaches it: solve "
            "v^2 = (1 - eta)^2 v^2 + 2 eta sigma^2.": lambda s, e: s,
            "That is the variance; return the standard deviation.": lambda s, e: s**2 * 2 / (2 - e),
            "Check the sign: 1 - (1 - eta)^2 = eta (2 - eta).": lambda s, e: s * (2 / (2 + e)) ** 0.5,
        },
        "als_limit_std(sigma, eta)",
    )


def check_vp_marginal_std(vp_marginal_std) -> None:
    """Exercise (notebook 04): ``vp_marginal_std(t, beta_min, beta_max)`` must return the std of
    the VP perturbation kernel, sqrt(1 - exp(-B(t))) with B(t) = beta_min t + (beta_max - beta_min)
    t^2 / 2 (001, Eq. 2.16; Sec. 10.3.3)."""
    import math

    def integral(t, b0, b1):
        return b0 * t + 0.5 * (b1 - b0) * t**2

    cases = [(0.5, 0.1, 20.0), (0.1, 0.1, 20.0), (1.0, 0.1, 20.0), (0.3, 1.0, 5.0), (0.05, 0.5, 10.0)]
    _scalar_check(
        vp_marginal_std,
        "vp_marginal_std",
        cases,
        lambda t, b0, b1: math.sqrt(1 - math.exp(-integral(t, b0, b1))),
        {
            "That is the variance 1 - exp(-B(t)); return its square root, the standard deviation.": lambda t, b0, b1: (
                1 - math.exp(-integral(t, b0, b1))
            ),
            "That is the mean factor m(t) = exp(-B(t) / 2), the share of x(0) left in x(t); the std is "
            "sqrt(1 - exp(-B(t))).": lambda t, b0, b1: math.exp(-0.5 * integral(t, b0, b1)),
            "Integrate beta(u) = beta_min + u (beta_max - beta_min) from 0 to t: B(t) = beta_min t + "
            "(beta_max - beta_min) t**2 / 2 (the t^2 term has a factor 1/2; beta(t) * t is not the "
            "integral).": lambda t, b0, b1: math.sqrt(1 - math.exp(-(b0 * t + (b1 - b0) * t**2))),
            "The variance is 1 - exp(-B(t)), not 1 - exp(-B(t) / 2): the halving belongs to the mean "
            "factor exp(-B / 2), and the variance decays like its square.": lambda t, b0, b1: math.sqrt(
                1 - math.exp(-0.5 * integral(t, b0, b1))
            ),
            "sqrt(B(t)) is the noise the SDE injects, int_0^t g^2 = B(t), ignoring that the drift "
            "-beta x / 2 shrinks it as it goes: solve dv/dt = -beta v + beta, v(0) = 0.": lambda t, b0, b1: math.sqrt(
                integral(t, b0, b1)
            ),
        },
        "vp_marginal_std(t, beta_min, beta_max)",
    )


def check_ggf_step_update(ggf_next_h) -> None:
    """Exercise (notebook 04): ``ggf_next_h(h, err, t_remaining, theta=0.9, r=0.9)`` must return
    the next step size of Gotta Go Fast, min(t_remaining, theta h err^(-r)) (001, Eq. 10.6, with
    h_max the time left)."""
    import inspect

    cases = [
        (0.01, 0.5, 0.8),
        (0.02, 2.0, 0.5),
        (0.01, 0.1, 0.05),
        (0.05, 1.0, 0.3),
        (0.02, 4.0, 0.7, 0.8, 0.5),
        (0.01, 0.25, 0.5, 0.5, 1.0),
    ]

    def right(h, e, t, theta=0.9, r=0.9):
        return min(t, theta * h * e ** (-r))

    if callable(ggf_next_h):
        try:
            inspect.signature(ggf_next_h).bind(0.01, 0.5, 0.8, 0.9, 0.9)
        except TypeError:
            raise WrongAnswer(
                "ggf_next_h must also take theta and r, with defaults: "
                "def ggf_next_h(h, err, t_remaining, theta=0.9, r=0.9)."
            ) from None
        except ValueError:  # no inspectable signature (a builtin): let the calls below decide
            pass
    _scalar_check(
        ggf_next_h,
        "ggf_next_h",
        cases,
        right,
        {
            "A step may not go past t_eps: cap it with min(t_remaining, ...), the h_max of Eq. 10.6.": (
                lambda h, e, t, theta=0.9, r=0.9: theta * h * e ** (-r)
            ),
            "Check the sign of the exponent: a small error (err < 1) must make the next step larger, "
            "so use err ** (-r).": lambda h, e, t, theta=0.9, r=0.9: min(t, theta * h * e**r),
            "Multiply by the safety factor theta (< 1), which keeps the next attempt a little "
            "smaller than the error estimate suggests.": lambda h, e, t, theta=0.9, r=0.9: min(t, h * e ** (-r)),
            "The step is capped by the time left: take the min, not the max.": (
                lambda h, e, t, theta=0.9, r=0.9: max(t, theta * h * e ** (-r))
            ),
            "Use the arguments theta and r: the test also calls ggf_next_h with theta and r other "
            "than 0.9.": lambda h, e, t, theta=0.9, r=0.9: min(t, 0.9 * h * e ** (-0.9)),
            "The error enters as err ** (-r), not 1 / err (that is r = 1).": (
                lambda h, e, t, theta=0.9, r=0.9: min(t, theta * h / e)
            ),
        },
        "ggf_next_h(h, err, t_remaining, theta=0.9, r=0.9)",
    )
