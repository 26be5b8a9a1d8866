"""gentoolkit.metrics.mode_stats on hand-placed samples, where every number is counted by hand:
which samples are high quality (within n_std stds of the nearest mean, the boundary
included), which modes are covered, and the KL of the mode histogram from the weights."""

import math

import pytest
import torch

from gentoolkit.data.toy2d import Mixture2D
from gentoolkit.metrics import mode_stats

# three unit-std modes far apart, weights 1/2, 1/4, 1/4
MIX = Mixture2D([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], 1.0, [0.5, 0.25, 0.25])


def samples(counts, extra=()):
    """counts[k] points near mode k (offsets of at most 1 std), then the extra points."""
    out = []
    for k, c in enumerate(counts):
        for j in range(c):
            out.append((MIX.means[k] + torch.tensor([0.5 * math.cos(j), 0.5 * math.sin(j)])).tolist())
    return torch.tensor(out + list(extra), dtype=torch.float32)


def test_counts_coverage_quality_and_kl_by_hand():
    # (0, 13) is exactly 3 stds from mode 2: high quality; (0, 50) is 40 stds away: not
    x = samples([4, 2, 0], extra=[(0.0, 13.0), (0.0, 50.0)])
    st = mode_stats(x, MIX)
    assert set(st) == {"modes", "covered", "high_quality", "kl", "counts"}
    assert st["modes"] == 3
    assert torch.equal(st["counts"], torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64))
    assert st["high_quality"] == 7 / 8
    p, w = [4 / 7, 2 / 7, 1 / 7], [0.5, 0.25, 0.25]
    assert st["kl"] == pytest.approx(sum(pi * math.log(pi / wi) for pi, wi in zip(p, w)), rel=1e-12)
    # default min_count: a quarter of the expected share of the rarest mode, at least 1
    assert st["covered"] == 3  # int(0.25 * 8 * 0.25) = 0 -> 1: the single sample covers mode 2
    assert mode_stats(x, MIX, min_count=2)["covered"] == 2  # a count equal to min_count covers
    assert mode_stats(x, MIX, n_std=2.9)["counts"].tolist() == [4.0, 2.0, 0.0]


def test_default_min_count_grows_with_the_sample():
    # 40 samples: int(0.25 * 40 * 0.25) = 2, so one sample does not cover mode 2, two do
    assert mode_stats(samples([30, 9, 1]), MIX)["covered"] == 2
    assert mode_stats(samples([29, 9, 2]), MIX)["covered"] == 3


def test_kl_with_one_or_no_high_quality_sample():
    assert mode_stats(samples([0, 1, 0]), MIX)["kl"] == pytest.approx(math.log(4), rel=1e-12)
    far = mode_stats(torch.tensor([[0.0, 50.0], [60.0, 0.0]]), MIX)
    assert far["kl"] == math.inf and far["covered"] == 0 and far["high_quality"] == 0


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="^samples must"):
        mode_stats(torch.zeros(4, 3), MIX)
    with pytest.raises(ValueError, match="^n_std must"):
        mode_stats(torch.zeros(4, 2), MIX, n_std=0)


def test_mode_count_hand_worked_in_3d():
    """Centres at 0 and 10 e1 and 10 e2 in 3D; thresholds 1, 1, 0.5. Samples: two near the
    origin (one at distance 0.9: inside), one at 10 e1 + 0.6 e3 (inside), one at 10 e2 + 0.6 e3
    (outside 0.5: low quality), one far away (nearest the origin, outside). High quality 3 of 5;
    counts (2, 1, 0); with min_count 1 two modes are covered; KL(p || uniform) with p = (2/3, 1/3, 0)
    = 2/3 log 2 + 1/3 log 1 = (2/3) log(2/3 * 3) + (1/3) log(1/3 * 3)."""
    from gentoolkit.metrics import modes

    c = torch.tensor([[0.0, 0, 0], [10, 0, 0], [0, 10, 0]])
    x = torch.tensor([[0.1, 0, 0], [0, 0.9, 0], [10, 0, 0.6], [0, 10, 0.6], [-5, -5, 0]])
    out = modes.mode_count(x, c, [1.0, 1.0, 0.5])
    assert out["counts"].tolist() == [2.0, 1.0, 0.0] and out["covered"] == 2 and out["modes"] == 3
    assert out["high_quality"] == pytest.approx(3 / 5)
    assert out["kl"] == pytest.approx(2 / 3 * math.log(2) + 1 / 3 * math.log(1))
    assert modes.mode_count(x, c, [1.0, 1.0, 0.5], min_count=2)["covered"] == 1
    # against weights (1/2, 1/4, 1/4): KL = 2/3 log(4/3) + 1/3 log(4/3)
    w = modes.mode_count(x, c, [1.0, 1.0, 0.5], weights=[0.5, 0.25, 0.25])
    assert w["kl"] == pytest.approx(math.log(4 / 3))
    # a single threshold for all, 0.7: the sample at 0.9 drops out
    assert modes.mode_count(x, c, 0.7)["counts"].tolist() == [1.0, 1.0, 1.0]
    # everything in one of K equal modes: log K; nothing high quality: inf
    one = modes.mode_count(torch.zeros(4, 3), c, 1.0)
    assert one["kl"] == pytest.approx(math.log(3)) and one["covered"] == 1
    assert modes.mode_count(torch.full((4, 3), 50.0), c, 1.0)["kl"] == math.inf


def test_mode_count_bad_inputs():
    from gentoolkit.metrics import modes

    c = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"centers must be a tensor of shape \(K, 3\)"):
        modes.mode_count(torch.zeros(4, 3), torch.zeros(2, 2), 1.0)
    with pytest.raises(ValueError, match="samples must be a floating tensor of shape"):
        modes.mode_count(torch.zeros(4, dtype=torch.int64), c, 1.0)
    with pytest.raises(ValueError, match="threshold must be a finite distance > 0, or 2 of them"):
        modes.mode_count(torch.zeros(4, 3), c, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="threshold must be"):
        modes.mode_count(torch.zeros(4, 3), c, 0.0)
    with pytest.raises(ValueError, match="weights must be 2 non-negative numbers summing to 1"):
        modes.mode_count(torch.zeros(4, 3), c, 1.0, weights=[0.5, 0.6])
    with pytest.raises(ValueError, match="min_count must be an int >= 1"):
        modes.mode_count(torch.zeros(4, 3), c, 1.0, min_count=0)
