"""gentoolkit.metrics.digits: the committed MNIST classifier, digit_quality, stacked_mode_count,
the training recipe (determinism, augmentation) and the argument checks."""

import math
import shutil

import pytest
import torch
import torch.nn.functional as F

from gentoolkit.data import images as img
from gentoolkit.metrics import digits

NEG = -1e4  # exp(NEG - 0) underflows to exactly 0 in float32: softmax probabilities are exact


# ---------------------------------------------------------------- stub classifier

# The stub reads the logits from the first 10 pixels of each image, so every sample carries its
# own logits whatever the batching and the order.


def stub(x):
    return x.flatten(1)[:, :10]


def encode(logits, channels=1):
    """Images (n, channels, 28, 28) whose first 10 pixels of each channel are ``logits`` rows
    ((n, 10) for one channel, (n, channels, 10) for several)."""
    logits = torch.as_tensor(logits, dtype=torch.float32)
    if channels == 1:
        logits = logits[:, None]
    n = logits.shape[0]
    x = torch.zeros(n, channels, 28 * 28)
    x[:, :, :10] = logits
    return x.reshape(n, channels, 28, 28)


def onehot(c):
    row = [NEG] * 10
    row[c] = 0.0
    return row


def tie(*classes):
    row = [NEG] * 10
    for c in classes:
        row[c] = 0.0
    return row


# p = 1 (classes 3, 3, 7), p = 0.5 (tie 1-2: argmax 1, the first maximum), p = 0.25 (tie 5, 6, 8, 9: argmax 5)
ROWS = [onehot(3), onehot(3), onehot(7), tie(1, 2), tie(1, 2), tie(5, 6, 8, 9)]


def hist(pairs, total):
    h = torch.zeros(10, dtype=torch.float64)
    for c, k in pairs:
        h[c] = k / total
    return h


def test_quality_stub_exact():
    q = digits.digit_quality(encode(ROWS), stub, threshold=0.5)
    assert q["n"] == 6 and q["n_confident"] == 5
    assert q["confident"] == 5 / 6
    assert q["mean_confidence"] == pytest.approx((3 * 1.0 + 2 * 0.5 + 0.25) / 6, abs=1e-12)
    assert torch.equal(q["histogram"], hist([(3, 2), (7, 1), (1, 2), (5, 1)], 6))
    assert torch.equal(q["confident_histogram"], hist([(3, 2), (7, 1), (1, 2)], 5))
    assert q["histogram"].sum().item() == pytest.approx(1.0)


def test_quality_threshold_boundary():
    x = encode(ROWS)
    just_above = math.nextafter(0.5, 1.0)
    q = digits.digit_quality(x, stub, threshold=just_above)  # 0.5 is no longer >= threshold
    assert q["confident"] == 3 / 6
    assert torch.equal(q["confident_histogram"], hist([(3, 2), (7, 1)], 3))
    assert torch.equal(q["histogram"], hist([(3, 2), (7, 1), (1, 2), (5, 1)], 6))  # unchanged
    assert digits.digit_quality(x, stub, threshold=1.0)["confident"] == 3 / 6  # p = 1 counts at threshold 1
    assert digits.digit_quality(x, stub, threshold=0.25)["confident"] == 1.0
    assert digits.digit_quality(x, stub, threshold=math.nextafter(0.25, 1.0))["confident"] == 5 / 6
    assert digits.digit_quality(x, stub)["confident"] == 3 / 6  # default 0.9


def test_quality_table_rows():
    q = digits.digit_quality(encode(ROWS), stub, threshold=0.5)
    table = digits.quality_table({"stub": q, "other": q}).splitlines()
    assert len(table) == 4 and table[0].startswith("| samples | confident")
    # 5 of 6 confident; mean (3 + 2 * 0.5 + 0.25) / 6; argmin class 0 (0%), argmax class 1 (2 of 6, first maximum)
    assert table[2] == "| stub | 83.3% of 6 | 0.708 | 0 (0.0%) | 1 (33.3%) |"
    assert table[3].startswith("| other |")


@pytest.mark.parametrize("bad", [{}, [1], {"a": {"confident": 1.0}}, {"a": 3}])
def test_quality_table_bad_input(bad):
    with pytest.raises(TypeError, match="qualities"):
        digits.quality_table(bad)


def test_quality_no_confident_sample():
    q = digits.digit_quality(encode([tie(0, 1), tie(2, 3)]), stub)
    assert q["confident"] == 0 and q["n_confident"] == 0
    assert torch.equal(q["confident_histogram"], torch.zeros(10, dtype=torch.float64))
    assert torch.equal(q["histogram"], hist([(0, 1), (2, 1)], 2))


def test_quality_batching_and_layouts():
    x = encode(ROWS)
    ref = digits.digit_quality(x, stub, threshold=0.5)
    variants = [
        digits.digit_quality(x, stub, threshold=0.5, batch_size=4),
        digits.digit_quality(x, stub, threshold=0.5, batch_size=1),
        digits.digit_quality(x[:, 0], stub, threshold=0.5),  # (n, 28, 28)
        digits.digit_quality(x.reshape(6, 784), stub, threshold=0.5),  # (n, 784)
        digits.digit_quality(F.pad(x, (2, 2, 2, 2), value=-1.0), stub, threshold=0.5),  # (n, 1, 32, 32)
    ]
    for q in variants:
        assert q["confident"] == ref["confident"] and q["mean_confidence"] == ref["mean_confidence"]
        assert torch.equal(q["histogram"], ref["histogram"])
        assert torch.equal(q["confident_histogram"], ref["confident_histogram"])


# ---------------------------------------------------------------- stacked_mode_count


def stacked(labels):
    """StackedMNIST-like images whose channels the stub classifies as the digits of ``labels``."""
    rows = [[onehot(lab // 100), onehot(lab // 10 % 10), onehot(lab % 10)] for lab in labels]
    return encode(rows, channels=3)


def test_stacked_two_modes():
    r = digits.stacked_mode_count(stacked([123] * 5 + [456] * 5), stub)
    assert r["modes"] == 2 and r["n"] == 10 and r["n_counted"] == 10
    assert r["kl"] == pytest.approx(math.log(1000 / 2), abs=1e-12)
    expected = torch.zeros(1000, dtype=torch.float64)
    expected[123] = expected[456] = 0.5
    assert torch.equal(r["histogram"], expected)


def test_stacked_channel_order_and_unequal_modes():
    r = digits.stacked_mode_count(stacked([1, 1, 1, 920]), stub)  # digits (0, 0, 1) and (9, 2, 0)
    assert r["modes"] == 2
    assert r["histogram"][1] == 0.75 and r["histogram"][920] == 0.25 and r["histogram"][29] == 0
    assert r["kl"] == pytest.approx(0.75 * math.log(750) + 0.25 * math.log(250), abs=1e-12)
    one = digits.stacked_mode_count(stacked([7] * 3), stub)
    assert one["modes"] == 1 and one["kl"] == pytest.approx(math.log(1000), abs=1e-12)


def test_stacked_uniform_kl_zero():
    r = digits.stacked_mode_count(stacked(list(range(1000))), stub, batch_size=700)
    assert r["modes"] == 1000
    assert abs(r["kl"]) < 1e-12
    assert torch.allclose(r["histogram"], torch.full((1000,), 1e-3, dtype=torch.float64))
    r2 = digits.stacked_mode_count(stacked(list(range(1000)) * 2), stub)
    assert r2["modes"] == 1000 and abs(r2["kl"]) < 1e-12


def test_stacked_threshold():
    x = stacked([123, 123, 456, 789])
    x[3, 1, 0, :10] = torch.tensor(tie(8, 3))  # the G channel of the last sample: p = 0.5
    every = digits.stacked_mode_count(x, stub)
    assert every["modes"] == 3 and every["n_counted"] == 4 and every["histogram"][739] == 0.25  # tie -> 3
    sure = digits.stacked_mode_count(x, stub, threshold=0.9)
    assert sure["modes"] == 2 and sure["n_counted"] == 3 and sure["n"] == 4
    assert sure["histogram"][123] == pytest.approx(2 / 3) and sure["histogram"][739] == 0
    assert sure["kl"] == pytest.approx(2 / 3 * math.log(2000 / 3) + 1 / 3 * math.log(1000 / 3), abs=1e-12)
    assert digits.stacked_mode_count(x, stub, threshold=0.5)["n_counted"] == 4
    none = digits.stacked_mode_count(encode([[tie(1, 2)] * 3], channels=3), stub, threshold=0.9)
    assert none["modes"] == 0 and none["n_counted"] == 0 and math.isnan(none["kl"])


# ---------------------------------------------------------------- augmentation and training


def test_translate_matches_reference():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(25, 2, 28, 28, generator=g) * 2 - 1
    shifts = torch.tensor([(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)])
    out = digits.translate(x, shifts)
    for i, (dy, dx) in enumerate(shifts.tolist()):
        ref = torch.full_like(x[i], -1.0)
        ys, yd = (slice(0, 28 - dy), slice(dy, 28)) if dy >= 0 else (slice(-dy, 28), slice(0, 28 + dy))
        xs, xd = (slice(0, 28 - dx), slice(dx, 28)) if dx >= 0 else (slice(-dx, 28), slice(0, 28 + dx))
        ref[:, yd, xd] = x[i][:, ys, xs]
        assert torch.equal(out[i], ref), (dy, dx)
    assert torch.equal(digits.translate(x, torch.zeros(25, 2, dtype=torch.int64)), x)
    for dtype in (torch.int32, torch.int16):  # any integer shifts (gather needs int64 indices inside)
        assert torch.equal(digits.translate(x, shifts.to(dtype)), out)


def test_translate_errors():
    x = torch.zeros(3, 1, 28, 28)
    with pytest.raises(ValueError, match=r"^shifts must have shape \(3, 2\) \(dy, dx per image\), got \(3, 1\)$"):
        digits.translate(x, torch.zeros(3, 1, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"^shifts must be in -2\.\.2, got 3$"):
        digits.translate(x, torch.tensor([[0, 0], [-3, 1], [0, 0]]))


def test_random_translate_range():
    x = torch.rand(2000, 1, 28, 28) * 2 - 1
    out, shifts = digits.random_translate(x, torch.Generator().manual_seed(1))
    assert shifts.shape == (2000, 2)
    assert set(shifts[:, 0].tolist()) == set(range(-2, 3)) == set(shifts[:, 1].tolist())
    assert torch.equal(out, digits.translate(x, shifts))
    again, shifts2 = digits.random_translate(x, torch.Generator().manual_seed(1))
    assert torch.equal(shifts, shifts2) and torch.equal(out, again)
    with pytest.raises(ValueError, match="shifts"):
        digits.translate(x[:2], torch.tensor([[3, 0], [0, 0]]))


@pytest.fixture(scope="module")
def small_data():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2000, 1, 28, 28, generator=g) * 2 - 1, torch.randint(0, 10, (2000,), generator=g)


def _train(data, **kw):
    kw = {"max_steps": 30, "batch_size": 64, "device": "cpu", "progress": False} | kw
    return digits.train_digit_classifier(data, **kw)


def test_training_deterministic(small_data):
    before = torch.random.get_rng_state()
    a = _train(small_data, seed=3)
    assert torch.equal(torch.random.get_rng_state(), before)  # the global random state is left alone
    b = _train(small_data, seed=3)
    c = _train(small_data, seed=4)
    assert not a.training and not b.training
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)
    d = _train(small_data, seed=3, outliers=False)  # the outlier-exposure batches change the run
    assert any(not torch.equal(sa[k], d.state_dict()[k]) for k in sa)
    init = digits.DigitClassifier(seed=3).state_dict()
    assert any(not torch.equal(sa[k], init[k]) for k in sa)  # it did train


# ---------------------------------------------------------------- the network


def test_classifier_shapes_and_features():
    net = digits.DigitClassifier().eval()
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    f = net.features(x)
    assert f.shape == (5, net.n_features) == (5, 64)
    assert torch.equal(net(x), net.fc2(f))
    assert torch.equal(digits.DigitClassifier(seed=1).fc1.weight, digits.DigitClassifier(seed=1).fc1.weight)
    for bad in (torch.zeros(5, 28, 28), torch.zeros(5, 3, 28, 28), torch.zeros(5, 1, 32, 32)):
        with pytest.raises(ValueError, match=r"x must have shape \(n, 1, 28, 28\)"):
            net(bad)


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "images, err, match",
    [
        ([[0.0] * 784], TypeError, "images must be a torch.Tensor"),
        (torch.zeros(4, 1, 28, 28, dtype=torch.uint8), TypeError, "images must be a floating-point"),
        (torch.zeros(4, 2, 28, 28), ValueError, r"images must have shape .*got \(4, 2, 28, 28\)"),
        (torch.zeros(4, 1, 27, 27), ValueError, "images must have shape"),
        (torch.zeros(4, 783), ValueError, "images must have shape"),
        (torch.zeros(0, 1, 28, 28), ValueError, "images must hold at least one image"),
        (torch.full((2, 1, 28, 28), math.nan), ValueError, "images must be finite"),
    ],
)
def test_quality_bad_images(images, err, match):
    with pytest.raises(err, match=match):
        digits.digit_quality(images, stub)


@pytest.mark.parametrize("threshold", [0, 0.0, -0.1, 1.0001, math.nan, math.inf])
def test_bad_threshold(threshold):
    with pytest.raises(ValueError, match="threshold must be in \\(0, 1\\]"):
        digits.digit_quality(encode(ROWS), stub, threshold=threshold)
    with pytest.raises(ValueError, match="threshold"):
        digits.stacked_mode_count(stacked([1]), stub, threshold=threshold)


def test_other_bad_arguments():
    x = encode(ROWS)
    with pytest.raises(TypeError, match="threshold"):
        digits.digit_quality(x, stub, threshold=True)
    with pytest.raises(TypeError, match="threshold"):
        digits.digit_quality(x, stub, threshold="0.9")
    with pytest.raises(ValueError, match=r"^batch_size must be a positive integer, got 0$"):
        digits.digit_quality(x, stub, batch_size=0)
    with pytest.raises(TypeError, match="classifier must be a callable"):
        digits.digit_quality(x, classifier="net")
    with pytest.raises(ValueError, match=r"classifier must return logits of shape \(6, 10\), got \(6, 9\)"):
        digits.digit_quality(x, lambda z: z.flatten(1)[:, :9])
    with pytest.raises(ValueError, match=r"images must have shape \(n, 3, 28, 28\)"):
        digits.stacked_mode_count(x, stub)
    with pytest.raises(TypeError, match="images must be a torch.Tensor"):
        digits.stacked_mode_count(None, stub)
    with pytest.raises(ValueError, match="epochs"):
        digits.train_digit_classifier((x, torch.zeros(6, dtype=torch.int64)), epochs=0)
    with pytest.raises(TypeError, match="mnist must be"):
        digits.train_digit_classifier("mnist")
    with pytest.raises(ValueError, match="labels"):
        digits.train_digit_classifier((x, torch.full((6,), 10)), device="cpu")
    with pytest.raises(ValueError, match="labels"):
        digits.train_digit_classifier((x, torch.zeros(5, dtype=torch.int64)), device="cpu")


# ---------------------------------------------------------------- the committed weights


def test_checksum_rejects_modified_weights(tmp_path, monkeypatch):
    copy = tmp_path / "digits.pt"
    shutil.copyfile(digits.WEIGHTS_PATH, copy)
    monkeypatch.setattr(digits, "WEIGHTS_PATH", copy)
    net = digits.load_digit_classifier("cpu")  # an intact copy loads
    assert isinstance(net, digits.DigitClassifier) and not net.training
    raw = bytearray(copy.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    copy.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"sha256 .*benchmarks/digit_classifier\.py --write"):
        digits.load_digit_classifier("cpu")
    monkeypatch.setattr(digits, "WEIGHTS_PATH", tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError, match=r"missing.*benchmarks/digit_classifier\.py --write"):
        digits.load_digit_classifier("cpu")


@pytest.fixture(scope="module")
def test_split():
    try:
        return img.MNIST(split="test")
    except FileNotFoundError as e:
        pytest.skip(f"real MNIST test split not found ({img.find_root()}): {str(e).splitlines()[0]}")


@pytest.fixture(scope="module")
def committed():
    return digits.load_digit_classifier("cpu")


def test_committed_accuracy(test_split, committed):
    # measured: 0.9902
    with torch.no_grad():
        pred = torch.cat([committed(x).argmax(1) for x in test_split.images().split(2000)])
    acc = (pred == test_split.targets).double().mean().item()
    assert acc >= 0.985, acc


def test_committed_quality_on_real_digits(test_split, committed):
    # measured: confident 0.971, mean confidence 0.989, histogram within 0.0007 of the truth
    q = digits.digit_quality(test_split.images(), committed)
    assert q["n"] == 10_000
    assert q["confident"] >= 0.9, q
    truth = torch.bincount(test_split.targets, minlength=10).double() / len(test_split)
    assert (q["histogram"] - truth).abs().max().item() <= 0.01
    # the default classifier is the committed one
    assert digits.digit_quality(test_split.images()[:500])["confident"] == pytest.approx(
        digits.digit_quality(test_split.images()[:500], committed)["confident"]
    )


def test_committed_quality_on_noise(committed):
    # measured with the committed weights on these 10,000 uniform-noise images: confident 0.0,
    # mean confidence 0.1002 (softmax nearly uniform: noise was an outlier class in training).
    # Bounds: at most 1% confident (100 images) and mean confidence < 0.3, far under the
    # 0.59-0.63 that a classifier trained without outlier exposure gave on noise
    noise = torch.rand(10_000, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    q = digits.digit_quality(noise, committed)
    assert q["confident"] <= 0.01, q
    assert q["mean_confidence"] < 0.3, q


def test_committed_stacked_modes_on_real_digits(test_split, committed):
    # 10,000 real StackedMNIST images (test digits): the true labels cover all 1,000 modes;
    # measured: 1000 modes found, KL 0.056 (the true labels' own KL is 0.058: the sampling noise
    # of 10 samples per mode)
    stacked_set = img.StackedMNIST(test_split, size=10_000, seed=0)
    x, y = stacked_set.batch(torch.arange(10_000))
    assert torch.unique(y).numel() == 1000
    r = digits.stacked_mode_count(x, committed)
    assert r["modes"] == 1000 and r["n_counted"] == 10_000
    assert 0 < r["kl"] < 0.1


# ---------------------------------------------------------------- input layouts and messages (mutmut gaps)


def test_as_digit_images_crops_32_exactly_and_rejects_other_layouts():
    x = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    out = digits.as_digit_images("images", x, 1)
    assert out.shape == (3, 1, 28, 28) and torch.equal(out, x[..., 2:30, 2:30])
    x3 = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    assert torch.equal(digits.as_digit_images("images", x3, 3), x3[..., 2:30, 2:30])
    expected = "(n, 1, 28, 28), (n, 28, 28), (n, 784) or (n, 1, 32, 32)"
    for shape in [(5, 28, 27), (5, 32, 32)]:  # 3-d is (n, 28, 28) only: no implicit channel for 32 x 32
        with pytest.raises(ValueError) as err:
            digits.as_digit_images("images", torch.zeros(shape), 1)
        assert str(err.value) == f"images must have shape {expected}, got {shape}"
    with pytest.raises(TypeError, match=r"^fakes must be a torch\.Tensor, got list$"):
        digits.as_digit_images("fakes", [[0.0]], 1)


def test_quality_table_separator():
    q = digits.digit_quality(encode(ROWS), stub, threshold=0.5)
    assert digits.quality_table({"stub": q}).splitlines()[1] == "|---|---|---|---|---|"


def test_stacked_mode_count_feeds_the_classifier_one_channel_images():
    seen = []

    def recording(x):
        seen.append(tuple(x.shape))
        return stub(x)

    r = digits.stacked_mode_count(stacked([123, 456]), recording, batch_size=4)
    assert seen == [(4, 1, 28, 28), (2, 1, 28, 28)] and r["modes"] == 2
    with pytest.raises(ValueError, match=r"^batch_size must be a positive integer, got 0$"):
        digits.stacked_mode_count(stacked([1]), stub, batch_size=0)


def test_stacked_mode_count_with_no_counted_sample_keeps_every_key():
    none = digits.stacked_mode_count(encode([[tie(1, 2)] * 3] * 2, channels=3), stub, threshold=0.9)
    assert set(none) == {"modes", "kl", "histogram", "n", "n_counted"}
    assert none["n"] == 2 and none["n_counted"] == 0 and none["modes"] == 0
    assert torch.equal(none["histogram"], torch.zeros(1000, dtype=torch.float64))
