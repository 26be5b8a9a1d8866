import pytest
import torch

from gentoolkit.nets import FourierEmbedding, ScoreMLP
from tests.conftest import DEVICES


@pytest.mark.parametrize("device", DEVICES)
def test_shapes_devices_and_per_sample_condition(device):
    net = ScoreMLP(dim=3, hidden=32, depth=2).to(device)
    x = torch.randn(5, 3, device=device)
    out = net(x, 0.5)
    assert out.shape == (5, 3) and out.device.type == device
    torch.testing.assert_close(out, net(x, torch.full((5,), 0.5, device=device)))
    per = net(x, torch.tensor([0.1, 0.2, 0.5, 1.0, 2.0], device=device))
    torch.testing.assert_close(per[2], out[2])


def test_sigma_parametrisation_scales_input_by_c_and_output_by_one_over_sigma():
    # Property 1 (input preconditioning): two nets with the same weights but different data_std
    # see the same network input when x is scaled by c(sigma) = sqrt(data_std^2 + sigma^2), so
    # net_a(c_a x, sigma) = net_b(c_b x, sigma). Fails if the input is not divided by c.
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    a, b = ScoreMLP(hidden=16, depth=2, data_std=1.0, seed=3), ScoreMLP(hidden=16, depth=2, data_std=3.0, seed=3)
    for sigma in (0.05, 0.7, 4.0):
        s = torch.full((6,), sigma)
        torch.testing.assert_close(a(x * (1 + sigma**2) ** 0.5, s), b(x * (9 + sigma**2) ** 0.5, s))
    # Property 2 (output / sigma, 001 Sec. 8.3.1): with the condition's embedding held fixed,
    # sigma * net(c(sigma) x, sigma) does not depend on sigma. Fails for a missing or wrong power
    # of sigma in the output.
    with torch.no_grad():
        a.embed.freqs.zero_()  # the embedding is then [sin 0, cos 0] for every sigma
    outs = [sigma * a(x * (1 + sigma**2) ** 0.5, torch.full((6,), sigma)) for sigma in (0.01, 0.3, 5.0)]
    for o in outs[1:]:
        torch.testing.assert_close(o, outs[0])
    assert outs[0].abs().max() > 1e-3  # not trivially zero


def test_same_seed_same_network_and_condition_matters():
    a, b, c = ScoreMLP(seed=1), ScoreMLP(seed=1), ScoreMLP(seed=2)
    x = torch.randn(10, 2)
    assert torch.equal(a(x, 0.5), b(x, 0.5))
    assert not torch.equal(a(x, 0.5), c(x, 0.5))
    t = ScoreMLP(cond="time")
    assert not torch.allclose(t(x, 0.1), t(x, 0.9))


def test_fourier_embedding():
    e = FourierEmbedding(8, scale=2.0, seed=0)
    out = e(torch.tensor([0.0, 1.0]))
    assert out.shape == (2, 8)
    torch.testing.assert_close(out[0], torch.cat([torch.zeros(4), torch.ones(4)]))
    torch.testing.assert_close(out.pow(2).reshape(2, 2, 4).sum(1), torch.ones(2, 4))  # sin^2 + cos^2
    with pytest.raises(ValueError, match="dim must be even"):
        FourierEmbedding(7)


def test_bad_inputs():
    with pytest.raises(ValueError, match="cond must be 'sigma' or 'time', got 'noise'"):
        ScoreMLP(cond="noise")
    with pytest.raises(ValueError, match="depth must be a positive integer, got 0"):
        ScoreMLP(depth=0)
    with pytest.raises(TypeError, match="hidden must be an int"):
        ScoreMLP(hidden=12.5)
    net = ScoreMLP()
    with pytest.raises(ValueError, match=r"x must be a tensor of shape \(n, 2\), got \(4, 3\)"):
        net(torch.zeros(4, 3), 0.1)
    with pytest.raises(ValueError, match=r"the condition must be a float or have shape \(4,\)"):
        net(torch.zeros(4, 2), torch.ones(3))
    with pytest.raises(ValueError, match="sigma must be > 0"):
        net(torch.zeros(4, 2), 0.0)
