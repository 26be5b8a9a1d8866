"""Tests of gentoolkit.sde against closed forms: exact kernels (quadrature of the SDE's
coefficients), exact Gaussian scores, exact moments of the fixed-grid chains (moment
recursions, no sampling noise), the exact probability-flow map of Gaussian data, and the
stationary law of the Langevin corrector. Every statistical tolerance is a number of
standard errors (said where), plus an offset only where one is derived."""

import copy
import functools
import inspect
import math
import re

import pytest
import torch

from gentoolkit.data import toy2d
from gentoolkit.sde import (
    METHODS,
    SOLVERS,
    VESDE,
    VPSDE,
    SubVPSDE,
    em_gaussian_moments,
    gaussian_score,
    ggf_attempt,
    langevin_corrector,
    log_likelihood,
    mixture_log_prob,
    mixture_score,
    pc,
    sample,
    tweedie,
)
from gentoolkit.sde.sdes import adaptive_ends, check_grid, check_sde, check_times

SDES = [VESDE(0.01, 50.0), VPSDE(0.1, 20.0), SubVPSDE(0.1, 20.0)]
IDS = ["VE", "VP", "subVP"]
MU, S = 1.5, 0.5  # Gaussian data N(MU, S^2 I)
F64 = torch.float64


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def at(sde, t):
    """(m(t), std(t), v(t)) as floats, v = m^2 S^2 + std^2 the variance of p_t for N(MU, S^2) data."""
    m, sd = (v.item() for v in sde.mean_std(torch.tensor([t], dtype=F64)))
    return m, sd, m**2 * S**2 + sd**2


def affine(fn):
    """(A, B, C) of a map x' = A x + B + C z that is affine in the scalars x and z."""
    b = fn(0.0, 0.0)
    return fn(1.0, 0.0) - b, b, fn(0.0, 1.0) - b


def probe(v: float) -> torch.Tensor:
    return torch.tensor([[v]], dtype=F64)


# ---------------------------------------------------------------------- the SDEs
@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_kernel_is_the_quadrature_of_the_coefficients(sde):
    # linear SDE dx = a x dt + g dw from x0: mean exp(int_0^t a) x0 and variance
    # int_0^t exp(2 int_s^t a) g(s)^2 ds; trapezoid on 200,001 points (error ~1e-10 relative).
    # Catches e.g. VE's std as sigma(t) instead of sqrt(sigma(t)^2 - sigma_min^2) (off by 2e-4..20%).
    for t in (0.05, 0.3, 1.0):
        u = torch.linspace(0, t, 200_001, dtype=F64)
        a, gg = sde.coefficients(u)
        A = torch.cat([torch.zeros(1, dtype=F64), torch.cumulative_trapezoid(a, u)])
        var = torch.trapezoid(torch.exp(2 * (A[-1] - A)) * gg**2, u).item()
        m, sd, _ = at(sde, t)
        assert m == pytest.approx(math.exp(A[-1].item()), rel=1e-9)
        assert sd**2 == pytest.approx(var, rel=1e-7), (t, sd**2, var)


def test_ve_kernel_std_is_zero_at_t0_for_every_sigma_min():
    # sigma(0)^2 - sigma_min^2 can round to -1 ulp in float32 (a NaN std before the clamp)
    for sigma_min in (0.009, 0.018, 0.019, 0.01):
        std = VESDE(sigma_min, 50.0).marginal_prob(torch.ones(3, 2), 0.0)[1]
        assert torch.equal(std, torch.zeros(3, 1)), (sigma_min, std)


@pytest.mark.slow
@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_marginal_prob_matches_a_simulation_of_the_forward_sde(sde):
    # Euler-Maruyama (coefficients at mid-step) from a fixed x0; compare mean and std at t
    n, steps = 20_000, 2000
    x0 = torch.tensor([[1.5, -0.5]], dtype=F64).expand(n, 2)
    x = x0.clone()
    gen = g(1)
    checkpoints = {400: None, 1000: None, 2000: None}
    dt = 1.0 / steps
    for k in range(steps):
        f, gg = sde.sde(x, (k + 0.5) * dt)
        x = x + f * dt + gg * math.sqrt(dt) * torch.randn(n, 2, generator=gen, dtype=F64)
        if k + 1 in checkpoints:
            checkpoints[k + 1] = x.clone()
    for k, xt in checkpoints.items():
        mean, std = sde.marginal_prob(x0, k * dt)
        s = std[0, 0].item()
        # 5 standard errors of the mean (s / sqrt(n)) and of the std (1 / sqrt(4n) relative, two
        # coordinates); the offsets are the O(dt^2) error of the midpoint simulation
        assert (xt.mean(0) - mean[0]).abs().max() < 5 * s / math.sqrt(n) + 2e-3 * mean[0].abs().max(), k
        emp = (xt - xt.mean(0)).pow(2).mean().sqrt().item()
        assert abs(emp / s - 1) < 5 / math.sqrt(4 * n) + 3e-3, (k, emp, s)


@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_mixture_score_is_autograd_of_its_log_prob(sde):
    mix = toy2d.get("8gaussians")
    x = (3 * torch.randn(64, 2, generator=g(2), dtype=F64)).requires_grad_(True)
    t = torch.rand(64, generator=g(3), dtype=F64) * 0.999 + 1e-3
    (auto,) = torch.autograd.grad(mixture_log_prob(mix, sde, x, t).sum(), x)
    torch.testing.assert_close(mixture_score(mix, sde)(x.detach(), t), auto, rtol=1e-9, atol=1e-9)


def test_ve_marginal_is_the_smoothed_mixture():
    mix, sde = toy2d.get("moons"), VESDE(0.01, 10.0)
    x = 2 * torch.randn(32, 2, generator=g(4), dtype=F64)
    t = torch.rand(32, generator=g(5), dtype=F64)
    std = sde.marginal_prob(x, t)[1][:, 0]
    torch.testing.assert_close(mixture_score(mix, sde)(x, t), mix.score(x, std))


def test_sub_vp_variance_is_below_vp_and_both_end_at_the_prior():
    vp, sub = VPSDE(0.1, 20.0), SubVPSDE(0.1, 20.0)
    t = torch.linspace(0.0, 1.0, 101, dtype=F64)
    m_vp, s_vp = vp.mean_std(t)
    m_sub, s_sub = sub.mean_std(t)
    torch.testing.assert_close(m_sub, m_vp)  # same drift, same mean
    assert (s_sub <= s_vp + 1e-15).all()
    assert m_vp[-1] < 0.01 and abs(s_vp[-1] - 1) < 1e-4 and vp.prior_std() == 1.0


@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_reverse_drift_transports_the_gaussian_marginals(sde):
    # For N(MU, S^2) data, p_t = N(m MU, v(t) I) and a drift k(t) x + c(t) run backwards moves
    # the variance by dv/dt = 2 k v (ODE) or 2 k v - g^2 (reverse SDE); both must equal the
    # forward dv/dt (central difference, error ~1e-9). Catches a wrong factor or sign of g^2 s.
    score = gaussian_score(sde, MU, S)
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=F64).reshape(2, 1, 1, 2)  # image-shaped: (n, c, h, w)
    for t in (0.1, 0.5, 0.9):
        dv = (at(sde, t + 1e-5)[2] - at(sde, t - 1e-5)[2]) / 2e-5
        v, gg = at(sde, t)[2], sde.sde(x, t)[1][0].item()
        for pf, extra in ((True, 0.0), (False, gg**2)):
            b = sde.reverse_drift(x, t, score(x, t), probability_flow=pf)
            k = (b[1] - b[0]).mean().item()  # the slope of the drift in x
            assert 2 * k * v - extra == pytest.approx(dv, rel=1e-6), (t, pf)


@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_prior_logp_and_prior_sampling(sde):
    z = 3 * torch.randn(50, 1, 2, 2, generator=g(6), dtype=F64)
    ref = torch.distributions.Normal(0.0, sde.prior_std()).log_prob(z).flatten(1).sum(1)
    torch.testing.assert_close(sde.prior_logp(z), ref)
    p = sde.prior_sampling((20_000, 2), g(9), device="cpu")
    # 5 standard errors of a std estimated from 40,000 draws: 5 / sqrt(80,000) relative
    assert p.shape == (20_000, 2) and abs(p.std().item() / sde.prior_std() - 1) < 5 / math.sqrt(80_000)


def test_bad_inputs():
    with pytest.raises(ValueError, match="sigma_max must be > sigma_min"):
        VESDE(1.0, 0.5)
    with pytest.raises(ValueError, match="beta_min must be a finite number > 0"):
        VPSDE(-1.0, 20.0)
    sde = VPSDE()
    with pytest.raises(ValueError, match=r"t must lie in \[0, T\] = \[0, 1\]"):
        sde.marginal_prob(torch.zeros(3, 2), torch.tensor([0.1, 1.5, 0.2]))
    with pytest.raises(ValueError, match=r"t must be a float or a 1-D tensor with one time per sample, shape \(3,\)"):
        sde.sde(torch.zeros(3, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="h must be a finite number >= 0, got -0.1"):
        sde.discretize(torch.zeros(3, 2), 0.5, -0.1)


def test_defaults_repr_and_named_parameter_errors():
    """The defaults sigma_min = 0.01 (001, Sec. 10.3.2), beta_min = 0.1 and beta_max = 20 (001,
    Sec. 10.3.3) and sigma_max = 50 (Song et al.'s CIFAR-10 value) show in the repr, which names
    the subclass; each bad parameter is named at the start of its error, and equal bounds fail."""
    assert repr(VESDE()) == "VESDE(sigma_min=0.01, sigma_max=50)"
    assert repr(VPSDE()) == "VPSDE(beta_min=0.1, beta_max=20)"
    assert repr(SubVPSDE(0.2, 10.0)) == "SubVPSDE(beta_min=0.2, beta_max=10)"
    for make, name in (
        (lambda: VESDE(0.0, 1.0), "sigma_min"),
        (lambda: VESDE(0.01, math.inf), "sigma_max"),
        (lambda: VPSDE(0.1, 0.0), "beta_max"),
    ):
        with pytest.raises(ValueError, match=f"^{name} must be a finite number > 0"):
            make()
    with pytest.raises(ValueError, match=r"^sigma_max must be > sigma_min, got sigma_min=0.5, sigma_max=0.5"):
        VESDE(0.5, 0.5)
    with pytest.raises(ValueError, match=r"^beta_max must be > beta_min, got beta_min=2.0, beta_max=2.0"):
        VPSDE(2.0, 2.0)


@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_discretize_per_sample_times_zero_step_and_bad_h(sde):
    """A 1-D tensor of times gives, row by row, the step of each float time (steps that would
    start before 0 start at 0); a step of h = 0 is the identity (F = G = 0); a negative h is
    named. SMLD's chain is exact: G^2 = std(t)^2 - std(max(t - h, 0))^2 of the kernel."""
    t = torch.tensor([0.6, 0.05, 0.3, 0.0], dtype=F64)
    x = torch.randn(4, 1, 2, 2, generator=g(7), dtype=F64)  # image-shaped: (n, c, h, w)
    F, G = sde.discretize(x, t, 0.1)
    for i, ti in enumerate(t.tolist()):
        Fi, Gi = sde.discretize(x[i : i + 1], ti, 0.1)
        torch.testing.assert_close((F[i : i + 1], G[i : i + 1]), (Fi, Gi), rtol=1e-12, atol=0.0)
    if isinstance(sde, VESDE):
        s_now = sde.marginal_prob(x, t)[1]
        s_prev = sde.marginal_prob(x, (t - 0.1).clamp_min(0))[1]
        torch.testing.assert_close(G**2, s_now**2 - s_prev**2, rtol=1e-12, atol=1e-15)
    for tt in (t, 0.4):
        F0, G0 = sde.discretize(x, tt, 0.0)
        assert torch.equal(F0, torch.zeros_like(x)) and torch.equal(G0, torch.zeros(4, 1, 1, 1, dtype=F64))
    for tt in (t, 0.4):
        with pytest.raises(ValueError, match="^h must be a finite number >= 0, got -0.1"):
            sde.discretize(x, tt, -0.1)


@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_kernel_std_is_positive_and_prior_logp_takes_one_sample(sde):
    """std(t) is a standard deviation: > 0 on (0, 1] (catches a sign slip, invisible in std^2);
    prior_logp of a batch of one sample is the Gaussian log-density (reads d from that sample)."""
    std = sde.marginal_prob(torch.ones(5, 2, dtype=F64), torch.tensor([1e-3, 0.1, 0.5, 0.9, 1.0], dtype=F64))[1]
    assert (std > 0).all(), std
    z = torch.tensor([[0.3, -1.2, 2.0]], dtype=F64)
    ref = torch.distributions.Normal(0.0, sde.prior_std()).log_prob(z).sum(1)
    torch.testing.assert_close(sde.prior_logp(z), ref)


def test_time_grid_and_sde_checks_name_what_they_got():
    """check_times turns a float into one time per sample in x's dtype and rejects anything but
    a float or an (n,) tensor, saying what it got; check_grid accepts a strictly decreasing grid
    in [0, 1] of two or more entries (ends included) as float64 and rejects the rest, listing up
    to six entries; adaptive_ends returns the grid's two ends; check_sde names the type it got."""
    x = torch.zeros(3, 2)
    t = check_times(0.25, x)
    assert t.dtype == torch.float32 and torch.equal(t, torch.full((3,), 0.25))
    assert check_times(torch.tensor([0.0, 0.5, 1.0], dtype=F64), x).dtype == torch.float32
    for bad, got in ((torch.zeros(4), r"\(4,\)"), (torch.zeros(3, 1), r"\(3, 1\)"), ([0.1, 0.2, 0.3], "list")):
        with pytest.raises(ValueError, match=rf"^t must be a float or a 1-D tensor .*, shape \(3,\), got {got}$"):
            check_times(bad, x)
    for ok in ([1.0, 0.0], [0.5, 0.2, 1e-3], [1.0, 0.999]):
        grid = check_grid(torch.tensor(ok), 1.0)
        assert grid.dtype == F64 and torch.equal(grid, torch.tensor(ok).double())
    for bad in ([1.5, 0.5], [1.5, 0.5, 0.1], [1.0, 0.5, -0.1], [1.0, 0.3, 0.6], [1.0, 0.5, 0.5, 0.1], [0.6] * 6):
        with pytest.raises(ValueError, match=rf"^times must be a strictly decreasing .*, got {re.escape(str(bad))}$"):
            check_grid(torch.tensor(bad, dtype=F64), 1.0)
    for bad, got in (
        (torch.linspace(0, 1, 7), r"a tensor of shape \(7,\)"),
        (torch.linspace(1.0, 0.1, 8).reshape(2, 4), r"a tensor of shape \(2, 4\)"),  # decreasing, but 2-D
        ([1.0, 0.5], "list"),
    ):
        with pytest.raises(ValueError, match=rf"^times must be a strictly decreasing .*, got {got}$"):
            check_grid(bad, 1.0)
    assert adaptive_ends(VPSDE(), torch.tensor([1.0, 0.5, 0.25, 1e-3], dtype=F64), None) == (1.0, 1e-3)
    msg = "^callback is called after each step of a fixed grid; the adaptive solvers take none$"
    with pytest.raises(ValueError, match=msg):
        adaptive_ends(VPSDE(), torch.tensor([1.0, 1e-3]), print)
    with pytest.raises(TypeError, match="^sde must be a VESDE, VPSDE or SubVPSDE, got str$"):
        check_sde("vp")


@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_prior_sampling_devices_dtype_replay_and_prior_std(sde):
    """prior_sampling draws prior_std * z on the generator's device (CPU without one, even under a
    default-device context), replays the generator exactly, keeps the dtype asked for and moves
    the draws to ``device``; VE's prior std is its kernel std at T (exactly); the reverse drift
    defaults to the reverse-time SDE's (001, Eq. 2.18), not the probability-flow ODE's."""
    ref = sde.prior_std() * torch.randn(4, 3, generator=g(8), dtype=F64)
    torch.testing.assert_close(sde.prior_sampling((4, 3), g(8), device="cpu", dtype=F64), ref, rtol=0, atol=0)
    with torch.device("meta"):  # a default device must not change where the draws are made
        with_gen = sde.prior_sampling((4, 3), g(8), device="cpu", dtype=F64)
        without = sde.prior_sampling((4, 3), device="cpu")
    torch.testing.assert_close(with_gen, ref, rtol=0, atol=0)
    assert without.device.type == "cpu" and without.dtype == torch.float32 and without.isfinite().all()
    assert sde.prior_sampling((2, 2), g(8), device="meta").device.type == "meta"
    if isinstance(sde, VESDE):
        for ve in (sde, VESDE(0.5, 2.0)):
            std_T = ve.marginal_prob(torch.zeros(1, 1, dtype=F64), 1.0)[1].item()
            assert ve.prior_std() == pytest.approx(std_T, rel=1e-12)
    x = torch.randn(3, 2, generator=g(9), dtype=F64)
    score = gaussian_score(sde, MU, S)(x, 0.4)
    default = sde.reverse_drift(x, 0.4, score)
    torch.testing.assert_close(default, sde.reverse_drift(x, 0.4, score, probability_flow=False))
    assert not torch.allclose(default, sde.reverse_drift(x, 0.4, score, probability_flow=True))


# ---------------------------------------------------------------------- discrete chains
def _chain_error(sde, t, h):
    """|mean| + |variance| error of one forward chain step from x(t - h) ~ p_0(t-h)(. | MU) to t."""

    def step(x, z):
        xx = probe(x)
        F, G = sde.discretize(xx, t, h)
        return (xx + F + G * z).item()

    A, B, C = affine(step)
    (m0, s0, _), (m1, s1, _) = at(sde, t - h), at(sde, t)
    return abs(A * m0 * MU + B - m1 * MU) + abs(A**2 * s0**2 + C**2 - s1**2)


@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_forward_chain_is_consistent_with_the_kernel(sde):
    # one step of discretize from the exact kernel at t - h lands on the kernel at t up to
    # O(h^2) (ratio 1/4 when h halves; an O(h) error, e.g. a wrong factor, gives 1/2); SMLD's
    # chain is exact (sum of sigma_i^2 - sigma_{i-1}^2 telescopes) and DDPM's preserves variance
    for t in (0.2, 0.6):
        e, e_half = _chain_error(sde, t, 1e-2), _chain_error(sde, t, 5e-3)
        assert e_half <= 0.3 * e + 1e-13, (t, e, e_half)
    if isinstance(sde, VESDE):
        assert _chain_error(sde, 0.6, 0.1) < 1e-13
    if type(sde) is VPSDE:
        F, G = sde.discretize(probe(1.0), 0.6, 0.01)
        assert (1 + F.item()) ** 2 + G.item() ** 2 == pytest.approx(1.0, abs=1e-14)


def _ancestral_error(sde, t, h):
    """|mean| + |variance| error of one ancestral step from p_t to p_{t-h} (N(MU, S^2) data)."""
    score = gaussian_score(sde, MU, S)

    def step(x, z):
        xx = probe(x)
        return sde.ancestral_step(xx, t, h, score(xx, t), torch.full_like(xx, z)).item()

    A, B, C = affine(step)
    (m0, _, v0), (m1, _, v1) = at(sde, t - h), at(sde, t)
    return abs(A * m1 * MU + B - m0 * MU) + abs(A**2 * v1 + C**2 - v0)


@pytest.mark.parametrize("sde", SDES[:2], ids=IDS[:2])
def test_ancestral_step_maps_p_t_to_p_t_minus_h(sde):
    # the reverse of the chain with the exact score: consistent to O(h^2) (ratio 1/4)
    for t in (0.2, 0.6):
        e, e_half = _ancestral_error(sde, t, 1e-2), _ancestral_error(sde, t, 5e-3)
        assert e_half <= 0.3 * e, (t, e, e_half)


def test_sub_vp_has_no_ancestral_chain():
    msg = "ancestral sampling is defined for VESDE and VPSDE, not SubVPSDE"
    sde = SubVPSDE()
    score = gaussian_score(sde, MU, S)
    with pytest.raises(ValueError, match=msg):
        sample(sde, score, (4, 2), "ancestral")
    with pytest.raises(ValueError, match=msg):
        sample(sde, score, (4, 2), "pc", predictor="ancestral")
    with pytest.raises(ValueError, match=msg):
        sde.ancestral_step(torch.zeros(4, 2), 0.5, 0.1, torch.zeros(4, 2), torch.zeros(4, 2))


# ---------------------------------------------------------------------- fixed-grid solvers
def _em(sde, score, x, t, h, z):
    f, gg = sde.sde(x, t)
    return x - (f - gg**2 * score(x, t)) * h + gg * math.sqrt(h) * z


def _reverse_diffusion(sde, score, x, t, h, z):
    F, G = sde.discretize(x, t, h)
    return x - F + G**2 * score(x, t) + G * z  # report 000, Sec. 3.1: the chain reversed


def _ancestral(sde, score, x, t, h, z):
    return sde.ancestral_step(x, t, h, score(x, t), z)


def chain_moments(sde, step, n_steps, denoise=True):
    """Exact per-coordinate mean and std of a fixed-grid solver from the prior on N(MU, S^2)
    data with the exact (linear) score: every step is affine, x' = A x + B + C z, so the
    moments follow exactly (the recursion of ``em_gaussian_moments``, for any step)."""
    score = gaussian_score(sde, MU, S)
    times = torch.linspace(sde.T, sde.t_eps, n_steps + 1, dtype=F64)
    mean, var = 0.0, sde.prior_std() ** 2
    for t, h in zip(times[:-1].tolist(), (times[:-1] - times[1:]).tolist()):
        A, B, C = affine(
            lambda x, z, t=t, h=h: step(sde, score, probe(x), t, h, torch.full((1, 1), z, dtype=F64)).item()
        )
        mean, var = A * mean + B, A**2 * var + C**2
    if denoise:
        A, B, _ = affine(lambda x, z: tweedie(sde, score, probe(x), sde.t_eps).item())
        mean, var = A * mean + B, A**2 * var
    return mean, math.sqrt(var)


@pytest.mark.parametrize("shape", [(10_000, 2), (1250, 1, 4, 4)], ids=["points", "images"])
@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_euler_maruyama_matches_its_exact_moments(sde, shape):
    # em_gaussian_moments is derived independently (its own affine recursion); it is exact
    # at the step count used, so only sampling noise remains: 5 standard errors of the mean
    # (sd / sqrt(N)) and of the std (1 / sqrt(2N) relative), N = 20,000 coordinates.
    # Catches e.g. 0.9 g^2 s instead of g^2 s (std off by 9-40%).
    mean, sd = em_gaussian_moments(sde, MU, S, 50)
    r = sample(sde, gaussian_score(sde, MU, S), shape, "euler_maruyama", n_steps=50, generator=g(50), dtype=F64)
    n = r.x.numel()
    assert abs(r.x.mean().item() - mean) < 5 * sd / math.sqrt(n), (r.x.mean(), mean)
    assert abs(r.x.std().item() / sd - 1) < 5 / math.sqrt(2 * n), (r.x.std(), sd)
    assert r.nfe == 51 and r.times[0] == 1.0 and r.times[-1] == sde.t_eps


def test_em_moments_converge_to_the_exact_law_at_first_order():
    # the n -> infinity limit of EM + Tweedie is E[x0 | x(t_eps)]: mean MU, std m S^2 / sqrt(v),
    # up to the prior's mismatch with p_T (VP: m(1) MU ~ 0.01); first order: error halves with h
    sde = VPSDE()
    m, _, v = at(sde, sde.t_eps)
    lim = (MU, m * S**2 / math.sqrt(v))
    err = [math.dist(em_gaussian_moments(sde, MU, S, n), lim) for n in (200, 400, 800)]
    assert 0.4 < err[1] / err[0] < 0.6 and 0.4 < err[2] / err[1] < 0.6, err


@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_em_gaussian_moments_agrees_with_the_probed_em_recursion(sde):
    """em_gaussian_moments equals chain_moments on the Euler-Maruyama step (affine maps read off
    sde.sde and tweedie by probing, float64) to 1e-12 relative: with Tweedie by default and
    without, from the prior N(0, prior_std^2) (VE: not 1), on n_steps steps, ending at an explicit
    t_eps (replayed on a copy of the SDE whose t_eps is that value). The two agree to ~4e-16;
    float32 times or coefficients would be off by 1e-9 to 3e-8."""
    n = 30
    for denoise in (True, False):
        kw = {} if denoise else {"denoise": False}
        ref = chain_moments(sde, _em, n, denoise=denoise)
        assert em_gaussian_moments(sde, MU, S, n, **kw) == pytest.approx(ref, rel=1e-12, abs=0), denoise
    early = copy.copy(sde)
    early.t_eps = 0.05
    ref = chain_moments(early, _em, n)
    assert em_gaussian_moments(sde, MU, S, n, t_eps=0.05) == pytest.approx(ref, rel=1e-12, abs=0)


@pytest.mark.parametrize(
    "method,step,sde",
    [("reverse_diffusion", _reverse_diffusion, s) for s in SDES] + [("ancestral", _ancestral, s) for s in SDES[:2]],
    ids=[f"reverse_diffusion-{i}" for i in IDS] + [f"ancestral-{i}" for i in IDS[:2]],
)
def test_chain_solvers_match_their_exact_moments(method, step, sde):
    # the chains' coefficients are checked above (consistency); here the solver loop (grid,
    # the time of each step, its noise, Tweedie) against the exact moment recursion:
    # 5 standard errors as above, N = 20,000 coordinates
    mean, sd = chain_moments(sde, step, 40)
    r = sample(sde, gaussian_score(sde, MU, S), (10_000, 2), method, n_steps=40, generator=g(51), dtype=F64)
    n = r.x.numel()
    assert abs(r.x.mean().item() - mean) < 5 * sd / math.sqrt(n), (r.x.mean(), mean)
    assert abs(r.x.std().item() / sd - 1) < 5 / math.sqrt(2 * n), (r.x.std(), sd)
    # and the chains converge: the exact moments at 1000 steps are within 1% of the data's
    assert math.dist(chain_moments(sde, step, 1000), (MU, S)) < 0.01 * S


def test_sub_vp_reverse_diffusion_is_euler_maruyama():
    # sub-VP has no chain of its own: its discretisation is the Euler-Maruyama step
    sde = SubVPSDE()
    a = sample(sde, gaussian_score(sde, MU, S), (64, 2), "reverse_diffusion", n_steps=20, generator=g(52), dtype=F64)
    b = sample(sde, gaussian_score(sde, MU, S), (64, 2), "euler_maruyama", n_steps=20, generator=g(52), dtype=F64)
    torch.testing.assert_close(a.x, b.x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_langevin_corrector_settles_at_its_stationary_law(sde):
    # pc on the grid [t, t - 1e-6]: 300 corrector steps at t, then a predictor step of 1e-6
    # (it moves the variance by ~1e-5 relative). Started from the wrong law N(0, 4 v), the
    # corrector x <- x + e s + sqrt(2e) z with e = 2 alpha (snr |z| / |s|)^2 settles at mean
    # m MU and variance v (1 + alpha snr^2): the norms' ratio is v / sqrt(u) at variance u,
    # so e = 2 alpha snr^2 v^2 / u, and Langevin's u = v / (1 - e / 2v) then gives it.
    # 5 standard errors: sd / sqrt(N) for the mean, sqrt(2 / N) relative for the variance.
    # A no-op corrector stays at 4 v; alpha is 1 - beta h = 1 - 2e-5 at most here.
    t, snr, n = 0.4, 0.4, 20_000
    m, _, v = at(sde, t)
    score = gaussian_score(sde, MU, S)
    x0 = 2 * math.sqrt(v) * torch.randn(n // 2, 2, generator=g(53), dtype=F64)
    times = torch.tensor([t, t - 1e-6], dtype=F64)
    x = pc(sde, score, x0, times, n_corrector=300, snr=snr, generator=g(54), progress=False)
    assert abs(x.mean().item() - m * MU) < 5 * math.sqrt(v / n)
    assert abs(x.var().item() / (v * (1 + snr**2)) - 1) < 5 * math.sqrt(2 / n), (x.var() / v, 1 + snr**2)
    # the corrector alone, at the same t: the same law
    y = langevin_corrector(sde, score, x0, t, 1e-6, n_steps=300, snr=snr, generator=g(54))
    assert abs(y.var().item() / (v * (1 + snr**2)) - 1) < 5 * math.sqrt(2 / n)


def test_pc_counts_and_calls_back():
    # each step from t_i to t_{i+1} evaluates the score at t_i (n_corrector + 1 times for pc),
    # then Tweedie at t_eps; the callback reports t_{i+1}
    sde = VPSDE()
    seen, called = [], []

    def score(x, t):
        called.append(t[0].item())
        return gaussian_score(sde, MU, S)(x, t)

    r = sample(
        sde,
        score,
        (8, 1, 3, 3),
        "pc",
        n_steps=20,
        n_corrector=2,
        generator=g(13),
        callback=lambda i, t, x: seen.append((i, t, x.shape)),
    )
    assert r.nfe == 20 * 3 + 1 == len(called)  # + 1 for the final denoising
    grid = r.times.float().tolist()
    assert called == [t for t in grid[:-1] for _ in range(3)] + [grid[-1]]
    assert [i for i, *_ in seen] == list(range(20)) and [t for _, t, _ in seen] == r.times[1:].tolist()
    assert seen[0][2] == (8, 1, 3, 3)


def test_same_generator_same_samples_and_tweedie_denoises():
    sde = VPSDE()
    score = gaussian_score(sde, MU, S)
    a = sample(sde, score, (8, 1, 3, 3), "euler_maruyama", generator=g(13), n_steps=20)
    b = sample(sde, score, (8, 1, 3, 3), "euler_maruyama", generator=g(13), n_steps=20)
    assert torch.equal(a.x, b.x)
    c = sample(sde, score, (8, 1, 3, 3), "euler_maruyama", generator=g(13), n_steps=20, denoise=False)
    torch.testing.assert_close(tweedie(sde, score, c.x, 1e-3), a.x)


def test_tweedie_recovers_the_clean_mean_for_gaussian_data():
    # for N(MU, S^2) data, E[x0 | x_t] = MU + S^2 m / (m^2 S^2 + std^2) (x_t - m MU)
    sde = VPSDE()
    x = torch.randn(5, 2, generator=g(15), dtype=F64)
    m, _, v = at(sde, 0.3)
    expected = MU + S**2 * m / v * (x - m * MU)
    torch.testing.assert_close(tweedie(sde, gaussian_score(sde, MU, S), x, 0.3), expected)


def test_sampler_bad_inputs():
    sde = VPSDE()
    score = gaussian_score(sde, MU, S)
    unknown = r"unknown method='heun'; expected one of \['ancestral', 'ddim', 'dpmpp_2m', 'edm_heun', 'euler_maruyama'"
    with pytest.raises(ValueError, match=unknown):
        sample(sde, score, (4, 2), "heun")
    with pytest.raises(ValueError, match=r"method 'euler_maruyama' takes options \['n_steps'\], not \['snr'\]"):
        sample(sde, score, (4, 2), "euler_maruyama", snr=0.1)
    with pytest.raises(ValueError, match="n_steps must be a positive integer, got 0"):
        sample(sde, score, (4, 2), "pc", n_steps=0)
    with pytest.raises(ValueError, match="snr must be a finite number > 0"):
        sample(sde, score, (4, 2), "pc", snr=-1.0)
    with pytest.raises(ValueError, match="predictor='heun' is not known"):
        sample(sde, score, (4, 2), "pc", predictor="heun")
    with pytest.raises(ValueError, match=r"score_fn\(x, t\) must return a tensor of x's shape \(4, 2\)"):
        sample(sde, lambda x, t: x[:, :1], (4, 2), "euler_maruyama", n_steps=2)
    with pytest.raises(TypeError, match="sde must be a VESDE, VPSDE or SubVPSDE"):
        sample("vp", score, (4, 2), "euler_maruyama")
    with pytest.raises(ValueError, match="t_eps must be < T = 1.0"):
        sample(sde, score, (4, 2), "euler_maruyama", t_eps=1.0)
    with pytest.raises(TypeError, match="progress must be True, False or None"):
        sample(sde, score, (4, 2), "euler_maruyama", n_steps=2, progress="yes")
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="times must be a strictly decreasing 1-D tensor"):
        SOLVERS["euler_maruyama"](sde, score, x, torch.tensor([0.5, 1.0]))
    with pytest.raises(ValueError, match="times must be a strictly decreasing 1-D tensor"):
        SOLVERS["ggf"](sde, score, x, torch.tensor([1.0]))
    for method in ("ode", "ggf"):
        with pytest.raises(ValueError, match="the adaptive solvers take none"):
            SOLVERS[method](sde, score, x, torch.tensor([1.0, 0.001]), callback=print)


def test_every_solver_shares_one_signature():
    shared = ["sde", "score_fn", "x", "times", "generator", "callback", "progress"]
    for name, solver in SOLVERS.items():
        assert list(inspect.signature(solver).parameters)[:7] == shared, name
    assert set(SOLVERS) == set(METHODS)


def test_x_init_is_never_modified():
    sde = VPSDE()
    x0 = torch.randn(8, 2, generator=g(60))
    keep = x0.clone()
    for method in METHODS:
        sample(sde, gaussian_score(sde, MU, S), None, method, x_init=x0, generator=g(61), denoise=False)
        assert torch.equal(x0, keep), method


# ---------------------------------------------------------------------- progress and device
def test_progress_bar_by_score_calls(capsys):
    sde = VPSDE()
    score = gaussian_score(sde, MU, S)

    def bar(method, progress, **kw):
        capsys.readouterr()
        sample(sde, score, (16, 2), method, generator=g(70), progress=progress, **kw)
        return capsys.readouterr().err

    assert "EM" in bar("euler_maruyama", None, n_steps=301)  # more than 300 score calls
    assert bar("euler_maruyama", None, n_steps=300) == ""
    assert "PC" in bar("pc", None, n_steps=160, n_corrector=1)  # 320 calls
    assert bar("pc", None, n_steps=150, n_corrector=1) == ""
    assert bar("euler_maruyama", True, n_steps=3).lstrip("\r").startswith("EM: ")
    # every fixed-grid solver passes progress on and names its bar
    for method, name in [
        ("reverse_diffusion", "reverse diffusion"),
        ("ancestral", "ancestral"),
        ("pc", "PC (reverse_diffusion)"),
    ]:
        assert bar(method, True, n_steps=3).lstrip("\r").startswith(f"{name}: "), method
        assert bar(method, False, n_steps=400) == ""
    assert bar("euler_maruyama", False, n_steps=400) == ""
    # adaptive solvers: a bar over time, under None once more than 300 score calls are made
    assert "GGF" in bar("ggf", True, eps_rel=0.5)
    assert bar("ggf", None, eps_rel=0.5) == ""  # a few dozen calls
    assert "GGF" in bar("ggf", None, eps_rel=0.002)  # hundreds of calls
    assert bar("ggf", False, eps_rel=0.002) == ""
    assert "probability-flow ODE" in bar("ode", True)
    capsys.readouterr()
    log_likelihood(sde, score, torch.zeros(4, 2), progress=True, rtol=1e-3, atol=1e-3)
    assert "log-likelihood" in capsys.readouterr().err


def test_device_default_explicit_and_bad(monkeypatch):
    import gentoolkit.config as config

    asked = []

    def default_device():
        asked.append(True)
        return torch.device("cpu")

    monkeypatch.setattr(config, "default_device", default_device)
    sde = VPSDE()
    score = gaussian_score(sde, MU, S)
    r = sample(sde, score, (4, 2), "euler_maruyama", n_steps=2, generator=g(71))
    assert asked and r.x.device.type == "cpu"  # device=None asks resolve_device(None)
    asked.clear()
    sample(sde, score, None, "euler_maruyama", x_init=torch.zeros(4, 2), n_steps=2)
    assert not asked  # with x_init: x_init's device
    assert sample(sde, score, (4, 2), "euler_maruyama", n_steps=2, device="cpu").x.device.type == "cpu"
    assert not asked
    with pytest.raises(ValueError, match="device='gpu0' is not a device"):
        sample(sde, score, (4, 2), "euler_maruyama", n_steps=2, device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU is available"):
            sample(sde, score, (4, 2), "euler_maruyama", n_steps=2, device="cuda")


# ---------------------------------------------------------------------- probability-flow ODE
@pytest.mark.parametrize("sde", SDES[:2], ids=IDS[:2])
def test_ode_follows_the_exact_flow_of_gaussian_data(sde):
    # with p_t = N(m MU, v I) the probability-flow ODE maps x(T) to
    # x(t) = m(t) MU + sqrt(v(t) / v(T)) (x(T) - m(T) MU): compare per sample, no sampling noise.
    # RK45's global error at rtol = atol = 1e-6 is ~1e-5 here; 1e-4 is 10x that.
    score = gaussian_score(sde, MU, S)
    xT = sde.prior_sampling((2000, 2), g(20), dtype=F64, device="cpu")
    r = sample(sde, score, None, "ode", x_init=xT, rtol=1e-6, atol=1e-6, denoise=False)
    (mT, _, vT), (me, _, ve) = at(sde, 1.0), at(sde, sde.t_eps)
    exact = me * MU + math.sqrt(ve / vT) * (xT - mT * MU)
    assert (r.x - exact).abs().max() < 1e-4, (r.x - exact).abs().max()
    assert 20 < r.nfe < 2000
    # the prior's mismatch with p_T (mean 0, not m(T) MU) survives: Tweedie's affine map
    # y -> MU + k (y - m(t_eps) MU), k = (1 - std^2 / v) / m at t_eps, makes the denoised mean
    # MU + k c (mean(x(T)) - m(T) MU), c = sqrt(v(t_eps) / v(T)): the documented offset
    # -k c m(T) MU (VE -0.015, VP -0.005) plus the prior draws' own mean. Given the draws it has
    # no sampling noise; the tolerance is RK45's error (above), 15-50x below the offset.
    d = sample(sde, score, None, "ode", x_init=xT, rtol=1e-6, atol=1e-6)
    k, c = (1 - at(sde, sde.t_eps)[1] ** 2 / ve) / me, math.sqrt(ve / vT)
    assert abs(k * c * mT * MU) > 0.004  # the offset is there to be missed
    assert abs(d.x.mean().item() - (MU + k * c * (xT.mean().item() - mT * MU))) < 1e-4, d.x.mean()


def _centred_score(sde, s=0.5):
    return gaussian_score(sde, 0.0, s)


@pytest.mark.parametrize("sde", SDES[:2], ids=IDS[:2])
def test_exact_log_likelihood(sde):
    # centred data: the prior is p_T up to a 1e-3 relative variance, so the likelihood is exact
    x = 0.5 * torch.randn(100, 2, generator=g(21), dtype=F64)
    ll, nfe = log_likelihood(sde, _centred_score(sde), x, rtol=1e-6, atol=1e-6, progress=False)
    m, sd, _ = at(sde, sde.t_eps)
    var = m**2 * 0.25 + sd**2
    exact = -(x**2).sum(1) / (2 * var) - math.log(2 * math.pi * var)
    assert (ll - exact).abs().max() < 5e-3, (ll - exact).abs().max()
    # Hutchinson's estimate is unbiased: its mean error is within 5 standard errors (std / sqrt(100))
    # plus the exact-divergence bound above
    lh, _ = log_likelihood(sde, _centred_score(sde), x, exact_divergence=False, n_probes=2, generator=g(22))
    err = lh - exact
    assert abs(err.mean().item()) < 5 * err.std().item() / 10 + 5e-3


def test_ode_bad_options():
    sde = VPSDE()
    with pytest.raises(ValueError, match="rtol must be a finite number > 0, got 0.0"):
        sample(sde, gaussian_score(sde, MU, S), (4, 2), "ode", rtol=0.0)
    with pytest.raises(ValueError, match=r"method 'ode' takes options \['atol', 'rtol'\], not \['n_steps'\]"):
        sample(sde, gaussian_score(sde, MU, S), (4, 2), "ode", n_steps=10)


# ---------------------------------------------------------------------- Gotta Go Fast
from gentoolkit.sde.gotta_go_fast import _BrownianPath  # noqa: E402


def test_brownian_path_bridges_and_moves_on_exactly():
    n = 200_000
    path = _BrownianPath(n, 1, F64, torch.device("cpu"), g(30))
    s0 = torch.zeros(n, dtype=F64)

    def at_s(v):
        return torch.full((n,), v, dtype=F64)

    def read(s_new):  # W(s_new) - W(current point); proposals are rejected (stored) unless moved
        w, w0, k, s_new = path.propose(s_new)
        return w, w0, k, s_new

    w1, w0, k, s1 = read(at_s(1.0))  # fresh: N(0, 1)
    path.update(s0, s1, w1, w0, k, torch.zeros(n, dtype=torch.bool))
    w03, w0, k, s03 = read(at_s(0.3))  # bridged inside [0, 1]
    path.update(s0, s03, w03, w0, k, torch.zeros(n, dtype=torch.bool))
    again, *_ = read(at_s(1.0))  # stored: the same value
    torch.testing.assert_close(again, w1, rtol=0, atol=1e-12)
    # 5 standard errors: of a variance (var sqrt(2 / n)) and of a covariance (about 1 / sqrt(n))
    se = 5 / math.sqrt(n)
    assert abs(w1.var().item() - 1.0) < 5 * math.sqrt(2 / n)
    assert abs(w03.var().item() - 0.3) < 5 * 0.3 * math.sqrt(2 / n)
    assert abs((w03 * w1).mean().item() - 0.3) < se  # Cov(W(0.3), W(1)) = 0.3
    assert path.max_top == 2  # two stored points beyond the current one
    # accept a step to 0.3: the stored W(1) is still there, 0.7 further on
    w, w0, k, s_new = read(at_s(0.3))
    torch.testing.assert_close(w, w03, rtol=0, atol=1e-12)
    path.update(s0, s_new, w, w0, k, torch.ones(n, dtype=torch.bool))
    w, w0, k, _ = read(at_s(1.0))
    torch.testing.assert_close(w - w0, w1 - w03, rtol=0, atol=1e-12)
    # passing a stored point: 0.5 of fresh path after W(1), independent of the past
    beyond, w0, *_ = read(at_s(1.5))
    assert abs((beyond - w1).var().item() - 0.5) < 5 * 0.5 * math.sqrt(2 / n)
    assert abs(((beyond - w1) * (w1 - w03)).mean().item()) < se * 0.7
    # inserting between two stored points keeps them sorted: W(0.6) bridges W(0.3)..W(1)
    w06, w0, k, s06 = read(at_s(0.6))
    path.update(at_s(0.3), s06, w06, w0, k, torch.zeros(n, dtype=torch.bool))
    w08, w0, k, s08 = read(at_s(0.8))
    d = w08 - w06  # bridge on [0.6, 1]: mean (W(1) - W(0.6)) / 2, variance 0.2 * 0.2 / 0.4
    assert abs((d - (w1 - w06) / 2).var().item() - 0.1) < 5 * 0.1 * math.sqrt(2 / n)
    # rejected beyond a stored point: W(0.8) goes between W(0.6) and W(1), which move up
    path.update(at_s(0.3), s08, w08, w0, k, torch.zeros(n, dtype=torch.bool))
    assert path.max_top == 4
    for v, stored in ((0.6, w06), (0.8, w08), (1.0, w1)):
        torch.testing.assert_close(read(at_s(v))[0], stored, rtol=0, atol=1e-12)
    for v, left, right in ((0.7, w06, w08), (0.9, w08, w1)):  # bridges of length 0.2: variance 0.05
        mid = read(at_s(v))[0] - (left + right) / 2
        assert abs(mid.mean().item()) < 5 * math.sqrt(0.05 / n)
        assert abs(mid.var().item() - 0.05) < 5 * 0.05 * math.sqrt(2 / n)


def test_ggf_attempt_closed_form_on_ve_with_a_zero_score():
    # f = 0 and s = 0: x' = x + g(t) dW, x~ = x + g(t - h) dW, x'' = x + (g(t) + g(t - h)) dW / 2,
    # so x' - x'' = (g(t) - g(t - h)) dW / 2 and E = ||(x' - x'') / delta|| / sqrt(d) with
    # delta = max(eps_abs, eps_rel max(|x'|, |x_prev|)) (001, Eq. 10.5, Sec. 10.4.1.3)
    sde = VESDE(0.01, 50.0)
    x = torch.randn(6, 1, 2, 2, generator=g(80), dtype=F64)
    x_prev = torch.randn(6, 1, 2, 2, generator=g(81), dtype=F64)
    t, h = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], dtype=F64), 0.05
    dw = math.sqrt(h) * torch.randn(6, 1, 2, 2, generator=g(82), dtype=F64)
    g0, g1 = sde.sde(x, t)[1], sde.sde(x, t - h)[1]
    zero = lambda xx, tt: torch.zeros_like(xx)  # noqa: E731
    x_em, x_imp, err = ggf_attempt(sde, zero, x, t, h, dw, x_prev, eps_rel=0.1, eps_abs=0.05)
    torch.testing.assert_close(x_em, x + g0 * dw)
    torch.testing.assert_close(x_imp, x + 0.5 * (g0 + g1) * dw)
    delta = (0.1 * torch.maximum((x + g0 * dw).abs(), x_prev.abs())).clamp_min(0.05)
    scaled = (0.5 * (g0 - g1) * dw / delta).flatten(1)
    torch.testing.assert_close(err, scaled.pow(2).mean(1).sqrt())
    _, _, err_inf = ggf_attempt(sde, zero, x, t, h, dw, x_prev, eps_rel=0.1, eps_abs=0.05, norm="linf")
    torch.testing.assert_close(err_inf, scaled.abs().amax(1))


def test_ggf_attempt_proposal_is_an_euler_maruyama_step():
    # the same increment sqrt(h) z in both: x' is one EM step of the reverse SDE from t to t - h
    sde, t, h = VPSDE(), 0.6, 0.02
    score = gaussian_score(sde, MU, S)
    x = torch.randn(500, 2, generator=g(83), dtype=F64)
    z = torch.randn(500, 2, generator=g(84), dtype=F64)
    em = SOLVERS["euler_maruyama"](sde, score, x, torch.tensor([t, t - h], dtype=F64), generator=g(84))
    x_em, _, err = ggf_attempt(sde, score, x, t, h, math.sqrt(h) * z, x)
    torch.testing.assert_close(x_em, em)
    assert err.shape == (500,) and (err > 0).all()
    with pytest.raises(ValueError, match="h must be <= t"):
        ggf_attempt(sde, score, x, 0.01, 0.02, z, x)
    with pytest.raises(ValueError, match=r"dw must be a tensor of x's shape \(500, 2\)"):
        ggf_attempt(sde, score, x, t, h, z[:, :1], x)


@pytest.mark.slow
@pytest.mark.parametrize("sde", [VESDE(0.01, 20.0), VPSDE(0.1, 20.0)], ids=["VE", "VP"])
def test_ggf_with_memory_is_unbiased_and_naive_is_not(sde):
    # exact score of N(1.5, 0.5^2 I), d = 2, n = 20,000, eps_rel = 0.01 (the setting).
    # 4 standard errors (a one-in-15,000 false alarm) of the mean (S / sqrt(40,000)) and of the
    # std (1 / sqrt(80,000) relative), no offset: GGF's own error at eps_rel = 0.01 is below 0.001
    # (the d = 64 test below)
    kw = dict(eps_rel=0.01, eps_abs=0.0078)
    score = gaussian_score(sde, MU, S)
    r = sample(sde, score, (20_000, 2), "ggf", generator=g(31), **kw)
    assert abs(r.x.mean().item() - MU) < 4 * S / math.sqrt(40_000)
    assert abs(r.x.std().item() / S - 1) < 4 / math.sqrt(80_000)
    assert r.stats.accepted > 0 and r.stats.rejected > 0 and r.stats.max_memory >= 2
    assert r.nfe == r.stats.nfe + 1 and r.stats.nfe_per_sample > 100
    naive = sample(sde, score, (20_000, 2), "ggf", generator=g(31), memory=False, **kw)
    bias = naive.x.std().item() / S - 1
    # measured here: +57% (VE) and +15% (VP); with memory -0.7% (VE) and -0.4% (VP)
    assert bias > (0.3 if isinstance(sde, VESDE) else 0.08), bias
    assert naive.stats.max_memory == 0


def test_ggf_options_and_errors():
    sde = VPSDE()
    score = gaussian_score(sde, MU, S)
    r = sample(sde, score, (64, 3), "ggf", generator=g(32), eps_rel=0.1, norm="linf")
    assert len(r.stats.steps_h) == r.stats.accepted and r.nfe == r.stats.nfe + 1
    # every accepted step lies in [t_eps, T] and the accepted steps of each sample sum to
    # T - t_eps: in total, n (T - t_eps)
    assert (r.stats.steps_t <= 1.0).all() and (r.stats.steps_t - r.stats.steps_h >= sde.t_eps - 1e-9).all()
    assert r.stats.steps_h.sum().item() == pytest.approx(64 * (1 - sde.t_eps), rel=1e-9)
    with pytest.raises(ValueError, match="norm must be 'l2'"):
        sample(sde, score, (4, 2), "ggf", norm="l1")
    with pytest.raises(ValueError, match="eps_rel must be a finite number > 0, got -0.1"):
        sample(sde, score, (4, 2), "ggf", eps_rel=-0.1)


# ---------------------------------------------------------------------- training on 2D
from gentoolkit.metrics import mode_stats  # noqa: E402
from gentoolkit.nets import ScoreMLP  # noqa: E402
from gentoolkit.sde import ScaledScore, sde_dsm_loss  # noqa: E402
from gentoolkit.train import train_score  # noqa: E402


def test_sde_dsm_loss_by_hand_and_at_the_exact_score():
    sde = VPSDE()
    mix = toy2d.get("8gaussians")
    x = mix.sample(64, g(40)).double()
    exact = mixture_score(mix, sde)
    value = sde_dsm_loss(exact, x, g(41), sde=sde)
    gen = g(41)  # replay: t, then z
    t = sde.t_eps + (1 - sde.t_eps) * torch.rand(64, generator=gen, dtype=F64)
    z = torch.randn(64, 2, generator=gen, dtype=F64)
    mean, std = sde.marginal_prob(x, t)
    ref = 0.5 * ((std * exact(mean + std * z, t) + z) ** 2).sum(1).mean()
    torch.testing.assert_close(value, ref)
    # the exact score beats a shifted one by E std^2 |c|^2 / 2 (the DSM excess, per time)
    many = mix.sample(100_000, g(42)).double()
    l0 = sde_dsm_loss(exact, many, g(43), sde=sde)
    l1 = sde_dsm_loss(lambda xx, tt: exact(xx, tt) + 0.2, many, g(43), sde=sde)
    tt = sde.t_eps + (1 - sde.t_eps) * torch.rand(100_000, generator=g(44), dtype=F64)
    expected = 0.5 * (sde.mean_std(tt)[1] ** 2).mean().item() * 2 * 0.2**2
    assert abs((l1 - l0).item() - expected) < 0.1 * expected


@pytest.mark.slow
def test_training_a_time_conditional_score_on_vp():
    sde, mix = VPSDE(), toy2d.get("8gaussians")
    net = ScaledScore(sde, ScoreMLP(cond="time", seed=0), data_std=2.0)
    train_score(
        net, mix, None, loss=functools.partial(sde_dsm_loss, sde=sde), n_steps=1500, progress=False, device="cpu"
    )
    exact = mixture_score(mix, sde)
    tt = torch.full((4000,), 0.3, dtype=F64)
    mean, std = sde.marginal_prob(mix.sample(4000, g(45)).double(), tt)
    xt = mean + std * torch.randn(4000, 2, generator=g(46), dtype=F64)
    with torch.no_grad():
        est = net(xt.float(), tt.float()).double()
    err = ((est - exact(xt, tt)).pow(2).sum() / exact(xt, tt).pow(2).sum()).sqrt().item()
    assert err < 0.1, err
    out = sample(sde, net, (4000, 2), "euler_maruyama", n_steps=300, generator=g(47), device="cpu")
    st = mode_stats(out.x, mix)
    assert st["covered"] == 8 and st["high_quality"] > 0.9, st
    with pytest.raises(ValueError, match="sigmas must be None when loss is a callable"):
        train_score(net, mix, [0.1], loss=functools.partial(sde_dsm_loss, sde=sde), n_steps=1)


def _pooled_error(x: torch.Tensor) -> float:
    x = x.double()
    return ((x.mean() - MU) ** 2 + (x.std() - S) ** 2).sqrt().item()


@pytest.mark.slow
def test_ggf_beats_em_1000_on_vp_d64_and_improves_with_eps_rel():
    sde = VPSDE()
    m, sd = em_gaussian_moments(sde, MU, S, 1000)  # exact: no sampling noise
    em_error = math.hypot(m - MU, sd - S)
    n = 20_000
    mc_sd = math.sqrt(S**2 / (64 * n) + S**2 / (2 * 64 * n))  # of the pooled mean and std
    errs, nfes = {}, {}
    for eps_rel in (0.1, 0.01, 0.005):
        r = sample(sde, gaussian_score(sde, MU, S), (n, 64), "ggf", eps_rel=eps_rel, generator=g(51))
        errs[eps_rel], nfes[eps_rel] = _pooled_error(r.x), r.stats.nfe_per_sample
    # measured here: errors 0.0063, 0.0008, 0.0010 at 75, 315, 361 NFE per sample (Monte-Carlo sd 0.0005);
    # EM-1000: 0.0009
    assert errs[0.01] < em_error + 2 * mc_sd and nfes[0.01] < 600, (errs, nfes, em_error)
    assert errs[0.005] < errs[0.1] / 3 and errs[0.01] < errs[0.1] / 3, errs


def test_scaled_score_feeds_the_net_unit_scale_inputs_and_divides_by_std():
    """ScaledScore(x, t) = net(x / c(t), t) / std(t), c(t) = sqrt(m(t)^2 data_std^2 + std(t)^2).

    On data N(0, data_std^2 I) the net's inputs x(t) / c(t) have variance exactly 1 at every t
    (a wrong c, e.g. without m(t)^2, without std(t)^2 or with data_std unsquared, misses 1 by more
    than 5 standard errors at some t), and a net returning ones gives exactly 1 / std(t) (catches a
    missing or inverted division by std)."""
    seen = {}

    class Recorder(torch.nn.Module):
        def forward(self, u, t):
            seen["u"], seen["t"] = u, t
            return torch.ones_like(u)

    n, d_std = 200_000, 0.7
    for sde in (VPSDE(), VESDE(sigma_min=0.01, sigma_max=5.0), SubVPSDE()):
        net = ScaledScore(sde, Recorder(), data_std=d_std)
        for tv in (sde.t_eps, 0.3, 1.0):
            t = torch.full((n,), tv, dtype=F64)
            mean, std = sde.marginal_prob(d_std * torch.randn(n, 2, generator=g(50), dtype=F64), t)
            x = mean + std * torch.randn(n, 2, generator=g(51), dtype=F64)
            out = net(x, t)
            torch.testing.assert_close(out, (1 / std).expand_as(out))
            var = seen["u"].var().item()  # standard error of a variance of 2n unit normals: sqrt(2 / 2n)
            assert abs(var - 1) < 5 * (1 / n) ** 0.5, (sde, tv, var)
            assert seen["t"] is t
    with pytest.raises(ValueError, match="data_std"):
        ScaledScore(VPSDE(), Recorder(), data_std=0.0)


def test_sde_dsm_loss_with_its_own_t_eps_and_named_arguments():
    """An explicit t_eps replaces the SDE's (replayed draws: catches an ignored t_eps); bad x,
    t_eps and score outputs are named; ScaledScore's default data_std is 1 and its output keeps
    x's dtype (a float64 t does not promote a float32 x)."""
    sde, mix = VPSDE(), toy2d.get("8gaussians")
    x = mix.sample(32, g(60)).double()
    exact = mixture_score(mix, sde)
    value = sde_dsm_loss(exact, x, g(61), sde=sde, t_eps=0.2)
    gen = g(61)
    t = 0.2 + (1 - 0.2) * torch.rand(32, generator=gen, dtype=F64)
    z = torch.randn(32, 2, generator=gen, dtype=F64)
    mean, std = sde.marginal_prob(x, t)
    torch.testing.assert_close(value, 0.5 * ((std * exact(mean + std * z, t) + z) ** 2).sum(1).mean())
    with pytest.raises(ValueError, match="^x must be a floating-point tensor"):
        sde_dsm_loss(exact, torch.zeros(4, dtype=torch.long), sde=sde)
    with pytest.raises(ValueError, match="^t_eps must be a finite number > 0"):
        sde_dsm_loss(exact, x, sde=sde, t_eps=-1.0)
    with pytest.raises(ValueError, match=r"^score_net\(x, t\) must return a tensor of x's shape"):
        sde_dsm_loss(lambda xx, tt: xx[:, 0], x, sde=sde)

    class Half(torch.nn.Module):
        def forward(self, u, tt):
            return 0.5 * u

    xs, ts = torch.randn(8, 2, generator=g(62)), torch.full((8,), 0.4, dtype=F64)
    torch.testing.assert_close(ScaledScore(sde, Half())(xs, ts), ScaledScore(sde, Half(), data_std=1.0)(xs, ts))
    assert ScaledScore(sde, Half())(xs, ts).dtype == torch.float32
    with pytest.raises(ValueError, match="^data_std must be a finite number > 0"):
        ScaledScore(sde, Half(), data_std=0.0)


# --------------------------------------------------- log-normal training times (EDM, Sec. 5)
from gentoolkit.sde import lognormal_times  # noqa: E402


@pytest.mark.parametrize("sde", [VPSDE(), VESDE(sigma_min=0.01, sigma_max=50.0), SubVPSDE()], ids=repr)
@pytest.mark.parametrize(("p_mean", "p_std"), [(-1.2, 1.2), (-0.5, 1.5), (1.0, 0.4), (1.0, 0.1), (6.0, 1.0)])
def test_lognormal_times_are_scipys_truncated_normal_quantiles(sde, p_mean, p_std):
    """log edm_sigma(t) at U(0, 1) draws u is scipy's truncnorm quantile at u on [log sigma(t_eps),
    log sigma(T)] (catches a flipped p_mean, p_std used as a variance, a missing truncation or a
    wrong end), and t stays in [t_eps, T] in u's dtype."""
    from scipy.stats import truncnorm

    t_eps = 1e-3
    # rand's range [0, 1) with its smallest positive draw; (1.0, 0.1) puts Phi(lower end) below
    # float64's range, so u = 0 maps to sigma 0 before the clamp to t_eps; (6.0, 1.0) puts the upper end
    # below the median (Phi(upper end) < 0.5), where every draw takes the lower-tail formula
    u = torch.cat([torch.tensor([2**-53], dtype=F64), torch.arange(200, dtype=F64) / 200])
    u = torch.cat([u, torch.tensor([1 - 2**-53], dtype=F64)])
    t = lognormal_times(sde, u, t_eps=t_eps, p_mean=p_mean, p_std=p_std)
    lo, hi = (math.log(sde.edm_sigma(torch.tensor(v, dtype=F64)).item()) for v in (t_eps, sde.T))
    ref = truncnorm((lo - p_mean) / p_std, (hi - p_mean) / p_std, loc=p_mean, scale=p_std).ppf(u.numpy())
    log_sigma = torch.log(sde.edm_sigma(t))
    torch.testing.assert_close(log_sigma[:-1], torch.from_numpy(ref[:-1]), rtol=1e-6, atol=1e-6)
    # rand's largest draw: finite (Phi^-1 of 1 would be inf), near the top end
    assert abs(log_sigma[-1].item() - ref[-1]) < 1e-4, (log_sigma[-1], ref[-1])
    assert t.min().item() >= t_eps and t.max().item() <= sde.T
    assert (t[1] == t_eps).item() or p_std > 0.1  # u = 0 at the lower end
    assert lognormal_times(sde, u.float(), t_eps=t_eps, p_mean=p_mean, p_std=p_std).dtype == torch.float32


@pytest.mark.parametrize("uniform_frac", [0.0, 0.25])
def test_sde_dsm_loss_with_lognormal_times_by_hand(uniform_frac):
    """p_mean, p_std: the loss replayed by hand with the scipy quantiles as times (one uniform draw
    per sample, then the noise: catches uniform times kept, or a second draw); uniform_frac 0.25
    keeps the first 16 of 64 samples at uniform times (catches the share ignored, inverted or
    taken from the wrong end)."""
    from scipy.stats import truncnorm

    sde, mix = VPSDE(), toy2d.get("8gaussians")
    x = mix.sample(64, g(70)).double()
    exact = mixture_score(mix, sde)
    share = {"uniform_frac": uniform_frac} if uniform_frac else {}  # 0 is the default
    value = sde_dsm_loss(exact, x, g(71), sde=sde, p_mean=-0.5, p_std=1.5, **share)
    gen = g(71)
    u = torch.rand(64, generator=gen, dtype=F64)
    lo, hi = (math.log(sde.edm_sigma(torch.tensor(v, dtype=F64)).item()) for v in (sde.t_eps, sde.T))
    log_sigma = truncnorm((lo + 0.5) / 1.5, (hi + 0.5) / 1.5, loc=-0.5, scale=1.5).ppf(u.numpy())
    t = sde.edm_time(torch.exp(torch.from_numpy(log_sigma)))
    k = int(64 * uniform_frac)
    t[:k] = sde.t_eps + (1 - sde.t_eps) * u[:k]
    z = torch.randn(64, 2, generator=gen, dtype=F64)
    mean, std = sde.marginal_prob(x, t)
    torch.testing.assert_close(value, 0.5 * ((std * exact(mean + std * z, t) + z) ** 2).sum(1).mean())
    uniform = sde_dsm_loss(exact, x, g(71), sde=sde)
    assert value.item() != pytest.approx(uniform.item(), rel=1e-3)
    all_uniform = sde_dsm_loss(exact, x, g(71), sde=sde, p_mean=-0.5, p_std=1.5, uniform_frac=1.0)
    torch.testing.assert_close(all_uniform, uniform)


def test_sde_dsm_loss_lognormal_arguments_are_checked():
    sde, x = VPSDE(), torch.zeros(8, 2, dtype=F64)
    exact = mixture_score(toy2d.get("8gaussians"), sde)
    for kwargs, msg in [
        ({"p_mean": -0.5}, r"^p_mean and p_std go together: give both .* got p_mean=-0.5, p_std=None"),
        ({"p_std": 1.5}, r"^p_mean and p_std go together: .* got p_mean=None, p_std=1.5"),
        ({"p_mean": float("nan"), "p_std": 1.0}, r"^p_mean must be a finite number, got nan"),
        ({"p_mean": True, "p_std": 1.0}, r"^p_mean must be a finite number, got True"),
        ({"p_mean": 0.0, "p_std": 0.0}, r"^p_std must be a finite number > 0, got 0.0"),
        ({"p_mean": 0.0, "p_std": 1.0, "uniform_frac": 1.5}, r"^uniform_frac must lie in \[0, 1\], got 1.5"),
        ({"p_mean": 0.0, "p_std": 1.0, "uniform_frac": -0.1}, r"^uniform_frac must be a finite number >= 0, got -0.1"),
    ]:
        with pytest.raises(ValueError, match=msg):
            sde_dsm_loss(exact, x, sde=sde, **kwargs)
    u = torch.rand(4, dtype=F64)
    with pytest.raises(TypeError, match=r"^u must be a floating-point tensor of U\(0, 1\) draws, got list"):
        lognormal_times(sde, [0.5], t_eps=1e-3, p_mean=0.0, p_std=1.0)
    with pytest.raises(ValueError, match=r"^p_std must be a finite number > 0, got -1.0"):
        lognormal_times(sde, u, t_eps=1e-3, p_mean=0.0, p_std=-1.0)
    with pytest.raises(ValueError, match=r"^t_eps must be a finite number > 0, got 0.0"):
        lognormal_times(sde, u, t_eps=0.0, p_mean=0.0, p_std=1.0)
    with pytest.raises(ValueError, match=r"^p_mean must be a finite number, got inf"):
        lognormal_times(sde, u, t_eps=1e-3, p_mean=float("inf"), p_std=1.0)


# ------------------------------------------- EDM preconditioning (Karras et al. 2022, Table 1)
def _edm_coefficients(sde, t, data_std):
    """EDM's c_skip, c_out, c_in at sigma = edm_sigma(t), written as in its Table 1."""
    sigma = sde.edm_sigma(t)
    return (
        data_std**2 / (sigma**2 + data_std**2),
        sigma * data_std / (sigma**2 + data_std**2).sqrt(),
        1 / (sigma**2 + data_std**2).sqrt(),
    )


@pytest.mark.parametrize("sde", [VPSDE(), VESDE(sigma_min=0.01, sigma_max=50.0), SubVPSDE()], ids=repr)
def test_edm_preconditioned_score_is_exact_with_edms_optimal_f(sde):
    """With F the optimal EDM network of Gaussian data N(mu, s0^2) (F* = (E[x0 | x~] - c_skip x~) / c_out,
    computed from the input u = c_in x~ with EDM's own coefficients), ScaledScore(precond="edm") gives
    the exact score at every t, also for data_std != s0 (catches a wrong sign or power of the skip term
    -x / c^2, a missing m or std in its factor, or eps output kept); and for N(0, data_std^2) data the
    optimal F is 0: the skip term alone is the exact score."""
    mu, s0, data_std = 0.4, 0.8, 0.5

    class OptimalF(torch.nn.Module):
        def __init__(self, mean, std):
            super().__init__()
            self.mean, self.std = mean, std

        def forward(self, u, t):
            c_skip, c_out, c_in = (c[:, None] for c in _edm_coefficients(sde, t, data_std))
            x_tilde = u / c_in
            sigma2 = sde.edm_sigma(t)[:, None] ** 2
            denoised = self.mean + self.std**2 / (self.std**2 + sigma2) * (x_tilde - self.mean)
            return (denoised - c_skip * x_tilde) / c_out

    t = torch.tensor([sde.t_eps, 0.01, 0.1, 0.3, 0.6, 0.9, 1.0], dtype=F64)
    x = 1.5 * torch.randn(7, 3, generator=g(80), dtype=F64)
    net = ScaledScore(sde, OptimalF(mu, s0), data_std=data_std, precond="edm")
    torch.testing.assert_close(net(x, t), gaussian_score(sde, mu, s0)(x, t), rtol=1e-6, atol=1e-9)
    zero = ScaledScore(sde, OptimalF(0.0, data_std), data_std=data_std, precond="edm")
    torch.testing.assert_close(zero.net(x, t), torch.zeros_like(x), rtol=0, atol=1e-9)
    torch.testing.assert_close(zero(x, t), gaussian_score(sde, 0.0, data_std)(x, t), rtol=1e-6, atol=1e-9)
    eps = ScaledScore(sde, OptimalF(mu, s0), data_std=data_std)  # the same F read as eps: wrong
    assert (eps(x, t) - gaussian_score(sde, mu, s0)(x, t)).abs().max().item() > 0.1


@pytest.mark.parametrize("times", [{}, {"p_mean": -1.2, "p_std": 1.2}])
def test_edm_weighting_gives_edms_unweighted_loss_on_f(times):
    """sde_dsm_loss(weighting="edm") on ScaledScore(precond="edm") is 1/2 E ||F(c_in x~) - F*||^2 with EDM's
    target F* = (x0 - c_skip x~) / c_out and x~ = x0 + sigma z (replayed draws; catches the weight missing,
    inverted, or with sigma or data_std unsquared), and the default weighting is the eps loss."""
    sde, mix, data_std = VPSDE(), toy2d.get("8gaussians"), 1.7
    x0 = mix.sample(64, g(81)).double()
    inner = ScoreMLP(cond="time", seed=0).double()
    net = ScaledScore(sde, inner, data_std=data_std, precond="edm")
    value = sde_dsm_loss(net, x0, g(82), sde=sde, weighting="edm", data_std=data_std, **times)
    gen = g(82)
    u = torch.rand(64, generator=gen, dtype=F64)
    if times:
        t = lognormal_times(sde, u, t_eps=sde.t_eps, **times)
    else:
        t = sde.t_eps + (1 - sde.t_eps) * u
    z = torch.randn(64, 2, generator=gen, dtype=F64)
    c_skip, c_out, c_in = (c[:, None] for c in _edm_coefficients(sde, t, data_std))
    x_tilde = x0 + sde.edm_sigma(t)[:, None] * z
    target = (x0 - c_skip * x_tilde) / c_out
    with torch.no_grad():
        ref = 0.5 * (inner(c_in * x_tilde, t) - target).pow(2).sum(1).mean()
        value = value.detach()
    torch.testing.assert_close(value, ref, rtol=1e-9, atol=0)
    plain = sde_dsm_loss(net, x0, g(82), sde=sde, **times).detach()  # eps weighting: another number
    assert abs(plain.item() - ref.item()) > 0.01 * ref.item()


def test_edm_options_are_checked():
    sde, x = VPSDE(), torch.zeros(8, 2, dtype=F64)
    exact = mixture_score(toy2d.get("8gaussians"), sde)
    for kwargs, msg in [
        ({"weighting": "snr"}, r"^weighting='snr' is not known; expected one of \['eps', 'edm'\]"),
        ({"weighting": "edm"}, r"^data_std goes with weighting='edm' .* got weighting='edm', data_std=None"),
        ({"data_std": 0.5}, r"^data_std goes with weighting='edm' .* got weighting='eps', data_std=0.5"),
        ({"weighting": "edm", "data_std": -1.0}, r"^data_std must be a finite number > 0, got -1.0"),
    ]:
        with pytest.raises(ValueError, match=msg):
            sde_dsm_loss(exact, x, sde=sde, **kwargs)
    with pytest.raises(ValueError, match=r"^precond='x0' is not known; expected one of \['eps', 'edm'\]"):
        ScaledScore(sde, torch.nn.Identity(), precond="x0")
