"""Tests of gentoolkit.nets.conv: the DCGAN and "standard CNN" generators and critics."""

import copy
import math
import re

import pytest
import torch
from torch import nn

from gentoolkit.gan.regularizers import critic_features, feature_matching_loss
from gentoolkit.nets.conv import (
    DCGANDiscriminator,
    DCGANGenerator,
    MinibatchStd,
    StandardCNNDiscriminator,
    StandardCNNGenerator,
    count_parameters,
)
from tests.conftest import DEVICES

GENERATORS = [DCGANGenerator, StandardCNNGenerator]
DISCRIMINATORS = [DCGANDiscriminator, StandardCNNDiscriminator]


def _z(n, latent_dim, seed=1):
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


def _x(n, channels, size, seed=2):
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _last_map(cls, size, width):
    """(channels, side) of the discriminator's last feature map."""
    if cls is DCGANDiscriminator:
        return (2 * width, 7) if size == 28 else (4 * width, 4)
    return (8 * width, 7) if size == 28 else (8 * width, 4)


# --------------------------------------------------------------------------- shapes and ranges
@pytest.mark.parametrize("cls", GENERATORS)
@pytest.mark.parametrize("size", [28, 32])
@pytest.mark.parametrize("channels,width", [(1, 8), (3, 16)])
def test_generator_shape_range(cls, size, channels, width):
    g = cls(latent_dim=10, channels=channels, image_size=size, width=width)
    assert (g.latent_dim, g.channels, g.image_size) == (10, channels, size)
    out = g(_z(5, 10))
    assert out.shape == (5, channels, size, size)
    assert out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 1
    assert out.std() > 0.05  # not constant
    assert (out[0] - out[1]).abs().max() > 1e-3  # different z, different images
    assert isinstance(g.net[-1], nn.Tanh)


@pytest.mark.parametrize("cls", DISCRIMINATORS)
@pytest.mark.parametrize("size", [28, 32])
@pytest.mark.parametrize("channels,width", [(1, 8), (3, 16)])
def test_discriminator_shape(cls, size, channels, width):
    d = cls(channels=channels, image_size=size, width=width)
    out = d(_x(5, channels, size))
    assert out.shape == (5,)
    assert torch.isfinite(out).all()
    assert out.std() > 0  # not constant over samples
    assert isinstance(d.net[-1], nn.Linear) and d.net[-1].out_features == 1
    assert isinstance(d.net[-2], nn.Flatten)


# --------------------------------------------------------------------------- determinism
@pytest.mark.parametrize(
    "cls,size",
    [(DCGANGenerator, 28), (StandardCNNGenerator, 32), (DCGANDiscriminator, 32), (StandardCNNDiscriminator, 28)],
)
def test_seeded(cls, size):
    def make(seed):
        kw = {"latent_dim": 10} if cls in GENERATORS else {}
        return cls(channels=3, image_size=size, width=8, seed=seed, **kw)

    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a, b, c = make(0), make(0), make(1)
    assert torch.equal(torch.rand(3), before)  # the global RNG is left alone
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys() == sc.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point() and sa[k].numel() > 1)
    x = _z(4, 10) if cls in GENERATORS else _x(4, 3, size)
    assert torch.equal(a(x), b(x))
    assert not torch.allclose(a(x), c(x))


# --------------------------------------------------------------------------- critic_features
@pytest.mark.parametrize("cls", DISCRIMINATORS)
@pytest.mark.parametrize("size", [28, 32])
def test_critic_features(cls, size):
    width = 8
    d = cls(channels=1, image_size=size, width=width)
    c, side = _last_map(cls, size, width)
    x = _x(6, 1, size)
    f = critic_features(d, x)
    assert f.shape == (6, c * side * side) == (6, d.features)
    # the final layer applied to the features gives the critic's output
    torch.testing.assert_close(d.net[-1](f).squeeze(1), d(x))
    loss = feature_matching_loss(critic_features(d, x).detach(), critic_features(d, _x(6, 1, size, seed=3)))
    assert loss.ndim == 0 and torch.isfinite(loss) and loss > 0
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters())


# --------------------------------------------------------------------------- architecture tables
def _layers(net):
    """(type name, in, out, kernel, stride, padding) of the conv / linear layers, the type names
    of the others, and the LeakyReLU slopes."""
    rows = []
    for m in net:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            rows.append((type(m).__name__, m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0]))
        elif isinstance(m, nn.Linear):
            rows.append(("Linear", m.in_features, m.out_features))
        elif isinstance(m, nn.LeakyReLU):
            rows.append(("LeakyReLU", m.negative_slope))
        elif isinstance(m, nn.BatchNorm2d):
            rows.append(("BatchNorm2d", m.num_features))
        elif isinstance(m, nn.Unflatten):
            rows.append(("Unflatten", tuple(m.unflattened_size)))
        else:
            rows.append((type(m).__name__,))
    return rows


# 001, App. A.9.1 (references/001_dd1c9446192fd545.txt), transcribed line by line
A91_GENERATOR = [
    ("Linear", 128, 512 * 4 * 4),  # linear, 128 -> 512*4*4
    ("Unflatten", (512, 4, 4)),  # Reshape, 512*4*4 -> 512 x 4 x 4
    ("ConvTranspose2d", 512, 256, 4, 2, 1),  # ConvTranspose2d 4x4, stride 2, pad 1, 512 -> 256
    ("BatchNorm2d", 256),  # BN and ReLU
    ("ReLU",),
    ("ConvTranspose2d", 256, 128, 4, 2, 1),
    ("BatchNorm2d", 128),
    ("ReLU",),
    ("ConvTranspose2d", 128, 64, 4, 2, 1),
    ("BatchNorm2d", 64),
    ("ReLU",),
    ("ConvTranspose2d", 64, 3, 3, 1, 1),  # ConvTranspose2d 3x3, stride 1, pad 1, 64 -> 3
    ("Tanh",),
]
A91_DISCRIMINATOR = [
    ("Conv2d", 3, 64, 3, 1, 1),  # Conv2d 3x3, stride 1, pad 1, 3->64
    ("LeakyReLU", 0.1),
    ("Conv2d", 64, 64, 4, 2, 1),  # Conv2d 4x4, stride 2, pad 1, 64->64
    ("LeakyReLU", 0.1),
    ("Conv2d", 64, 128, 3, 1, 1),
    ("LeakyReLU", 0.1),
    ("Conv2d", 128, 128, 4, 2, 1),
    ("LeakyReLU", 0.1),
    ("Conv2d", 128, 256, 3, 1, 1),
    ("LeakyReLU", 0.1),
    ("Conv2d", 256, 256, 4, 2, 1),
    ("LeakyReLU", 0.1),
    ("Conv2d", 256, 512, 3, 1, 1),
    # not in the transcription, but in Miyato et al. 2018, Table 3 and the thesis' code
    ("LeakyReLU", 0.1),
    ("Flatten",),  # Reshape, 512 x 4 x 4 -> 512*4*4
    ("Linear", 512 * 4 * 4, 1),  # linear, 512*4*4 -> 1
]


def test_standard_cnn_matches_appendix_a91():
    assert _layers(StandardCNNGenerator().net) == A91_GENERATOR
    assert _layers(StandardCNNDiscriminator().net) == A91_DISCRIMINATOR


def test_standard_cnn_28_adaptation():
    # G: the 4x4 -> 8x8 stage is dropped, the linear layer gives the (256, 7, 7) map
    g = _layers(StandardCNNGenerator(channels=1, image_size=28).net)
    assert g == [("Linear", 128, 256 * 7 * 7), ("Unflatten", (256, 7, 7))] + A91_GENERATOR[5:-2] + [
        ("ConvTranspose2d", 64, 1, 3, 1, 1),
        ("Tanh",),
    ]
    # D: the third downsampling conv (4x4 s2, 256 -> 256) is dropped, the last map is 512 x 7 x 7
    d = _layers(StandardCNNDiscriminator(channels=1, image_size=28).net)
    assert d == [("Conv2d", 1, 64, 3, 1, 1)] + A91_DISCRIMINATOR[1:10] + A91_DISCRIMINATOR[12:-1] + [
        ("Linear", 512 * 7 * 7, 1)
    ]


def test_dcgan_layers():
    assert _layers(DCGANGenerator(latent_dim=100, channels=1, image_size=28, width=64).net) == [
        ("Linear", 100, 128 * 7 * 7),
        ("Unflatten", (128, 7, 7)),
        ("BatchNorm2d", 128),
        ("ReLU",),
        ("ConvTranspose2d", 128, 64, 4, 2, 1),
        ("BatchNorm2d", 64),
        ("ReLU",),
        ("ConvTranspose2d", 64, 1, 4, 2, 1),
        ("Tanh",),
    ]
    assert _layers(DCGANDiscriminator(channels=3, image_size=32, width=64).net) == [
        ("Conv2d", 3, 64, 4, 2, 1),
        ("LeakyReLU", 0.2),
        ("Conv2d", 64, 128, 4, 2, 1),
        ("BatchNorm2d", 128),
        ("LeakyReLU", 0.2),
        ("Conv2d", 128, 256, 4, 2, 1),
        ("BatchNorm2d", 256),
        ("LeakyReLU", 0.2),
        ("Flatten",),
        ("Linear", 256 * 4 * 4, 1),
    ]
    layer = _layers(DCGANDiscriminator(image_size=28, width=8, norm="layer").net)
    assert layer[3] == ("GroupNorm",)
    assert not any(r[0] in ("BatchNorm2d", "GroupNorm") for r in _layers(DCGANDiscriminator(norm=None).net))


def test_bias_only_where_not_followed_by_batchnorm():
    for net in [
        DCGANGenerator(width=8).net,
        DCGANDiscriminator(image_size=32, width=8).net,
        StandardCNNGenerator(width=8).net,
        StandardCNNDiscriminator(width=8, batch_norm=True).net,
    ]:
        layers = [m for m in net if not isinstance(m, nn.Unflatten)]
        for m, nxt in zip(layers, layers[1:] + [None]):
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                assert (m.bias is None) == isinstance(nxt, nn.BatchNorm2d)


# --------------------------------------------------------------------------- parameter counts
# (class, kwargs, count): the same numbers are written in the class docstrings
PARAM_COUNTS = [
    (DCGANGenerator, {"image_size": 28}, 759_681),
    (DCGANGenerator, {"image_size": 32}, 1_066_881),
    (DCGANDiscriminator, {"image_size": 28}, 138_689),
    (DCGANDiscriminator, {"image_size": 32}, 661_313),
    (StandardCNNGenerator, {"image_size": 32}, 3_811_907),
    (StandardCNNGenerator, {"image_size": 28}, 2_275_651),
    (StandardCNNDiscriminator, {"image_size": 32}, 2_935_873),
    (StandardCNNDiscriminator, {"image_size": 28}, 1_903_937),
]


@pytest.mark.parametrize("cls,kw,count", PARAM_COUNTS)
def test_parameter_counts(cls, kw, count):
    assert count_parameters(cls(**kw)) == count
    # the docstring states it as "image_size=S: N,NNN"
    assert f"image_size={kw['image_size']}: {count:,}" in cls.__doc__


def test_count_parameters_hand_computed():
    lin = nn.Linear(3, 4)
    assert count_parameters(lin) == 16
    lin.bias.requires_grad_(False)
    assert count_parameters(lin) == 12  # trainable only
    # spectral norm keeps one copy of the weight; its u, v are buffers
    sn = nn.utils.parametrizations.spectral_norm(nn.Linear(3, 4))
    assert count_parameters(sn) == 16
    assert count_parameters(DCGANDiscriminator(spectral_norm=True)) == 138_689
    # DCGAN 28x28 D at width 64 by hand: conv 1->64, conv 64->128 (no bias) + BN, linear
    assert count_parameters(DCGANDiscriminator()) == (16 * 64 + 64) + 64 * 128 * 16 + 2 * 128 + (128 * 49 + 1)
    with pytest.raises(TypeError, match=r"^module must be a torch\.nn\.Module, got int$"):
        count_parameters(3)


# --------------------------------------------------------------------------- batch (in)dependence
def _per_sample_matches(d, x):
    # a fresh copy for each call: in training mode spectral norm refines u, v (and BatchNorm
    # its running statistics) at each forward pass, which must not count as mixing samples
    whole = copy.deepcopy(d)(x)
    alone = torch.cat([copy.deepcopy(d)(x[i : i + 1]) for i in range(x.shape[0])])
    return torch.allclose(whole, alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    "make",
    [
        lambda: DCGANDiscriminator(image_size=28, width=8, norm="layer"),
        lambda: DCGANDiscriminator(image_size=32, width=8, norm="layer"),
        lambda: DCGANDiscriminator(image_size=28, width=8, norm=None),
        lambda: DCGANDiscriminator(image_size=28, width=8, norm=None, spectral_norm=True),
        lambda: StandardCNNDiscriminator(channels=1, image_size=28, width=8),
    ],
)
@pytest.mark.parametrize("train", [False, True])
def test_per_sample_norms_do_not_mix_samples(make, train):
    d = make().train(train)
    x = _x(6, d.channels, d.image_size)
    with torch.no_grad():
        assert _per_sample_matches(d, x)


@pytest.mark.parametrize(
    "make",
    [
        lambda: DCGANDiscriminator(image_size=28, width=8, norm="batch"),
        lambda: StandardCNNDiscriminator(channels=1, image_size=28, width=8, batch_norm=True),
    ],
)
def test_batchnorm_mixes_samples_in_train_mode(make):
    # this is why gradient penalties need norm="layer" or None: a BatchNorm critic's output
    # for one sample depends on the other samples of the batch
    d = make()
    x = _x(6, d.channels, d.image_size)
    with torch.no_grad():
        assert _per_sample_matches(d.eval(), x)  # running statistics: per sample
        assert not _per_sample_matches(d.train(), x)


# --------------------------------------------------------------------------- spectral norm
@pytest.mark.parametrize(
    "make",
    [
        lambda: DCGANDiscriminator(image_size=28, width=8, norm=None, spectral_norm=True),
        lambda: DCGANDiscriminator(image_size=32, width=8, norm="batch", spectral_norm=True),
        lambda: StandardCNNDiscriminator(channels=1, image_size=28, width=8, spectral_norm=True),
        lambda: StandardCNNDiscriminator(channels=3, image_size=32, width=8, spectral_norm=True),
    ],
)
def test_spectral_norm_unit_singular_values(make):
    d = make().train()
    wrapped = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert wrapped and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in wrapped)
    for i in range(5):
        d(_x(4, d.channels, d.image_size, seed=i))
    d.eval()  # reading .weight in eval mode uses the current u, v without another iteration
    with torch.no_grad():
        for m in wrapped:
            w = m.weight.reshape(m.weight.shape[0], -1)
            sigma = torch.linalg.matrix_norm(w, ord=2).item()
            assert sigma == pytest.approx(1.0, rel=0.05)
            raw = m.parametrizations.weight.original.reshape(w.shape[0], -1)
            assert torch.linalg.matrix_norm(raw, ord=2).item() != pytest.approx(1.0, rel=0.05)


def test_no_spectral_norm_by_default():
    for d in [DCGANDiscriminator(width=8), StandardCNNDiscriminator(width=8)]:
        assert not any(nn.utils.parametrize.is_parametrized(m) for m in d.modules())


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize(
    "g_cls,d_make,size",
    [
        (DCGANGenerator, lambda c, s: DCGANDiscriminator(c, s, 8), 28),
        (DCGANGenerator, lambda c, s: DCGANDiscriminator(c, s, 8, norm="layer", spectral_norm=True), 32),
        (StandardCNNGenerator, lambda c, s: StandardCNNDiscriminator(c, s, 8), 32),
        (StandardCNNGenerator, lambda c, s: StandardCNNDiscriminator(c, s, 8, batch_norm=True, spectral_norm=True), 28),
    ],
)
def test_gradients_reach_every_parameter(g_cls, d_make, size):
    g = g_cls(latent_dim=16, channels=3, image_size=size, width=8)
    d = d_make(3, size)
    d(g(_z(4, 16))).mean().backward()
    for net in (g, d):
        for name, p in net.named_parameters():
            assert p.grad is not None, name
            assert torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, name


# --------------------------------------------------------------------------- learning sanity
def test_dcgan_discriminator_learns_to_separate():
    # real: images near +0.5, fake: near -0.5 (noise 0.1). A critic that has learned the task
    # outputs |logit| >= 3 on both, i.e. a BCE loss <= log(1 + e^-3) ~ 0.049, vs log 2 ~ 0.693
    # for an uninformed one. Threshold: 0.1 (about 7 times below chance).
    gen = torch.Generator().manual_seed(0)
    real = 0.5 + 0.1 * torch.randn(16, 1, 28, 28, generator=gen)
    fake = -0.5 + 0.1 * torch.randn(16, 1, 28, 28, generator=gen)
    x, y = torch.cat([real, fake]), torch.cat([torch.ones(16), torch.zeros(16)])
    d = DCGANDiscriminator(width=8, seed=0)
    opt = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
    losses = []
    for _ in range(15):
        loss = nn.functional.binary_cross_entropy_with_logits(d(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(math.log(2), abs=0.3)
    assert losses[-1] < 0.1
    with torch.no_grad():
        assert (d.eval()(real) > 0).all() and (d(fake) < 0).all()


@pytest.mark.parametrize("cls", GENERATORS)
def test_generator_fits_a_target_image(cls):
    # a tiny regression: G(z) for 4 fixed z should reach a fixed checkerboard in [-0.8, 0.8]
    target = (torch.arange(28)[:, None] // 7 + torch.arange(28)[None, :] // 7) % 2 * 1.6 - 0.8
    target = target.expand(4, 1, 28, 28)
    g = cls(latent_dim=8, channels=1, image_size=28, width=8, seed=0)
    z = _z(4, 8)
    opt = torch.optim.Adam(g.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = ((g(z) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # a constant 0 output has MSE 0.64; we ask for a fit 10x better than that
    assert losses[0] > 0.3
    assert losses[-1] < 0.064


# --------------------------------------------------------------------------- devices
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "g_cls,d_cls", [(DCGANGenerator, DCGANDiscriminator), (StandardCNNGenerator, StandardCNNDiscriminator)]
)
def test_devices_agree_with_cpu(device, g_cls, d_cls):
    g = g_cls(latent_dim=16, channels=3, image_size=32, width=8).eval()
    d = d_cls(channels=3, image_size=32, width=8, spectral_norm=True).eval()
    z = _z(4, 16)
    with torch.no_grad():
        ref = d(g(z))
        g2, d2 = g_cls(latent_dim=16, channels=3, image_size=32, width=8), d_cls(3, 32, 8, spectral_norm=True)
        g2.load_state_dict(g.state_dict())
        d2.load_state_dict(d.state_dict())
        g2, d2 = g2.to(device).eval(), d2.to(device).eval()
        x = g2(z.to(device))
        out = d2(x)
    assert x.device.type == device and out.device.type == device
    assert x.dtype == out.dtype == torch.float32
    torch.testing.assert_close(out.cpu(), ref, atol=1e-4, rtol=1e-3)
    # a training step runs on the device
    d2.train()
    d2(g2.train()(z.to(device))).mean().backward()
    assert all(p.grad.device.type == device for p in d2.parameters())


# --------------------------------------------------------------------------- argument checks
BAD_ARGS = [
    (DCGANGenerator, {"image_size": 30}, ValueError, r"^image_size must be 28 or 32, got 30$"),
    (DCGANGenerator, {"image_size": 28.0}, ValueError, r"^image_size must be 28 or 32, got 28\.0$"),
    (DCGANGenerator, {"image_size": True}, ValueError, r"^image_size must be 28 or 32, got True$"),
    (DCGANGenerator, {"latent_dim": 0}, ValueError, r"^latent_dim must be a positive integer, got 0$"),
    (DCGANGenerator, {"latent_dim": 2.5}, TypeError, r"^latent_dim must be an int, got 2\.5"),
    (DCGANGenerator, {"channels": -1}, ValueError, r"^channels must be a positive integer, got -1$"),
    (DCGANGenerator, {"width": 0}, ValueError, r"^width must be a positive integer, got 0$"),
    (DCGANGenerator, {"seed": 1.5}, TypeError, r"^seed must be an int, got 1\.5"),
    (StandardCNNGenerator, {"image_size": 64}, ValueError, r"^image_size must be 28 or 32, got 64$"),
    (StandardCNNGenerator, {"latent_dim": "128"}, TypeError, r"^latent_dim must be an int, got '128'"),
    (StandardCNNGenerator, {"width": True}, TypeError, r"^width must be an int, got True"),
    (StandardCNNGenerator, {"seed": None}, TypeError, r"^seed must be an int, got None"),
    (DCGANDiscriminator, {"image_size": 30}, ValueError, r"^image_size must be 28 or 32, got 30$"),
    (DCGANDiscriminator, {"channels": 0}, ValueError, r"^channels must be a positive integer, got 0$"),
    (DCGANDiscriminator, {"width": -2}, ValueError, r"^width must be a positive integer, got -2$"),
    (DCGANDiscriminator, {"norm": "instance"}, ValueError, r"^norm must be 'batch', 'layer' or None, got 'instance'$"),
    (DCGANDiscriminator, {"norm": "Batch"}, ValueError, r"^norm must be 'batch', 'layer' or None, got 'Batch'$"),
    (DCGANDiscriminator, {"spectral_norm": 1}, TypeError, r"^spectral_norm must be a bool, got 1 \(int\)$"),
    (DCGANDiscriminator, {"seed": True}, TypeError, r"^seed must be an int, got True"),
    (
        DCGANDiscriminator,
        {"minibatch_std": -1},
        ValueError,
        r"^minibatch_std must be a group size >= 0 \(0: off\), got -1$",
    ),
    (DCGANDiscriminator, {"minibatch_std": True}, ValueError, r"^minibatch_std must be a group size >= 0"),
    (MinibatchStd, {"group_size": 0}, ValueError, r"^group_size must be a positive integer, got 0$"),
    (StandardCNNDiscriminator, {"image_size": 16}, ValueError, r"^image_size must be 28 or 32, got 16$"),
    (StandardCNNDiscriminator, {"channels": 1.0}, TypeError, r"^channels must be an int, got 1\.0"),
    (StandardCNNDiscriminator, {"spectral_norm": "yes"}, TypeError, r"^spectral_norm must be a bool, got 'yes'"),
    (StandardCNNDiscriminator, {"batch_norm": 0}, TypeError, r"^batch_norm must be a bool, got 0 \(int\)$"),
]


@pytest.mark.parametrize("cls,kw,exc,msg", BAD_ARGS)
def test_bad_constructor_arguments(cls, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        cls(**kw)


@pytest.mark.parametrize("cls", GENERATORS)
def test_bad_latent_input(cls):
    g = cls(latent_dim=10, channels=1, image_size=28, width=8)
    with pytest.raises(ValueError, match=r"^z must have shape \(n, 10\), got \(4, 9\)$"):
        g(torch.zeros(4, 9))
    with pytest.raises(ValueError, match=r"^z must have shape \(n, 10\), got \(4, 10, 1\)$"):
        g(torch.zeros(4, 10, 1))
    with pytest.raises(TypeError, match=r"^z must be a torch\.Tensor of shape \(n, 10\), got list$"):
        g([[0.0] * 10])
    with pytest.raises(TypeError, match=r"^z must be a floating-point tensor, got dtype torch\.int64$"):
        g(torch.zeros(4, 10, dtype=torch.long))


@pytest.mark.parametrize("cls", DISCRIMINATORS)
def test_bad_image_input(cls):
    d = cls(channels=3, image_size=32, width=8)
    for shape in [(4, 3, 28, 28), (4, 1, 32, 32), (3, 32, 32), (4, 3, 32, 32, 1)]:
        got = re.escape(str(shape))
        with pytest.raises(ValueError, match=rf"^x must have shape \(n, 3, 32, 32\), got {got}$"):
            d(torch.zeros(shape))
    with pytest.raises(TypeError, match=r"^x must be a torch\.Tensor of shape \(n, 3, 32, 32\), got ndarray$"):
        d(torch.zeros(2, 3, 32, 32).numpy())
    with pytest.raises(TypeError, match=r"^x must be a floating-point tensor, got dtype torch\.uint8$"):
        d(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))


# --- ProGAN's minibatch standard deviation ----------------------------------------------------------------


def minibatch_std_by_hand(x, group):
    """The feature of Karras et al. 2018, Sec. 3, with explicit loops: sample k is in group k mod (n / group)."""
    n = x.shape[0]
    groups = n // group
    out = torch.empty(n)
    for b in range(groups):
        members = x[[a * groups + b for a in range(group)]].double()
        mean = members.mean(0)
        std = (((members - mean) ** 2).mean(0) + 1e-8).sqrt()
        for a in range(group):
            out[a * groups + b] = std.mean()
    return out


@pytest.mark.parametrize("n, group, used", [(8, 4, 4), (8, 2, 2), (6, 4, 3), (7, 4, 1), (3, 8, 3)])
def test_minibatch_std_equals_the_loops(n, group, used):
    x = torch.randn(n, 5, 3, 2, generator=torch.Generator().manual_seed(n + group))
    y = MinibatchStd(group)(x)
    assert y.shape == (n, 6, 3, 2) and torch.equal(y[:, :5], x)
    assert torch.allclose(y[:, 5], minibatch_std_by_hand(x, used)[:, None, None].expand(n, 3, 2), atol=1e-6)
    if used == 1:  # a group of one has no spread: sqrt(1e-8)
        assert torch.allclose(y[:, 5], torch.full((n, 3, 2), 1e-4))


def test_minibatch_std_sees_a_collapsed_batch():
    g = torch.Generator().manual_seed(0)
    varied = torch.randn(8, 4, 7, 7, generator=g)
    collapsed = varied[:1].expand(8, 4, 7, 7) + 0.01 * torch.randn(8, 4, 7, 7, generator=g)
    assert MinibatchStd(4)(varied)[:, 4].min() > 0.5 > 0.05 > MinibatchStd(4)(collapsed)[:, 4].max()


def test_critic_with_minibatch_std_mixes_its_group_only():
    d = DCGANDiscriminator(minibatch_std=4, seed=1).train()
    assert isinstance(d.net[-3], MinibatchStd) and d.features == (2 * 64 + 1) * 7 * 7
    assert count_parameters(d) == 138_689 + 7 * 7  # the final layer's extra inputs
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(2)) * 2 - 1
    d.eval()  # batch norm's running statistics: only the minibatch-std feature mixes samples
    out = d(x)
    changed = x.clone()
    changed[0] = -changed[0]  # sample 0 is in group 0 with samples 2, 4 and 6 (k mod 2)
    moved = (d(changed) - out).abs()
    assert moved[[2, 4, 6]].min() > 0 and moved[[1, 3, 5, 7]].max() == 0
    assert critic_features(d, x).shape == (8, d.features)
    plain = DCGANDiscriminator(seed=1)
    assert not any(isinstance(m, MinibatchStd) for m in plain.modules()) and plain.features == 128 * 7 * 7
