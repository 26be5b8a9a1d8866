import math

import pytest
import torch
from scipy import stats

from gentoolkit.sampling import (
    inverse_transform,
    inverse_transform_from_cdf,
    mala,
    metropolis_hastings,
    rejection_sampling,
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
