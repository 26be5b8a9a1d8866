import pytest
import torch

from gentoolkit.metrics import SlicedWasserstein, sliced_wasserstein
from tests.conftest import DEVICES


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


def test_bfloat16_on_cpu_sorts_in_torch_and_matches_float64():
    """NumPy has no bfloat16, so on CPU a bfloat16 sample is sorted by torch (it used to raise):
    the value matches float64 on the same bfloat16 data to 4e-3, about one bfloat16 ulp (2^-8;
    the measured gap is 1.5e-4), while sorting the rows instead of the columns of the projections
    is 3% off."""
    x = torch.randn(300, 2, generator=g(1)).bfloat16()
    y = (torch.randn(300, 2, generator=g(2)) + torch.tensor([1.0, 0.5])).bfloat16()
    ref = sliced_wasserstein(x.double(), y.double(), 32, g(3))
    assert sliced_wasserstein(x, y, 32, g(3)) == pytest.approx(ref, rel=4e-3)


@pytest.mark.parametrize("device", DEVICES)
def test_same_value_on_every_device(device):
    """The directions come from the CPU generator and are moved, and the sort (torch's off the
    CPU) is exact, so a float64 sample gives the CPU's value on any device."""
    x = torch.randn(500, 3, generator=g(4), dtype=torch.float64)
    y = torch.randn(500, 3, generator=g(5), dtype=torch.float64) * 2
    ref = sliced_wasserstein(x, y, 16, g(6))
    assert sliced_wasserstein(x.to(device), y.to(device), 16, g(6)) == pytest.approx(ref, rel=1e-12)
    # a generator on the device draws there, the same directions each time
    dg = torch.Generator(device).manual_seed(7)
    first = SlicedWasserstein(y.to(device), 16, dg)(x.to(device))
    assert first == SlicedWasserstein(y.to(device), 16, dg.manual_seed(7))(x.to(device))


def test_the_class_defaults_to_128_directions_promotes_and_names_its_arguments():
    """SlicedWasserstein itself: 128 directions by default, a float64 sample against a float32
    reference is promoted (the float32 directions and sorted reference cast exactly, so it
    agrees with a float64 reference to float32 rounding of the directions), and a bad y,
    n_projections or x is named."""
    x = torch.randn(200, 3, generator=g(1), dtype=torch.float64)
    y32 = torch.randn(200, 3, generator=g(2)) + 0.5
    assert SlicedWasserstein(y32, generator=g(3))(x) == SlicedWasserstein(y32, 128, g(3))(x)
    assert SlicedWasserstein(y32, generator=g(3))(x) != SlicedWasserstein(y32, 127, g(3))(x)
    assert SlicedWasserstein(y32, 16, g(3))(x) == pytest.approx(SlicedWasserstein(y32.double(), 16, g(3))(x), rel=1e-6)
    with pytest.raises(ValueError, match=r"^y must have shape \(n, d\)"):
        SlicedWasserstein(torch.zeros(5))
    with pytest.raises(ValueError, match="^n_projections must be a positive integer, got 0"):
        SlicedWasserstein(y32, 0)
    with pytest.raises(ValueError, match=r"^x must have shape \(n, d\)"):
        SlicedWasserstein(y32)(torch.zeros(5))
