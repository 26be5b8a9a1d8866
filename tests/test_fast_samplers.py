"""Tests of DDIM, EDM's Heun sampler and DPM-Solver++(2M) (gentoolkit.sde.fast_samplers) against
closed forms and independent re-implementations.

On N(MU, S^2 I) data the scaled sample x^ = x / m(t) has the law N(MU, S^2 + sigma^2) at EDM's noise
level sigma(t) = std(t) / m(t), so the denoiser is D(x^; sigma) = MU + S^2 / (S^2 + sigma^2) (x^ - MU)
in closed form. The references below (``reference``) are written from the papers' algorithms with
that denoiser, in sigma alone, never through a score or a time: DDIM's Eq. 12 (in x for VP, as
printed), Karras et al.'s Alg. 2 and Lu et al.'s Alg. 2 (in x, with alpha = m and sigma = std).
They consume the same noise from a replayed generator, so the solvers must agree with them to
rounding (1e-10, float64) on any grid; a wrong sign, factor, missing noise term or sigma(t)
inverse fails there. Every deterministic sampler is then an affine map of x(T), so its error
against the probability-flow ODE is exact (no sampling noise), and the issue's numbers and the
orders of convergence are asserted on it."""

import math

import pytest
import torch

from gentoolkit.data import toy2d
from gentoolkit.sde import (
    METHODS,
    VESDE,
    VPSDE,
    SubVPSDE,
    ddim,
    deterministic_gaussian_moments,
    dpmpp_2m,
    dpmpp_2m_update,
    edm_heun,
    edm_times,
    em_gaussian_moments,
    flow_gaussian_moments,
    gaussian_score,
    heun_update,
    logsnr_times,
    mixture_score,
    sample,
)
from gentoolkit.sde.solvers import GRID_OPTIONS, SOLVERS
from tests.conftest import DEVICES

SDES = [VESDE(0.01, 50.0), VPSDE(0.1, 20.0), SubVPSDE(0.1, 20.0)]
IDS = ["VE", "VP", "subVP"]
MU, S = 1.5, 0.5
F64 = torch.float64
NEW = ("ddim", "edm_heun", "dpmpp_2m")


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def levels(sde, times):
    m, sd = sde.mean_std(times.to(F64))
    return m.tolist(), sd.tolist(), (sd / m).tolist()


def den(xh, sigma):
    """The closed-form denoiser of N(MU, S^2) data in the scaled variable."""
    return MU + S**2 / (S**2 + sigma**2) * (xh - MU)


def reference(sde, method, x, times, noise=None, *, n_total=None, eta=0.0, s_churn=0.0, s_noise=1.0):
    """The papers' algorithms with the closed-form denoiser (the module docstring) on the grid
    ``times``, a part of one with ``n_total`` steps (Heun's churn depends on it); ``noise(shape)``
    gives each standard normal draw."""
    m, sd, sig = levels(sde, times)
    n = len(sig) - 1
    if method == "dpmpp_2m":  # Lu et al. 2022, Alg. 2, in x: alpha = m, sigma = std, lambda = log(alpha / sigma)
        lam = [math.log(a / s) for a, s in zip(m, sd)]

        def data_pred(x, i):  # E[x0 | x(t_i) = x]
            return MU + m[i] * S**2 / (m[i] ** 2 * S**2 + sd[i] ** 2) * (x - m[i] * MU)

        prev = None
        for i in range(1, n + 1):
            h = lam[i] - lam[i - 1]
            d = data_pred(x, i - 1)
            if prev is None:
                dm = d
            else:
                r = (lam[i - 1] - lam[i - 2]) / h
                dm = (1 + 1 / (2 * r)) * d - 1 / (2 * r) * prev
            x = sd[i] / sd[i - 1] * x - m[i] * (math.exp(-h) - 1) * dm
            prev = d
        return x
    sigma_top = levels(sde, torch.tensor([sde.T]))[2][0]
    xh = x / m[0]
    for i in range(n):
        s, s1 = sig[i], sig[i + 1]
        if method == "ddim":  # Eq. 12 with Eq. 16's sigma_t(eta), in the scaled variable
            d = den(xh, s)
            s_eta = eta * s1 * math.sqrt(1 - s1**2 / s**2)
            xh = d + math.sqrt(s1**2 - s_eta**2) * (xh - d) / s
            if eta > 0:
                xh = xh + s_eta * noise(xh.shape)
        else:  # Karras et al. 2022, Alg. 2, churn capped at sigma(T)
            gamma = min(s_churn / (n_total or n), math.sqrt(2) - 1)
            s_hat = min(s * (1 + gamma), max(s, sigma_top))
            if s_hat > s:
                xh = xh + s_noise * math.sqrt(s_hat**2 - s**2) * noise(xh.shape)
            d1 = (xh - den(xh, s_hat)) / s_hat
            xe = xh + (s1 - s_hat) * d1
            d2 = (xe - den(xe, s1)) / s1
            xh = xh + (s1 - s_hat) * (d1 / 2 + d2 / 2)
    return m[-1] * xh


def replay(seed):
    """The draws a solver makes from ``g(seed)``, in order."""
    gen = g(seed)
    return lambda shape: torch.randn(shape, generator=gen, dtype=F64)


def ddim_vp_eq12(sde, x, times, gen, eta):
    """DDIM's Eq. 12 as printed, for VP: alpha_t = m(t)^2 (DDPM's alpha-bar), eps = -std score."""
    m, sd, _ = levels(sde, times)
    score = gaussian_score(sde, MU, S)
    for i in range(len(m) - 1):
        a, a1 = m[i] ** 2, m[i + 1] ** 2
        eps = -sd[i] * score(x, torch.full((x.shape[0],), times[i].item(), dtype=F64))
        x0 = (x - math.sqrt(1 - a) * eps) / math.sqrt(a)
        sig = eta * math.sqrt((1 - a1) / (1 - a)) * math.sqrt(1 - a / a1)
        x = math.sqrt(a1) * x0 + math.sqrt(1 - a1 - sig**2) * eps
        if eta > 0:
            x = x + sig * torch.randn(x.shape, generator=gen, dtype=F64)
    return x


def run(sde, method, x, n_steps, seed=1, **options):
    return sample(
        sde,
        gaussian_score(sde, MU, S),
        None,
        method,
        x_init=x,
        n_steps=n_steps,
        generator=g(seed),
        denoise=False,
        device="cpu",
        progress=False,
        **options,
    )


# ---------------------------------------------------------------------- EDM's noise level and the grids
@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_edm_sigma_is_the_noise_to_signal_ratio_and_edm_time_inverts_it(sde):
    """sigma(t): VE sqrt(sigma_VE(t)^2 - sigma_min^2), VP sqrt(e^B - 1), sub-VP 2 sinh(B / 2), the
    closed forms of std / m; edm_time inverts it to 1e-12 over [0, 1] (a lost factor 2 in VE's
    log, or VP's quadratic solved with the wrong root, is off by far more)."""
    t = torch.linspace(0, 1, 501, dtype=F64)
    if isinstance(sde, VESDE):
        want = torch.sqrt((sde.sigma(t) ** 2 - sde.sigma_min**2).clamp_min(0))
    elif isinstance(sde, SubVPSDE):
        want = 2 * torch.sinh(sde.integral_beta(t) / 2)
    else:
        want = torch.sqrt(torch.expm1(sde.integral_beta(t)))
    sig = sde.edm_sigma(t)
    torch.testing.assert_close(sig, want, rtol=1e-12, atol=1e-15)
    assert bool((sig[1:] > sig[:-1]).all()) and sig[0] == 0
    torch.testing.assert_close(sde.edm_time(sig), t, rtol=0, atol=1e-12)
    assert sde.edm_time(torch.tensor([1e9], dtype=F64)).item() == sde.T  # beyond sigma(T): clamped to T


@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_grids_are_karras_eq5_and_log_snr_uniform(sde):
    """edm_times: sigma_i = (sigma_max^(1/rho) + i/n (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho at
    both ends exactly T and t_eps; rho = 1 is uniform in sigma; logsnr_times: log sigma uniform;
    sample() uses them (rho 7 and spacing "logsnr" by default), and DDIM's grid is uniform in t."""
    t_eps, n = sde.t_eps, 12
    hi, lo = sde.edm_sigma(torch.tensor([1.0, t_eps], dtype=F64)).tolist()
    for rho in (7.0, 3.0, 1.0):
        times = edm_times(sde, n, t_eps, rho)
        want = (hi ** (1 / rho) + torch.arange(n + 1, dtype=F64) / n * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho
        torch.testing.assert_close(sde.edm_sigma(times), want, rtol=1e-10, atol=0)
        assert times[0].item() == 1.0 and times[-1].item() == t_eps and len(times) == n + 1
    steps = sde.edm_sigma(edm_times(sde, n, t_eps, 1.0)).diff()
    torch.testing.assert_close(steps, torch.full_like(steps, (lo - hi) / n), rtol=1e-9, atol=0)
    logs = sde.edm_sigma(logsnr_times(sde, n, t_eps)).log().diff()
    torch.testing.assert_close(logs, torch.full_like(logs, math.log(lo / hi) / n), rtol=1e-10, atol=0)
    x = torch.zeros(2, 1, dtype=F64)
    assert torch.equal(run(sde, "edm_heun", x, n).times, edm_times(sde, n, t_eps, 7.0))
    assert torch.equal(run(sde, "edm_heun", x, n, rho=3.0).times, edm_times(sde, n, t_eps, 3.0))
    assert torch.equal(run(sde, "dpmpp_2m", x, n).times, logsnr_times(sde, n, t_eps))
    uniform = torch.linspace(1.0, t_eps, n + 1, dtype=F64)
    assert torch.equal(run(sde, "dpmpp_2m", x, n, spacing="time").times, uniform)
    assert torch.equal(run(sde, "ddim", x, n).times, uniform)


# ---------------------------------------------------------------------- each step, against the papers
CASES = [
    ("ddim", {}),
    ("ddim", {"eta": 0.6}),
    ("ddim", {"eta": 1.0}),
    ("edm_heun", {}),
    ("edm_heun", {"s_churn": 6.0, "s_noise": 1.2}),
    ("edm_heun", {"s_churn": 40.0}),  # gamma capped at sqrt(2) - 1
    ("edm_heun", {"s_churn": 2.0}),  # gamma = 2 / 7, below the cap (s_churn * n would hit it)
    ("dpmpp_2m", {}),
    ("dpmpp_2m", {"spacing": "time"}),
]


@pytest.mark.parametrize("sde", SDES, ids=IDS)
@pytest.mark.parametrize("method, options", CASES, ids=[f"{m}-{o}" for m, o in CASES])
def test_each_solver_is_its_papers_algorithm_sample_by_sample(sde, method, options):
    """The solver (through sample(), from the same points, the same noise) equals ``reference`` to
    1e-10: per step, per sample, with the noise where the paper puts it and churn's noise level
    mapped back to its time by edm_time. 7 steps on the default grid, float64."""
    x = sde.prior_sampling((64, 3), g(3), dtype=F64, device="cpu")
    r = run(sde, method, x, 7, seed=5, **options)
    grid_free = {k: v for k, v in options.items() if k not in GRID_OPTIONS}
    want = reference(sde, method, x, r.times, replay(5), **grid_free)
    torch.testing.assert_close(r.x, want, rtol=1e-10, atol=1e-10)
    if method == "ddim" and isinstance(sde, VPSDE) and not isinstance(sde, SubVPSDE):
        torch.testing.assert_close(r.x, ddim_vp_eq12(sde, x, r.times, g(5), options.get("eta", 0.0)))


def test_points_and_images_share_every_line():
    """The same numbers laid out as (n, 16) points or (n, 1, 4, 4) images give the same samples
    (the noise is drawn in the same order); a per-sample coefficient broadcast along the wrong
    axis would break this."""
    sde = VPSDE()
    x = sde.prior_sampling((32, 16), g(4), dtype=F64, device="cpu")
    for method, options in CASES:
        flat = run(sde, method, x, 5, **options).x
        img = run(sde, method, x.reshape(32, 1, 4, 4), 5, **options).x
        torch.testing.assert_close(img.reshape(32, 16), flat, rtol=0, atol=0, msg=method)


def test_nfe_callback_progress_and_the_final_tweedie_step():
    """NFE: n + 1 for DDIM and DPM-Solver++(2M), 2n + 1 for Heun (Karras' 2N - 1 with N = n + 1
    levels, Tweedie being the last Euler step to sigma = 0), n and 2n without denoising; the callback
    sees every step's end time and state; Tweedie is applied to the last state."""
    sde = VPSDE()
    x = sde.prior_sampling((16, 2), g(6), dtype=F64, device="cpu")
    for method, per_step in (("ddim", 1), ("edm_heun", 2), ("dpmpp_2m", 1)):
        seen = []

        def record(i, t, xs, seen=seen):
            seen.append((i, t, xs.clone()))

        r = sample(sde, gaussian_score(sde, MU, S), None, method, x_init=x, n_steps=9, device="cpu", callback=record)
        assert r.nfe == 9 * per_step + 1, method
        assert [s[0] for s in seen] == list(range(9)) and [s[1] for s in seen] == r.times[1:].tolist()
        raw = run(sde, method, x, 9)
        assert raw.nfe == 9 * per_step
        torch.testing.assert_close(seen[-1][2], raw.x)
        m, sd = (v.item() for v in sde.mean_std(torch.tensor([sde.t_eps], dtype=F64)))
        torch.testing.assert_close(r.x, (raw.x + sd**2 * gaussian_score(sde, MU, S)(raw.x, sde.t_eps)) / m)


@pytest.mark.parametrize("solver, name", [(ddim, "DDIM"), (edm_heun, "EDM Heun"), (dpmpp_2m, "DPM-Solver++(2M)")])
def test_progress_bar_names_the_solver(solver, name, capsys):
    sde, times = VPSDE(), torch.linspace(1.0, 0.5, 4, dtype=F64)
    solver(sde, gaussian_score(sde, MU, S), torch.zeros(4, 2), times, progress=True)
    assert capsys.readouterr().err.lstrip("\r").startswith(name + ": ")
    solver(sde, gaussian_score(sde, MU, S), torch.zeros(4, 2), times, progress=False)
    assert capsys.readouterr().err == ""


def test_the_bar_shows_by_default_past_three_hundred_score_calls_and_names_ddims_eta(capsys):
    """progress=None shows a bar when the run makes more than 300 score calls: 300 DDIM or
    DPM-Solver++(2M) steps (one call each) or 150 Heun steps (two) stay quiet, one more shows it.
    A stochastic DDIM names its eta."""
    sde, score = VPSDE(), gaussian_score(VPSDE(), MU, S)
    for solver, quiet in ((ddim, 300), (dpmpp_2m, 300), (edm_heun, 150)):
        for n, shown in ((quiet, False), (quiet + 1, True)):
            solver(sde, score, torch.zeros(2, 2), torch.linspace(1.0, 0.5, n + 1, dtype=F64))
            assert bool(capsys.readouterr().err) == shown, (solver.__name__, n)
    ddim(sde, score, torch.zeros(2, 2), torch.linspace(1.0, 0.5, 4, dtype=F64), eta=0.5, progress=True)
    assert capsys.readouterr().err.lstrip("\r").startswith("DDIM (eta=0.5): ")


@pytest.mark.parametrize("solver", [ddim, edm_heun, dpmpp_2m])
def test_deterministic_runs_leave_the_generator_untouched(solver):
    """DDIM at eta = 0, Heun without churn and DPM-Solver++(2M) draw no noise: the generator
    passed in continues exactly as if they had not run."""
    sde = VPSDE()
    gen, fresh = g(9), g(9)
    x = sde.prior_sampling((8, 2), g(1), dtype=F64, device="cpu")
    solver(sde, gaussian_score(sde, MU, S), x, torch.linspace(1.0, 1e-3, 6, dtype=F64), generator=gen)
    assert torch.equal(gen.get_state(), fresh.get_state())


@pytest.mark.parametrize("solver", [ddim, edm_heun, dpmpp_2m])
def test_bad_samples_and_scores_are_named(solver):
    sde, times = VPSDE(), torch.linspace(1.0, 0.5, 3, dtype=F64)
    with pytest.raises(ValueError, match=r"^x must be a floating-point tensor of shape \(n, ...\)"):
        solver(sde, gaussian_score(sde, MU, S), torch.zeros(3), times)
    with pytest.raises(ValueError, match=r"^score_fn\(x, t\) must return a tensor of x's shape \(4, 2\), got \(4,\)$"):
        solver(sde, lambda x, t: x[:, 0], torch.zeros(4, 2), times)


@pytest.mark.parametrize("solver", [ddim, edm_heun, dpmpp_2m])
def test_a_grid_that_ends_at_time_zero_ends_with_tweedies_formula(solver):
    """On VP, sigma(0) = 0: the last step of every solver to sigma = 0 is the denoiser itself (Euler's
    step for Heun, the first-order step for DPM-Solver++(2M), Eq. 12 with sigma' = 0 for DDIM), so
    the run to 0 equals the run to t = 0.1 followed by Tweedie's formula there, finite, with no
    score call at t = 0 (where the score of the data is not defined)."""
    sde = VPSDE(0.1, 20.0)
    x = sde.prior_sampling((16, 2), g(2), dtype=F64, device="cpu")
    score = gaussian_score(sde, MU, S)
    seen = []

    def counted(x, t):
        seen.append(float(t[0]))
        return score(x, t)

    times = torch.tensor([1.0, 0.5, 0.1, 0.0], dtype=F64)
    out = solver(sde, counted, x, times)
    before = solver(sde, score, x, times[:-1])
    m, sd = (v.item() for v in sde.mean_std(torch.tensor([0.1], dtype=F64)))
    torch.testing.assert_close(out, (before + sd**2 * score(before, torch.full((16,), 0.1, dtype=F64))) / m)
    assert torch.isfinite(out).all() and min(seen) > 0


# ---------------------------------------------------------------------- against the probability-flow ODE
def test_the_issues_budgets_reach_the_ode_limit_and_only_the_sde_forgets_the_prior():
    """VP (beta 0.1..20), N(1.5, 0.5^2 I), exact score. Every deterministic sampler is affine in x(T),
    so from prior draws standardised to mean 0 and std 1 (pooled) its pooled mean and std are
    exactly the law's: no sampling noise. The ODE's limit (RK45 at rtol = atol = 1e-6, and its closed
    form) keeps the prior's mismatch (mean 0 instead of m(T) mu): pooled error hypot(mean - 1.5,
    std - 0.5) = 0.004929, while Euler-Maruyama with 1000 steps forgets it: 0.000911 (exact). At 25
    NFE DPM-Solver++(2M) on the log-SNR grid is 0.00467 from the ODE's samples (limit 0.005), at 49
    NFE Heun on rho = 7 is 0.01474 from them (limit 0.015), whatever the draws (affine maps).
    Caught here: 1/r for 1/(2r) (0.079), DPM-Solver++ without its second-order term (0.047), Heun
    without its correction (0.058) or on rho = 1 (2.7)."""
    sde = VPSDE(0.1, 20.0)
    x = sde.prior_sampling((2000, 2), g(8), dtype=F64, device="cpu")
    x = (x - x.mean()) / x.std()
    score = gaussian_score(sde, MU, S)
    kw = dict(x_init=x, device="cpu", progress=False)

    def moments(r):
        return r.x.mean().item(), r.x.std().item()

    ode = sample(sde, score, None, "ode", rtol=1e-6, atol=1e-6, **kw)
    flow = flow_gaussian_moments(sde, MU, S)
    assert math.dist(moments(ode), flow) < 2e-5  # RK45's own error
    assert math.hypot(flow[0] - MU, flow[1] - S) == pytest.approx(0.004929, abs=5e-6)
    em = em_gaussian_moments(sde, MU, S, 1000)
    assert math.hypot(em[0] - MU, em[1] - S) == pytest.approx(0.000911, abs=5e-6)
    dpm = sample(sde, score, None, "dpmpp_2m", n_steps=24, **kw)
    heun = sample(sde, score, None, "edm_heun", n_steps=24, **kw)
    assert dpm.nfe == 25 and heun.nfe == 49
    assert math.dist(moments(dpm), moments(ode)) < 0.005, math.dist(moments(dpm), moments(ode))
    assert math.dist(moments(heun), moments(ode)) < 0.015, math.dist(moments(heun), moments(ode))
    # the exact moments without sampling agree with these (deterministic_gaussian_moments' probe)
    for method, r in (("dpmpp_2m", dpm), ("edm_heun", heun)):
        exact = deterministic_gaussian_moments(sde, MU, S, method, n_steps=24)
        assert math.dist(exact, moments(r)) < 1e-10, method


def _rms(a, b):
    return (a - b).pow(2).mean().sqrt().item()


@pytest.mark.parametrize("sde", [VPSDE(0.1, 20.0), VESDE(0.01, 10.0)], ids=["VP", "VE"])
def test_orders_of_convergence_to_the_ode_on_a_mixture(sde):
    """On "8gaussians" with its exact (nonlinear) score, from the same 200 prior draws, the samples
    converge to RK45's (rtol = atol = 1e-6; its own error ~5e-6, 35x below the smallest error here)
    as the steps double from 48 to 96 to 192: the RMS distance falls by 2^order per halving of the
    step, measured 4.1-4.3 (Heun), 3.9-4.1 (DPM-Solver++(2M)), 1.96-2.02 (DDIM). Asserted: within
    [3.5, 4.7] and [1.8, 2.2]. A Heun or DPM-Solver++ that lost its second-order term converges at
    ratio 2; a DDIM step with sigma'^2 / sigma^2 in place of sigma' / sigma does not converge."""
    score = mixture_score(toy2d.get("8gaussians"), sde)
    x = sde.prior_sampling((200, 2), g(9), dtype=F64, device="cpu")
    kw = dict(x_init=x, denoise=False, device="cpu", progress=False)
    ode = sample(sde, score, None, "ode", rtol=1e-6, atol=1e-6, **kw).x
    for method, lo, hi in (("edm_heun", 3.5, 4.7), ("dpmpp_2m", 3.5, 4.7), ("ddim", 1.8, 2.2)):
        err = [_rms(sample(sde, score, None, method, n_steps=n, **kw).x, ode) for n in (48, 96, 192)]
        ratios = [err[0] / err[1], err[1] / err[2]]
        assert all(lo < q < hi for q in ratios), (method, err, ratios)


@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_orders_of_convergence_to_the_exact_flow_of_gaussian_data(sde):
    """The exact error (no ODE solver, no sampling: the affine probe against the closed-form flow)
    falls by 4 per halving for Heun and DPM-Solver++(2M) and by 2 for DDIM on every SDE, 48 -> 96 ->
    192 steps (measured 3.8-4.2 and 1.95-1.99)."""
    flow = flow_gaussian_moments(sde, MU, S, denoise=False)
    for method, lo, hi in (("edm_heun", 3.5, 4.7), ("dpmpp_2m", 3.5, 4.7), ("ddim", 1.8, 2.2)):
        err = [
            math.dist(deterministic_gaussian_moments(sde, MU, S, method, n_steps=n, denoise=False), flow)
            for n in (48, 96, 192)
        ]
        ratios = [err[0] / err[1], err[1] / err[2]]
        assert all(lo < q < hi for q in ratios), (method, err, ratios)


# ---------------------------------------------------------------------- the stochastic variants
def exact_moments(sde, method, n_steps, *, denoise=True, **options):
    """Exact per-coordinate mean and std of ``reference`` from the prior, with Tweedie's step at the
    end (the closed-form denoiser) when ``denoise``: each step is affine in (x, z), so the moments
    follow from probing it (as ``chain_moments`` in test_sde.py)."""
    times = edm_times(sde, n_steps, sde.t_eps) if method == "edm_heun" else torch.linspace(1.0, sde.t_eps, n_steps + 1)
    times = times.to(F64)
    mean, var = 0.0, sde.prior_std() ** 2
    for i in range(n_steps):

        def step(xv, zv, sub=times[i : i + 2]):
            x, noise = torch.tensor([[xv]], dtype=F64), lambda shape: torch.full(shape, zv, dtype=F64)
            return reference(sde, method, x, sub, noise, n_total=n_steps, **options).item()

        b = step(0.0, 0.0)
        a, c = step(1.0, 0.0) - b, step(0.0, 1.0) - b
        mean, var = a * mean + b, a**2 * var + c**2
    if denoise:  # x0 = D(x / m; sigma) at t_eps
        m, _, sig = levels(sde, times[-1:])
        k = S**2 / (S**2 + sig[0] ** 2)
        mean, var = MU + k * (mean / m[0] - MU), (k / m[0]) ** 2 * var
    return mean, math.sqrt(var)


STOCHASTIC = [
    ("ddim", {"eta": 1.0}),
    ("ddim", {"eta": 0.5}),
    ("edm_heun", {"s_churn": 5.0}),
    ("edm_heun", {"s_churn": 10.0, "s_noise": 1.1}),
]


@pytest.mark.parametrize("shape", [(10_000, 2), (1250, 1, 4, 4)], ids=["points", "images"])
@pytest.mark.parametrize("method, options", STOCHASTIC, ids=[f"{m}-{o}" for m, o in STOCHASTIC])
def test_stochastic_variants_match_their_exact_moments(method, options, shape):
    """DDIM with eta > 0 and Heun with churn draw noise: their samples (20,000 coordinates, from a
    prior draw, Tweedie at the end) have the exact moments of the reference within 5 standard
    errors (sd / sqrt(N) for the mean, 1 / sqrt(2N) relative for the std). 24 steps on VP. A missing
    noise term (std 0.41 -> 0.40 for DDIM eta 1, 0.527 -> 0.515 for churn 5) is 3-15 SE off."""
    sde = VPSDE()
    mean, sd = exact_moments(sde, method, 24, **options)
    r = sample(
        sde, gaussian_score(sde, MU, S), shape, method, n_steps=24, generator=g(12), dtype=F64, device="cpu", **options
    )
    n = r.x.numel()
    assert abs(r.x.mean().item() - mean) < 5 * sd / math.sqrt(n), (r.x.mean(), mean)
    assert abs(r.x.std().item() / sd - 1) < 5 / math.sqrt(2 * n), (r.x.std(), sd)


def test_noise_forgets_the_prior_mismatch_that_a_deterministic_sampler_keeps():
    """The lesson of the ODE floor, exactly (no sampling): on VP the ODE's limit is off in the mean by
    m(T)-scaled prior mismatch (-0.0049); DDIM with eta = 1 (DDPM's ancestral step) at 1000 steps and
    Heun with churn (s_churn = 5, 100 steps) forget it (mean within 2e-4 of 1.5) and end with a pooled
    error below the ODE's 0.0049 (measured 0.0039 and 0.0014)."""
    sde = VPSDE()
    flow = flow_gaussian_moments(sde, MU, S)
    floor = math.hypot(flow[0] - MU, flow[1] - S)
    assert abs(flow[0] - MU) > 0.0045
    for method, n, options in (("ddim", 1000, {"eta": 1.0}), ("edm_heun", 100, {"s_churn": 5.0})):
        mean, sd = exact_moments(sde, method, n, **options)
        assert abs(mean - MU) < 2e-4 and math.hypot(mean - MU, sd - S) < floor, (method, mean, sd)
    # and without the noise the same grids stay on the ODE's side of it
    mean, sd = exact_moments(sde, "edm_heun", 100)
    assert abs(mean - flow[0]) < 2e-4


# ---------------------------------------------------------------------- options, errors, devices, networks
def test_methods_and_their_options():
    assert {"ddim", "edm_heun", "dpmpp_2m"} <= set(METHODS) and set(SOLVERS) == set(METHODS)
    assert METHODS["ddim"] == {"n_steps", "eta"}
    assert METHODS["edm_heun"] == {"n_steps", "rho", "s_churn", "s_noise", "update"}
    assert METHODS["dpmpp_2m"] == {"n_steps", "spacing", "update"}
    # the documented defaults: rho 7, s_churn 0, s_noise 1, eta 0, spacing "logsnr"
    sde, x = VPSDE(), VPSDE().prior_sampling((8, 2), g(13), dtype=F64, device="cpu")
    for method, explicit in (
        ("edm_heun", {"rho": 7.0, "s_churn": 0.0, "s_noise": 1.0}),
        ("ddim", {"eta": 0.0}),
        ("dpmpp_2m", {"spacing": "logsnr"}),
    ):
        assert torch.equal(run(sde, method, x, 6).x, run(sde, method, x, 6, **explicit).x), method
    # s_noise matters only with churn
    assert torch.equal(run(sde, "edm_heun", x, 6, s_noise=1.3).x, run(sde, "edm_heun", x, 6).x)
    assert not torch.equal(
        run(sde, "edm_heun", x, 6, s_churn=3.0, s_noise=1.3).x, run(sde, "edm_heun", x, 6, s_churn=3.0).x
    )


BAD_OPTIONS = [
    (dict(method="heun"), r"^unknown method='heun'; expected one of \['ancestral', 'ddim', 'dpmpp_2m', 'edm_heun'"),
    (dict(method="edm_heun", s_churn=-1.0), r"^s_churn must be a finite number >= 0, got -1.0"),
    (dict(method="edm_heun", s_churn=math.inf), r"^s_churn must be a finite number >= 0, got inf"),
    (dict(method="edm_heun", n_steps=0), r"^n_steps must be a positive integer, got 0"),
    (dict(method="dpmpp_2m", n_steps=-3), r"^n_steps must be a positive integer, got -3"),
    (dict(method="ddim", n_steps=2.5), r"^n_steps must be an int, got 2.5"),
    (dict(method="edm_heun", rho=0.0), r"^rho must be a finite number > 0, got 0.0"),
    (dict(method="edm_heun", s_noise=0.0), r"^s_noise must be a finite number > 0, got 0.0"),
    (dict(method="ddim", eta=1.5), r"^eta must lie in \[0, 1\] .*, got 1.5"),
    (dict(method="ddim", eta=-0.1), r"^eta must be a finite number >= 0, got -0.1"),
    (dict(method="dpmpp_2m", spacing="karras"), r"^spacing='karras' is not known; expected 'logsnr'"),
    (dict(method="ddim", rho=7.0), r"^method 'ddim' takes options \['eta', 'n_steps'\], not \['rho'\]"),
    (dict(method="dpmpp_2m", s_churn=1.0), r"^method 'dpmpp_2m' takes options \['n_steps', 'spacing', 'update'\]"),
]


# ids from the options (method=ddim-eta=1.5), not from the regexes: mutmut selects tests by id,
# and an id holding "\\[" is not found again
@pytest.mark.parametrize(
    "options, match",
    BAD_OPTIONS,
    ids=["-".join(f"{k}={v}" for k, v in options.items()) for options, _ in BAD_OPTIONS],
)
def test_bad_options_are_refused_naming_the_argument(options, match):
    sde = VPSDE()
    options = dict(options)
    method = options.pop("method")
    calls = []

    def score(x, t):
        calls.append(1)
        return -x

    with pytest.raises((ValueError, TypeError), match=match):
        sample(sde, score, (4, 2), method, device="cpu", **options)
    assert calls == []  # refused before any score call


def test_grid_helpers_check_their_arguments():
    with pytest.raises(ValueError, match="^n_steps must be a positive integer, got 0"):
        edm_times(VPSDE(), 0, 1e-3)
    with pytest.raises(ValueError, match="^rho must be a finite number > 0, got -7.0"):
        edm_times(VPSDE(), 5, 1e-3, -7.0)
    with pytest.raises(TypeError, match="^sde must be a VESDE, VPSDE or SubVPSDE"):
        logsnr_times("vp", 5, 1e-3)
    with pytest.raises(ValueError, match="^n_steps must be a positive integer, got 0"):
        logsnr_times(VPSDE(), 0, 1e-3)
    assert torch.equal(edm_times(VPSDE(), 6, 1e-3), edm_times(VPSDE(), 6, 1e-3, 7.0))  # Karras' rho = 7
    with pytest.raises(ValueError, match="^method='edm_heun' with options"):
        deterministic_gaussian_moments(VPSDE(), MU, S, "edm_heun", n_steps=4, s_churn=1.0)
    with pytest.raises(ValueError, match="^method='euler_maruyama'"):
        deterministic_gaussian_moments(VPSDE(), MU, S, "euler_maruyama", n_steps=4)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method, options", CASES, ids=[f"{m}-{o}" for m, o in CASES])
def test_same_generator_same_samples_on_every_device(method, options, device):
    """A CPU generator gives the same samples on CPU and CUDA (the noise is drawn on the generator's
    device and moved), on the device asked for, in float32 by default."""
    sde = VPSDE()
    score = gaussian_score(sde, MU, S)
    a = sample(sde, score, (64, 2), method, n_steps=8, generator=g(14), device=device, **options)
    b = sample(sde, score, (64, 2), method, n_steps=8, generator=g(14), device="cpu", **options)
    assert a.x.device.type == device and a.x.dtype == torch.float32
    torch.testing.assert_close(a.x.cpu(), b.x, rtol=1e-4, atol=1e-4)


def test_a_trained_network_and_a_mixture_score_are_accepted():
    """Any score_fn(x, t): a time-conditional network (ScaledScore around an MLP, untrained: only
    the plumbing is tested) and the exact mixture score, on 2D points; the samples are finite."""
    from gentoolkit.nets import ScoreMLP
    from gentoolkit.sde import ScaledScore

    sde = VPSDE()
    net = ScaledScore(sde, ScoreMLP(cond="time", seed=0), data_std=2.0)
    mix = mixture_score(toy2d.get("8gaussians"), sde)
    for score in (net, mix):
        for method in NEW:
            r = sample(sde, score, (32, 2), method, n_steps=5, generator=g(15), device="cpu")
            assert r.x.shape == (32, 2) and bool(torch.isfinite(r.x).all()), method


def test_step_rules_by_hand():
    # Heun: d = (2 - 1) / 2 = 0.5, x_e = 2 - 0.5 = 1.5, d' = (1.5 - 0.5) / 1 = 1, x' = 2 - (0.5 + 1) / 2 = 1.25
    x = torch.tensor([2.0], dtype=F64)
    assert heun_update(x, x - 1, x - 1.5, 2.0, 1.0).item() == pytest.approx(1.25, abs=1e-15)
    # DPM-Solver++(2M): h = h_prev = log 2, r = 1, D~ = 1.5 * 1 - 0.5 * 0.5 = 1.25, x' = 0.5 * 2 + 0.5 * 1.25
    assert dpmpp_2m_update(x, x - 1, x - 1.5, 4.0, 2.0, 1.0).item() == pytest.approx(1.625, abs=1e-15)
    # unequal steps: h = log 4, h_prev = log 2, r = 1/2, D~ = 2 * 1 - 1 * 0.5 = 1.5, x' = 2 / 4 + 3/4 * 1.5
    assert dpmpp_2m_update(x, x - 1, x - 1.5, 4.0, 2.0, 0.5).item() == pytest.approx(1.625, abs=1e-15)


@pytest.mark.parametrize("method, rule, calls", [("edm_heun", heun_update, 6), ("dpmpp_2m", dpmpp_2m_update, 5)])
def test_update_option_runs_ones_own_step(method, rule, calls):
    sde = VPSDE(0.1, 20.0)
    x = sde.prior_sampling((8, 2), g(3), dtype=F64, device="cpu")
    seen = []

    def spy(*args):
        seen.append(args[-1])
        return rule(*args)

    ref = run(sde, method, x, 6).x
    assert torch.equal(run(sde, method, x, 6, update=spy).x, ref)
    assert len(seen) == calls  # every step; DPM-Solver++'s first step is first order and has no rule to call
    first_order = run(sde, method, x, 6, update=lambda x, d, *rest: d + (x - d) * rest[-1] / rest[-2]).x
    assert (first_order - ref).abs().max() > 1e-4  # a different rule gives different samples


@pytest.mark.parametrize("method", ["edm_heun", "dpmpp_2m"])
def test_update_option_errors(method):
    sde = VPSDE(0.1, 20.0)
    x = sde.prior_sampling((8, 2), g(3), dtype=F64, device="cpu")
    with pytest.raises(TypeError, match="update must be a function"):
        run(sde, method, x, 4, update=3)
    with pytest.raises(ValueError, match=r"update '<lambda>' must return a tensor of shape \(8, 2\), got float"):
        run(sde, method, x, 4, update=lambda *a: 0.0)
    with pytest.raises(ValueError, match=r"update '<lambda>' must return a tensor of shape \(8, 2\), got \(4, 2\)$"):
        run(sde, method, x, 4, update=lambda x, *a: x[:4])
    with pytest.raises(ValueError, match="update"):
        run(sde, "ddim", x, 4, update=heun_update)
