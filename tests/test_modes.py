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
