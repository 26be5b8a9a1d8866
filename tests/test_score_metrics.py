"""gentoolkit.metrics.score_error against closed forms on Gaussian data: where it draws its
points (p_sigma, not the data), its float64 levels, its seeding and its device rules."""

import copy
import math

import pytest
import torch

from gentoolkit.data.toy2d import Mixture2D
from gentoolkit.metrics import score_error
from gentoolkit.nets import ScoreMLP
from tests.conftest import DEVICES

MU, S = 0.7, 0.5  # one Gaussian N(MU, S^2 I) in 2D
GAUSS = Mixture2D([[MU, -MU]], S)


def test_error_of_an_offset_score_is_measured_on_p_sigma():
    """s = s* + c (c in each coordinate) has err^2 = 2 c^2 / E||s*||^2. On p_sigma =
    N(mu, (S^2 + sigma^2) I) the exact score is -(x - mu) / (S^2 + sigma^2), so
    E||s*||^2 = 2 / (S^2 + sigma^2) and err = c sqrt(S^2 + sigma^2) (= 1.118 c at sigma = 1);
    points drawn from the clean data instead would give c (S^2 + sigma^2) / S = 2.5 c.
    E||s*||^2 is a mean of n chi-square(2)/2 terms: relative SE 1/sqrt(n) = 1.6% at n = 4096,
    so err (its inverse square root) has 0.8%; the tolerance 4% is 5 SE."""
    c, sigma = 0.3, 1.0
    err = score_error(lambda x, s: GAUSS.score(x, s) + c, GAUSS, [sigma], seed=0)
    assert err.dtype == torch.float64 and err.shape == (1,)
    assert abs(err.item() / (c * math.sqrt(S**2 + sigma**2)) - 1) < 0.04


def test_default_is_4096_points_per_level_with_sigma_per_point():
    seen = []

    def spy(x, sigma):
        seen.append((x.shape, sigma.shape, sigma.dtype, sigma.unique().tolist()))
        return GAUSS.score(x, sigma)

    score_error(spy, GAUSS, [0.25, 2.0], seed=0)
    assert seen == [((4096, 2), (4096,), torch.float32, [0.25]), ((4096, 2), (4096,), torch.float32, [2.0])]


def test_levels_are_float64():
    """The exact score evaluated at sigma = 0.3 in float64 has zero error (to float64 rounding);
    levels rounded to float32 (0.30000001) would give ~1e-7."""
    err = score_error(lambda x, s: GAUSS.score(x.double(), 0.3), GAUSS, [0.3], n=256, seed=0)
    assert err.item() < 1e-12


def test_seed_and_generator_fix_the_points():
    """An imperfect score's error depends on the points: the same seed (or an equally seeded
    generator) gives the same error, another seed another one."""

    def fn(x, s):
        return 0.8 * GAUSS.score(x, s) + 0.1 * x**2

    def err(**kw):
        return score_error(fn, GAUSS, [0.2], n=64, **kw).item()

    assert err(seed=3) == err(seed=3) == err(generator=torch.Generator().manual_seed(3))
    assert err(seed=3) != err(seed=4)
    assert err(generator=torch.Generator().manual_seed(3)) != err(generator=torch.Generator().manual_seed(4))


def test_a_network_is_evaluated_where_it_is_even_when_the_default_device_is_elsewhere(monkeypatch):
    """device=None: a network's own device wins over the default device (cuda when available);
    here the default is faked to be 'meta', where no value can be read."""
    import gentoolkit.config

    net = torch.nn.Linear(2, 2)

    def score(x, s):
        return net(x) * 0 + GAUSS.score(x, s)

    monkeypatch.setattr(gentoolkit.config, "default_device", lambda: torch.device("meta"))
    wrapped = torch.nn.Module()
    wrapped.net = net
    wrapped.forward = score
    assert score_error(wrapped, GAUSS, [0.5], n=32, seed=0).item() < 1e-5


def test_bad_n_names_the_argument():
    with pytest.raises(ValueError, match="^n must"):
        score_error(GAUSS.score, GAUSS, [0.5], n=0)


@pytest.mark.parametrize("device", DEVICES)
def test_a_network_on_any_device_gives_the_cpu_error(device):
    """Points and sigmas go to the network's device (on CUDA, a CPU input would raise)."""
    net = ScoreMLP(hidden=16, depth=1)
    torch.manual_seed(0)
    want = score_error(net, GAUSS, [0.3, 1.0], n=64, seed=0)
    got = score_error(copy.deepcopy(net).to(device), GAUSS, [0.3, 1.0], n=64, seed=0)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)  # float32 matmuls in another order
    # a plain function on that device gets its sigmas there too (it mixes them with x)
    m = torch.tensor([MU, -MU], device=device)
    exact = score_error(lambda x, s: -(x - m) / (S**2 + s[:, None] ** 2), GAUSS, [0.3], n=64, seed=0, device=device)
    assert exact.item() < 1e-5
