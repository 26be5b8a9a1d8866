"""Tests of gentoolkit.sde.log_likelihood and of the probability-flow ODE solver against closed
forms. For centred Gaussian data N(0, s^2 I) and its exact score (gaussian_score) the
probability-flow drift is linear, v = c(t) x, so the flow is x(T) = x sqrt(v(T) / v(t_eps))
with v(t) = m(t)^2 s^2 + std(t)^2, int c dt = L / 2 with L = log(v(T) / v(t_eps)), and the
instantaneous change of variables gives

    log_likelihood(x) = prior_logp(x e^(L/2)) + (d / 2) L                  (exact divergence)
                      = prior_logp(x e^(L/2)) + mean_k |eps_k|^2 L / 2     (Hutchinson)

exactly, the second because eps^T (dv/dx) eps = c(t) |eps|^2 with the probes eps_k held fixed
along the trajectory (replayed here from the same seeded generator). Only RK45's error is left:
at rtol = atol = 1e-5 it is below 6e-4 in these tests (measured), and every tolerance is 2e-3.
The ODE solver itself maps x(T) to x(t_eps) = x(T) e^(-L/2) (its error there: below 3e-5)."""

import math

import pytest
import torch

import gentoolkit.sde.probability_flow as pf
from gentoolkit.sde import VESDE, VPSDE, gaussian_score, log_likelihood
from gentoolkit.sde.probability_flow import ode
from tests.conftest import DEVICES

F64 = torch.float64
S = 0.5  # data N(0, S^2 I)
TOL = 2e-3  # 3x RK45's largest error at the default tolerances here (see the module docstring)


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def log_ratio(sde, t_eps):
    """L = log(v(T) / v(t_eps)), v(t) = m(t)^2 S^2 + std(t)^2 the variance of p_t."""

    def var(t):
        m, sd = sde.mean_std(torch.tensor([t], dtype=F64))
        return (m**2 * S**2 + sd**2).item()

    return math.log(var(sde.T) / var(t_eps))


def exact_ll(sde, x, t_eps=None, probes=None):
    """The closed form above; with ``probes`` (k, n, ...), Hutchinson's estimate with them."""
    L = log_ratio(sde, sde.t_eps if t_eps is None else t_eps)
    d = x[0].numel()
    div = d if probes is None else probes.flatten(2).pow(2).sum(2).mean(0)
    return sde.prior_logp(x * math.exp(L / 2)) + div * L / 2


class Counting:
    """The exact score of N(0, S^2 I), counting its calls and recording what it is given."""

    def __init__(self, sde, device=None):
        self.fn, self.calls, self.seen, self.device = gaussian_score(sde, 0.0, S), 0, set(), device

    def __call__(self, x, t):
        self.calls += 1
        self.seen.add((x.dtype, x.device.type, t.dtype, t.device.type))
        return self.fn(x, t)


SDES = [VESDE(0.01, 50.0), VPSDE(0.1, 20.0)]


@pytest.mark.parametrize("sde", SDES, ids=["VE", "VP"])
def test_exact_divergence_is_the_change_of_variables_at_default_tolerances(sde):
    # d = 2: the exact divergence by default; nfe counts the drift evaluations, one score call
    # each; t_eps is the lower end of the flow when given
    x = S * torch.randn(50, 2, generator=g(1), dtype=F64)
    score = Counting(sde)
    ll, nfe = log_likelihood(sde, score, x)
    assert (ll - exact_ll(sde, x)).abs().max() < TOL
    assert nfe == score.calls and nfe > 10
    ll, _ = log_likelihood(sde, score, x, t_eps=0.3)
    assert (ll - exact_ll(sde, x, t_eps=0.3)).abs().max() < TOL
    assert (ll - exact_ll(sde, x)).abs().max() > 10 * TOL  # t_eps matters here


@pytest.mark.parametrize("n_probes", [1, 2])
def test_hutchinson_estimate_replays_its_probes(n_probes):
    # the probes are n_probes standard normal draws of x's shape from `generator`; each drift
    # evaluation makes one score call per probe; n_probes = 1 by default
    sde = VPSDE(0.1, 20.0)
    x = S * torch.randn(40, 2, generator=g(2), dtype=F64)
    score = Counting(sde)
    kw = {} if n_probes == 1 else {"n_probes": n_probes}
    ll, nfe = log_likelihood(sde, score, x, exact_divergence=False, generator=g(3), **kw)
    probes = torch.randn((n_probes, *x.shape), generator=g(3), dtype=F64)
    assert (ll - exact_ll(sde, x, probes=probes)).abs().max() < TOL
    assert (ll - exact_ll(sde, x)).abs().max() > 100 * TOL  # not the exact divergence
    assert score.calls == n_probes * nfe


def test_divergence_defaults_to_exact_up_to_16_dimensions():
    # one sample, so that only x[0] exists; the exact path draws no probes (the generator is
    # left as it was); exact_divergence overrides the default either way
    sde = VPSDE(0.1, 20.0)
    x16, x17 = (S * torch.randn(1, d, generator=g(4), dtype=F64) for d in (16, 17))
    gen = g(5)
    ll, _ = log_likelihood(sde, gaussian_score(sde, 0.0, S), x16, generator=gen)
    assert (ll - exact_ll(sde, x16)).abs().max() < TOL
    assert torch.equal(gen.get_state(), g(5).get_state())
    ll, _ = log_likelihood(sde, gaussian_score(sde, 0.0, S), x17, generator=g(6))
    probes = torch.randn((1, 1, 17), generator=g(6), dtype=F64)
    assert (ll - exact_ll(sde, x17, probes=probes)).abs().max() < TOL
    assert (ll - exact_ll(sde, x17)).abs().max() > 100 * TOL
    ll, _ = log_likelihood(sde, gaussian_score(sde, 0.0, S), x17, exact_divergence=True)
    assert (ll - exact_ll(sde, x17)).abs().max() < TOL


@pytest.mark.parametrize("device", DEVICES)
def test_log_likelihood_keeps_x_dtype_and_device(device):
    # float32 x: the score sees float32 on x's device at every call, and the result is float32
    # on x's device (the ODE itself runs in float64 on the CPU, as SciPy's RK45 does)
    sde = VPSDE(0.1, 20.0)
    x = (S * torch.randn(20, 2, generator=g(7))).to(device)
    score = Counting(sde)
    for exact in (True, False):
        ll, _ = log_likelihood(sde, score, x, exact_divergence=exact, generator=g(8))
        assert ll.dtype == torch.float32 and ll.device == x.device
        assert score.seen == {(torch.float32, x.device.type, torch.float32, x.device.type)}
        want = exact_ll(sde, x.cpu().double(), probes=None if exact else torch.randn((1, 20, 2), generator=g(8)))
        assert (ll.cpu().double() - want).abs().max() < TOL


def test_log_likelihood_ignores_the_default_device():
    # torch.set_default_device (here "meta", which has no data) must not move any working
    # tensor off x's device: the same numbers as without it
    sde = VPSDE(0.1, 20.0)
    x = S * torch.randn(8, 2, generator=g(9), dtype=F64)
    want = [log_likelihood(sde, gaussian_score(sde, 0.0, S), x, exact_divergence=e, generator=g(10)) for e in (1, 0)]
    with torch.device("meta"):
        got = [log_likelihood(sde, gaussian_score(sde, 0.0, S), x, exact_divergence=e, generator=g(10)) for e in (1, 0)]
    for (ll, nfe), (ll_meta, nfe_meta) in zip(want, got):
        assert ll_meta.device.type == "cpu" and torch.equal(ll, ll_meta) and nfe == nfe_meta


def recording_bars(monkeypatch):
    """Replace the module's TimeBar by one that records its arguments and every update."""
    made = []

    class Recording(pf.TimeBar):
        def __init__(self, *args):
            super().__init__(*args)
            self.args, self.times, self.calls = args, [], []
            made.append(self)

        def update(self, t, calls):
            self.times.append(t)
            self.calls.append(calls)
            super().update(t, calls)

    monkeypatch.setattr(pf, "TimeBar", Recording)
    return made


def test_log_likelihood_bar_runs_over_its_time_span(monkeypatch):
    # the progress bar is named "log-likelihood" and told times from t_eps up to T
    made = recording_bars(monkeypatch)
    sde = VPSDE(0.1, 20.0)
    _, nfe = log_likelihood(sde, gaussian_score(sde, 0.0, S), torch.zeros(4, 2), t_eps=0.01, progress=False)
    (bar,) = made
    assert bar.args == (0.01, 1.0, False, "log-likelihood")
    assert len(bar.times) == nfe and min(bar.times) == 0.01 and max(bar.times) == 1.0


def test_log_likelihood_bad_arguments():
    sde = VPSDE()
    score = gaussian_score(sde, 0.0, S)
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match=r"^x must be a floating-point tensor of shape \(n, \.\.\.\)"):
        log_likelihood(sde, score, [[0.0, 0.0]])
    with pytest.raises(ValueError, match="^t_eps must be a finite number > 0, got 0.0"):
        log_likelihood(sde, score, x, t_eps=0.0)
    with pytest.raises(ValueError, match="^n_probes must be a positive integer, got 0"):
        log_likelihood(sde, score, x, n_probes=0)
    with pytest.raises(TypeError, match="^sde must be a VESDE"):
        log_likelihood("VP", score, x)


@pytest.mark.parametrize("sde", SDES, ids=["VE", "VP"])
def test_ode_at_default_tolerances_follows_the_exact_flow(sde, monkeypatch):
    # x(t_eps) = x(T) e^(-L/2) per sample, within 10x RK45's error at rtol = atol = 1e-5
    # (measured: below 3e-5); its bar, named "probability-flow ODE", runs over time from T down
    # to t_eps and is told the count of drift evaluations so far (one score call each)
    made = recording_bars(monkeypatch)
    xT = sde.prior_sampling((50, 2), g(11), dtype=F64, device="cpu")
    score = Counting(sde)
    out = ode(sde, score, xT, torch.tensor([1.0, sde.t_eps], dtype=F64))
    assert (out - xT * math.exp(-log_ratio(sde, sde.t_eps) / 2)).abs().max() < 2e-4
    (bar,) = made
    assert bar.args == (1.0, sde.t_eps, None, "probability-flow ODE")
    assert bar.calls == list(range(1, score.calls + 1))
    assert max(bar.times) == 1.0 and min(bar.times) == pytest.approx(sde.t_eps, abs=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_ode_keeps_x_dtype_and_device(device):
    # the score sees x's dtype and device at every call, and the result has them too
    sde = VPSDE(0.1, 20.0)
    xT = sde.prior_sampling((20, 2), g(12), device=device)
    score = Counting(sde)
    out = ode(sde, score, xT, torch.tensor([1.0, sde.t_eps]))
    assert out.dtype == torch.float32 and out.device == xT.device
    assert score.seen == {(torch.float32, xT.device.type, torch.float32, xT.device.type)}
    want = xT.cpu().double() * math.exp(-log_ratio(sde, sde.t_eps) / 2)
    assert (out.cpu().double() - want).abs().max() < 1e-3  # float32 drift: ~1e-4 here


def test_ode_bad_arguments():
    sde = VPSDE()
    score, times = gaussian_score(sde, 0.0, S), torch.tensor([1.0, 1e-3])
    with pytest.raises(ValueError, match=r"^x must be a floating-point tensor of shape \(n, \.\.\.\)"):
        ode(sde, score, [[0.0, 0.0]], times)
    for name in ("rtol", "atol"):
        with pytest.raises(ValueError, match=f"^{name} must be a finite number > 0, got 0.0"):
            ode(sde, score, torch.zeros(4, 2), times, **{name: 0.0})


def test_score_and_solver_failures_are_named():
    # a score of the wrong shape is named with its arguments (x, t); a NaN score makes RK45 fail
    sde = VPSDE()
    x, times = torch.zeros(4, 2), torch.tensor([1.0, 1e-3])
    bad = lambda x, t: x[:, :1]  # noqa: E731
    nan = lambda x, t: torch.full_like(x, math.nan)  # noqa: E731
    shape = r"^score_fn\(x, t\) must return a tensor of x's shape \(4, 2\), got \(4, 1\)"
    with pytest.raises(ValueError, match=shape):
        ode(sde, bad, x, times)
    with pytest.raises(ValueError, match=shape):
        log_likelihood(sde, bad, x)
    with pytest.raises(RuntimeError, match="^the ODE solver failed: "):
        ode(sde, nan, x, times)
    with pytest.raises(RuntimeError, match="^the ODE solver failed: "):
        log_likelihood(sde, nan, x)
