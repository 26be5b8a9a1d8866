"""Tests of gentoolkit.nets.unet.ScoreUNet (DDPM-style U-Net score network)."""

import functools
import math

import pytest
import torch

from gentoolkit.nets.unet import AttnBlock, ResBlock, ScoreUNet
from gentoolkit.score.losses import dsm_loss
from gentoolkit.sde import VPSDE, ScaledScore, sde_dsm_loss
from tests.conftest import DEVICES

SMALL = {"width": 8}  # a narrow net: the tests check wiring and scalings, not capacity


@pytest.fixture(autouse=True)
def _one_thread(_threads):
    # after conftest's _threads: these nets are tiny, and on 2 shared cores OpenMP's thread
    # synchronisation made a width-8 forward pass ~100x slower than with one thread
    torch.set_num_threads(1)


def _randn(*shape, seed=0, std=1.0):
    return std * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _unzeroed(net: ScoreUNet, seed: int = 1) -> ScoreUNet:
    """The zero-initialised convolutions (second conv of the residual blocks, attention output
    projections) redrawn with PyTorch's default init, so that every block does something."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in net.modules():
            if isinstance(m, ResBlock):
                m.conv2.reset_parameters()
            elif isinstance(m, AttnBlock):
                m.proj.reset_parameters()
    return net


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cond", ["sigma", "time"])
@pytest.mark.parametrize(("channels", "size", "attn"), [(1, 28, (7,)), (3, 32, (8,))])
def test_shapes_and_float_or_per_sample_condition(device, cond, channels, size, attn):
    net = ScoreUNet(channels, size, attn_resolutions=attn, cond=cond, **SMALL).to(device)
    assert net.resolutions == (size, size // 2, size // 4)
    x = _randn(3, channels, size, size).to(device)
    c = 0.3
    out = net(x, c)
    assert out.shape == x.shape and out.dtype == x.dtype and out.device.type == device
    assert bool(torch.isfinite(out).all())
    torch.testing.assert_close(out, net(x, torch.full((3,), c, device=device)))
    torch.testing.assert_close(out, net(x, torch.tensor(c, device=device)))
    # one level per sample: sample 1 sees the same level as in the constant-level call
    per = net(x, torch.tensor([0.9, c, 0.05], device=device))
    torch.testing.assert_close(per[1], out[1])


def test_parameter_counts_of_the_two_presets():
    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(ScoreUNet()) == 1_112_801  # 28x28x1 defaults, stated in the class docstring
    cifar = ScoreUNet(3, 32, width=64, channel_mults=(1, 2, 2, 2), num_res_blocks=2, attn_resolutions=(16,))
    assert count(cifar) == 8_952_067
    assert cifar.resolutions == (32, 16, 8, 4)


def test_seed_determines_the_weights_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b, c = ScoreUNet(seed=3, **SMALL), ScoreUNet(seed=3, **SMALL), ScoreUNet(seed=4, **SMALL)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert na == nb and torch.equal(pa, pb)
    x = _randn(2, 1, 28, 28)
    assert torch.equal(a(x, 0.5), b(x, 0.5))
    assert not torch.equal(a(x, 0.5), c(x, 0.5))
    assert not torch.equal(a.conv_in.weight, c.conv_in.weight)


@pytest.mark.parametrize("cond", ["sigma", "time"])
def test_forward_scalings_around_the_body(monkeypatch, cond):
    # the body replaced by the identity in x: forward must return x * c_in / sigma with
    # c_in = 1 / sqrt(data_std^2 + sigma^2) and hand log(sigma) / 4 to the embedding (001
    # Sec. 8.3.1, Karras et al. 2022); with cond="time", x and t pass through unchanged
    net = ScoreUNet(data_std=0.7, cond=cond, **SMALL)
    seen = {}

    def body(x, u):
        seen["u"] = u
        return x

    monkeypatch.setattr(net, "unet", body)
    x = _randn(4, 1, 28, 28)
    c = torch.tensor([0.01, 0.3, 1.0, 50.0])
    out = net(x, c)
    if cond == "sigma":
        expected = x / torch.sqrt(0.49 + c**2)[:, None, None, None] / c[:, None, None, None]
        torch.testing.assert_close(seen["u"], c.log() / 4)
    else:
        expected = x
        torch.testing.assert_close(seen["u"], c)
    torch.testing.assert_close(out, expected)


def test_sigma_times_output_is_order_one_at_every_level():
    # For x = x0 + sigma z with Var(x0) = data_std^2, Var(x) = data_std^2 + sigma^2, so the
    # body sees x * c_in of unit variance at every level; the output is body / sigma, hence
    # sigma * output = body(unit-variance input) is O(1) for sigma = 0.01 as for sigma = 50
    # (without the 1/sigma it would range over a factor 5000).
    net = ScoreUNet(data_std=0.5)
    stds = []
    for i, sigma in enumerate((0.01, 1.0, 50.0)):
        x = _randn(4, 1, 28, 28, seed=i, std=math.sqrt(0.25 + sigma**2))
        stds.append((sigma * net(x, sigma)).std().item())
    assert all(0.01 < s < 100 for s in stds), stds
    assert max(stds) / min(stds) < 10, stds


@pytest.mark.parametrize("cond", ["sigma", "time"])
def test_the_condition_is_used(cond):
    # Fixed body input x_in: sigma * net(x_in * c(sigma), sigma) = body(x_in, log sigma / 4)
    # changes with sigma only through the embedding, so this fails if the embedding is not
    # wired into the residual blocks (the zero-initialised convs are redrawn first: at init
    # the blocks are the identity and ignore the embedding by design).
    net = _unzeroed(ScoreUNet(cond=cond, **SMALL))
    x_in = _randn(2, 1, 28, 28)
    outs = []
    for c in (0.05, 0.5, 5.0) if cond == "sigma" else (0.05, 0.5, 0.95):
        outs.append(c * net(x_in * math.sqrt(0.25 + c**2), c) if cond == "sigma" else net(x_in, c))
    for o in outs[1:]:
        assert (o - outs[0]).abs().max() > 1e-3


@pytest.mark.parametrize("attn", [(), (7,)])
@pytest.mark.parametrize("trained", [False, True])
def test_one_pixel_changes_the_output_at_that_pixel(attn, trained):
    # the full-resolution skip path: a perturbation of pixel (i, j) shows up at (i, j), well
    # above the background change (GroupNorm and attention spread a little everywhere)
    net = ScoreUNet(attn_resolutions=attn, **SMALL)
    if trained:
        net = _unzeroed(net)
    x = _randn(1, 1, 28, 28)
    x2 = x.clone()
    x2[0, 0, 10, 17] += 1.0
    with torch.no_grad():
        d = (net(x2, 0.5) - net(x, 0.5)).abs()[0, 0]
    assert d[10, 17] > 1e-2
    assert d[10, 17] > 10 * d.median()
    if not trained:
        # at init every block is the identity, so the path that reaches the output at full
        # resolution is conv_in -> concatenated skips -> 1x1 skips -> conv_out: a 5x5 window
        # (without the skips the change would come back only through the 2x down/upsampling)
        assert d[8:13, 15:20].sum() > 0.5 * d.sum()  # ~70% of the total change here


def test_attention_block_matches_softmax_attention_over_positions():
    # x + proj(V softmax_positions(Q^T K / sqrt(C))), checked against torch's reference
    # scaled_dot_product_attention on (n, positions, C) tensors
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        block = AttnBlock(8)
        block.proj.reset_parameters()
    x = _randn(2, 8, 7, 7)
    with torch.no_grad():
        q, k, v = block.qkv(block.norm(x)).reshape(2, 3, 8, 49).transpose(2, 3).unbind(1)
        ref = torch.nn.functional.scaled_dot_product_attention(q, k, v)  # (n, P, C)
        expected = x + block.proj(ref.transpose(1, 2).reshape(2, 8, 7, 7))
        torch.testing.assert_close(block(x), expected)


def test_every_parameter_gets_a_gradient_after_one_step():
    # one Adam step makes the zero-initialised convs non-zero (their inputs get gradients only
    # then); afterwards every parameter of every block must get a non-zero gradient, so no
    # residual or attention block is left out of the forward pass
    net = ScoreUNet(width=8, num_res_blocks=2, attn_resolutions=(14, 7))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = _randn(4, 1, 28, 28, std=0.5)
    dsm_loss(net, x, [0.1, 1.0], torch.Generator().manual_seed(0)).backward()
    opt.step()
    opt.zero_grad()
    net(x, torch.tensor([0.1, 0.3, 1.0, 3.0])).square().mean().backward()
    n_attn = sum(isinstance(m, AttnBlock) for m in net.modules())
    assert n_attn == 2 + 3 + 1 + 2 + 3  # down 14, 7; mid; up 14, 7 (num_res_blocks + 1 each)
    for name, p in net.named_parameters():
        assert p.grad is not None and bool((p.grad != 0).any()), name


def _circles(n: int = 8) -> torch.Tensor:
    """n fixed 28x28 images in [-1, 1]: soft discs of random centre and radius."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    out = []
    for _ in range(n):
        cx, cy = (torch.rand(2, generator=g) * 14 + 7).tolist()
        r = 3 + 4 * torch.rand(1, generator=g).item()
        out.append(torch.tanh(3 * (r - ((xx - cx) ** 2 + (yy - cy) ** 2).sqrt())))
    return torch.stack(out)[:, None]


@pytest.mark.slow
def test_it_learns_to_denoise():
    # dsm with the zero score s = 0 is 1/2 E||z||^2 = d/2 = 392 per sample for d = 784, and
    # the minimum over all s is ~0 here (8 images much further apart than sigma sqrt(d), so
    # the posterior over the clean image is sharp). 40 Adam steps of a width-8 U-Net must
    # reach half the zero-score loss (it gets to about 60, from about 480 at init).
    x = _circles()
    net = ScoreUNet(width=8, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(1)

    def held_out():
        with torch.no_grad():
            return dsm_loss(net, x.repeat(4, 1, 1, 1), [0.1, 1.0], torch.Generator().manual_seed(123)).item()

    before = held_out()
    for _ in range(40):
        loss = dsm_loss(net, x, [0.1, 1.0], g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = held_out()
    assert after < 784 / 4 < before, (before, after)


def test_bfloat16_autocast_on_cpu_is_finite_and_close_to_float32():
    net = _unzeroed(ScoreUNet())
    x = _randn(4, 1, 28, 28, std=0.8)
    sigma = torch.tensor([0.01, 0.2, 1.0, 20.0])
    with torch.no_grad():
        ref = net(x, sigma)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = net(x, sigma)
    assert low.dtype == torch.float32 and bool(torch.isfinite(low).all())
    rel = ((low - ref).norm() / ref.norm()).item()
    assert rel < 5e-2, rel


@pytest.mark.parametrize("device", DEVICES)
def test_losses_and_sde_training_accept_the_unet(device):
    x = _randn(4, 3, 32, 32, std=0.5).to(device)
    g = torch.Generator(device=device).manual_seed(0)
    net = ScoreUNet(3, 32, attn_resolutions=(8,), **SMALL).to(device)
    loss = dsm_loss(net, x, [0.1, 1.0], g)
    assert loss.ndim == 0 and bool(torch.isfinite(loss))
    tnet = ScoreUNet(3, 32, attn_resolutions=(8,), cond="time", **SMALL).to(device)
    sde = VPSDE()
    loss = functools.partial(sde_dsm_loss, sde=sde)(ScaledScore(sde, tnet, data_std=0.5), x, g)
    assert loss.ndim == 0 and bool(torch.isfinite(loss))
    loss.backward()
    assert tnet.conv_in.weight.grad is not None


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"image_size": 30}, ValueError, r"image_size must be divisible by .*= 4.*got 30"),
        ({"channel_mults": (1, 2, 2, 2)}, ValueError, r"image_size .* = 8 \(channel_mults=\(1, 2, 2, 2\)\), got 28"),
        ({"attn_resolutions": (5,)}, ValueError, r"attn_resolutions .*\(28, 14, 7\).*got 5"),
        ({"attn_resolutions": 7}, TypeError, r"attn_resolutions must be a sequence of ints, got 7"),
        ({"channel_mults": ()}, ValueError, r"channel_mults must have at least one entry"),
        ({"channel_mults": (1, 0, 2)}, ValueError, r"channel_mults entries must be positive.*\(1, 0, 2\)"),
        ({"channel_mults": (1, 2.5)}, TypeError, r"channel_mults must be a sequence of ints"),
        ({"channels": 0}, ValueError, r"channels must be a positive integer, got 0"),
        ({"width": 2.0}, TypeError, r"width must be an int, got 2.0"),
        ({"num_res_blocks": 0}, ValueError, r"num_res_blocks must be a positive integer, got 0"),
        ({"dropout": 1.0}, ValueError, r"dropout must be a number in \[0, 1\), got 1.0"),
        ({"dropout": -0.1}, ValueError, r"dropout .*got -0.1"),
        ({"cond": "noise"}, ValueError, r"cond must be 'sigma' or 'time', got 'noise'"),
        ({"embed_dim": 0}, ValueError, r"embed_dim must be a positive integer, got 0"),
        ({"data_std": 0.0}, ValueError, r"data_std must be a finite number > 0, got 0.0"),
        ({"seed": 1.5}, TypeError, r"seed must be an int, got 1.5"),
    ],
)
def test_bad_constructor_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ScoreUNet(**kwargs)


@pytest.mark.parametrize(
    ("x", "c", "exc", "match"),
    [
        (
            torch.zeros(2, 1, 32, 32),
            0.5,
            ValueError,
            r"x must be a tensor of shape \(n, 1, 28, 28\), got \(2, 1, 32",
        ),
        (torch.zeros(2, 3, 28, 28), 0.5, ValueError, r"x .*\(n, 1, 28, 28\), got \(2, 3, 28, 28\)"),
        (torch.zeros(1, 28, 28), 0.5, ValueError, r"x .*got \(1, 28, 28\)"),
        ([0.0], 0.5, ValueError, r"x must be a tensor .*got list"),
        (
            torch.zeros(2, 1, 28, 28),
            torch.ones(3),
            ValueError,
            r"sigma must be a float or have shape \(2,\), got \(3",
        ),
        (torch.zeros(2, 1, 28, 28), torch.ones(2, 1), ValueError, r"sigma .*got \(2, 1\)"),
        (torch.zeros(2, 1, 28, 28), "0.5", TypeError, r"sigma must be a float or a tensor .*got str"),
        (torch.zeros(2, 1, 28, 28), 0.0, ValueError, r"sigma must be > 0 .*got 0.0"),
        (torch.zeros(2, 1, 28, 28), torch.tensor([0.5, -1.0]), ValueError, r"sigma must be > 0 .*got -1.0"),
        (torch.zeros(2, 1, 28, 28), float("nan"), ValueError, r"sigma must be finite, got nan"),
    ],
)
def test_bad_forward_arguments(x, c, exc, match):
    net = ScoreUNet(**SMALL)
    with pytest.raises(exc, match=match):
        net(x, c)


def test_bad_time_is_named_t():
    net = ScoreUNet(cond="time", **SMALL)
    with pytest.raises(ValueError, match=r"the condition t must be a float or have shape \(2,\), got \(5,\)"):
        net(torch.zeros(2, 1, 28, 28), torch.zeros(5))
    assert net(torch.zeros(2, 1, 28, 28), 0.0).shape == (2, 1, 28, 28)  # t = 0 is allowed


@pytest.mark.parametrize("device", DEVICES)
def test_same_output_on_every_device(device):
    net = _unzeroed(ScoreUNet(**SMALL))
    x, sigma = _randn(3, 1, 28, 28), torch.tensor([0.05, 0.5, 5.0])
    with torch.no_grad():
        ref = net(x, sigma)
        out = net.to(device)(x.to(device), sigma.to(device)).cpu()
    torch.testing.assert_close(out, ref, rtol=1e-3, atol=1e-3)
