"""Score-based models as SDEs (report 000; thesis 001, Sec. 2.4.2, Eq. 2.15-2.18).

``VESDE``, ``VPSDE`` and ``SubVPSDE`` share one interface (``sde``, ``marginal_prob``,
``prior_sampling``, ``prior_logp``, ``reverse_drift``, their discrete chains
``discretize``, ``ancestral_step``, ``langevin_alpha``, and EDM's noise level ``edm_sigma`` with
its inverse ``edm_time``) so that solvers are written once
against it, and every method broadcasts over any sample shape: 2D points and images share
every line. Each solver is one function with one signature (:mod:`gentoolkit.sde.solvers`);
``sample`` dispatches to them by name. ``mixture_score`` gives the exact score of a ``toy2d``
mixture under any SDE; ``em_gaussian_moments``, ``flow_gaussian_moments`` and
``deterministic_gaussian_moments`` the exact moments of Euler-Maruyama, of the probability-flow
ODE's limit and of a deterministic sampler on Gaussian data.
"""

from gentoolkit.sde.exact import (
    deterministic_gaussian_moments,
    em_gaussian_moments,
    flow_gaussian_moments,
    gaussian_score,
    mixture_log_prob,
    mixture_score,
)
from gentoolkit.sde.fast_samplers import dpmpp_2m_update, heun_update
from gentoolkit.sde.gotta_go_fast import GGFStats, ggf_attempt
from gentoolkit.sde.probability_flow import log_likelihood
from gentoolkit.sde.sdes import SDE, VESDE, VPSDE, SubVPSDE
from gentoolkit.sde.solvers import (
    METHODS,
    SOLVERS,
    SampleResult,
    ancestral,
    ddim,
    dpmpp_2m,
    edm_heun,
    edm_times,
    euler_maruyama,
    ggf,
    langevin_corrector,
    logsnr_times,
    ode,
    pc,
    reverse_diffusion,
    sample,
    tweedie,
)
from gentoolkit.sde.training import ScaledScore, lognormal_times, sde_dsm_loss

__all__ = [
    "GGFStats",
    "METHODS",
    "SDE",
    "SOLVERS",
    "SampleResult",
    "ScaledScore",
    "SubVPSDE",
    "VESDE",
    "VPSDE",
    "ancestral",
    "ddim",
    "deterministic_gaussian_moments",
    "dpmpp_2m",
    "dpmpp_2m_update",
    "edm_heun",
    "edm_times",
    "em_gaussian_moments",
    "euler_maruyama",
    "flow_gaussian_moments",
    "gaussian_score",
    "ggf",
    "ggf_attempt",
    "heun_update",
    "langevin_corrector",
    "log_likelihood",
    "logsnr_times",
    "lognormal_times",
    "mixture_log_prob",
    "mixture_score",
    "ode",
    "pc",
    "reverse_diffusion",
    "sample",
    "sde_dsm_loss",
    "tweedie",
]
