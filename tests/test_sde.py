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


# ---------------------------------------------------------------------- solvers
from gentoolkit.sde import METHODS, sample, tweedie  # noqa: E402

MU, S = 1.5, 0.5


def gaussian_score(sde):
    """Exact score of N(MU, S^2 I) data under the SDE: p_t = N(m MU, (m^2 S^2 + std^2) I)."""

    def f(x, t):
        m, sd = sde.mean_std(t)
        m, sd = m.reshape(-1, *([1] * (x.ndim - 1))), sd.reshape(-1, *([1] * (x.ndim - 1)))
        return -(x - m * MU) / (m**2 * S**2 + sd**2)

    return f


@pytest.mark.parametrize("method", sorted(set(METHODS) - {"ode", "ggf"}))  # adaptive: own tests
@pytest.mark.parametrize("sde", SDES[:2], ids=IDS[:2])
def test_every_method_samples_gaussian_data(sde, method):
    r = sample(sde, gaussian_score(sde), (8000, 2), method, generator=g(10), n_steps=400)
    se = S / math.sqrt(16000)
    assert abs(r.x.mean().item() - MU) < 5 * se + 0.01, r.x.mean()
    assert abs(r.x.std().item() / S - 1) < 0.03, r.x.std()
    assert r.nfe == 400 * (2 if method == "pc" else 1) + 1  # + 1 for the final denoising
    assert r.times[0] == 1.0 and r.times[-1] == pytest.approx(sde.t_eps)


def test_sub_vp_and_options():
    sde = SubVPSDE()
    r = sample(sde, gaussian_score(sde), (4000, 2), "pc", generator=g(11), n_steps=300, n_corrector=2, snr=0.1)
    assert abs(r.x.mean().item() - MU) < 0.03 and abs(r.x.std().item() / S - 1) < 0.04
    assert r.nfe == 300 * 3 + 1
    em = sample(sde, gaussian_score(sde), (16, 2), "pc", generator=g(12), n_steps=5, predictor="euler_maruyama")
    assert em.x.shape == (16, 2)


def test_same_generator_same_samples_callback_and_images():
    sde = VPSDE()
    seen = []
    a = sample(
        sde,
        gaussian_score(sde),
        (8, 1, 3, 3),
        "euler_maruyama",
        generator=g(13),
        n_steps=20,
        callback=lambda i, t, x: seen.append((i, t)),
    )
    b = sample(sde, gaussian_score(sde), (8, 1, 3, 3), "euler_maruyama", generator=g(13), n_steps=20)
    assert torch.equal(a.x, b.x) and a.x.shape == (8, 1, 3, 3)
    assert [i for i, _ in seen] == list(range(20)) and seen[-1][1] == pytest.approx(1e-3)
    c = sample(sde, gaussian_score(sde), (8, 1, 3, 3), "euler_maruyama", generator=g(13), n_steps=20, denoise=False)
    torch.testing.assert_close(tweedie(sde, lambda x, t: gaussian_score(sde)(x, torch.full((8,), t)), c.x, 1e-3), a.x)
    start = torch.zeros(8, 2)
    d = sample(sde, gaussian_score(sde), None, "ancestral", x_init=start, generator=g(14), n_steps=10)
    assert d.x.shape == (8, 2)


def test_tweedie_recovers_the_clean_mean_for_gaussian_data():
    # for N(MU, S^2) data, E[x0 | x_t] = MU + S^2 m / (m^2 S^2 + std^2) (x_t - m MU)
    sde = VPSDE()
    x = torch.randn(5, 2, generator=g(15), dtype=torch.float64)
    t = 0.3
    m, sd = (v.item() for v in sde.mean_std(torch.tensor([t], dtype=torch.float64)))
    expected = MU + S**2 * m / (m**2 * S**2 + sd**2) * (x - m * MU)
    got = tweedie(sde, lambda x, tt: gaussian_score(sde)(x, torch.full((5,), tt, dtype=torch.float64)), x, t)
    torch.testing.assert_close(got, expected)


def test_sampler_bad_inputs():
    sde = VPSDE()
    score = gaussian_score(sde)
    with pytest.raises(ValueError, match=r"unknown method='heun'; expected one of \['ancestral', 'euler_maruyama'"):
        sample(sde, score, (4, 2), "heun")
    with pytest.raises(ValueError, match=r"method 'euler_maruyama' takes options \['n_steps'\], not \['snr'\]"):
        sample(sde, score, (4, 2), "euler_maruyama", snr=0.1)
    with pytest.raises(ValueError, match="n_steps must be a positive integer, got 0"):
        sample(sde, score, (4, 2), "pc", n_steps=0)
    with pytest.raises(ValueError, match="snr must be a finite number > 0"):
        sample(sde, score, (4, 2), "pc", snr=-1.0)
    with pytest.raises(ValueError, match="ancestral sampling is defined for VESDE and VPSDE, not SubVPSDE"):
        sample(SubVPSDE(), score, (4, 2), "ancestral")
    with pytest.raises(ValueError, match=r"score_fn\(x, t\) must return a tensor of x's shape \(4, 2\)"):
        sample(sde, lambda x, t: x[:, :1], (4, 2), "euler_maruyama", n_steps=2)
    with pytest.raises(TypeError, match="sde must be a VESDE, VPSDE or SubVPSDE"):
        sample("vp", score, (4, 2), "euler_maruyama")


# ---------------------------------------------------------------------- probability-flow ODE
from gentoolkit.sde import log_likelihood  # noqa: E402


def centred_gaussian_score(sde, s=0.5):
    def f(x, t):
        m, sd = sde.mean_std(t)
        return -x / (m[:, None] ** 2 * s**2 + sd[:, None] ** 2)

    return f


@pytest.mark.parametrize("sde", [VESDE(0.01, 50.0), VPSDE(0.1, 20.0)], ids=["VE", "VP"])
def test_ode_sampling_and_exact_log_likelihood(sde):
    r = sample(sde, gaussian_score(sde), (4000, 2), "ode", generator=g(20), rtol=1e-5, atol=1e-5)
    # the ODE maps the prior deterministically, so the prior's mismatch with p_T (mean 0 vs
    # m(T) MU) survives as an offset of about MU * S / prior_std (0.015 for VE, 0.005 for VP)
    assert abs(r.x.mean().item() - MU) < 0.03 and abs(r.x.std().item() / S - 1) < 0.03
    assert 20 < r.nfe < 2000
    # centred data: the prior is p_T up to a 1e-3 relative variance, so the likelihood is exact
    x = 0.5 * torch.randn(100, 2, generator=g(21), dtype=torch.float64)
    ll, nfe = log_likelihood(sde, centred_gaussian_score(sde), x, rtol=1e-6, atol=1e-6)
    m, sd = (v.item() for v in sde.mean_std(torch.tensor([sde.t_eps], dtype=torch.float64)))
    var = m**2 * 0.25 + sd**2
    exact = -(x**2).sum(1) / (2 * var) - math.log(2 * math.pi * var)
    assert (ll - exact).abs().max() < 5e-3, (ll - exact).abs().max()
    # Hutchinson's estimate is unbiased: its mean error is within 5 standard errors
    lh, _ = log_likelihood(sde, centred_gaussian_score(sde), x, exact_divergence=False, n_probes=2, generator=g(22))
    err = lh - exact
    assert abs(err.mean().item()) < 5 * err.std().item() / 10 + 5e-3


def test_ode_bad_options():
    sde = VPSDE()
    with pytest.raises(ValueError, match="rtol must be a finite number > 0, got 0.0"):
        sample(sde, gaussian_score(sde), (4, 2), "ode", rtol=0.0)
    with pytest.raises(ValueError, match=r"method 'ode' takes options \['atol', 'rtol'\], not \['n_steps'\]"):
        sample(sde, gaussian_score(sde), (4, 2), "ode", n_steps=10)


# ---------------------------------------------------------------------- Gotta Go Fast
from gentoolkit.sde.ggf import _BrownianPath  # noqa: E402


def test_brownian_path_bridges_and_moves_on_exactly():
    n = 200_000
    path = _BrownianPath(n, 1, torch.float64, torch.device("cpu"), g(30))
    s0 = torch.zeros(n, dtype=torch.float64)

    def at(v):
        return torch.full((n,), v, dtype=torch.float64)

    def read(s_new):  # W(s_new) - W(current point); proposals are rejected (stored) unless moved
        w, w0, k, s_new = path.propose(s_new)
        return w, w0, k, s_new

    w1, w0, k, s1 = read(at(1.0))  # fresh: N(0, 1)
    path.update(s0, s1, w1, w0, k, torch.zeros(n, dtype=torch.bool))
    w03, w0, k, s03 = read(at(0.3))  # bridged inside [0, 1]
    path.update(s0, s03, w03, w0, k, torch.zeros(n, dtype=torch.bool))
    again, *_ = read(at(1.0))  # stored: the same value
    torch.testing.assert_close(again, w1, rtol=0, atol=1e-12)
    se = 5 / math.sqrt(n)
    assert abs(w1.var().item() - 1.0) < 5 * math.sqrt(2 / n)
    assert abs(w03.var().item() - 0.3) < 5 * 0.3 * math.sqrt(2 / n)
    assert abs((w03 * w1).mean().item() - 0.3) < se  # Cov(W(0.3), W(1)) = 0.3
    assert path.max_top == 2  # two stored points beyond the current one
    # accept a step to 0.3: the stored W(1) is still there, 0.7 further on
    w, w0, k, s_new = read(at(0.3))
    torch.testing.assert_close(w, w03, rtol=0, atol=1e-12)
    path.update(s0, s_new, w, w0, k, torch.ones(n, dtype=torch.bool))
    w, w0, k, _ = read(at(1.0))
    torch.testing.assert_close(w - w0, w1 - w03, rtol=0, atol=1e-12)
    # passing a stored point: 0.5 of fresh path after W(1), independent of the past
    beyond, w0, *_ = read(at(1.5))
    assert abs((beyond - w1).var().item() - 0.5) < 5 * 0.5 * math.sqrt(2 / n)
    assert abs(((beyond - w1) * (w1 - w03)).mean().item()) < se * 0.7
    # inserting between two stored points keeps them sorted: W(0.6) bridges W(0.3)..W(1)
    w06, w0, k, s06 = read(at(0.6))
    path.update(at(0.3), s06, w06, w0, k, torch.zeros(n, dtype=torch.bool))
    w08, w0, k, s08 = read(at(0.8))
    d = w08 - w06  # bridge on [0.6, 1]: mean (W(1) - W(0.6)) / 2, variance 0.2 * 0.2 / 0.4
    assert abs((d - (w1 - w06) / 2).var().item() - 0.1) < 5 * 0.1 * math.sqrt(2 / n)
    # rejected beyond a stored point: W(0.8) goes between W(0.6) and W(1), which move up
    path.update(at(0.3), s08, w08, w0, k, torch.zeros(n, dtype=torch.bool))
    assert path.max_top == 4
    for v, stored in ((0.6, w06), (0.8, w08), (1.0, w1)):
        torch.testing.assert_close(read(at(v))[0], stored, rtol=0, atol=1e-12)
    for v, left, right in ((0.7, w06, w08), (0.9, w08, w1)):  # bridges of length 0.2: variance 0.05
        mid = read(at(v))[0] - (left + right) / 2
        assert abs(mid.mean().item()) < 5 * math.sqrt(0.05 / n)
        assert abs(mid.var().item() - 0.05) < 5 * 0.05 * math.sqrt(2 / n)


@pytest.mark.slow
@pytest.mark.parametrize("sde", [VESDE(0.01, 20.0), VPSDE(0.1, 20.0)], ids=["VE", "VP"])
def test_ggf_with_memory_is_unbiased_and_naive_is_not(sde):
    # exact score of N(1.5, 0.5^2 I), d = 2, n = 20,000, eps_rel = 0.01 (the setting)
    kw = dict(eps_rel=0.01, eps_abs=0.0078)
    r = sample(sde, gaussian_score(sde), (20_000, 2), "ggf", generator=g(31), **kw)
    assert abs(r.x.mean().item() - MU) < 0.01 and abs(r.x.std().item() / S - 1) < 0.015
    assert r.stats.accepted > 0 and r.stats.rejected > 0 and r.stats.max_memory >= 2
    assert r.nfe == 2 * (r.stats.nfe // 2) + 1 and r.stats.nfe_per_sample > 100
    naive = sample(sde, gaussian_score(sde), (20_000, 2), "ggf", generator=g(31), memory=False, **kw)
    bias = naive.x.std().item() / S - 1
    # measured here: +57% (VE) and +15% (VP); with memory -0.7% (VE) and -0.4% (VP)
    assert bias > (0.3 if isinstance(sde, VESDE) else 0.08), bias
    assert naive.stats.max_memory == 0


def test_ggf_options_and_errors():
    sde = VPSDE()
    r = sample(sde, gaussian_score(sde), (64, 3), "ggf", generator=g(32), eps_rel=0.1, norm="linf")
    assert r.x.shape == (64, 3) and len(r.stats.steps_h) == r.stats.accepted
    with pytest.raises(ValueError, match="norm must be 'l2'"):
        sample(sde, gaussian_score(sde), (4, 2), "ggf", norm="l1")
    with pytest.raises(ValueError, match="eps_rel must be a finite number > 0, got -0.1"):
        sample(sde, gaussian_score(sde), (4, 2), "ggf", eps_rel=-0.1)


# ---------------------------------------------------------------------- training on 2D
import functools  # noqa: E402

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
    t = sde.t_eps + (1 - sde.t_eps) * torch.rand(64, generator=gen, dtype=torch.float64)
    z = torch.randn(64, 2, generator=gen, dtype=torch.float64)
    mean, std = sde.marginal_prob(x, t)
    ref = 0.5 * ((std * exact(mean + std * z, t) + z) ** 2).sum(1).mean()
    torch.testing.assert_close(value, ref)
    # the exact score beats a shifted one by E std^2 |c|^2 / 2 (the DSM excess, per time)
    many = mix.sample(100_000, g(42)).double()
    l0 = sde_dsm_loss(exact, many, g(43), sde=sde)
    l1 = sde_dsm_loss(lambda xx, tt: exact(xx, tt) + 0.2, many, g(43), sde=sde)
    tt = sde.t_eps + (1 - sde.t_eps) * torch.rand(100_000, generator=g(44), dtype=torch.float64)
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
    tt = torch.full((4000,), 0.3, dtype=torch.float64)
    mean, std = sde.marginal_prob(mix.sample(4000, g(45)).double(), tt)
    xt = mean + std * torch.randn(4000, 2, generator=g(46), dtype=torch.float64)
    with torch.no_grad():
        est = net(xt.float(), tt.float()).double()
    err = ((est - exact(xt, tt)).pow(2).sum() / exact(xt, tt).pow(2).sum()).sqrt().item()
    assert err < 0.1, err
    out = sample(sde, net, (4000, 2), "euler_maruyama", n_steps=300, generator=g(47))
    st = mode_stats(out.x, mix)
    assert st["covered"] == 8 and st["high_quality"] > 0.9, st
    with pytest.raises(ValueError, match="sigmas must be None when loss is a callable"):
        train_score(net, mix, [0.1], loss=functools.partial(sde_dsm_loss, sde=sde), n_steps=1)


def _pooled_error(x: torch.Tensor) -> float:
    x = x.double()
    return ((x.mean() - MU) ** 2 + (x.std() - S) ** 2).sqrt().item()


def test_exact_em_moments_match_simulation():
    from gentoolkit.sde import em_gaussian_moments
    from gentoolkit.sde import gaussian_score as gscore

    for sde in (VPSDE(), VESDE(0.01, 20.0)):
        m, sd = em_gaussian_moments(sde, MU, S, 50)
        r = sample(sde, gscore(sde, MU, S), (20_000, 2), "euler_maruyama", n_steps=50, generator=g(50))
        assert abs(r.x.mean().item() - m) < 5 * S / math.sqrt(40_000)
        assert abs(r.x.std().item() / sd - 1) < 5 / math.sqrt(80_000)


@pytest.mark.slow
def test_ggf_beats_em_1000_on_vp_d64_and_improves_with_eps_rel():
    from gentoolkit.sde import em_gaussian_moments
    from gentoolkit.sde import gaussian_score as gscore

    sde = VPSDE()
    m, sd = em_gaussian_moments(sde, MU, S, 1000)  # exact: no sampling noise
    em_error = math.hypot(m - MU, sd - S)
    n = 20_000
    mc_sd = math.sqrt(S**2 / (64 * n) + S**2 / (2 * 64 * n))  # of the pooled mean and std
    errs, nfes = {}, {}
    for eps_rel in (0.1, 0.01, 0.005):
        r = sample(sde, gscore(sde, MU, S), (n, 64), "ggf", eps_rel=eps_rel, generator=g(51))
        errs[eps_rel], nfes[eps_rel] = _pooled_error(r.x), r.stats.nfe_per_sample
    # measured here: errors 0.0063, 0.0008, 0.0010 at 75, 315, 361 NFE per sample (Monte-Carlo sd 0.0005);
    # EM-1000: 0.0009
    assert errs[0.01] < em_error + 2 * mc_sd and nfes[0.01] < 600, (errs, nfes, em_error)
    assert errs[0.005] < errs[0.1] / 3 and errs[0.01] < errs[0.1] / 3, errs


def test_review_fixes_x_init_untouched_and_ancestral_predictor_on_sub_vp():
    from gentoolkit.sde import gaussian_score as gscore

    sde = VPSDE()
    x0 = torch.randn(8, 2, generator=g(60))
    keep = x0.clone()
    for method in ("ggf", "euler_maruyama", "ode"):
        sample(sde, gscore(sde, MU, S), None, method, x_init=x0, generator=g(61), denoise=False)
        assert torch.equal(x0, keep), method
    with pytest.raises(ValueError, match="ancestral sampling is defined for VESDE and VPSDE, not SubVPSDE"):
        sample(SubVPSDE(), gscore(SubVPSDE(), MU, S), (4, 2), "pc", predictor="ancestral")
