"""Check functions for the notebooks' exercises.

Each ``check_*`` calls the student's function on a few fixed inputs, compares the results
with the closed form and either prints ``Correct!`` or raises an :class:`ExerciseError`, whose
message is a hint: what was expected, what came back, where to look in the references. A wrong
answer raises :class:`WrongAnswer` (an ``ExerciseError``, and an ``AssertionError`` as before),
whose message names the mistake and how to fix it; an unwritten one (the student edition's stub,
which raises ``NotImplementedError``) raises :class:`NotDoneYet`, which names the function, what
it should return and where the references explain it (the table ``TODO``).

The mistake is recognised by evaluating the usual wrong formulas of that exercise on the same
inputs; the inputs are chosen so that no two of those formulas agree on all of them (for
instance sigma = 0.3, 1.7 and 2.5 in the DSM check, where sigma, sigma^2, 2 sigma^2 and
sqrt(sigma) all differ, which sigma = 0.5 would not: there 2 sigma^2 = sigma).

Nothing the student's code raises escapes a check. The function gets copies of the inputs
(a change to them in place is detected and explained); an error in the code is reported
with the inputs and the line; an undefined value (a square root of a negative number, a
division by zero, nan) is matched against the wrong formulas that fail in the same places,
or else explained with what it means for that exercise; a wrong signature, return type or
shape is named. Answers in float32 are accepted: values match within ``RTOL`` relative plus
``ATOL`` absolute.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
import traceback

import torch

RTOL, ATOL = 1e-4, 1e-6  # float32 rounds at about 6e-8 relative; the closest two wrong formulas differ by 1e-3


class ExerciseError(Exception):
    """A check failed; the message is the hint (never a bare traceback of the student's code)."""


class WrongAnswer(ExerciseError, AssertionError):
    """The answer is wrong; the message says how."""


class NotDoneYet(WrongAnswer):
    """The student's function still raises ``NotImplementedError``: the exercise is not done yet."""


# --- the shared diagnosis ------------------------------------------------------------------------------------------


def _check(
    fn, signature: str, cases: list[tuple], answer, mistakes: dict, domain: str, *, run=None, extreme=None
) -> None:
    """Call ``fn(*case)`` for each case; print ``Correct!`` if it agrees with ``answer`` on all of
    them, else raise :class:`WrongAnswer` with the hint of the ``mistakes`` formula (hint ->
    function) it agrees with, or an explanation of what went wrong. ``domain`` says why the
    answer is defined on every case (shown when the student's formula is not).

    ``run`` calls the student's function on one case (default :func:`_run`; a
    :func:`_scalar_runner` for a function that returns one number: a loss of logit tensors, a
    metric). ``extreme = (indices, hint)``: the cases with logits in the hundreds; an answer
    right on every other case but not on these gets ``hint`` (a stability problem:
    log(sigmoid(c)) rounding to log 0, an epsilon or a clamp inside the log)."""
    name, _, rest = signature.partition("(")
    names = [p.split("=")[0].strip() for p in rest.rstrip(")").split(",")]
    if not callable(fn):
        raise WrongAnswer(f"{name} must be a function; got {type(fn).__name__}. Define it with `def {signature}:`.")
    _check_signature(fn, name, signature, cases)
    try:
        runs = [(run or _run)(fn, name, names, case) for case in cases]
    except NotDoneYet as err:
        raise NotDoneYet(_not_done(name, str(err))) from None
    got = [value for value, _ in runs]
    want = [_formula(answer, case) for case in cases]
    if _agree(got, want):
        print("Correct!")
        return
    for hint, wrong in mistakes.items():
        if _agree(got, [_formula(wrong, case) for case in cases]):
            raise WrongAnswer(hint)
    if extreme is not None:
        indices, hint = extreme
        moderate = [i for i in range(len(cases)) if i not in indices]
        if _agree([got[i] for i in moderate], [want[i] for i in moderate]):
            i = indices[0]
            raise WrongAnswer(
                f"{hint} (For {_show(name, names, cases[i])} expected {want[i].item():.6g}, got {got[i].item():.6g}.)"
            )
    failed = [(case, problem) for case, (_, problem) in zip(cases, runs) if problem]
    if failed:
        (case, problem), right = failed[0], _formula(answer, failed[0][0])
        where = f", where the answer is {right.item():.6g}" if right.ndim == 0 else ""
        also = f" (it fails on {len(failed)} of the {len(cases)} test inputs)" if len(failed) > 1 else ""
        raise WrongAnswer(f"Your formula {problem} for {_show(name, names, case)}{where}{also}. {domain}")
    raise WrongAnswer(_not_quite(name, names, cases, got, want))


def _not_done(name: str, stub: str) -> str:
    what, where = TODO[name]
    said = f" ({stub})" if stub else ""
    return (
        f"Not done yet: {name} is not written yet, it still raises NotImplementedError{said}. Replace the "
        f"`raise NotImplementedError(...)` line with your code: {name} must return {what}. Where to look: "
        f"{where}. Then run this check again."
    )


def _check_signature(fn, name: str, signature: str, cases) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: the calls will tell
        return
    for case in cases:
        try:
            sig.bind(*case)
        except TypeError:
            raise WrongAnswer(
                f"{name} must take the arguments of `def {signature}` (with the same defaults); yours, "
                f"{name}{sig}, cannot be called with {len(case)} arguments."
            ) from None


def _run(fn, name: str, names: list[str], case: tuple) -> tuple[torch.Tensor, str | None]:
    """The student's output on ``case`` as a float64 tensor (nan where undefined) and, if it is
    undefined somewhere, what made it so. ``fn`` gets copies of the tensors, so a change in place
    cannot hide and is reported."""
    args = [a.clone() if isinstance(a, torch.Tensor) else a for a in case]
    try:
        out = fn(*args)
    except NotImplementedError as err:
        raise NotDoneYet(str(err)) from None
    except Exception as err:  # any error of the student's code becomes an explanation, never a traceback
        problem = _undefined(err)
        if problem is None:
            raise WrongAnswer(_crash(name, names, case, err)) from None
        return _nan_like(case[0]), problem
    for arg, copy, original in zip(names, args, case):
        if isinstance(copy, torch.Tensor) and not torch.equal(copy, original):
            raise WrongAnswer(
                f"Your {name} changed its input {arg} in place (as `{arg} -= ...`, `{arg} /= ...` or `{arg}.sub_(...)` "
                f"do); compute a new tensor instead, e.g. `d = {arg} - ...`: the caller still needs {arg}."
            )
    return _as_value(out, name, case[0])


def _as_value(out, name: str, like) -> tuple[torch.Tensor, str | None]:
    if out is None:
        raise WrongAnswer(f"{name} returned None: did you forget the `return`?")
    if isinstance(like, torch.Tensor):
        if not isinstance(out, torch.Tensor):
            raise WrongAnswer(
                f"{name} must return a torch.Tensor of shape {tuple(like.shape)}, got {type(out).__name__}."
            )
        if out.shape != like.shape:
            raise WrongAnswer(
                f"{name} must return a tensor of the points' shape {tuple(like.shape)}{_per_point(like)}; "
                f"got shape {tuple(out.shape)}."
            )
    elif isinstance(out, torch.Tensor):
        if out.numel() != 1:
            raise WrongAnswer(f"{name} must return one number, got a tensor of shape {tuple(out.shape)}.")
        out = out.reshape(())
    elif isinstance(out, bool) or not isinstance(out, numbers.Number):
        raise WrongAnswer(f"{name} must return a number (a float), got {type(out).__name__} {out!r:.60}.")
    if isinstance(out, complex) or (isinstance(out, torch.Tensor) and out.is_complex()):
        return _nan_like(out), "returns a complex number (`** 0.5` of a negative number gives one)"
    value = torch.as_tensor(out.detach().cpu() if isinstance(out, torch.Tensor) else out).to(torch.float64)
    if value.isnan().any():
        return value, "returns nan (the square root or log of a negative number, or 0 / 0)"
    if value.isinf().any():
        return value, "returns inf (a division by zero or an overflow)"
    return value, None


def _per_point(like: torch.Tensor) -> str:
    return " (one 2D vector per point)" if like.ndim == 2 and like.shape[-1] == 2 else " (one value per point)"


def _undefined(err: Exception) -> str | None:
    """What an arithmetic error says about the formula, or None for an error in the code."""
    if isinstance(err, ZeroDivisionError):
        return "divides by zero"
    if isinstance(err, OverflowError):
        return "overflows (a number too large for a float, as exp of a large number)"
    if isinstance(err, ValueError) and "math domain error" in str(err):
        return "takes the square root or the log of a negative number, or the log of 0 (math domain error)"
    return None


def _crash(name: str, names: list[str], case: tuple, err: Exception) -> str:
    torch_dir = os.path.dirname(torch.__file__)
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename != __file__]
    frames = [f for f in frames if not f.filename.startswith(torch_dir)]
    line = f", in the line `{frames[-1].line}`" if frames and frames[-1].line else ""
    shapes = ", ".join(f"{n} has shape {tuple(a.shape)}" for n, a in zip(names, case) if isinstance(a, torch.Tensor))
    if isinstance(err, TypeError) and "Tensor" in str(err) and not shapes:
        advice = "The inputs are Python floats: use math.sqrt, math.exp and min, not torch functions."
    else:
        advice = {
            IndexError: f"An index is out of range: {shapes or 'the inputs are floats, not sequences'}.",
            NameError: "A name is not defined: a misspelt variable, or a cell above (the imports) not run yet.",
            AttributeError: "That object has no such attribute: floats have no .sqrt() (use math.sqrt).",
            RuntimeError: f"torch could not carry out an operation, often two shapes that do not broadcast: {shapes}.",
        }.get(type(err), "Fix the error and run the check again.")
    return f"Your {name} raised {type(err).__name__}: {err}, for {_show(name, names, case)}{line}. {advice}"


def _formula(f, case: tuple) -> torch.Tensor:
    """A reference formula on ``case`` as a float64 tensor, nan where it is undefined."""
    try:
        out = f(*case)
    except (ArithmeticError, ValueError):
        return _nan_like(case[0])
    return _nan_like(out) if isinstance(out, complex) else torch.as_tensor(out).to(torch.float64)


def _nan_like(like) -> torch.Tensor:
    return torch.full(like.shape if isinstance(like, torch.Tensor) else (), math.nan, dtype=torch.float64)


def _agree(got: list[torch.Tensor], ref: list[torch.Tensor]) -> bool:
    """Equal within tolerance on every case, undefined in the same places, and defined somewhere
    (two formulas that fail everywhere say nothing about each other)."""
    close = all(torch.isclose(g, r, rtol=RTOL, atol=ATOL, equal_nan=True).all() for g, r in zip(got, ref))
    return close and any(g.isfinite().any() for g in got)


def _show(name: str, names: list[str], case: tuple) -> str:
    args = (
        f"{n} of shape {tuple(a.shape)}" if isinstance(a, torch.Tensor) else f"{n}={a:g}" for n, a in zip(names, case)
    )
    return f"{name}({', '.join(args)})"


def _not_quite(name: str, names: list[str], cases, got: list[torch.Tensor], want: list[torch.Tensor]) -> str:
    errors = [
        ((g - w).abs() / (ATOL + RTOL * w.abs())).reshape(len(w) if w.ndim else 1, -1).amax(1)
        for g, w in zip(got, want)
    ]
    k = max(range(len(cases)), key=lambda j: float(errors[j].max()))
    g, w, case = got[k], want[k], cases[k]
    if w.ndim:
        i = int(errors[k].argmax())
        detail = f"at the point {names[0]}[{i}] = {_round(case[0][i])} expected {_round(w[i])}, got {_round(g[i])}"
    else:
        detail = f"expected {w.item():.6g}, got {g.item():.6g}"
    return (
        f"Not quite. For {_show(name, names, case)} {detail}. {_factor(got, want)}Re-derive the formula step by step."
    )


def _round(v: torch.Tensor) -> list[float]:
    return [round(u, 4) for u in v.reshape(-1).tolist()]  # a point of any dimension (1D densities too)


def _factor(got: list[torch.Tensor], want: list[torch.Tensor]) -> str:
    """A hint when the answer is the right one times a constant on every input."""
    g, w = torch.cat([t.flatten() for t in got]), torch.cat([t.flatten() for t in want])
    nonzero = w.abs() > ATOL
    if not nonzero.any():
        return ""
    c = float((g[nonzero] / w[nonzero]).median())
    if not torch.isclose(g, c * w, rtol=RTOL, atol=ATOL).all():
        return ""
    if math.isclose(c, -1.0, rel_tol=RTOL):
        return "It has the opposite sign of the right answer at every input: check the sign. "
    return f"It is {c:.4g} times the right answer at every input: a constant factor is off. "


# --- the checks ----------------------------------------------------------------------------------------------------

#: What each exercise's function returns and where the references explain it, by function name: the hint of
#: :class:`NotDoneYet` (no formula, which is the exercise). The task cell above the solution cell says more.
TODO = {
    # notebook 01
    "gaussian_score": (
        "the score of N(mu, s^2 I) smoothed with the noise N(0, sigma^2 I), one 2D vector per row of x",
        "thesis 001, Sec. 2.3.1 (scores and score matching), and the Gaussian's score in notebook 01, section 2",
    ),
    "dsm_target": (
        "the regression target of denoising score matching: the score of q_sigma(x_noisy | x_clean) = "
        "N(x_clean, sigma^2 I) at x_noisy",
        "thesis 001, Sec. 2.3.1, Eq. 2.9",
    ),
    # notebook 02
    "mh_log_accept": (
        "the log of the random-walk Metropolis-Hastings acceptance probability, as a float",
        "thesis 001, Sec. 2.2.2.1, Eq. 2.1 (with a symmetric proposal)",
    ),
    "ula_variance": (
        "the variance at which ULA's chain on N(0, s2) settles (its fixed point), as a float",
        "thesis 001, Sec. 2.2.2.3, Eq. 2.2 (ULA), and the recursion in the task cell",
    ),
    # notebook 03
    "als_limit_std": (
        "the noise standard deviation ALS converges to at the level sigma (the fixed point of the variance recursion)",
        "thesis 001, Sec. 8.4, Prop. 1, and its proof in App. C.6",
    ),
    "cas_beta": (
        "CAS's noise factor beta, which makes the noise after one step exactly sigma_{i+1}",
        "thesis 001, Sec. 8.4, Alg. 5 and Prop. 2, and App. C.7",
    ),
    # notebook 04
    "vp_marginal_std": (
        "the standard deviation of the VP SDE's perturbation kernel at time t, for the linear beta(t)",
        "thesis 001, Sec. 2.4.2, Eq. 2.16, and report 000, Sec. 3",
    ),
    "ggf_next_h": (
        "the next step size of Gotta Go Fast after an attempt of size h with the scaled error err",
        "thesis 001, Ch. 10, Alg. 6 and Eq. 10.6",
    ),
    # notebook 05
    "ns_generator_loss": (
        "the non-saturating generator loss on the critic's logits, averaged over the batch and finite for "
        "logits in the hundreds",
        'lecture 004, "non-saturating GAN", and thesis 001, Eq. A.5',
    ),
    "rasgan_d_loss": (
        "the relativistic average (RaSGAN) critic's loss on a batch of real and a batch of fake logits",
        "thesis 001, Ch. 4 and App. A.7.3",
    ),
    # notebook 06
    "js_coins": (
        "the Jensen-Shannon divergence between Bernoulli(a) and Bernoulli(b), in nats",
        'lecture 004, "Vanilla GAN optimality", and thesis 001, Sec. 2.2.3',
    ),
    "optimal_discriminator": (
        "the discriminator D*(x) that maximizes E_P log D + E_Q log(1 - D), at each point",
        'lecture 004, "Vanilla GAN optimality" (Goodfellow et al. 2014, Prop. 1)',
    ),
    # notebook 07
    "frechet_diagonal": (
        "the Fréchet distance (FID's formula) between two Gaussians with diagonal covariances",
        'lecture 002, "Frechet Inception Distance"',
    ),
    "mmd2_unbiased": (
        "the unbiased estimate of MMD^2 from the three kernel matrices",
        'lecture 002, "Maximum Mean Discrepancy", and gentoolkit.metrics.kernel',
    ),
    # notebook 08
    "drs_accept": (
        "each sample's acceptance probability in discriminator rejection sampling",
        'assignment 003, "Discriminator rejection sampling" (Azadi et al. 2019), and rejection sampling in notebook 02',
    ),
    "langevin_step": (
        "one step of Langevin dynamics on the energy E in the GAN's latent space",
        "report 000, Sec. 4.2, Eq. 4 and Algorithm 1",
    ),
    # notebook 09
    "expected_denoised": (
        "the expected denoised sample H(x, sigma) of the noisy images x, given their score",
        "thesis 001, Sec. 8.3.3, Eq. 8.3 (Tweedie's formula)",
    ),
    "stacked_kl": (
        "KL(p || uniform), in nats, of the histogram p of the 1,000 StackedMNIST modes",
        "notebook 09, section 5, and gentoolkit.metrics.stacked_mode_count",
    ),
}


def _normal(seed: int, n: int = 32) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def check_smoothed_gaussian_score(gaussian_score) -> None:
    """Exercise (notebook 01): ``gaussian_score(x, mu, s, sigma)`` must return the score of
    N(mu, s^2 I) convolved with N(0, sigma^2 I), i.e. -(x - mu) / (s^2 + sigma^2), for x of
    shape (n, 2), mu of shape (2,) and floats s, sigma."""
    mu = torch.tensor([0.8, -1.3], dtype=torch.float64)
    cases = [(2 * _normal(seed), mu, s, sigma) for seed, (s, sigma) in enumerate([(0.7, 0.4), (1.6, 0.3), (0.35, 1.2)])]
    _check(
        gaussian_score,
        "gaussian_score(x, mu, s, sigma)",
        cases,
        lambda x, mu, s, sigma: -(x - mu) / (s**2 + sigma**2),
        {
            "Check the sign: the score points towards the mean, so it is -(x - mu) / variance.": (
                lambda x, mu, s, sigma: (x - mu) / (s**2 + sigma**2)
            ),
            "That is the score of the clean Gaussian N(mu, s^2 I). Adding the noise sigma z adds sigma^2 to the "
            "variance: divide by s**2 + sigma**2.": lambda x, mu, s, sigma: -(x - mu) / s**2,
            "That is the score of the noise N(0, sigma^2 I) alone; the data's own spread s adds to it: the smoothed "
            "variance is s**2 + sigma**2.": lambda x, mu, s, sigma: -(x - mu) / sigma**2,
            "Standard deviations do not add; variances do: the smoothed variance is s**2 + sigma**2, not "
            "(s + sigma)**2.": lambda x, mu, s, sigma: -(x - mu) / (s + sigma) ** 2,
            "Divide by the variance s**2 + sigma**2, not by the standard deviation sqrt(s**2 + sigma**2): d/dx of "
            "-|x - mu|^2 / (2 v) is -(x - mu) / v.": lambda x, mu, s, sigma: -(x - mu) / (s**2 + sigma**2) ** 0.5,
            "Divide by a variance: (s + sigma) adds standard deviations and is not squared; the smoothed variance "
            "is s**2 + sigma**2.": lambda x, mu, s, sigma: -(x - mu) / (s + sigma),
            "Missing factor 2: d/dx of -|x - mu|^2 / (2 v) is -(x - mu) / v, the 2 of the square cancels the 1/2.": (
                lambda x, mu, s, sigma: -(x - mu) / (2 * (s**2 + sigma**2))
            ),
            "Adding precisions 1/s^2 + 1/sigma^2 gives the score of the *product* of the two densities. Adding "
            "independent noise *convolves* them, and then variances add: s**2 + sigma**2.": (
                lambda x, mu, s, sigma: -(x - mu) * (1 / s**2 + 1 / sigma**2)
            ),
            "You left out the mean: the score is -(x - mu) / (s**2 + sigma**2), centred at mu, not at 0.": (
                lambda x, mu, s, sigma: -x / (s**2 + sigma**2)
            ),
            "The distance to the mean is x - mu, not x + mu.": lambda x, mu, s, sigma: -(x + mu) / (s**2 + sigma**2),
        },
        "s and sigma are positive here, so the variance s**2 + sigma**2 is too.",
    )


def check_dsm_target(dsm_target) -> None:
    """Exercise (notebook 01): ``dsm_target(x_noisy, x_clean, sigma)`` must return the
    regression target of denoising score matching, grad log q_sigma(x_noisy | x_clean) =
    -(x_noisy - x_clean) / sigma^2 (001, Eq. 2.9 with q_sigma = N(x_clean, sigma^2 I))."""
    cases = []
    for seed, sigma in enumerate([0.3, 1.7, 2.5]):  # sigma, sigma^2, 2 sigma^2, sqrt(sigma) all differ
        x = 2 * _normal(10 + seed)
        cases.append((x + sigma * _normal(20 + seed), x, sigma))
    _check(
        dsm_target,
        "dsm_target(x_noisy, x_clean, sigma)",
        cases,
        lambda xn, x, sigma: -(xn - x) / sigma**2,
        {
            "Check the sign: the target points from the noisy point back to the clean one, "
            "-(x_noisy - x_clean) / sigma**2.": lambda xn, x, sigma: (xn - x) / sigma**2,
            "The kernel q_sigma has variance sigma^2, so divide by sigma**2, not sigma. (-(x_noisy - x_clean) / "
            "sigma is the noise -z: Eq. 2.11 multiplies the target by sigma.)": lambda xn, x, sigma: -(xn - x) / sigma,
            "Missing factor 2: the log-density is -|x_noisy - x_clean|^2 / (2 sigma^2), and the gradient of the "
            "square brings a 2 that cancels the 1/2: divide by sigma**2, not 2 sigma**2.": (
                lambda xn, x, sigma: -(xn - x) / (2 * sigma**2)
            ),
            "Divide by sigma**2: -(x_noisy - x_clean) alone is the score of a kernel of variance 1.": (
                lambda xn, x, sigma: -(xn - x)
            ),
            "That is the noise you added (sigma z), not the score. The score of N(x_clean, sigma^2 I) at x_noisy "
            "is -(x_noisy - x_clean) / sigma**2.": lambda xn, x, sigma: xn - x,
            "That is the standard normal z = (x_noisy - x_clean) / sigma you drew; the score of the kernel is "
            "-z / sigma = -(x_noisy - x_clean) / sigma**2.": lambda xn, x, sigma: (xn - x) / sigma,
            "Divide by the variance sigma**2 instead of multiplying by it.": lambda xn, x, sigma: -(xn - x) * sigma**2,
            "The kernel is centred at x_clean: subtract it, -(x_noisy - x_clean) / sigma**2 (without it you get "
            "the score of N(0, sigma^2 I)).": lambda xn, x, sigma: -xn / sigma**2,
        },
        "sigma is positive here.",
    )


def check_mh_log_acceptance(mh_log_accept) -> None:
    """Exercise (notebook 02): ``mh_log_accept(log_p_current, log_p_proposal)`` must return the
    log of the random-walk Metropolis-Hastings acceptance probability,
    log min(1, p(x') / p(x)) = min(0, log p(x') - log p(x)) (001, Eq. 2.1, symmetric q)."""
    _check(
        mh_log_accept,
        "mh_log_accept(log_p_current, log_p_proposal)",
        [(-1.0, -3.0), (-2.0, -0.5), (0.3, 0.3), (-10.0, -4.0), (-4.0, -10.0), (1.5, -2.5)],
        lambda a, b: min(0.0, b - a),
        {
            "A probability is at most 1, so its log is at most 0: take min(0, ...).": lambda a, b: b - a,
            "Check the order: the ratio is p(proposal) / p(current), so log p(x') - log p(x).": (
                lambda a, b: min(0.0, a - b)
            ),
            "Return the log of the acceptance probability, not the probability itself.": (
                lambda a, b: min(1.0, math.exp(b - a))
            ),
            "Take the min, not the max: the acceptance probability min(1, p(x') / p(x)) is at most 1, so its log "
            "is at most 0.": lambda a, b: max(0.0, b - a),
            "You are in log space: the cap 1 of the probability becomes log 1 = 0, so min(0, ...), not "
            "min(1, ...).": lambda a, b: min(1.0, b - a),
            "In log space a ratio becomes a difference: log(p(x') / p(x)) = log p(x') - log p(x), not "
            "log p(x') / log p(x).": lambda a, b: min(1.0, b / a),
            "The log of a ratio is a difference, not a sum: log p(x') - log p(x).": lambda a, b: min(0.0, a + b),
        },
        "The inputs are already logs (any real numbers, negative ones too): log(p(x') / p(x)) = log p(x') - "
        "log p(x) needs no further log or exp.",
    )


def check_ula_stationary_variance(ula_variance) -> None:
    """Exercise (notebook 02): ``ula_variance(s2, lam)`` must return the stationary variance of
    ULA, x <- x + lam * (-x / s2) + sqrt(2 lam) z, on N(0, s2): s2 / (1 - lam / (2 s2))."""
    _check(
        ula_variance,
        "ula_variance(s2, lam)",
        [(1.0, 0.1), (2.0, 0.5), (0.5, 0.2), (1.0, 0.8), (3.0, 1.2)],
        lambda s2, lam: s2 / (1 - lam / (2 * s2)),
        {
            "ULA is biased: its stationary variance is not the target's s2. Solve v = (1 - lam/s2)^2 v + 2 lam "
            "for v.": lambda s2, lam: s2,
            "Close: in v = a^2 v + 2 lam, a = 1 - lam / s2, so v = 2 lam / (1 - a^2); expand 1 - a^2 = "
            "2 lam / s2 - lam^2 / s2^2 carefully.": lambda s2, lam: s2 / (1 - lam / s2),
            "Check the sign: 1 - (1 - a)^2 = 2a - a^2 (minus a^2). The variance grows with the step, the "
            "discretisation adds energy.": lambda s2, lam: s2 / (1 + lam / (2 * s2)),
            "Square the factor: the variance of (1 - lam/s2) x is (1 - lam/s2)^2 v, not (1 - lam/s2) v.": (
                lambda s2, lam: 2 * s2
            ),
            "The noise sqrt(2 lam) z adds the variance 2 lam, not lam.": lambda s2, lam: s2 / (2 - lam / s2),
            "The noise sqrt(2 lam) z adds its variance 2 lam, not its standard deviation sqrt(2 lam).": (
                lambda s2, lam: math.sqrt(2 * lam) / (2 * lam / s2 - lam**2 / s2**2)
            ),
            "That is the standard deviation; return the variance v itself.": (
                lambda s2, lam: math.sqrt(s2 / (1 - lam / (2 * s2)))
            ),
            "That is the first-order approximation s2 + lam / 2 for small steps; solve the fixed-point equation "
            "exactly: v = s2 / (1 - lam / (2 s2)).": lambda s2, lam: s2 + lam / 2,
        },
        "Here lam < 2 s2 in every case, so 1 - lam / (2 s2) > 0 and the variance is finite and positive.",
    )


def check_cas_beta(cas_beta) -> None:
    """Exercise (notebook 03): ``cas_beta(eta, gamma)`` must return CAS's noise factor
    beta = sqrt(1 - (1 - eta)^2 / gamma^2) (001, Alg. 5, App. C.7)."""
    _check(
        cas_beta,
        "cas_beta(eta, gamma)",
        [(0.2, 0.9), (0.5, 0.6), (0.1, 0.95), (0.6, 0.7), (0.3, 0.8)],
        lambda e, g: math.sqrt(1 - (1 - e) ** 2 / g**2),
        {
            "That is beta squared: the noise factor is its square root.": lambda e, g: 1 - (1 - e) ** 2 / g**2,
            "Square gamma too: the variance condition is sigma_i^2 (1 - eta)^2 + sigma_{i+1}^2 beta^2 = "
            "sigma_{i+1}^2 with sigma_i = sigma_{i+1} / gamma.": lambda e, g: math.sqrt(1 - (1 - e) ** 2 / g),
            "Square (1 - eta) too: the noise sigma_i z becomes (1 - eta) sigma_i z, of variance (1 - eta)^2 "
            "sigma_i^2.": lambda e, g: math.sqrt(1 - (1 - e) / g**2),
            "Square both (1 - eta) and gamma: they scale standard deviations, and it is the variances that add.": (
                lambda e, g: math.sqrt(1 - (1 - e) / g)
            ),
            "The sample keeps a fraction (1 - eta) of its noise, not eta.": lambda e, g: math.sqrt(1 - e**2 / g**2),
            "gamma = sigma_{i+1} / sigma_i, so sigma_i^2 / sigma_{i+1}^2 = 1 / gamma^2: divide (1 - eta)^2 by "
            "gamma^2 instead of multiplying.": lambda e, g: math.sqrt(1 - (1 - e) ** 2 * g**2),
            "That is beta * gamma: after writing the condition sigma_i^2 (1 - eta)^2 + sigma_{i+1}^2 beta^2 = "
            "sigma_{i+1}^2, divide it by sigma_{i+1}^2, not sigma_i^2.": lambda e, g: math.sqrt(g**2 - (1 - e) ** 2),
            "That keeps the noise at sigma_i; CAS brings it down to sigma_{i+1} = gamma sigma_i, so gamma must "
            "appear: beta^2 = 1 - (1 - eta)^2 / gamma^2.": lambda e, g: math.sqrt(1 - (1 - e) ** 2),
            "sqrt(2 eta) is ALS's noise factor. CAS chooses beta so that the noise variance after the step is "
            "exactly sigma_{i+1}^2.": lambda e, g: math.sqrt(2 * e),
        },
        "Here gamma > 1 - eta in every case, so (1 - eta)^2 / gamma^2 < 1 and beta is real. A negative number "
        "under your square root means the ratio is upside down or a square is missing: beta^2 = 1 - (1 - eta)^2 / "
        "gamma^2.",
    )


def check_als_limit(als_limit_std) -> None:
    """Exercise (notebook 03): ``als_limit_std(sigma, eta)`` must return the noise std that ALS
    converges to at a level sigma with the exact score: sigma sqrt(2 / (2 - eta)) (Prop. 1)."""
    _check(
        als_limit_std,
        "als_limit_std(sigma, eta)",
        [(1.0, 0.1), (0.5, 0.5), (2.0, 1.0), (0.1, 0.01), (1.5, 1.6)],
        lambda s, e: s * math.sqrt(2 / (2 - e)),
        {
            "That is what the schedule assumes, but Prop. 1 says ALS never reaches it: solve v^2 = (1 - eta)^2 v^2 "
            "+ 2 eta sigma^2.": lambda s, e: s,
            "That is the variance; return the standard deviation.": lambda s, e: s**2 * 2 / (2 - e),
            "Check the sign: 1 - (1 - eta)^2 = eta (2 - eta).": lambda s, e: s * math.sqrt(2 / (2 + e)),
            "Square (1 - eta): it multiplies the standard deviation, so the variance gets (1 - eta)^2.": (
                lambda s, e: s * math.sqrt(2)
            ),
            "(1 - eta)^2 = 1 - 2 eta + eta^2, not 1 - eta^2: 1 - (1 - eta)^2 = eta (2 - eta).": (
                lambda s, e: s * math.sqrt(2 / e)
            ),
            "The noise sqrt(2 eta) sigma z has variance 2 eta sigma^2: square sigma.": (
                lambda s, e: math.sqrt(2 * s / (2 - e))
            ),
            "Take the square root of 2 / (2 - eta) too: v^2 = 2 sigma^2 / (2 - eta).": lambda s, e: s * 2 / (2 - e),
            "That is the noise one step adds, sqrt(2 eta) sigma; the limit is the fixed point of the whole "
            "recursion v^2 = (1 - eta)^2 v^2 + 2 eta sigma^2.": lambda s, e: s * math.sqrt(2 * e),
        },
        "eta may be anywhere in (0, 2), and the limit is finite for all of them (at eta = 1 the step forgets x "
        "and keeps only the noise sqrt(2) sigma z): solve v^2 = (1 - eta)^2 v^2 + 2 eta sigma^2 for v.",
    )


def check_vp_marginal_std(vp_marginal_std) -> None:
    """Exercise (notebook 04): ``vp_marginal_std(t, beta_min, beta_max)`` must return the std of
    the VP perturbation kernel, sqrt(1 - exp(-B(t))) with B(t) = beta_min t + (beta_max - beta_min)
    t^2 / 2 (001, Eq. 2.16; Sec. 10.3.3)."""

    def integral(t, b0, b1):
        return b0 * t + 0.5 * (b1 - b0) * t**2

    _check(
        vp_marginal_std,
        "vp_marginal_std(t, beta_min, beta_max)",
        [(0.5, 0.1, 20.0), (0.1, 0.1, 20.0), (1.0, 0.1, 20.0), (0.3, 1.0, 5.0), (0.05, 0.5, 10.0)],
        lambda t, b0, b1: math.sqrt(1 - math.exp(-integral(t, b0, b1))),
        {
            "That is the variance 1 - exp(-B(t)); return its square root, the standard deviation.": (
                lambda t, b0, b1: 1 - math.exp(-integral(t, b0, b1))
            ),
            "That is the mean factor m(t) = exp(-B(t) / 2), the share of x(0) left in x(t); the std is "
            "sqrt(1 - exp(-B(t))).": lambda t, b0, b1: math.exp(-0.5 * integral(t, b0, b1)),
            "Integrate beta(u) = beta_min + u (beta_max - beta_min) from 0 to t: B(t) = beta_min t + "
            "(beta_max - beta_min) t**2 / 2 (the t^2 term has a factor 1/2; beta(t) * t is not the integral).": (
                lambda t, b0, b1: math.sqrt(1 - math.exp(-(b0 * t + (b1 - b0) * t**2)))
            ),
            "The variance is 1 - exp(-B(t)), not 1 - exp(-B(t) / 2): the halving belongs to the mean factor "
            "exp(-B / 2), and the variance decays like its square.": (
                lambda t, b0, b1: math.sqrt(1 - math.exp(-0.5 * integral(t, b0, b1)))
            ),
            "The variance is 1 - m(t)^2 with the mean factor m(t) = exp(-B(t) / 2), so 1 - exp(-B(t)), not "
            "1 - exp(-2 B(t)).": lambda t, b0, b1: math.sqrt(1 - math.exp(-2 * integral(t, b0, b1))),
            "sqrt(B(t)) is the noise the SDE injects, int_0^t g^2 = B(t), ignoring that the drift -beta x / 2 "
            "shrinks it as it goes: solve dv/dt = -beta v + beta, v(0) = 0.": (
                lambda t, b0, b1: math.sqrt(integral(t, b0, b1))
            ),
            "beta(t) rises from beta_min at t = 0 to beta_max at t = 1: you swapped beta_min and beta_max.": (
                lambda t, b0, b1: math.sqrt(1 - math.exp(-integral(t, b1, b0)))
            ),
            "(beta_min + beta_max) / 2 is the mean of beta over [0, 1], not over [0, t]: B(t) = beta_min t + "
            "(beta_max - beta_min) t**2 / 2.": lambda t, b0, b1: math.sqrt(1 - math.exp(-t * (b0 + b1) / 2)),
            "You left out the beta_min t term of B(t) = beta_min t + (beta_max - beta_min) t**2 / 2.": (
                lambda t, b0, b1: math.sqrt(1 - math.exp(-0.5 * (b1 - b0) * t**2))
            ),
            "That uses beta(t) itself; the kernel needs its integral B(t) = beta_min t + (beta_max - beta_min) "
            "t**2 / 2.": lambda t, b0, b1: math.sqrt(1 - math.exp(-(b0 + t * (b1 - b0)))),
        },
        "B(t) > 0 for t > 0, so 1 - exp(-B(t)) lies in (0, 1). A negative number under your square root usually "
        "means exp(+B(t)) instead of exp(-B(t)).",
    )


def check_ggf_step_update(ggf_next_h) -> None:
    """Exercise (notebook 04): ``ggf_next_h(h, err, t_remaining, theta=0.9, r=0.9)`` must return
    the next step size of Gotta Go Fast, min(t_remaining, theta h err^(-r)) (001, Eq. 10.6, with
    h_max the time left)."""

    def right(h, e, t, theta=0.9, r=0.9):
        return min(t, theta * h * e ** (-r))

    _check(
        ggf_next_h,
        "ggf_next_h(h, err, t_remaining, theta=0.9, r=0.9)",
        [
            (0.01, 0.5, 0.8),
            (0.02, 2.0, 0.5),
            (0.01, 0.1, 0.05),  # the cap binds
            (0.05, 1.0, 0.3),
            (0.02, 4.0, 0.7, 0.8, 0.5),
            (0.01, 0.25, 0.5, 0.5, 1.0),
        ],
        right,
        {
            "A step may not go past t_eps: cap it with min(t_remaining, ...), the h_max of Eq. 10.6.": (
                lambda h, e, t, theta=0.9, r=0.9: theta * h * e ** (-r)
            ),
            "Check the sign of the exponent: a small error (err < 1) must make the next step larger, so use "
            "err ** (-r).": lambda h, e, t, theta=0.9, r=0.9: min(t, theta * h * e**r),
            "Multiply by the safety factor theta (< 1), which keeps the next attempt a little smaller than the "
            "error estimate suggests.": lambda h, e, t, theta=0.9, r=0.9: min(t, h * e ** (-r)),
            "The step is capped by the time left: take the min, not the max.": (
                lambda h, e, t, theta=0.9, r=0.9: max(t, theta * h * e ** (-r))
            ),
            "Use the arguments theta and r: the test also calls ggf_next_h with theta and r other than 0.9.": (
                lambda h, e, t, theta=0.9, r=0.9: min(t, 0.9 * h * e ** (-0.9))
            ),
            "The error enters as err ** (-r), not 1 / err (that is r = 1).": (
                lambda h, e, t, theta=0.9, r=0.9: min(t, theta * h / e)
            ),
            "The exponent is -r itself, not -1 / r: r already plays the role of 1 / (p + 1).": (
                lambda h, e, t, theta=0.9, r=0.9: min(t, theta * h * e ** (-1 / r))
            ),
            "The next step scales the last one: multiply by h, min(t_remaining, theta * h * err ** (-r)).": (
                lambda h, e, t, theta=0.9, r=0.9: min(t, theta * e ** (-r))
            ),
            "Cap the step by the time left, t_remaining, not by the last step h (the step could never grow).": (
                lambda h, e, t, theta=0.9, r=0.9: min(h, theta * h * e ** (-r))
            ),
            "theta and r are swapped: theta multiplies the step and r is the exponent of err.": (
                lambda h, e, t, theta=0.9, r=0.9: min(t, r * h * e ** (-theta))
            ),
            "Only err is raised to the power -r; theta multiplies the result: theta * h * err ** (-r), not "
            "h * (theta / err) ** r.": lambda h, e, t, theta=0.9, r=0.9: min(t, h * (theta / e) ** r),
        },
        "h, err and t_remaining are positive in every case.",
    )


# --- notebook 06 ---------------------------------------------------------------------------------------------------


def _xlog(x, y):
    """x log(x / y) with 0 log 0 = 0; ZeroDivisionError where x > 0 = y, as a student's code raises there."""
    return 0.0 if x == 0 else x * math.log(x / y)


def _coin_kl(a, b):
    """KL(Bernoulli(a) || Bernoulli(b))."""
    return _xlog(a, b) + _xlog(1 - a, 1 - b)


def check_js_coins(js_coins) -> None:
    """Exercise (notebook 06): ``js_coins(a, b)`` must return the Jensen-Shannon divergence between two
    coins, P = Bernoulli(a) and Q = Bernoulli(b): JS = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q)/2, in
    nats, with 0 log 0 = 0 (lecture 004, "Vanilla GAN optimality"; thesis 001, Sec. 2.2.3)."""

    def m(a, b):
        return (a + b) / 2

    def js(a, b):
        return 0.5 * _coin_kl(a, m(a, b)) + 0.5 * _coin_kl(b, m(a, b))

    _check(
        js_coins,
        "js_coins(a, b)",
        [(0.1, 0.6), (0.5, 0.2), (0.9, 0.35), (0.0, 0.5), (0.75, 0.7)],
        js,
        {
            "Missing factor 1/2: JS averages the two KLs, 1/2 KL(P||M) + 1/2 KL(Q||M) (so that JS <= log 2).": (
                lambda a, b: 2 * js(a, b)
            ),
            "That is JS in bits (log base 2); use the natural log (math.log), in which JS <= log 2 = 0.693.": (
                lambda a, b: js(a, b) / math.log(2)
            ),
            "KL in the wrong direction: JS uses KL(P || M) = sum p log(p / m), with P first; you computed "
            "KL(M || P) and KL(M || Q).": lambda a, b: 0.5 * _coin_kl(m(a, b), a) + 0.5 * _coin_kl(m(a, b), b),
            "M is the average (P + Q) / 2: you used P + Q without the 1/2 (which is not a distribution).": (
                lambda a, b: js(a, b) - math.log(2)
            ),
            "That is KL(P || Q) itself; JS compares each of P and Q with their average M = (P + Q) / 2.": (
                lambda a, b: _coin_kl(a, b)
            ),
            "That is the symmetrised KL, (KL(P||Q) + KL(Q||P)) / 2; JS compares P and Q with M = (P + Q) / 2.": (
                lambda a, b: 0.5 * _coin_kl(a, b) + 0.5 * _coin_kl(b, a)
            ),
            "You kept only 1/2 KL(P || M); add the second half, 1/2 KL(Q || M).": lambda a, b: (
                0.5 * _coin_kl(a, m(a, b))
            ),
            "A coin has two outcomes: sum over heads (probability a) and tails (1 - a) in each KL.": (
                lambda a, b: 0.5 * _xlog(a, m(a, b)) + 0.5 * _xlog(b, m(a, b))
            ),
            "That is 2 JS - log 4, the value of the GAN game at the optimal discriminator; JS itself is "
            "1/2 KL(P||M) + 1/2 KL(Q||M).": lambda a, b: 2 * js(a, b) - math.log(4),
        },
        "JS is finite for every pair of coins (at most log 2). A term p log(p / m) with p = 0 is 0 log 0 = 0 "
        "by continuity (x log x -> 0): skip it, e.g. `x * math.log(x / y) if x > 0 else 0.0`. A term "
        "m log(m / p) with p = 0 < m would be infinite: that is KL in the wrong direction, KL(M || P).",
    )


def check_optimal_discriminator(optimal_discriminator) -> None:
    """Exercise (notebook 06): ``optimal_discriminator(p, q)`` gets the data density p and the generator
    density q at some points (tensors of one shape) and must return the discriminator that maximizes
    E_P log D + E_Q log(1 - D): D*(x) = p(x) / (p(x) + q(x)) (lecture 004, "Vanilla GAN optimality";
    Goodfellow et al. 2014, Prop. 1), 0 where only the generator has mass and 1 where only the data has."""
    g = torch.Generator().manual_seed(6)
    cases = []
    for k in range(3):
        p, q = torch.rand(2, 16, generator=g, dtype=torch.float64) * (k + 1)
        p[:2], q[2:4] = 0.0, 0.0  # only the generator has mass at the first two points, only the data at the next
        cases.append((p, q))

    _check(
        optimal_discriminator,
        "optimal_discriminator(p, q)",
        cases,
        lambda p, q: p / (p + q),
        {
            "That is 1 - D*, the probability of 'fake': D* is the probability of 'real', p / (p + q).": (
                lambda p, q: q / (p + q)
            ),
            "That is the density ratio p / q (the KL critic's exp), which is not a probability: D* = p / (p + q) "
            "lies in [0, 1].": lambda p, q: p / q,
            "That is the optimal critic's logit, log(p / q) = log(D* / (1 - D*)); the discriminator is the "
            "probability D* = p / (p + q).": lambda p, q: torch.log(p / q),
            "That is log D*, the term of the loss; return D* = p / (p + q) itself.": (
                lambda p, q: torch.log(p / (p + q))
            ),
            "1/2 is D* only where p = q (at the end of a perfect training); in general D* = p / (p + q).": (
                lambda p, q: torch.full_like(p, 0.5)
            ),
            "sigmoid(p - q) is not the optimum: maximize p log D + q log(1 - D) pointwise; the derivative "
            "p / D - q / (1 - D) = 0 gives D* = p / (p + q).": lambda p, q: torch.sigmoid(p - q),
            "p / (1 + q) is not the optimum: maximize p log D + q log(1 - D) pointwise, which gives "
            "D* = p / (p + q).": lambda p, q: p / (1 + q),
        },
        "p + q > 0 at every point of the test, so p / (p + q) is defined everywhere (0 where p = 0, 1 where q = 0).",
    )


def _scalar_runner(what: str, fix: str, *, inplace: str = "`{arg} -= ...` or `{arg}.sub_(...)`", crash=None):
    """A ``run`` for :func:`_check` (as :func:`_run`) for a function of tensors that returns one number:
    ``what`` says which number (", the loss averaged over the batch"), ``fix`` how to get one from a tensor,
    ``inplace`` an example of an in-place edit of an input ``{arg}``, ``crash`` (optional) the hint for
    the error torch raises when a tensor meets a function of one float (math.log)."""

    def run(fn, name: str, names: list[str], case: tuple) -> tuple[torch.Tensor, str | None]:
        args = [a.clone() for a in case]
        try:
            out = fn(*args)
        except NotImplementedError as err:
            raise NotDoneYet(str(err)) from None
        except Exception as err:  # any error of the student's code becomes an explanation, never a traceback
            if crash is not None and "only one element tensors can be converted" in str(err):
                raise WrongAnswer(f"Your {name} raised {type(err).__name__}: {err}. {crash}") from None
            problem = _undefined(err)
            if problem is None:
                raise WrongAnswer(_crash(name, names, case, err)) from None
            return _nan_like(0.0), problem
        for arg, copy, original in zip(names, args, case):
            if not torch.equal(copy, original):
                raise WrongAnswer(
                    f"Your {name} changed its input {arg} in place (as {inplace.format(arg=arg)} do); "
                    f"compute a new tensor instead: the caller still needs {arg}."
                )
        if isinstance(out, torch.Tensor) and out.numel() != 1:
            raise WrongAnswer(f"{name} must return one number{what}; got a tensor of shape {tuple(out.shape)}: {fix}")
        return _as_value(out, name, 0.0)

    return run


# --- notebook 05 ---------------------------------------------------------------------------------------------------
# GAN losses on the critic's raw outputs (logits): the checks call the student's function on tensors of logits and
# compare one number, the loss. _check's default runner wants tensor outputs of the inputs' shape, so these checks
# pass run=_run_loss (a scalar computed from tensors) and extreme=: an answer right on moderate logits but wrong on
# the extreme ones (|C| in the hundreds, where a GAN's critic can be) is told about stability.


_run_loss = _scalar_runner(
    ", the loss averaged over the batch",
    "take the mean over the samples.",
    crash="The inputs are tensors of logits, one per sample: use torch functions (torch.sigmoid, torch.log, "
    "torch.nn.functional.softplus), not math.log or math.exp, which take a single float.",
)


def _logits(seed: int, n: int, scale: float, shift: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, generator=g, dtype=torch.float64) + shift


def _softplus(c: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.softplus(c)


_STABLE = (
    "Right for moderate logits, wrong for very large |C|: a critic that is sure can output C in the hundreds, "
    "where sigmoid(C) rounds to exactly 0 or 1, so log(sigmoid(C)) or log(1 - sigmoid(C)) becomes log 0 and an "
    "epsilon or a clamp inside the log changes the value. Write the log-sigmoids with softplus: -log sigmoid(c) = "
    "softplus(-c) and -log(1 - sigmoid(c)) = softplus(c) (torch.nn.functional.softplus, or logsigmoid)."
)


def check_ns_generator_loss(ns_generator_loss) -> None:
    """Exercise (notebook 05): ``ns_generator_loss(fake_logits)`` must return the non-saturating
    generator loss on the critic's raw outputs C(x_f), -mean(log sigmoid(C_f)) = mean(softplus(-C_f))
    (lecture 004, "non-saturating GAN"; thesis 001, Eq. A.5), finite for |C| in the hundreds."""
    cases = [
        (_logits(50, 8, 2.0, -0.5),),
        (_logits(51, 5, 3.0, 1.5),),
        (torch.tensor([-800.0, -60.0, -3.0, 0.5, 45.0, 900.0], dtype=torch.float64),),  # a confident critic
    ]

    def log_sigmoid_unstable(c):
        return torch.log(torch.sigmoid(c))

    _check(
        ns_generator_loss,
        "ns_generator_loss(fake_logits)",
        cases,
        lambda c: _softplus(-c).mean(),
        {
            "That is the minimax (saturating) generator loss mean(log(1 - sigmoid(C_f))): its gradient "
            "-sigmoid(C_f) vanishes exactly when the critic rejects the fakes (C_f very negative), early in "
            "training. The non-saturating loss maximises log sigmoid(C_f) instead: -mean(log sigmoid(C_f)).": (
                lambda c: -_softplus(c).mean()
            ),
            "That is the minimax (saturating) generator loss mean(log(1 - sigmoid(C_f))), and written as "
            "log(1 - sigmoid(C)) it is -inf for large C as well. The non-saturating loss is -mean(log sigmoid(C_f)) "
            "= mean(softplus(-C_f)).": lambda c: torch.log(1 - torch.sigmoid(c)).mean(),
            "Check the sign: the generator *minimizes* its loss, so it is -mean(log sigmoid(C_f)) (the fakes should "
            "look real, sigmoid(C_f) -> 1, loss -> 0).": lambda c: -_softplus(-c).mean(),
            "Take the mean over the batch, not the sum: the losses are means, so that they do not grow with the "
            "batch size.": lambda c: _softplus(-c).sum(),
            "The formula is right but not stable: sigmoid(C) rounds to 0 for C below about -745 (float64; -104 in "
            "float32), and log(0) = -inf, exactly when the critic rejects the fakes with confidence. Use "
            "softplus(-C) (= -log sigmoid(C)) or torch.nn.functional.logsigmoid.": (
                lambda c: -log_sigmoid_unstable(c).mean()
            ),
            "That is the critic's loss on the fakes, -mean(log(1 - sigmoid(C_f))): minimizing it would make the "
            "fakes look *more* fake. The generator wants sigmoid(C_f) -> 1: -mean(log sigmoid(C_f)).": (
                lambda c: _softplus(c).mean()
            ),
            "Take the mean of the logs, not the log of the mean: -mean(log sigmoid(C_f)), one log per sample.": (
                lambda c: -torch.log(torch.sigmoid(c).mean())
            ),
            "sigmoid(C_f) is the critic's probability that a fake is real; the loss is its negative *log*: "
            "-mean(log sigmoid(C_f)).": lambda c: -torch.sigmoid(c).mean(),
        },
        "The loss is finite for every logit (softplus(-c) is about -c for very negative c). A nan often means a "
        "log of a negative number, e.g. log(C) on the logits themselves: apply the sigmoid first, or use softplus.",
        run=_run_loss,
        extreme=([2], _STABLE),
    )


def check_rasgan_critic_loss(rasgan_d_loss) -> None:
    """Exercise (notebook 05): ``rasgan_d_loss(real_logits, fake_logits)`` must return the
    relativistic average standard GAN's critic loss (thesis 001, Ch. 4 and App. A.7.3)
    -mean(log sigmoid(D~_r)) - mean(log(1 - sigmoid(D~_f))), with D~_r = C_r - mean(C_f) and
    D~_f = C_f - mean(C_r), finite for |C| in the hundreds."""
    n = 6  # equal batches, so that the paired (RSGAN) difference C_r - C_f is defined and recognised
    cases = [
        (_logits(60, n, 1.5, 0.8), _logits(61, n, 1.0, -0.6)),
        (_logits(62, n, 2.5, -1.0), _logits(63, n, 2.0, 1.2)),
        (_logits(64, n, 1.0, 2.0), _logits(65, n, 3.0, 0.3)),
        (  # a confident critic that is wrong: real outputs far below the fakes'
            torch.tensor([-900.0, -850.0, -5.0, 1.0, -820.0, 2.0], dtype=torch.float64),
            torch.tensor([30.0, 60.0, -2.0, 90.0, 10.0, 5.0], dtype=torch.float64),
        ),
    ]

    def ra(cr, cf):
        return cr - cf.mean(), cf - cr.mean()

    def right(cr, cf):
        dr, df = ra(cr, cf)
        return _softplus(-dr).mean() + _softplus(df).mean()

    def unstable(cr, cf):
        dr, df = ra(cr, cf)
        return -torch.log(torch.sigmoid(dr)).mean() - torch.log(1 - torch.sigmoid(df)).mean()

    _check(
        rasgan_d_loss,
        "rasgan_d_loss(real_logits, fake_logits)",
        cases,
        right,
        {
            "That is the relativistic *paired* loss (RSGAN, App. A.7.2), which compares each real sample with one "
            "fake. The *average* version compares each sample with the mean critic output of the other batch: "
            "D~_r = C_r - mean(C_f), D~_f = C_f - mean(C_r).": lambda cr, cf: _softplus(cf - cr).mean(),
            "Each batch is compared with the *other* batch's mean: D~_r = C_r - mean(C_f) and D~_f = C_f - "
            "mean(C_r), not with its own mean.": (
                lambda cr, cf: _softplus(-(cr - cr.mean())).mean() + _softplus(cf - cf.mean()).mean()
            ),
            "That is the standard (non-relativistic) critic loss on C itself; the relativistic average critic "
            "uses the differences D~_r = C_r - mean(C_f) and D~_f = C_f - mean(C_r) inside the log-sigmoids.": (
                lambda cr, cf: _softplus(-cr).mean() + _softplus(cf).mean()
            ),
            "That is the generator's loss (real and fake swapped): the critic wants D~_r large and D~_f small, "
            "-mean(log sigmoid(D~_r)) - mean(log(1 - sigmoid(D~_f))).": (
                lambda cr, cf: _softplus(-ra(cr, cf)[1]).mean() + _softplus(ra(cr, cf)[0]).mean()
            ),
            "The fake term is -mean(log(1 - sigmoid(D~_f))) = mean(softplus(D~_f)): the critic wants the fakes to "
            "look *less* real than the average real sample, sigmoid(D~_f) -> 0, not -> 1.": (
                lambda cr, cf: _softplus(-ra(cr, cf)[0]).mean() + _softplus(-ra(cr, cf)[1]).mean()
            ),
            "You left out the fake term: the critic's loss has two terms, -mean(log sigmoid(D~_r)) on the real "
            "batch and -mean(log(1 - sigmoid(D~_f))) on the fake batch.": lambda cr, cf: _softplus(
                -ra(cr, cf)[0]
            ).mean(),
            "The formula is right but not stable: when the critic is confidently wrong (D~_r in the hundreds below "
            "0), sigmoid(D~_r) rounds to 0 and log(0) = -inf. Use softplus: -log sigmoid(d) = softplus(-d) and "
            "-log(1 - sigmoid(d)) = softplus(d).": unstable,
            "Take means over the batches, not sums: -mean(log sigmoid(D~_r)) - mean(log(1 - sigmoid(D~_f))).": (
                lambda cr, cf: _softplus(-ra(cr, cf)[0]).sum() + _softplus(ra(cr, cf)[1]).sum()
            ),
            "Check the sign: the loss is a sum of negative log-probabilities, -mean(log sigmoid(D~_r)) - "
            "mean(log(1 - sigmoid(D~_f))), which is >= 0.": lambda cr, cf: -right(cr, cf),
            "You averaged the loss over every pair (x_r, x_f); the relativistic *average* critic compares each "
            "sample with the average critic output of the other batch, *inside* the log-sigmoid: "
            "D~_r = C_r - mean(C_f).": (
                lambda cr, cf: _softplus(cf[None, :] - cr[:, None]).mean() + _softplus(cf[:, None] - cr[None, :]).mean()
            ),
        },
        "The loss is finite for every pair of batches (softplus(d) is about d for large d). A nan often means a "
        "log of a negative number, e.g. the log of a difference of logits: apply the sigmoid first, or use softplus.",
        run=_run_loss,
        extreme=([3], _STABLE),
    )


# --- notebook 07 ---------------------------------------------------------------------------------------------------
# Measuring generative models: the Fréchet distance of two diagonal Gaussians (FID's formula) and the unbiased MMD^2
# from kernel matrices. Both return one number computed from tensors (run=_run_metric).


_run_metric = _scalar_runner(
    "", "sum over the dimensions (or the pairs).", inplace="`{arg} -= ...` or `{arg}.fill_diagonal_(0)`"
)


def _frechet_diag(mu1, s1, mu2, s2):
    return ((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum()


def check_frechet_diagonal(frechet_diagonal) -> None:
    """Exercise (notebook 07): ``frechet_diagonal(mu1, std1, mu2, std2)`` gets the means and the standard
    deviations (tensors of shape (d,)) of two Gaussians with diagonal covariances and must return their
    Fréchet distance (the squared Wasserstein-2 distance, FID's formula; lecture 002, "Frechet Inception
    Distance"): ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) = ||mu1 - mu2||^2 + sum_i (std1_i - std2_i)^2."""
    g = torch.Generator().manual_seed(7)
    cases = []
    for d, (lo, hi) in zip((3, 4, 5), ((0.3, 2.5), (0.2, 1.8), (0.5, 3.0))):
        mu1, mu2 = torch.randn(2, d, generator=g, dtype=torch.float64)
        s1, s2 = lo + (hi - lo) * torch.rand(2, d, generator=g, dtype=torch.float64)
        cases.append((mu1, s1, mu2, s2))
    _check(
        frechet_diagonal,
        "frechet_diagonal(mu1, std1, mu2, std2)",
        cases,
        _frechet_diag,
        {
            "The covariance term is missing: FID = ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)); two Gaussians "
            "with the same mean but different widths are not at distance 0.": (
                lambda mu1, s1, mu2, s2: ((mu1 - mu2) ** 2).sum()
            ),
            "The arguments are standard deviations: the covariance is S = diag(std**2). You used the stds as if "
            "they were variances (std1 + std2 - 2 sqrt(std1 std2)).": lambda mu1, s1, mu2, s2: (
                ((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * torch.sqrt(s1 * s2)).sum()
            ),
            "Missing factor 2 on the cross term: tr(S1 + S2 - 2 (S1 S2)^(1/2)), i.e. std1**2 + std2**2 - "
            "2 std1 std2 = (std1 - std2)**2 per dimension.": lambda mu1, s1, mu2, s2: (
                ((mu1 - mu2) ** 2).sum() + (s1**2 + s2**2 - s1 * s2).sum()
            ),
            "The cross term is the square root of S1 S2: for diagonal covariances (S1 S2)^(1/2) = diag(std1 std2), "
            "not diag(std1**2 std2**2).": lambda mu1, s1, mu2, s2: (
                ((mu1 - mu2) ** 2).sum() + (s1**2 + s2**2 - 2 * s1**2 * s2**2).sum()
            ),
            "Square the distance between the means: the first term is ||mu1 - mu2||^2, not ||mu1 - mu2||.": (
                lambda mu1, s1, mu2, s2: (mu1 - mu2).norm() + ((s1 - s2) ** 2).sum()
            ),
            "That is the Wasserstein-2 distance itself; FID is its square, W2^2 (no square root).": (
                lambda mu1, s1, mu2, s2: torch.sqrt(_frechet_diag(mu1, s1, mu2, s2))
            ),
            "Compare the widths by their difference, (std1 - std2)**2 per dimension; (std1**2 - std2**2)**2 "
            "compares the variances, which FID does not.": lambda mu1, s1, mu2, s2: (
                ((mu1 - mu2) ** 2).sum() + ((s1**2 - s2**2) ** 2).sum()
            ),
        },
        "The stds are positive here, so every square root in the formula is of a positive number.",
        run=_run_metric,
    )


def _mmd2_u(kxx, kyy, kxy):
    n, m = len(kxx), len(kyy)
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return sxx + syy - 2 * kxy.mean()


def _rbf(a, b, h):
    return torch.exp(-(torch.cdist(a, b) ** 2) / (2 * h**2))


def check_mmd2_unbiased(mmd2_unbiased) -> None:
    """Exercise (notebook 07): ``mmd2_unbiased(kxx, kyy, kxy)`` gets the kernel matrices of n real and m fake
    samples, kxx = k(x_i, x_j) (n, n), kyy (m, m) and kxy = k(x_i, y_j) (n, m), and must return the unbiased
    estimate of MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y) (lecture 002, "Maximum Mean Discrepancy";
    :mod:`gentoolkit.metrics.kernel`): the diagonal terms k(x_i, x_i) left out, sum_{i != j} kxx / (n (n - 1))
    + sum_{i != j} kyy / (m (m - 1)) - 2 sum kxy / (n m)."""
    g = torch.Generator().manual_seed(70)
    cases = []
    for n, m, h, shift in ((6, 4, 0.8, 1.0), (5, 7, 1.5, 0.6), (8, 5, 0.5, 1.4)):
        x = torch.randn(n, 2, generator=g, dtype=torch.float64)
        y = 1.3 * torch.randn(m, 2, generator=g, dtype=torch.float64) + shift
        cases.append((_rbf(x, x, h), _rbf(y, y, h), _rbf(x, y, h)))

    def biased(kxx, kyy, kxy):
        return kxx.mean() + kyy.mean() - 2 * kxy.mean()

    _check(
        mmd2_unbiased,
        "mmd2_unbiased(kxx, kyy, kxy)",
        cases,
        _mmd2_u,
        {
            "That is the biased (V-statistic) estimate: it keeps the diagonal terms k(x_i, x_i) = 1 and divides by "
            "n^2. Leave the diagonals of kxx and kyy out and divide by n (n - 1) and m (m - 1).": biased,
            "You divided by n (n - 1) but kept the diagonal: subtract the diagonal of kxx and of kyy (the pairs "
            "i = j) before dividing.": lambda kxx, kyy, kxy: (
                kxx.sum() / (len(kxx) * (len(kxx) - 1)) + kyy.sum() / (len(kyy) * (len(kyy) - 1)) - 2 * kxy.mean()
            ),
            "You left the diagonals out but divided by n^2: there are n (n - 1) pairs i != j, so divide by "
            "n (n - 1) (and m (m - 1)).": lambda kxx, kyy, kxy: (
                (kxx.sum() - kxx.diagonal().sum()) / len(kxx) ** 2
                + (kyy.sum() - kyy.diagonal().sum()) / len(kyy) ** 2
                - 2 * kxy.mean()
            ),
            "Missing factor 2 on the cross term: MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y).": (
                lambda kxx, kyy, kxy: _mmd2_u(kxx, kyy, kxy) + kxy.mean()
            ),
            "Check the sign of the cross term: it is subtracted, - 2 E k(x, y) (the two samples are compared).": (
                lambda kxx, kyy, kxy: _mmd2_u(kxx, kyy, kxy) + 4 * kxy.mean()
            ),
            "Only the diagonals of kxx and kyy are left out: x_i and y_j are independent samples, so every pair "
            "of kxy counts (do not remove its diagonal).": lambda kxx, kyy, kxy: (
                _mmd2_u(kxx, kyy, kxy) + 2 * kxy.mean() - 2 * (kxy.sum() - kxy.diagonal().sum()) / kxy.numel()
            ),
            "That is the MMD itself; return its square, MMD^2 (no square root).": (
                lambda kxx, kyy, kxy: torch.sqrt(_mmd2_u(kxx, kyy, kxy))
            ),
        },
        "Kernel sums are always defined; the unbiased estimate can be slightly negative when the two laws are "
        "close (it is not a square of anything).",
        run=_run_metric,
    )


# --- notebook 08 ---------------------------------------------------------------------------------------------------
# MNIST GANs: discriminator rejection sampling and Langevin sampling in the latent space. Both checks compare
# tensors of the inputs' shape, so they use _check's default runner.


def check_drs_accept(drs_accept) -> None:
    """Exercise (notebook 08): ``drs_accept(logits, logit_max)`` gets the critic's logits D~(x) on
    generated samples (a tensor) and their maximum D~_M (a float, >= every logit) and must return
    each sample's acceptance probability in discriminator rejection sampling with gamma = 0:
    exp(D~(x) - D~_M) (Azadi et al. 2019, Eq. 8 as eps -> 0; assignment 003, "Discriminator
    rejection sampling"). The logit estimates log(p_data / p_G), so this is rejection sampling's
    p / (M q) with M = exp(D~_M)."""
    g = torch.Generator().manual_seed(8)
    cases = []
    for scale, shift, gap in [(1.5, -0.7, 0.0), (2.5, 1.3, 0.4), (0.8, -2.2, 1.1)]:
        logits = scale * torch.randn(12, generator=g, dtype=torch.float64) + shift
        cases.append((logits, float(logits.max()) + gap))  # D~_M: the maximum, or a running maximum above it

    _check(
        drs_accept,
        "drs_accept(logits, logit_max)",
        cases,
        lambda d, m: torch.exp(d - m),
        {
            "That is sigmoid(D~ - D~_M): the logit is the log of the density ratio p / q, so the ratio itself is "
            "exp(D~), not a sigmoid; accept with exp(D~ - D~_M) = (p / q) / M.": lambda d, m: torch.sigmoid(d - m),
            "That is the log of the acceptance probability: take exp(D~ - D~_M).": lambda d, m: d - m,
            "Check the order: the sample's logit comes first, exp(D~(x) - D~_M), which is at most 1 because D~_M is "
            "the largest logit; exp(D~_M - D~) is at least 1.": lambda d, m: torch.exp(m - d),
            "That is the density ratio p / q = exp(D~) without the bound M: divide by M = exp(D~_M), or the "
            "'probabilities' exceed 1.": lambda d, m: torch.exp(d),
            "That is sigmoid(D~), the discriminator's probability that x is real, D = p / (p + q); rejection "
            "sampling needs the ratio p / q = exp(D~), divided by its bound: exp(D~ - D~_M).": (
                lambda d, m: torch.sigmoid(d)
            ),
            "That is a ratio of the discriminator's probabilities sigmoid(D~) / sigmoid(D~_M); rejection sampling "
            "needs the density ratio p / q = exp(D~) = D / (1 - D), divided by its bound: exp(D~ - D~_M).": (
                lambda d, m: torch.sigmoid(d) / torch.sigmoid(torch.as_tensor(m, dtype=d.dtype))
            ),
            "You normalised over the batch (a softmax): each sample is accepted on its own, with probability "
            "exp(D~(x) - D~_M), and these need not sum to 1.": lambda d, m: torch.softmax(d, dim=0),
            "You divided by the batch's largest logit: the bound D~_M is the argument logit_max (a running maximum "
            "over everything proposed so far, which can be larger than this batch's).": (
                lambda d, m: torch.exp(d - d.max())
            ),
        },
        "The probability exp(D~ - D~_M) is defined for every logit: a nan or inf means a division by a "
        "difference or a log of a non-positive number.",
    )


def check_latent_langevin_step(langevin_step) -> None:
    """Exercise (notebook 08): ``langevin_step(z, grad_E, noise, eps)`` must return one step of
    Langevin dynamics in a GAN's latent space (report 000, Sec. 4.2, Eq. 4 and Algorithm 1):
    z - eps / 2 * grad_E + sqrt(eps) * noise, for latent codes z, the energy's gradient grad_E
    and standard normal noise (tensors of one shape) and a step size eps > 0."""
    g = torch.Generator().manual_seed(80)
    cases = []
    for eps in (0.3, 0.05, 1.7):  # eps, eps / 2, sqrt(eps), sqrt(2 eps) and sqrt(eps / 2) all differ
        z, grad, noise = (torch.randn(16, 2, generator=g, dtype=torch.float64) for _ in range(3))
        cases.append((z, 3 * grad, noise, eps))

    _check(
        langevin_step,
        "langevin_step(z, grad_E, noise, eps)",
        cases,
        lambda z, e, n, eps: z - eps / 2 * e + math.sqrt(eps) * n,
        {
            "Check the sign of the drift: E is an energy, low where samples are likely, so the step goes *down* "
            "its gradient: z - eps / 2 * grad_E.": lambda z, e, n, eps: z + eps / 2 * e + math.sqrt(eps) * n,
            "Missing factor 1/2 in the drift: the step is z - eps / 2 * grad_E + sqrt(eps) * noise (000, Eq. 4).": (
                lambda z, e, n, eps: z - eps * e + math.sqrt(eps) * n
            ),
            "That is gradient descent on E, without the noise: Langevin dynamics adds sqrt(eps) * noise at every "
            "step, or every chain falls into the nearest minimum of E instead of sampling p(z) = exp(-E(z)) / K.": (
                lambda z, e, n, eps: z - eps / 2 * e
            ),
            "The noise's standard deviation is sqrt(eps), not eps: its variance eps must match the drift eps / 2 "
            "for the chain to sample exp(-E).": lambda z, e, n, eps: z - eps / 2 * e + eps * n,
            "That is notebook 02's ULA with step eps (drift eps, noise sqrt(2 eps)); 000 writes the same chain with "
            "step eps / 2: z - eps / 2 * grad_E + sqrt(eps) * noise.": (
                lambda z, e, n, eps: z - eps * e + math.sqrt(2 * eps) * n
            ),
            "The noise's standard deviation is sqrt(eps), not sqrt(eps / 2): the 1/2 belongs to the drift only.": (
                lambda z, e, n, eps: z - eps / 2 * e + math.sqrt(eps / 2) * n
            ),
            "You left out the current state: the step moves z, so it is z - eps / 2 * grad_E + sqrt(eps) * noise, "
            "not just the change.": lambda z, e, n, eps: -eps / 2 * e + math.sqrt(eps) * n,
        },
        "Every input is finite and eps > 0, so the step is defined everywhere: a nan means a square root of a "
        "negative number (sqrt(-eps)?) or a division by zero.",
    )


# --- notebook 09 ---------------------------------------------------------------------------------------------------
# The expected denoised sample on images, and the mode-coverage KL of StackedMNIST.


def _images(seed: int, n: int = 3) -> torch.Tensor:
    return torch.randn(n, 1, 4, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def check_expected_denoised(expected_denoised) -> None:
    """Exercise (notebook 09): ``expected_denoised(x, score, sigma)`` gets noisy images x (n, 1, H, W),
    the score s(x, sigma) at them (same shape) and the noise level sigma (a float), and must return
    the expected denoised sample H(x, sigma) = x + sigma^2 s(x, sigma) (Tweedie; thesis 001, Eq. 8.3)."""
    cases = [(_images(90 + k), _images(95 + k), sigma) for k, sigma in enumerate([0.3, 1.7, 2.5])]
    _check(
        expected_denoised,
        "expected_denoised(x, score, sigma)",
        cases,
        lambda x, s, sigma: x + sigma**2 * s,
        {
            "Multiply the score by the variance sigma**2, not by sigma: the score of N(x_clean, sigma^2 I) is "
            "-(x - x_clean) / sigma^2, so x + sigma**2 s recovers x_clean.": lambda x, s, sigma: x + sigma * s,
            "Check the sign: the score points towards the data, so the denoiser moves along it, x + sigma**2 s "
            "(x - sigma**2 s moves away from the digits).": lambda x, s, sigma: x - sigma**2 * s,
            "That is only the correction sigma**2 s (minus the noise); add it to the noisy image x.": (
                lambda x, s, sigma: sigma**2 * s
            ),
            "Multiply by sigma**2 instead of dividing: s = -(noise) / sigma^2, so the noise is -sigma**2 s.": (
                lambda x, s, sigma: x + s / sigma**2
            ),
            "The score has to be scaled by the noise variance sigma**2: x + s is right only for sigma = 1.": (
                lambda x, s, sigma: x + s
            ),
            "That is a Langevin step of size sigma**2 without the noise (x + alpha/2 s form); Tweedie's formula "
            "takes the whole step: x + sigma**2 s.": lambda x, s, sigma: x + sigma**2 / 2 * s,
        },
        "sigma is positive here.",
    )


_run_kl = _scalar_runner(", the KL of the whole histogram", "sum over the 1,000 modes.")


def _stacked_p(r, g, b, index=None) -> torch.Tensor:
    labels = 100 * r + 10 * g + b if index is None else index(r, g, b)
    return torch.bincount(labels.long(), minlength=1000).double() / len(labels)


def _kl_uniform(p: torch.Tensor, k: int = 1000) -> torch.Tensor:
    q = p[p > 0]
    return (q * torch.log(q * k)).sum()


def check_stacked_kl(stacked_kl) -> None:
    """Exercise (notebook 09): ``stacked_kl(r, g, b)`` gets the classified digits of the three channels
    of n StackedMNIST samples (three int64 tensors of shape (n,)) and must return KL(p || uniform) =
    sum_k p_k log(1000 p_k) (natural log, 0 log 0 = 0) of the histogram p of the modes 100 r + 10 g + b,
    as :func:`gentoolkit.metrics.stacked_mode_count` does."""
    gen = torch.Generator().manual_seed(9)
    every = torch.arange(1000)
    extra = torch.randint(1000, (700,), generator=gen)
    full = torch.cat([every, extra])  # every mode at least once: KL(uniform || p) is finite here
    skew = torch.tensor([1.0, 1.0, 0.3, 1.0, 0.4, 1.0, 1.2, 1.0, 1.1, 1.0])  # few 2s and 4s
    cases = [
        (full // 100, full // 10 % 10, full % 10),
        tuple(torch.randint(10, (1500,), generator=gen) for _ in range(3)),
        tuple(torch.multinomial(skew, 2000, replacement=True, generator=gen) for _ in range(3)),
        tuple(torch.randint(3, (60,), generator=gen) + 2 * k for k in range(3)),  # a collapsed model
    ]

    def naive(r, g, b):  # p log(1000 p) summed over every bin, empty ones included: 0 * log 0 = nan
        p = _stacked_p(r, g, b)
        return (p * torch.log(1000 * p)).sum()

    _check(
        stacked_kl,
        "stacked_kl(r, g, b)",
        cases,
        lambda r, g, b: _kl_uniform(_stacked_p(r, g, b)),
        {
            "Use the natural log (torch.log), not log base 2: the KL is in nats, as in stacked_mode_count.": (
                lambda r, g, b: _kl_uniform(_stacked_p(r, g, b)) / math.log(2)
            ),
            "That is KL(uniform || p), the wrong direction: it is infinite as soon as one mode is missing. "
            "Compare the samples' histogram with the uniform one: sum_k p_k log(p_k / (1/1000)).": (
                lambda r, g, b: (torch.log(1 / (1000 * _stacked_p(r, g, b)))).mean()
            ),
            "The mode of a stack is the three-digit number 100 r + 10 g + b (1,000 modes); r + g + b adds the "
            "digits and mixes different modes (0+1+2 = 1+1+1).": (
                lambda r, g, b: _kl_uniform(_stacked_p(r, g, b, lambda r, g, b: r + g + b))
            ),
            "The mode is 100 r + 10 g + b: 10 r + 10 g + b puts different stacks in the same bin.": (
                lambda r, g, b: _kl_uniform(_stacked_p(r, g, b, lambda r, g, b: 10 * r + 10 * g + b))
            ),
            "Compare with the uniform distribution over all 1,000 modes, not over the modes you saw: the "
            "missing modes are exactly what the KL should count.": (
                lambda r, g, b: _kl_uniform(_stacked_p(r, g, b), int((_stacked_p(r, g, b) > 0).sum()))
            ),
            "Turn the counts into frequencies p_k = count_k / n before taking p log(1000 p).": (
                lambda r, g, b: _kl_uniform(_stacked_p(r, g, b) * len(r))
            ),
            "Empty modes give 0 * log 0 = nan: by continuity p log p -> 0, so skip them, e.g. sum over p[p > 0].": (
                naive
            ),
            "Sum over the modes, don't average: KL = sum_k p_k log(1000 p_k).": (
                lambda r, g, b: _kl_uniform(_stacked_p(r, g, b)) / 1000
            ),
        },
        "The KL of a histogram to the uniform one is finite and >= 0 for any samples.",
        run=_run_kl,
    )


# --- notebook 10 ---------------------------------------------------------------------------------------------------


def _gauss_denoiser(mu: torch.Tensor, s: float):
    """D(x; sigma) = mu + s^2 / (s^2 + sigma^2) (x - mu): the exact denoiser of N(mu, s^2 I) data."""
    return lambda x, sigma: mu + s**2 / (s**2 + sigma**2) * (x - mu)


def _heun(x, den, den_e, sigma, sigma_next, *, slope_at=None, div=None, half=0.5, start_at_euler=False):
    """Heun's step on dx/dsigma = (x - D) / sigma, and its usual slips (keywords)."""
    d = (x - den) / sigma
    xe = x + (sigma_next - sigma) * d
    d2 = ((xe if slope_at is None else slope_at(x, xe)) - den_e) / (sigma_next if div is None else div)
    return (xe if start_at_euler else x) + half * (sigma_next - sigma) * (d + d2)


def check_heun_update(heun_update) -> None:
    """Exercise (notebook 10): ``heun_update(x, denoised, denoised_euler, sigma, sigma_next)`` gets the
    scaled samples x (n, 2) at noise level sigma, the denoiser's output D(x; sigma) there, and its
    output at the Euler point x_e = x + (sigma_next - sigma) (x - D) / sigma at sigma_next (the second
    score call), and must return Heun's step x + (sigma_next - sigma) (d + d') / 2 with
    d = (x - D) / sigma, d' = (x_e - D_e) / sigma_next (Karras et al. 2022, Alg. 1, lines 5-8)."""
    cases = []
    for k, (sigma, nxt, s) in enumerate([(2.0, 1.2, 0.5), (0.8, 0.3, 0.7), (5.0, 2.5, 1.3), (1.5, 0.9, 0.4)]):
        mu = torch.tensor([1.5, -0.7], dtype=torch.float64) * (k - 1.2)
        den = _gauss_denoiser(mu, s)
        x = mu + math.hypot(s, sigma) * _normal(100 + k, 16)
        xe = x + (nxt - sigma) * (x - den(x, sigma)) / sigma
        cases.append((x, den(x, sigma), den(xe, nxt), sigma, nxt))
    _check(
        heun_update,
        "heun_update(x, denoised, denoised_euler, sigma, sigma_next)",
        cases,
        lambda x, d, de, s, s1: _heun(x, d, de, s, s1),
        {
            "That is Euler's step x + (sigma_next - sigma) d, the first half of Heun's: correct it with the slope "
            "d' = (x_e - denoised_euler) / sigma_next at the Euler point and average, x + (sigma_next - sigma) "
            "(d + d') / 2.": lambda x, d, de, s, s1: x + (s1 - s) * (x - d) / s,
            "The second slope is taken at the Euler point x_e = x + (sigma_next - sigma) d, where denoised_euler was "
            "computed: d' = (x_e - denoised_euler) / sigma_next, not (x - denoised_euler) / sigma_next.": (
                lambda x, d, de, s, s1: _heun(x, d, de, s, s1, slope_at=lambda x, xe: x)
            ),
            "The slope at the Euler point divides by its own noise level: d' = (x_e - denoised_euler) / sigma_next, "
            "not / sigma.": lambda x, d, de, s, s1: _heun(x, d, de, s, s1, div=s),
            "Average the two slopes: (d + d') / 2. Their sum takes a step twice too long.": (
                lambda x, d, de, s, s1: _heun(x, d, de, s, s1, half=1.0)
            ),
            "Heun's step starts again from x, not from the Euler point: x + (sigma_next - sigma) (d + d') / 2 "
            "replaces the Euler step, it does not follow it.": (
                lambda x, d, de, s, s1: _heun(x, d, de, s, s1, start_at_euler=True)
            ),
            "That uses only the slope at the Euler point; Heun's method (the trapezoidal rule) averages both "
            "slopes, (d + d') / 2.": lambda x, d, de, s, s1: x + (s1 - s) * (x + (s1 - s) * (x - d) / s - de) / s1,
            "The step runs from sigma down to sigma_next: multiply by (sigma_next - sigma), which is negative; "
            "(sigma - sigma_next) adds noise instead of removing it.": (
                lambda x, d, de, s, s1: 2 * x - _heun(x, d, de, s, s1)
            ),
            "Averaging the two denoised outputs and taking one Euler step is not Heun's method: average the slopes "
            "d = (x - denoised) / sigma at x and d' = (x_e - denoised_euler) / sigma_next at the Euler point.": (
                lambda x, d, de, s, s1: x + (s1 - s) * (x - (d + de) / 2) / s
            ),
            "Check the sign of the slope: dx/dsigma = (x - D) / sigma (x moves away from D as the noise grows, so "
            "towards D as sigma falls), not (D - x) / sigma.": (
                lambda x, d, de, s, s1: x + (s1 - s) * ((d - x) / s + (de - (x + (s1 - s) * (d - x) / s)) / s1) / 2
            ),
        },
        "sigma and sigma_next are positive here, so every division is defined.",
    )


def _dpm(x, den, den_prev, sp, s, s1, *, r_of=None, c=0.5, ratio=None, swap=False, lam=math.log):
    """DPM-Solver++(2M)'s step in the scaled variable, and its usual slips (keywords)."""
    h, h_prev = lam(s) - lam(s1), lam(sp) - lam(s)
    r = h_prev / h if r_of is None else r_of(h, h_prev)
    mixed = (1 + c / r) * den - c / r * den_prev
    q = s1 / s if ratio is None else ratio(s, s1)
    return (1 - q) * x + q * mixed if swap else q * x + (1 - q) * mixed


def check_dpmpp_2m_update(dpmpp_2m_update) -> None:
    """Exercise (notebook 10): ``dpmpp_2m_update(x, denoised, denoised_prev, sigma_prev, sigma, sigma_next)``
    gets the scaled samples x (n, 2) at sigma, the denoiser's output there and at the step before
    (at sigma_prev), and must return DPM-Solver++(2M)'s step (Lu et al. 2022, Alg. 2) in the
    scaled variable: (sigma_next / sigma) x + (1 - sigma_next / sigma) D~ with
    D~ = (1 + 1 / (2r)) denoised - (1 / (2r)) denoised_prev, r = h_prev / h, h = log(sigma / sigma_next),
    h_prev = log(sigma_prev / sigma)."""
    cases = []
    for k, (sp, s, s1) in enumerate([(4.0, 2.0, 0.7), (1.0, 0.6, 0.45), (10.0, 3.0, 0.5), (0.5, 0.3, 0.1)]):
        mu = torch.tensor([-1.1, 0.9], dtype=torch.float64) * (k + 0.5)
        den = _gauss_denoiser(mu, 0.6)
        x, x_prev = (mu + math.hypot(0.6, v) * _normal(110 + 2 * k + j, 16) for j, v in enumerate((s, sp)))
        cases.append((x, den(x, s), den(x_prev, sp), sp, s, s1))
    _check(
        dpmpp_2m_update,
        "dpmpp_2m_update(x, denoised, denoised_prev, sigma_prev, sigma, sigma_next)",
        cases,
        lambda x, d, dp, sp, s, s1: _dpm(x, d, dp, sp, s, s1),
        {
            "That is the first-order step (DDIM: D~ = denoised). The second order comes from the previous "
            "denoised output: D~ = (1 + 1/(2r)) denoised - 1/(2r) denoised_prev.": (
                lambda x, d, dp, sp, s, s1: (s1 / s) * x + (1 - s1 / s) * d
            ),
            "r is the ratio of the previous step to this one, r = h_prev / h, not h / h_prev.": (
                lambda x, d, dp, sp, s, s1: _dpm(x, d, dp, sp, s, s1, r_of=lambda h, hp: h / hp)
            ),
            "Missing factor 1/2: the linear extrapolation to the middle of the step gives 1/(2r), not 1/r.": (
                lambda x, d, dp, sp, s, s1: _dpm(x, d, dp, sp, s, s1, c=1.0)
            ),
            "The weights 3/2 and -1/2 (Adams-Bashforth) hold only for equal steps in log sigma; with unequal steps "
            "use r = h_prev / h: (1 + 1/(2r)) and -1/(2r).": (
                lambda x, d, dp, sp, s, s1: (s1 / s) * x + (1 - s1 / s) * (1.5 * d - 0.5 * dp)
            ),
            "Measure the steps in lambda = -log sigma: h = log(sigma / sigma_next), h_prev = log(sigma_prev / "
            "sigma), not differences of sigma.": (
                lambda x, d, dp, sp, s, s1: _dpm(x, d, dp, sp, s, s1, lam=lambda v: v)
            ),
            "The coefficients are swapped: x keeps the fraction sigma_next / sigma (its noise shrinks by that "
            "factor), and D~ gets 1 - sigma_next / sigma.": (
                lambda x, d, dp, sp, s, s1: _dpm(x, d, dp, sp, s, s1, swap=True)
            ),
            "Check the sign of the correction: D~ extrapolates away from the older output, "
            "(1 + 1/(2r)) denoised - 1/(2r) denoised_prev.": (
                lambda x, d, dp, sp, s, s1: _dpm(x, d, dp, sp, s, s1, c=-0.5)
            ),
            "The newer output gets the larger weight: (1 + 1/(2r)) denoised - 1/(2r) denoised_prev, not the "
            "other way round.": lambda x, d, dp, sp, s, s1: _dpm(x, dp, d, sp, s, s1),
            "The noise shrinks by sigma_next / sigma (a ratio of standard deviations), not its square: "
            "(sigma_next / sigma) x + (1 - sigma_next / sigma) D~.": (
                lambda x, d, dp, sp, s, s1: _dpm(x, d, dp, sp, s, s1, ratio=lambda s, s1: (s1 / s) ** 2)
            ),
        },
        "sigma_prev > sigma > sigma_next > 0 here, so every log and division is defined.",
    )


TODO.update(
    {
        # notebook 10
        "heun_update": (
            "Heun's step from sigma to sigma_next on dx/dsigma = (x - D(x; sigma)) / sigma, given the denoiser's "
            "output at x and at the Euler point",
            "Karras et al. 2022, Alg. 1, lines 5-8, written out in notebook 10, section 3",
        ),
        "dpmpp_2m_update": (
            "DPM-Solver++(2M)'s step from sigma to sigma_next, reusing the denoiser's output of the step before",
            "Lu et al. 2022, Alg. 2, written out in notebook 10, section 4",
        ),
    }
)
