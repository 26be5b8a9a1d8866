"""The native FID Inception-v3: the parameter names and shapes of the published weight file
(torchvision's Inception3 layout, 1008 classes, no auxiliary head), the FID graph's pooling
changes, 2048-d features from 32x32 and 299x299 images, the weight file's checks; the
Inception Score against closed forms and a per-split loop."""

import math
import urllib.error

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from gentoolkit.metrics import inception as I

# spot checks of the weight file's tensors, from the architecture definition (torchvision's
# Inception3 and pytorch-fid's FID blocks): (name, shape)
SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_1a_3x3.bn.running_var": (32,),
    "Conv2d_2b_3x3.conv.weight": (64, 32, 3, 3),
    "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
    "Mixed_5b.branch5x5_2.conv.weight": (64, 48, 5, 5),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_5d.branch_pool.conv.weight": (64, 288, 1, 1),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_6e.branch7x7dbl_4.conv.weight": (192, 192, 7, 1),
    "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7b.branch3x3dbl_1.conv.weight": (448, 1280, 1, 1),
    "Mixed_7c.branch3x3_2b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}


def test_parameter_names_and_shapes_are_the_published_files():
    net = I.FIDInceptionV3()
    state = net.state_dict()
    for name, shape in SHAPES.items():
        assert tuple(state[name].shape) == shape, name
    # torchvision's inception_v3 has 27,161,264 parameters; less its auxiliary head
    # (1x1 conv 768->128, BN, 5x5 conv 128->768, BN, fc 768->1000 = 3,326,696) and with a
    # 1008-class fc (+8 x 2049): 23,850,960
    assert sum(p.numel() for p in net.parameters()) == 27_161_264 - 3_326_696 + 8 * 2049
    assert not any(k.startswith("AuxLogits") for k in state)
    convs = [k for k in state if k.endswith("conv.weight")]
    assert len(convs) == 94 and all(not k.endswith("conv.bias") for k in state)  # 94 conv layers, no biases
    assert all(m.eps == 1e-3 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))


@pytest.mark.parametrize("side,channels", [(32, 3), (299, 3), (28, 1)])
def test_features_are_2048_d_from_small_and_full_size_images(side, channels):
    net = I.FIDInceptionV3()
    x = torch.rand(2, channels, side, side, generator=torch.Generator().manual_seed(side)) * 2 - 1
    with torch.no_grad():
        f, logits = net(x), net.logits(x)
    assert f.shape == (2, 2048) and logits.shape == (2, 1008) and bool(torch.isfinite(f).all())
    assert bool((f >= 0).all())  # the pool of ReLU outputs
    assert bool((f > 0).any()) and not torch.equal(f[0], f[1])  # random weights: tiny but image-dependent


def test_block_output_channels_and_the_fid_graphs_pools():
    """Each mixed block's width, and the two FID changes: an average pool that ignores the
    zero padding (a constant image stays constant up to its border, where a padded count would
    give 4/9 in the corners) and the max pool of block 7c."""
    net = I.FIDInceptionV3(resize=False)
    widths = {"Mixed_5b": (192, 35, 256), "Mixed_5c": (256, 35, 288), "Mixed_6a": (288, 35, 768)}
    widths |= {"Mixed_6e": (768, 17, 768), "Mixed_7a": (768, 17, 1280), "Mixed_7b": (1280, 8, 2048)}
    widths |= {"Mixed_7c": (2048, 8, 2048)}
    with torch.no_grad():
        for name, (c_in, side, c_out) in widths.items():
            assert getattr(net, name)(torch.zeros(1, c_in, side, side)).shape[1] == c_out, name
    ones = torch.ones(1, 1, 5, 5)
    assert torch.equal(I._avg3(ones), ones)
    assert net.Mixed_7b.pool == "avg" and net.Mixed_7c.pool == "max"
    # the pool branch of 7c sees max, not mean: a single bright pixel spreads undiluted
    x = torch.zeros(1, 2048, 8, 8)
    x[..., 4, 4] = 9.0
    seen = {}
    net.Mixed_7c.branch_pool.register_forward_hook(lambda m, i, o: seen.setdefault("in", i[0]))
    with torch.no_grad():
        net.Mixed_7c(x)
    assert float(seen["in"][0, 0, 3, 3]) == 9.0


def test_weight_file_checks(tmp_path, monkeypatch):
    monkeypatch.setenv("GENTOOLKIT_CACHE", str(tmp_path))

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(I.urllib.request, "urlopen", offline)
    with pytest.raises(I.WeightsMissing, match=r"download from https://github.com/mseitzer.*failed.*copy it to"):
        I.load_fid_inception()
    assert not list((tmp_path / "inception").glob("*"))  # no partial file left
    with pytest.raises(I.WeightsMissing, match="no FID Inception weight file at .*none.pth"):
        I.load_fid_inception(tmp_path / "none.pth")
    # a file with the right tensors: loads (the checksum prefix is set to this file's) and gives the same features
    net = I.FIDInceptionV3()
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "w.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match="is not pytorch-fid's FID Inception weight file"):
        I.load_fid_inception(path)
    monkeypatch.setattr(I, "FID_WEIGHTS_SHA256_PREFIX", I._sha256(path)[:8])
    loaded = I.load_fid_inception(path)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))
    bad = dict(state)
    bad["fc.weight"] = torch.zeros(1000, 2048)
    del bad["Mixed_7c.branch_pool.bn.bias"]
    torch.save(bad, path)
    monkeypatch.setattr(I, "FID_WEIGHTS_SHA256_PREFIX", I._sha256(path)[:8])
    with pytest.raises(ValueError, match=r"missing \['Mixed_7c.branch_pool.bn.bias'\].*fc.weight"):
        I.load_fid_inception(path)


def reference_is(p, splits):
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0)
        scores.append(np.exp(np.mean([entropy(row, py) for row in part])))
    return np.mean(scores), np.std(scores)


def test_inception_score_closed_forms_and_loop():
    k = 10
    onehot = torch.eye(k).repeat(5, 1)  # 50 confident predictions, balanced in every split of 10
    assert I.inception_score(onehot, splits=5) == pytest.approx((k, 0.0))
    same = torch.zeros(50, k)
    same[:, 3] = 1
    assert I.inception_score(same, splits=5) == pytest.approx((1.0, 0.0))
    assert I.inception_score(torch.full((50, k), 1 / k), splits=5) == pytest.approx((1.0, 0.0))
    logits = torch.randn(103, k, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    p = torch.softmax(logits, 1)
    want = reference_is(p.numpy(), 4)
    assert I.inception_score(p, 4) == pytest.approx(want, rel=1e-9)
    assert I.inception_score(logits, 4, logits=True) == pytest.approx(want, rel=1e-9)
    assert 1 < want[0] < k and not math.isclose(want[1], 0)


def test_bad_inputs():
    net = I.FIDInceptionV3()
    with pytest.raises(ValueError, match=r"x must have shape \(n, 3, H, W\)"):
        net(torch.zeros(1, 2, 32, 32))
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        net(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="at least 75 x 75"):
        I.FIDInceptionV3(resize=False)(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="probs must be probabilities"):
        I.inception_score(torch.randn(20, 4))
    with pytest.raises(ValueError, match="splits=30 exceeds the number of samples 20"):
        I.inception_score(torch.full((20, 4), 0.25), splits=30)
    with pytest.raises(ValueError, match=r"probs must have shape \(n, K\)"):
        I.inception_score(torch.ones(20))
