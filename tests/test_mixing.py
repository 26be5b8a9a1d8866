"""Mixing between modes: ``mode_hops`` on hand-made chains with a known number of hops, and
``within_mode_variance`` against closed forms; ``autocorrelation`` and ``mean_squared_jump`` on
hand-made chains (their statistical checks are in test_widgets.py)."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gentoolkit.data import toy2d
from gentoolkit.metrics import autocorrelation, mean_squared_jump, mode_hops, within_mode_variance
from gentoolkit.sampling import metropolis_hastings
from tests.conftest import DEVICES

MIX = toy2d.get("8gaussians")  # means 2 (cos k pi/4, sin k pi/4), std 0.25: "inside" is within 0.75


def _m(k: int, scale: float = 1.0) -> list[float]:
    return [2 * scale * math.cos(k * math.pi / 4), 2 * scale * math.sin(k * math.pi / 4)]


O = [0.0, 0.0]  # 2 from every mean: outside all modes (its nearest label is 0, a tie)
HALF3 = _m(3, 0.5)  # nearest mean is mode 3, at distance 1: outside at 3 stds, inside at 5
CHAINS = {  # one column per chain, T = 6 states each, and the hops a reader counts by hand
    "two hops: 0 -> 1 -> 0 through the empty centre": ([_m(0), _m(0), O, _m(1), _m(1), _m(0)], 2),
    "leave mode 0 and come back twice: no hop": ([_m(0), O, O, _m(0), O, _m(0)], 0),
    "start outside: the first mode entered is no hop": ([O, O, _m(3), _m(3), _m(4), _m(4)], 1),
    "near mode 3 but outside it: no hop": ([_m(2), HALF3, HALF3, _m(2), _m(2), _m(2)], 0),
    "never moves": ([_m(5)] * 6, 0),
    "alternates 6, 7, 6, ...: a hop every step": ([_m(6), _m(7)] * 3, 5),
}


def _chain() -> torch.Tensor:
    return torch.tensor([states for states, _ in CHAINS.values()]).transpose(0, 1)  # (T, n_chains, 2)


def test_mode_hops_counts_the_hand_made_chains():
    # catches counting exits or re-entries of the same mode, ignoring the "inside" test (the
    # HALF3 chain would hop 2 -> 3 -> 2), a fixed first label (the chain started outside would
    # count 0 -> 3 as a hop) and an off-by-one over time (the alternating chain)
    assert mode_hops(_chain(), MIX).tolist() == [hops for _, hops in CHAINS.values()]


def test_mode_hops_uses_n_std():
    # at 5 stds (1.25) HALF3 (distance 1) is inside mode 3, so that chain hops 2 -> 3 -> 2; the
    # centre (distance 2) is still outside every mode
    expected = [hops for _, hops in CHAINS.values()]
    expected[3] = 2
    assert mode_hops(_chain(), MIX, n_std=5.0).tolist() == expected


def test_mode_hops_default_is_three_stds():
    """A state 3.5 stds (0.875) from mode 3 is outside it by default (n_std = 3) and inside at
    n_std = 4, where the chain 2 -> there -> 2 hops twice."""
    chain = torch.tensor([[_m(2)], [_m(3, 1 - 0.875 / 2)], [_m(2)]])
    assert mode_hops(chain, MIX).tolist() == [0]
    assert mode_hops(chain, MIX, n_std=4.0).tolist() == [2]


@pytest.mark.parametrize("device", DEVICES)
def test_mode_hops_takes_any_mixture_dtype_and_the_chain_device(device):
    """``mixture`` is any object with means (K, d) and stds (K,), here in float32 (Mixture2D's
    are float64), and a chain on the GPU is counted there: the hand-made chains keep their counts."""
    mix32 = SimpleNamespace(means=MIX.means.float(), stds=MIX.stds.float())
    hops = mode_hops(_chain().to(device), mix32)
    assert hops.device.type == device and hops.tolist() == [n for _, n in CHAINS.values()]


def test_mode_hops_is_symmetric_in_time():
    # a hop is a change in the sequence of modes visited, so running the chain backwards gives
    # the same count; an implementation that starts from the nearest mode of the first state,
    # inside or not, breaks this on chains that start or end between modes
    x0 = torch.zeros(300, 2)  # all chains start at the centre, outside every mode
    r = metropolis_hastings(MIX.log_prob, x0, 0.9, 400, generator=torch.Generator().manual_seed(0), keep_chain=True)
    hops = mode_hops(r.chain, MIX)
    assert hops.sum() > 100  # the test needs chains that do hop
    assert torch.equal(hops, mode_hops(r.chain.flip(0), MIX))
    assert torch.equal(hops[:50], mode_hops(r.chain[:, :50], MIX))  # one count per chain


def test_mode_hops_rejects_bad_input():
    with pytest.raises(ValueError, match="chain"):
        mode_hops(torch.zeros(5, 3, 3), MIX)
    with pytest.raises(ValueError, match="chain"):
        mode_hops(torch.zeros(1, 3, 2), MIX)
    with pytest.raises(ValueError, match="^n_std must be a finite number > 0, got 0.0"):
        mode_hops(_chain(), MIX, n_std=0.0)


def test_within_mode_variance_closed_form():
    # points at mean + (a, 0) and mean + (0, -a) of every mode: each has squared offset a^2 over
    # 2 coordinates, so the per-coordinate mean is a^2 / 2; summing over coordinates gives a^2,
    # measuring from the mixture's mean (0) gives about 4
    a = 0.3
    means = MIX.means.float()
    x = torch.cat([means + torch.tensor([a, 0.0]), means + torch.tensor([0.0, -a])])
    assert within_mode_variance(x, MIX) == pytest.approx(a**2 / 2, rel=1e-6)


def test_within_mode_variance_of_exact_samples_is_the_component_variance():
    # well separated modes (std 0.1, neighbours 15 stds apart) so no sample is assigned to the
    # wrong mean; the 2n squared coordinates are s^2 chi^2_1 draws, so the estimate has standard
    # error s^2 sqrt(2 / (2 n)) = s^2 / sqrt(n); 4 standard errors of tolerance
    s, n = 0.1, 20000
    mix = toy2d.get("8gaussians", std=s)
    x = mix.sample(n, torch.Generator().manual_seed(1))
    assert abs(within_mode_variance(x, mix) - s**2) < 4 * s**2 / math.sqrt(n)


def test_within_mode_variance_rejects_bad_input():
    with pytest.raises(ValueError, match="^samples must"):
        within_mode_variance(torch.zeros(4, 3), MIX)
    with pytest.raises(TypeError, match="^samples must"):
        within_mode_variance([[0.0, 0.0]], MIX)


def test_autocorrelation_of_an_alternating_chain():
    """First coordinate alternating 5 +- 1 in two chains in antiphase: pooled mean 5 and variance
    1, so acf(k) = (-1)^k exactly; max_lag 10 is clipped to T - 1 = 3; the second coordinate (a
    ramp) is not looked at."""
    s = torch.tensor([1.0, -1.0, 1.0, -1.0])
    first = torch.stack([5 + s, 5 - s], 1)  # (T, n_chains)
    ramp = torch.arange(8.0).view(4, 2)
    acf = autocorrelation(torch.stack([first, ramp], -1), 10)
    np.testing.assert_allclose(acf, [1.0, -1.0, 1.0, -1.0], rtol=0, atol=1e-12)


def test_chain_checks_accept_two_states_and_name_the_shape_or_type():
    """T = 2 states suffice (one 3-4-5 jump: mean squared jump 25); fewer axes, one state or a
    non-tensor fail with the shape or the type named; max_lag is named."""
    two = torch.tensor([[[0.0, 0.0]], [[3.0, 4.0]]])
    assert mean_squared_jump(two) == 25.0
    msg = r"^chain must be a tensor of shape \(T >= 2, n_chains, dim, \.\.\.\), got "
    with pytest.raises(ValueError, match=msg + r"\(1, 3, 2\)$"):
        mean_squared_jump(torch.zeros(1, 3, 2))
    with pytest.raises(ValueError, match=msg + r"\(5, 3\)$"):
        autocorrelation(torch.zeros(5, 3), 2)
    with pytest.raises(ValueError, match=msg + "list$"):
        autocorrelation([[[0.0]], [[1.0]]], 1)
    with pytest.raises(ValueError, match="^max_lag must be a positive integer, got 0"):
        autocorrelation(two, 0)
