"""Mixture2D's contract beyond its densities: the seed replays the documented draw, and each
bad argument is refused with its own name. Each test names the mutation of
``gentoolkit.data.toy2d`` it catches."""

from __future__ import annotations

import math

import pytest
import torch

from gentoolkit.data.toy2d import Mixture2D

MEANS = [[0.0, 0.0], [3.0, -1.0], [-2.0, 2.0]]


def test_sample_replays_its_draw_from_the_seed():
    """sample(n, g, sigma) = means[k] + sqrt(std_k^2 + sigma^2) z, with k ~ weights drawn
    first, then z in float64 (means - std z, the same law, differs)."""
    mix = Mixture2D(MEANS, [0.5, 1.0, 0.2], [0.2, 0.5, 0.3])
    g = torch.Generator().manual_seed(3)
    k = torch.multinomial(mix.weights, 500, replacement=True, generator=g)
    z = torch.randn(500, 2, generator=g, dtype=torch.float64)
    want = (mix.means[k] + torch.sqrt(mix.stds[k] ** 2 + 0.3**2)[:, None] * z).float()
    assert torch.equal(mix.sample(500, torch.Generator().manual_seed(3), sigma=0.3), want)


def test_defaults_and_edge_values_that_are_allowed():
    assert Mixture2D(MEANS, 1.0).name == "mixture"
    mix = Mixture2D(MEANS[:2], 1.0, [1.0, 0.0])  # a zero weight is a valid (degenerate) mixture
    assert bool((mix.sample(50, torch.Generator().manual_seed(0)) != 0).any())


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(means="abc", stds=1.0), TypeError, "^means must be a tensor or a list of numbers, got str$"),
        (dict(means=MEANS, stds=object()), TypeError, "^stds must be a tensor or a list of numbers, got object$"),
        (dict(means=MEANS, stds=1.0, weights={"a": 1}), TypeError, "^weights must be a tensor or a list of numbers"),
        (
            dict(means=torch.zeros(0, 2), stds=1.0),
            ValueError,
            r"^means must have shape \(K, 2\) with K >= 1, got \(0, 2\)$",
        ),
        (dict(means=[[0.0, math.nan]], stds=1.0), ValueError, "^means must be finite$"),
    ],
    ids=["means-type", "stds-type", "weights-type", "no-components", "means-nan"],
)
def test_bad_arguments_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        Mixture2D(**kwargs)


@pytest.mark.parametrize(
    "sigma", [math.nan, math.inf, True, -0.5, "0.1"], ids=["nan", "inf", "bool", "negative", "str"]
)
def test_sigma_must_be_a_finite_float(sigma):
    with pytest.raises(ValueError, match="^sigma must be a finite float >= 0, got "):
        Mixture2D(MEANS, 1.0).sample(4, sigma=sigma)
