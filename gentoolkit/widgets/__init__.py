"""Interactive widgets: plain classes (controls + plotly figure + ``update()``) that can be
built and driven in a Python test without a browser. In a notebook, one line shows one::

    ScoreFieldViewer(score_fn={"8gaussians": net})

``Quiz`` is the odd one out: a question with a Check button and no figure (a self-check at a
pause in a notebook).
"""

from gentoolkit.widgets.base import Widget
from gentoolkit.widgets.digit_sampler import DigitSampler
from gentoolkit.widgets.gan_live import GANLiveView
from gentoolkit.widgets.landscape import LandscapeExplorer, ParallelLinesView, RelativisticView
from gentoolkit.widgets.metric_explorer import MetricExplorer
from gentoolkit.widgets.noise_tracker import NoiseTracker
from gentoolkit.widgets.quiz import Quiz
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
    "Quiz",
    "RelativisticView",
    "SamplerExplorer",
    "ScoreFieldViewer",
    "SolverExplorer",
    "Widget",
]
