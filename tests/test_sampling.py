import math
import re

import pytest
import torch
from scipy import stats

from gentoolkit.sampling import (
    inverse_transform,
    inverse_transform_from_cdf,
    mala,
    metropolis_hastings,
    rejection_sampling,
    run_mcmc,
    ula,
)
from tests.conftest import DEVICES

# a correlated 2D Gaussian target with known moments
MEAN = torch.tensor([1.0, -2.0], dtype=torch.float64)
COV = torch.tensor([[1.0, 0.6], [0.6, 0.5]], dtype=torch.float64)
PREC = torch.linalg.inv(COV)


def log_prob(x):
    d = x - MEAN.to(x)
    return -0.5 * ((d @ PREC.to(x)) * d).sum(1)


def score(x):
    return -(x - MEAN.to(x)) @ PREC.to(x)


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_inverse_transform_exponential_passes_ks():
    x = inverse_transform(lambda u: -torch.log1p(-u) / 2.0, 20_000, g(1))
    assert stats.kstest(x.numpy(), stats.expon(scale=0.5).cdf).pvalue > 1e-3
    y = inverse_transform_from_cdf(lambda t: torch.special.ndtr(t), 20_000, -10, 10, g(2))
    assert stats.kstest(y.numpy(), stats.norm.cdf).pvalue > 1e-3
    with pytest.raises(ValueError, match="need lo < hi"):
        inverse_transform_from_cdf(torch.special.ndtr, 5, 1.0, 0.0)


def test_rejection_acceptance_is_one_over_M_and_samples_are_right():
    # target N(0, 1), proposal N(0, 2^2): p/q <= M = 2 (attained at 0)
    target = torch.distributions.Normal(0.0, 1.0)
    prop = torch.distributions.Normal(0.0, 2.0)
    r = rejection_sampling(
        lambda x: target.log_prob(x),
        lambda m, gen: 2.0 * torch.randn(m, generator=gen),
        lambda x: prop.log_prob(x),
        math.log(2.0),
        50_000,
        g(3),
    )
    assert abs(r.acceptance_rate - 0.5) < 5 * math.sqrt(0.25 / r.n_proposed)
    assert r.x.shape == (50_000,)
    assert stats.kstest(r.x.numpy(), stats.norm.cdf).pvalue > 1e-3
    # vectorised: the first round proposes 1.2 n M points at once, which accepts n (120,000
    # proposals at rate 1/2 accept 60,000 +- 173 > 50,000), so there is exactly one round
    assert r.n_proposed == int(1.2 * 50_000 * 2.0)
    with pytest.raises(ValueError, match="log_M=-1 is too small"):
        rejection_sampling(target.log_prob, lambda m, gen: torch.randn(m, generator=gen), prop.log_prob, -1.0, 10)


def _moments_ok(x, tol_mean=0.05, tol_cov=0.06):
    x = x.double()
    assert (x.mean(0) - MEAN).abs().max() < tol_mean, x.mean(0)
    assert (torch.cov(x.T) - COV).abs().max() < tol_cov, torch.cov(x.T)


def test_metropolis_hastings_reproduces_moments():
    x0 = torch.zeros(4000, 2, dtype=torch.float64)
    r = metropolis_hastings(log_prob, x0, 0.8, 300, generator=g(4))
    _moments_ok(r.x)
    assert 0.2 < r.acceptance_rate < 0.8 and r.accepted.shape == (4000,)


def test_mala_reproduces_moments_and_accepts_more_than_mh():
    x0 = torch.zeros(4000, 2, dtype=torch.float64)
    r = mala(log_prob, x0, 0.05, 400, generator=g(5))
    _moments_ok(r.x)
    mh = metropolis_hastings(log_prob, x0, math.sqrt(2 * 0.05), 400, generator=g(5))
    assert r.acceptance_rate > mh.acceptance_rate  # the gradient makes proposals better
    # same with an explicit score instead of autograd
    r2 = mala(log_prob, x0, 0.05, 400, score_fn=score, generator=g(5))
    torch.testing.assert_close(r2.x, r.x)


def test_mala_is_exact_even_with_a_large_step_where_ula_is_biased():
    # 1D N(0, 1): ULA's stationary variance is 1 / (1 - lambda / 2); MALA's is 1.
    lam = 0.8
    x0 = torch.zeros(20_000, 1, dtype=torch.float64)
    r_ula = ula(lambda x: -x, x0, lam, 200, generator=g(6))
    r_mala = mala(lambda x: -0.5 * x[:, 0] ** 2, x0, lam, 200, generator=g(6))
    se = math.sqrt(2 / 20_000) * 1.7  # std of a sample variance, a little slack
    assert abs(r_ula.x.var().item() - 1 / (1 - lam / 2)) < 5 * se
    assert abs(r_mala.x.var().item() - 1.0) < 5 * se


def test_ula_reproduces_moments_for_small_steps_and_keeps_the_chain():
    x0 = torch.zeros(4000, 2, dtype=torch.float64)
    seen = []
    r = ula(score, x0, 0.02, 400, generator=g(7), keep_chain=True, callback=lambda k, x: seen.append(k))
    _moments_ok(r.x, tol_cov=0.08)
    assert r.chain.shape == (401, 4000, 2) and torch.equal(r.chain[0], x0) and torch.equal(r.chain[-1], r.x)
    assert seen == list(range(400)) and r.acceptance_rate is None


@pytest.mark.parametrize("device", DEVICES)
def test_same_generator_same_chain(device):
    x0 = torch.zeros(16, 2, device=device)
    for run in (
        lambda gen: metropolis_hastings(log_prob, x0, 0.5, 10, generator=gen).x,
        lambda gen: ula(score, x0, 0.1, 10, generator=gen).x,
        lambda gen: mala(log_prob, x0, 0.1, 10, generator=gen).x,
    ):
        a, b = run(g(8)), run(g(8))
        assert a.device.type == device and torch.equal(a, b)


def test_bad_inputs():
    x0 = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="step_size must be a finite number > 0, got 0.0"):
        ula(score, x0, 0.0, 10)
    with pytest.raises(ValueError, match="n_steps must be a positive integer, got 0"):
        metropolis_hastings(log_prob, x0, 0.1, 0)
    with pytest.raises(ValueError, match=r"x0 must be a floating-point tensor of shape \(n_chains, dim"):
        mala(log_prob, torch.zeros(4), 0.1, 5)
    with pytest.raises(ValueError, match=r"log_prob\(x\) must return one value per chain, shape \(4,\)"):
        metropolis_hastings(lambda x: x, x0, 0.1, 5)
    with pytest.raises(ValueError, match=r"score_fn\(x\) must return a tensor of x's shape \(4, 2\)"):
        ula(lambda x: x[:, 0], x0, 0.1, 5)


# ---------------------------------------------------------------- what mutation testing found
def test_inverse_transform_is_seeded_keeps_dtype_and_checks_icdf():
    """Replays the draw: u ~ U(0, 1) from the caller's generator in the requested dtype (catches
    a draw from the global RNG, a dropped dtype, and a shape check that lets a wrong shape pass)."""
    x = inverse_transform(lambda u: 3 * u, 5, g(1), dtype=torch.float64)
    torch.testing.assert_close(x, 3 * torch.rand(5, generator=g(1), dtype=torch.float64), rtol=0, atol=0)
    assert inverse_transform(lambda u: u, 4, g(1), dtype=torch.float32).dtype == torch.float32
    with pytest.raises(ValueError, match=r"icdf\(u\) must return a tensor of u's shape \(5,\)"):
        inverse_transform(lambda u: u[:2], 5, g(1))
    with pytest.raises(ValueError, match=r"icdf\(u\) must return a tensor of u's shape \(5,\)"):
        inverse_transform(lambda u: u.tolist(), 5, g(1))
    with pytest.raises(ValueError, match="^n must be a positive integer, got 0"):
        inverse_transform(lambda u: u, 0)


def test_inverse_transform_from_cdf_keeps_the_bracket_ends_in_float64():
    """Atoms at the ends of the bracket: cdf = 1 on [lo, hi] puts all the mass at lo, cdf = 0
    below hi all of it at hi, so every sample is lo (resp. hi) to within tol. 0.1 and 0.3 are no
    float32 numbers (off by 1.5e-9 and 1.2e-8 >> tol), so an end stored in float32 fails."""
    lo, hi, tol = 0.1, 0.3, 1e-10
    x = inverse_transform_from_cdf(torch.ones_like, 8, lo, hi, g(3), tol=tol)
    assert (x - lo).abs().max() <= tol
    x = inverse_transform_from_cdf(torch.zeros_like, 8, lo, hi, g(3), tol=tol)
    assert (x - hi).abs().max() <= tol


def test_inverse_transform_from_cdf_is_seeded_float64_and_checks_its_bracket():
    """The quantiles of the caller's u, to tol in float64: a draw from the global RNG, float32
    bisection (u itself in float32 already misses 1e-9) or an unchecked empty bracket fail."""
    u = torch.rand(6, generator=g(2), dtype=torch.float64)
    x = inverse_transform_from_cdf(torch.special.ndtr, 6, -10, 10, g(2))
    assert x.dtype == torch.float64
    torch.testing.assert_close(x, torch.special.ndtri(u), rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="need lo < hi, got lo=1, hi=1"):
        inverse_transform_from_cdf(torch.special.ndtr, 6, 1, 1)
    with pytest.raises(ValueError, match="^n must be a positive integer, got 0"):
        inverse_transform_from_cdf(torch.special.ndtr, 0, -1, 1)


LOG2 = math.log(2.0)


def _rejection(n, gen, log_M=LOG2, **kw):
    target, prop = torch.distributions.Normal(0.0, 1.0), torch.distributions.Normal(0.0, 2.0)
    return rejection_sampling(
        target.log_prob, lambda m, gg: 2.0 * torch.randn(m, generator=gg), prop.log_prob, log_M, n, gen, **kw
    )


def _replay_rejection(n, seed, log_M=LOG2):
    gen, xs, have, proposed = g(seed), [], 0, 0
    target, prop = torch.distributions.Normal(0.0, 1.0), torch.distributions.Normal(0.0, 2.0)
    while have < n:
        m = int(min(max(64, 1.2 * (n - have) * math.exp(log_M)), 1_000_000))
        x = 2.0 * torch.randn(m, generator=gen)
        keep = torch.log(torch.rand(m, generator=gen)) < target.log_prob(x) - prop.log_prob(x) - log_M
        xs.append(x[keep])
        have, proposed = have + int(keep.sum()), proposed + m
    return torch.cat(xs)[:n], have, proposed


@pytest.mark.parametrize(
    "n, seed, rounds",
    [(300, 5, 1), (10, 1, 1), (50, 58, 2), (50, 147, 1), (500_000, 6, 2)],
    ids=["one-round", "smallest-round", "short-first-round", "exactly-n", "capped-round"],
)
def test_rejection_sampling_replays_its_rounds_exactly(n, seed, rounds):
    """Rounds replayed by hand from the same generator: round sizes m = max(64, 1.2 (n - have) M)
    capped at 10^6, proposals then uniforms from the caller's generator, accept log u < log ratio,
    stop as soon as n are accepted. Catches a wrong round size, floor (n = 10 asks for 64) or cap,
    a global-RNG draw, an extra round (have <= n: seed 147 accepts exactly n in its first round),
    a count that restarts each round (have = ..., proposed = m: seed 58 needs two rounds; so does
    n = 500,000, whose first round is the 10^6 cap)."""
    r = _rejection(n, g(seed))
    x, have, proposed = _replay_rejection(n, seed)
    assert r.n_proposed == proposed and r.acceptance_rate == have / proposed
    torch.testing.assert_close(r.x, x, rtol=0, atol=0)
    first = int(min(max(64, 1.2 * n * 2.0), 1_000_000))
    assert (proposed == first) == (rounds == 1)


def test_rejection_sampling_errors_say_what_to_do():
    """The bound check uses a slack of 1e-6 in log ratio (not 1.000001), suggests the log_M that
    would hold, and the proposal cap stops with its message; n is named."""
    with pytest.raises(ValueError, match=r"log_M=0.2 is too small.*use log_M >= 0\.693"):
        _rejection(100, g(1), log_M=0.2)
    with pytest.raises(ValueError, match=r"log_M=0.5 is too small"):  # violated by 0.19 < 1.000001
        _rejection(100, g(1), log_M=0.5)
    with pytest.raises(RuntimeError, match=r"rejection sampling proposed \d+ points and accepted \d+ < n=100"):
        _rejection(100, g(1), log_M=30.0, max_proposals=100)
    # the cap is "more than max_proposals": exactly max_proposals proposals still run on
    r = _rejection(50, g(58), max_proposals=120)  # seed 58 needs a second round (see the replay test)
    assert r.n_proposed > 120
    # a round that passes the cap but reaches exactly n is kept (seed 147 accepts exactly 50 of 120)
    r = _rejection(50, g(147), max_proposals=119)
    assert r.n_proposed == 120 and r.x.shape == (50,)
    with pytest.raises(ValueError, match="^n must be a positive integer, got 0"):
        _rejection(0, g(1))


def test_rejection_sampling_stops_after_ten_million_proposals_by_default():
    """A target with far less mass than M assumes (e^-30 against M = 757,576) accepts nothing;
    its rounds of int(1.2 M) = 909,091 proposals stop at the first total past the default
    max_proposals = 10^7: 11 rounds, 10,000,001 proposals (0.25 s of CPU). In float64, so that
    no uniform is exactly 0 (float32 draws 0 with probability 2^-24 each)."""
    with pytest.raises(RuntimeError, match="^rejection sampling proposed 10000001 points and accepted 0 < n=1;"):
        rejection_sampling(
            lambda x: torch.full_like(x, -30.0),
            lambda m, gg: torch.zeros(m, dtype=torch.float64),
            torch.zeros_like,
            math.log(757_576),
            1,
            g(0),
        )


def test_ula_step_replayed_by_hand_and_its_progress_bar(capsys):
    """x <- x + lambda s(x) + sqrt(2 lambda) z with z from the caller's generator, replayed (a
    minus sign before the noise has the same law, so only a replay catches it); the chain is kept
    only when asked; the bar is labelled ULA; n_steps is named."""
    x0 = torch.zeros(3, 2, dtype=torch.float64)
    r = ula(score, x0, 0.1, 4, generator=g(9))
    gen, x = g(9), x0.clone()
    for _ in range(4):
        x = x + 0.1 * score(x) + math.sqrt(0.2) * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(r.x, x, rtol=0, atol=1e-15)
    assert r.chain is None
    ula(score, x0, 0.1, 3, generator=g(9), progress=True)
    assert re.search(r"(^|\r)ULA: ", capsys.readouterr().err)  # the label itself, not one containing it
    with pytest.raises(ValueError, match="^n_steps must be a positive integer, got 0"):
        ula(score, x0, 0.1, 0)


def test_mala_on_a_linear_log_density_accepts_everything_and_replays(capsys):
    """For log p(x) = c.x the Langevin proposal's asymmetry cancels p's ratio exactly: with
    d = x' - x, log alpha = c.d - (|d + lam c|^2 - |d - lam c|^2) / (4 lam) = 0, so MALA accepts
    every proposal and x <- x + lam c + sqrt(2 lam) z, replayed with z (then the uniforms of the
    test) from the caller's generator. Catches a minus before the noise, a wrong acceptance rate
    or per-chain rate (5 chains in 2D, so n_chains != dim), a lost callback, a chain kept by
    default, and the bar's label; step_size and n_steps are named."""
    c = torch.tensor([0.5, -1.0], dtype=torch.float64)
    lam, n_chains, n_steps = 0.1, 5, 4
    x0 = torch.zeros(n_chains, 2, dtype=torch.float64)
    seen = []
    r = mala(lambda x: x @ c, x0, lam, n_steps, generator=g(10), callback=lambda k, x: seen.append(k))
    gen, x = g(10), x0.clone()
    for _ in range(n_steps):
        x = x + lam * c + math.sqrt(2 * lam) * torch.randn(x.shape, generator=gen, dtype=torch.float64)
        torch.rand(n_chains, generator=gen, dtype=torch.float64)  # the uniforms of the accept test
    torch.testing.assert_close(r.x, x, rtol=0, atol=1e-14)
    assert r.acceptance_rate == 1.0 and torch.equal(r.accepted, torch.ones(n_chains))
    assert r.chain is None and seen == list(range(n_steps))
    mala(lambda x: x @ c, x0, lam, 3, generator=g(10), progress=True)
    assert re.search(r"(^|\r)MALA: ", capsys.readouterr().err)
    with pytest.raises(ValueError, match="^step_size must be a finite number > 0, got 0.0"):
        mala(log_prob, x0, 0.0, 5)
    with pytest.raises(ValueError, match="^n_steps must be a positive integer, got 0"):
        mala(log_prob, x0, 0.1, 0)


class _Gauss:
    """The correlated Gaussian as a ``run_mcmc`` target; its log_prob is detached (no autograd
    through it), so MALA has to use ``score``."""

    def log_prob(self, x):
        return log_prob(x.detach())

    def score(self, x):
        return score(x)


def test_run_mcmc_runs_each_sampler_at_proposal_noise_std_h(capsys):
    """run_mcmc(name, target, x0, h) is MH at proposal_std h and ULA / MALA at the Langevin step
    lambda = h^2 / 2 (0.125 for h = 0.5: noise std sqrt(2 lambda) = h), run from the caller's
    generator with its callback, bar and keep_chain (on by default), MALA with target.score:
    each chain equals the direct call's, state by state."""
    t, x0 = _Gauss(), torch.zeros(6, 2, dtype=torch.float64)
    direct = {
        "MH": lambda gen: metropolis_hastings(t.log_prob, x0, 0.5, 5, generator=gen, keep_chain=True),
        "ULA": lambda gen: ula(t.score, x0, 0.125, 5, generator=gen, keep_chain=True),
        "MALA": lambda gen: mala(t.log_prob, x0, 0.125, 5, score_fn=t.score, generator=gen, keep_chain=True),
    }
    seen = []
    for name, run in direct.items():
        seen.clear()
        r = run_mcmc(name, t, x0, 0.5, 5, generator=g(11), callback=lambda k, x: seen.append(k), progress=True)
        ref = run(g(11))
        assert torch.equal(r.chain, ref.chain) and r.acceptance_rate == ref.acceptance_rate, name
        assert seen == list(range(5))
        assert re.search(rf"(^|\r){name}: ", capsys.readouterr().err)
    with pytest.raises(ValueError, match=r"^unknown sampler name='mh'; expected one of \('MH', 'ULA', 'MALA'\)$"):
        run_mcmc("mh", t, x0, 0.5, 5)
    with pytest.raises(ValueError, match="^proposal_std must be a finite number > 0, got 0.0"):
        run_mcmc("MH", t, x0, 0.0, 5)
