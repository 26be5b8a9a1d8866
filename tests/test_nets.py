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


def test_sigma_parametrisation_divides_by_sigma():
    net = ScoreMLP(hidden=16, depth=1, data_std=1.0)
    x = torch.randn(4, 2)
    s = torch.full((4,), 0.3)
    x_in = x / torch.sqrt(1 + s[:, None] ** 2)
    h = net.net(torch.cat([x_in, net.embed(s.log() / 4)], 1))
    torch.testing.assert_close(net(x, s), h / 0.3)


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
