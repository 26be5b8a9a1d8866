"""Score-based models as SDEs (report 000; thesis 001, Sec. 2.4.2, Eq. 2.15-2.18).

``VESDE``, ``VPSDE`` and ``SubVPSDE`` share one interface (``sde``, ``marginal_prob``,
``prior_sampling``, ``reverse_drift``) so that solvers are written once against it, and every
method broadcasts over any sample shape: 2D points and images share every line.
``mixture_score`` gives the exact score of a ``toy2d`` mixture under any of them.
"""

from gentoolkit.sde.exact import em_gaussian_moments, gaussian_score, mixture_log_prob, mixture_score
from gentoolkit.sde.ode import log_likelihood
from gentoolkit.sde.sdes import SDE, VESDE, VPSDE, SubVPSDE
from gentoolkit.sde.solvers import METHODS, SampleResult, sample, tweedie
from gentoolkit.sde.training import ScaledScore, sde_dsm_loss

__all__ = [
    "METHODS",
    "SDE",
    "SampleResult",
    "ScaledScore",
    "SubVPSDE",
    "VESDE",
    "VPSDE",
    "em_gaussian_moments",
    "gaussian_score",
    "log_likelihood",
    "mixture_log_prob",
    "mixture_score",
    "sample",
    "sde_dsm_loss",
    "tweedie",
]
