import math

import pytest
import torch

from gentoolkit.data import toy2d
from gentoolkit.sde import VESDE, VPSDE, SubVPSDE, mixture_log_prob, mixture_score

SDES = [VESDE(0.01, 50.0), VPSDE(0.1, 20.0), SubVPSDE(0.1, 20.0)]
IDS = ["VE", "VP", "subVP"]


def g(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_marginal_prob_matches_a_simulation_of_the_forward_sde(sde):
    # Euler-Maruyama (coefficients at mid-step) from a fixed x0; compare mean and std at t
    n, steps = 20_000, 2000
    x0 = torch.tensor([[1.5, -0.5]], dtype=torch.float64).expand(n, 2)
    x = x0.clone()
    gen = g(1)
    checkpoints = {400: None, 1000: None, 2000: None}
    dt = 1.0 / steps
    for k in range(steps):
        tm = torch.full((n,), (k + 0.5) * dt, dtype=torch.float64)
        f, gg = sde.sde(x, tm)
        x = x + f * dt + gg * math.sqrt(dt) * torch.randn(n, 2, generator=gen, dtype=torch.float64)
        if k + 1 in checkpoints:
            checkpoints[k + 1] = x.clone()
    for k, xt in checkpoints.items():
        t = torch.full((n,), k * dt, dtype=torch.float64)
        mean, std = sde.marginal_prob(x0, t)
        s = std[0, 0].item()
        se_mean = s / math.sqrt(n)
        assert (xt.mean(0) - mean[0]).abs().max() < 5 * se_mean + 2e-3 * mean[0].abs().max(), (k, xt.mean(0), mean[0])
        emp = (xt - xt.mean(0)).pow(2).mean().sqrt().item()
        assert abs(emp / s - 1) < 5 / math.sqrt(4 * n) + 3e-3, (k, emp, s)


@pytest.mark.parametrize("sde", SDES, ids=IDS)
def test_mixture_score_is_autograd_of_its_log_prob(sde):
    mix = toy2d.get("8gaussians")
    x = (3 * torch.randn(64, 2, generator=g(2), dtype=torch.float64)).requires_grad_(True)
    t = torch.rand(64, generator=g(3), dtype=torch.float64) * 0.999 + 1e-3
    (auto,) = torch.autograd.grad(mixture_log_prob(mix, sde, x, t).sum(), x)
    torch.testing.assert_close(mixture_score(mix, sde)(x.detach(), t), auto, rtol=1e-9, atol=1e-9)


def test_ve_marginal_is_the_smoothed_mixture():
    mix, sde = toy2d.get("moons"), VESDE(0.01, 10.0)
    x = 2 * torch.randn(32, 2, generator=g(4), dtype=torch.float64)
    t = torch.rand(32, generator=g(5), dtype=torch.float64)
    std = sde.marginal_prob(x, t)[1][:, 0]
    torch.testing.assert_close(mixture_score(mix, sde)(x, t), mix.score(x, std))


def test_vp_family_closed_forms():
    vp, sub = VPSDE(0.1, 20.0), SubVPSDE(0.1, 20.0)
    t = torch.linspace(0.0, 1.0, 11, dtype=torch.float64)
    x = torch.ones(11, 3, dtype=torch.float64)
    b = 0.1 * t + 0.5 * 19.9 * t**2
    m_vp, s_vp = vp.marginal_prob(x, t)
    m_sub, s_sub = sub.marginal_prob(x, t)
    torch.testing.assert_close(m_vp[:, 0], torch.exp(-b / 2))
    torch.testing.assert_close(m_sub, m_vp)
    torch.testing.assert_close(s_vp[:, 0] ** 2, 1 - torch.exp(-b))
    torch.testing.assert_close(s_sub[:, 0], 1 - torch.exp(-b))
    assert (s_sub <= s_vp + 1e-15).all()
    # both end close to the N(0, I) prior
    assert m_vp[-1, 0] < 0.01 and abs(s_vp[-1, 0] - 1) < 1e-4 and vp.prior_std() == 1.0


def test_reverse_drift_and_shapes_for_images():
    sde = VPSDE()
    x = torch.randn(5, 1, 4, 4, generator=g(6))
    t = torch.rand(5, generator=g(7))
    score = torch.randn(5, 1, 4, 4, generator=g(8))
    f, gg = sde.sde(x, t)
    assert f.shape == x.shape and gg.shape == (5, 1, 1, 1)
    torch.testing.assert_close(sde.reverse_drift(x, t, score), f - gg**2 * score)
    torch.testing.assert_close(sde.reverse_drift(x, t, score, probability_flow=True), f - 0.5 * gg**2 * score)
    mean, std = sde.marginal_prob(x, 0.5)
    assert mean.shape == x.shape and std.shape == (5, 1, 1, 1)
    p = VESDE(0.01, 50.0).prior_sampling((1000, 2), g(9))
    assert p.shape == (1000, 2) and abs(p.std().item() / 50.0 - 1) < 0.05


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
