"""Interactive widgets: plain classes (controls + plotly figure + ``update()``) that can be
built and driven in a Python test without a browser. In a notebook, one line shows one::

    ScoreFieldViewer(score_fn={"8gaussians": net})
"""

from gentoolkit.widgets.base import Widget
from gentoolkit.widgets.digit_sampler import DigitSampler
from gentoolkit.widgets.gan_live import GANLiveView
from gentoolkit.widgets.landscape import LandscapeExplorer, ParallelLinesView, RelativisticView
from gentoolkit.widgets.metric_explorer import MetricExplorer
from gentoolkit.widgets.noise_tracker import NoiseTracker
from gentoolkit.widgets.sampler_explorer import SamplerExplorer
from gentoolkit.widgets.score_field import ScoreFieldViewer
from gentoolkit.widgets.solver_explorer import SolverExplorer

__all__ = [
    "DigitSampler",
    "GANLiveView",
    "LandscapeExplorer",
    "MetricExplorer",
    "NoiseTracker",
    "ParallelLinesView",
    "RelativisticView",
    "SamplerExplorer",
    "ScoreFieldViewer",
    "SolverExplorer",
    "Widget",
]
