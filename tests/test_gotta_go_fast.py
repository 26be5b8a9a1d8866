"""Tests of Gotta Go Fast (gentoolkit.sde.gotta_go_fast; thesis 001, Ch. 10, Alg. 6): the
step-size rule h <- min(t - t_eps, theta h E^(-r)) (Eq. 10.6), the counts in GGFStats, where
the run ends, where its tensors live, and its argument checks. Its samples' law is tested in
tests/test_sde.py."""

import math

import pytest
import torch

import gentoolkit.sde.gotta_go_fast as ggf_module
from gentoolkit.sde import VESDE, VPSDE, gaussian_score
from gentoolkit.sde.gotta_go_fast import _BrownianPath, _Control, ggf, ggf_attempt
from tests.conftest import DEVICES

F64 = torch.float64
MU, S = 1.5, 0.5  # data N(MU, S^2 I)


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def grid(t_end, t_start=1.0):
    return torch.tensor([t_start, t_end], dtype=F64)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_step_size_rule_is_eq_10_6(norm):
    # next_h(h, err, remaining, live) = min(remaining, theta h E^(-r)), floored at 1e-12, and 0
    # for finished samples; err is E for "linf" and E^2 for "l2" (compared without a square
    # root). theta != r != 0.9 (the defaults), so that each is seen to be used
    control = _Control.checked(0.05, 0.01, norm, theta=0.8, r=0.5)
    E = torch.tensor([0.25, 0.5, 1.0, 2.0, 4.0, 0.5, 0.5, 1e-30], dtype=F64)
    h = torch.tensor([0.01, 0.02, 0.03, 0.04, 0.05, 0.3, 1e-12, 0.01], dtype=F64)
    remaining = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 1.0, 0.5], dtype=F64)
    live = torch.tensor([True] * 7 + [False])
    err = E if norm == "linf" else E**2
    want = torch.minimum(0.8 * h * E**-0.5, remaining).clamp_min(1e-12)
    want[~live] = 0.0
    torch.testing.assert_close(control.next_h(h, err, remaining, live), want, rtol=1e-14, atol=0)
    # a zero error grows h to the remaining time (E is floored, not divided by)
    assert control.next_h(h[:1], torch.zeros(1, dtype=F64), remaining[:1], live[:1]).item() == 1.0


def test_brownian_path_snaps_a_proposal_onto_a_stored_point_within_tol():
    # a proposal less than tol = 1e-12 before a stored point is that point, its s and W
    # exactly (the clamped last step, tried again, lands there up to rounding); 1e-9 before
    # it is a new point, bridged from W(0) = 0 to W(0.7) (conditional std ~3e-5)
    n, at = 1000, lambda s: torch.full((1000,), s, dtype=F64)  # noqa: E731
    path = _BrownianPath(n, 1, F64, torch.device("cpu"), g(60))
    w07, w0, k, s07 = path.propose(at(0.7))
    path.update(at(0.0), s07, w07, w0, k, torch.zeros(n, dtype=torch.bool))  # rejected: W(0.7) stored
    w, _, _, s = path.propose(at(0.7 - 1e-13))
    assert torch.equal(s, at(0.7)) and torch.equal(w, w07)
    w, _, _, s = path.propose(at(0.7 - 1e-9))
    assert torch.equal(s, at(0.7 - 1e-9)) and (w != w07).all() and (w - w07).abs().max() < 1e-3


def test_ggf_stats_count_every_attempt_and_the_bar_follows_time(monkeypatch):
    # each attempt of a live sample makes two score evaluations of it (001, Alg. 6):
    # nfe_per_sample = 2 (accepted + rejected) / n; for one sample it is nfe, the batched calls.
    # The progress bar is named "GGF" and told times from T down to t_eps.
    made = []

    class Recording(ggf_module.TimeBar):
        def __init__(self, *args):
            super().__init__(*args)
            self.args, self.times = args, []
            made.append(self)

        def update(self, t, calls):
            self.times.append(t)
            super().update(t, calls)

    monkeypatch.setattr(ggf_module, "TimeBar", Recording)
    sde = VPSDE()
    score = gaussian_score(sde, MU, S)
    for n in (1, 32):
        x = sde.prior_sampling((n, 3), g(40), dtype=F64, device="cpu")
        _, st = ggf(sde, score, x, grid(0.01), generator=g(41), eps_rel=0.05, progress=True)
        assert st.rejected > 0 and st.accepted >= n
        assert st.nfe_per_sample == 2 * (st.accepted + st.rejected) / n
        if n == 1:
            assert st.nfe_per_sample == st.nfe
        bar = made.pop()
        assert bar.args == (1.0, 0.01, True, "GGF") and len(bar.times) == st.nfe // 2
        assert bar.times == sorted(bar.times, reverse=True) and bar.times[0] <= 1.0
        assert bar.times[-1] == pytest.approx(0.01, abs=1e-12)


@pytest.mark.parametrize("memory", [True, False])
def test_ggf_down_to_time_zero_stops_there(memory):
    # times may end at 0: every sample's accepted steps end exactly at t = 0 (none steps past
    # it, where the score is not defined) and sum to T
    sde = VESDE(0.01, 50.0)
    x = sde.prior_sampling((16, 2), g(42), dtype=F64, device="cpu")
    _, st = ggf(sde, gaussian_score(sde, MU, S), x, grid(0.0), generator=g(43), eps_rel=0.1, memory=memory)
    assert (st.steps_t - st.steps_h).min().item() == 0.0
    assert st.steps_h.sum().item() == pytest.approx(16.0, rel=1e-12)


def test_ggf_ignores_the_default_device():
    # torch.set_default_device (here "meta", which has no data) must not move any working
    # tensor off x's device: the same samples and counts as without it; 8 samples, so that the
    # batch is compacted on the way
    sde = VPSDE()
    score = gaussian_score(sde, MU, S)
    x = sde.prior_sampling((8, 2), g(44), dtype=F64, device="cpu")
    times = grid(1e-3)
    for memory in (True, False):
        want, st = ggf(sde, score, x, times, generator=g(45), eps_rel=0.1, memory=memory)
        with torch.device("meta"):
            got, st_meta = ggf(sde, score, x, times, generator=g(45), eps_rel=0.1, memory=memory)
        assert got.device.type == "cpu" and torch.equal(got, want)
        assert (st_meta.accepted, st_meta.rejected, st_meta.nfe) == (st.accepted, st.rejected, st.nfe)


@pytest.mark.parametrize("device", DEVICES)
def test_ggf_runs_on_x_device(device):
    # the score sees x's dtype and device at every call, and the samples stay there
    sde = VPSDE()
    exact, seen = gaussian_score(sde, MU, S), set()

    def score(x, t):
        seen.add((x.dtype, x.device.type, t.device.type))
        return exact(x, t)

    x = sde.prior_sampling((8, 2), g(46), device=device)
    out, st = ggf(sde, score, x, grid(1e-3), generator=g(47), eps_rel=0.1)
    assert out.device == x.device and out.dtype == torch.float32 and st.steps_h.device == x.device
    assert seen == {(torch.float32, x.device.type, x.device.type)}


def test_defaults_are_those_of_alg_6():
    # 001, Alg. 6 requires h_init = 0.01, r = theta = 0.9 and, for data in [y_min, y_max],
    # eps_abs = (y_max - y_min) / 256 (data_range = 2 for [-1, 1]); eps_rel = 0.02 is the
    # thesis's main setting (Sec. 10.5). The same seeded run with them spelt out is the same run.
    sde = VPSDE()
    score = gaussian_score(sde, MU, S)
    x = sde.prior_sampling((16, 2), g(48), dtype=F64, device="cpu")
    out, st = ggf(sde, score, x, grid(1e-3), generator=g(49))
    kw = dict(eps_rel=0.02, eps_abs=2 / 256, h_init=0.01, theta=0.9, r=0.9, norm="l2", memory=True)
    out2, st2 = ggf(sde, score, x, grid(1e-3), generator=g(49), **kw)
    assert torch.equal(out, out2) and (st.accepted, st.rejected) == (st2.accepted, st2.rejected)
    # ggf_attempt: the same tolerances by default
    t, h, dw = 0.5, 0.05, math.sqrt(0.05) * torch.randn(16, 2, generator=g(50), dtype=F64)
    err = ggf_attempt(sde, score, x, t, h, dw, x)[2]
    torch.testing.assert_close(err, ggf_attempt(sde, score, x, t, h, dw, x, eps_rel=0.02, eps_abs=2 / 256)[2])
    assert not torch.equal(err, ggf_attempt(sde, score, x, t, h, dw, x, eps_rel=0.03, eps_abs=2 / 256)[2])


def test_ggf_attempt_may_step_to_time_zero_and_checks_its_arguments():
    # h = t steps to exactly t = 0 (the last step of a run down to 0); h must be > 0 and <= t;
    # dw and x_prev must be tensors of x's shape, and the errors say what they got
    sde = VESDE(0.01, 50.0)
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731
    x, dw = torch.ones(4, 2, dtype=F64), torch.full((4, 2), 0.1, dtype=F64)
    x_em, x_imp, err = ggf_attempt(sde, zero, x, 0.3, 0.3, dw, x)
    g0, g1 = sde.sde(x, 0.3)[1], sde.sde(x, 0.0)[1]  # g(t) and g(t - h) = g(0)
    torch.testing.assert_close(x_em, x + g0 * dw)
    torch.testing.assert_close(x_imp, x + (g0 + g1) / 2 * dw)
    with pytest.raises(ValueError, match="^h must be finite and > 0, got 0.0"):
        ggf_attempt(sde, zero, x, 0.3, 0.0, dw, x)
    with pytest.raises(ValueError, match=r"^x must be a floating-point tensor of shape \(n, \.\.\.\)"):
        ggf_attempt(sde, zero, [[1.0, 1.0]], 0.3, 0.1, dw, x)
    with pytest.raises(ValueError, match=r"^dw must be a tensor of x's shape \(4, 2\), got \(4, 1\)$"):
        ggf_attempt(sde, zero, x, 0.3, 0.1, dw[:, :1], x)
    with pytest.raises(ValueError, match=r"^x_prev must be a tensor of x's shape \(4, 2\), got list$"):
        ggf_attempt(sde, zero, x, 0.3, 0.1, dw, x.tolist())


def test_ggf_bad_arguments():
    sde = VPSDE()
    score = gaussian_score(sde, MU, S)
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match=r"^x must be a floating-point tensor of shape \(n, \.\.\.\)"):
        ggf(sde, score, [[0.0, 0.0]], grid(0.01))
    for name in ("eps_abs", "theta", "r", "h_init"):
        with pytest.raises(ValueError, match=f"^{name} must be a finite number > 0, got 0.0"):
            ggf(sde, score, x, grid(0.01), **{name: 0.0})
    with pytest.raises(ValueError, match="^eps_abs must be a finite number > 0, got -0.0078125"):
        ggf(sde, score, x, grid(0.01), data_range=-2.0)  # eps_abs = data_range / 256
    with pytest.raises(TypeError, match="^max_iters must be an int"):
        ggf(sde, score, x, grid(0.01), max_iters=1.5)
    with pytest.raises(RuntimeError, match="^GGF did not reach t_eps in max_iters=3 attempts; raise eps_rel"):
        ggf(sde, score, x, grid(0.01), max_iters=3)
    bad = lambda x, t: x[:, :1]  # noqa: E731
    with pytest.raises(ValueError, match=r"^score_fn\(x, t\) must return a tensor of x's shape \(4, 2\), got \(4, 1\)"):
        ggf(sde, bad, x, grid(0.01))
