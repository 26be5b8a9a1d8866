"""The image figures of notebook 08: sample grids side by side and class histograms, checked
against the data they were given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from gentoolkit import plots


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _images(seed, n=6):
    return torch.rand(n, 1, 5, 5, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_image_grids_side_by_side_show_each_grid_with_its_title_and_caption():
    panels = {"a": _images(0), "b": _images(1, n=4)}
    fig = plots.plot_image_grids(panels, nrow=3, captions={"b": "50% confident"})
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["a", "b"]
    assert [ax.get_xlabel() for ax in axes] == ["", "50% confident"]
    for ax, images in zip(axes, panels.values()):
        (im,) = ax.get_images()
        np.testing.assert_allclose(im.get_array(), plots.image_grid(images, 3)[0].numpy())
        assert im.get_clim() == (0.0, 1.0)  # grey levels as they are, not stretched


def test_image_grids_bad_input():
    with pytest.raises(ValueError, match="panels must be a non-empty dict"):
        plots.plot_image_grids({})
    with pytest.raises(ValueError, match="captions has titles that are not in panels: \\['c'\\]"):
        plots.plot_image_grids({"a": _images(0)}, captions={"c": "x"})
    with pytest.raises(ValueError, match="images must be a tensor of shape"):
        plots.plot_image_grids({"a": torch.zeros(5, 5)})


def test_class_histograms_bars_are_the_fractions():
    h1 = torch.full((10,), 0.1, dtype=torch.float64)
    h2 = torch.tensor([0.2, 0.0, 0.1, 0.1, 0.05, 0.05, 0.1, 0.1, 0.1, 0.2])
    ax = plots.plot_class_histograms({"real": h1, "GAN": h2.tolist()})
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, torch.cat([h1, h2.double()]).numpy())
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(0.1)  # the uniform line
    with pytest.raises(ValueError, match="histograms\\['x'\\] must hold 10 fractions"):
        plots.plot_class_histograms({"x": [0.5, 0.5]})
    with pytest.raises(ValueError, match="histograms must be a non-empty dict"):
        plots.plot_class_histograms([])
