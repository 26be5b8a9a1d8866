import pytest
import torch

from gentoolkit.metrics import SlicedWasserstein, sliced_wasserstein


def g(seed):
    return torch.Generator().manual_seed(seed)


def test_sliced_wasserstein_is_seeded_promotes_first_and_names_its_arguments():
    """The caller's generator draws the directions (the same seed gives the class's value,
    another seed another value: catches a draw from the global RNG), a float32 y is promoted to
    float64 before the directions are cast to it (catches dropping the promotion: the float32
    directions change the value at ~1e-8), and a bad x or y is named."""
    x = torch.randn(200, 3, generator=g(1), dtype=torch.float64)
    y32 = torch.randn(200, 3, generator=g(2)) + 0.5
    a = sliced_wasserstein(x, y32, 16, g(3))
    assert a == sliced_wasserstein(x, y32.double(), 16, g(3))
    assert a == SlicedWasserstein(y32.double(), 16, g(3))(x)
    assert a != sliced_wasserstein(x, y32, 16, g(4))
    assert sliced_wasserstein(x, y32, generator=g(3)) == SlicedWasserstein(y32.double(), 128, g(3))(x)  # default
    assert sliced_wasserstein(y32, x, 16, g(3)) == SlicedWasserstein(x, 16, g(3))(y32.double())
    with pytest.raises(ValueError, match=r"^x must have shape \(n, d\)"):
        sliced_wasserstein(torch.zeros(5), y32)
    with pytest.raises(ValueError, match=r"^y must have shape \(n, d\)"):
        sliced_wasserstein(x, torch.zeros(5))
