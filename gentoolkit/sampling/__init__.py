"""Samplers that take a density or a score function and know no model or trainer.

- :mod:`gentoolkit.sampling.classic` (thesis 001, Sec. 2.2): inverse transform, rejection
  sampling, random-walk Metropolis-Hastings, ULA and MALA, on a log-density (or score) in any
  dimension, batched over chains; ``run_mcmc`` runs MH, ULA or MALA at one proposal noise std.
- :mod:`gentoolkit.sampling.annealed` (001, Ch. 8): annealed Langevin sampling (ALS), consistent
  annealed sampling (CAS) and the expected denoised sample (EDS) with a noise-conditional score,
  and the noise schedules they use.

The reverse-time SDE solvers (Euler-Maruyama, predictor-corrector, probability-flow ODE, Gotta
Go Fast) are written against an SDE's interface and live with it in :mod:`gentoolkit.sde`.
"""

from gentoolkit.sampling.annealed import als, als_noise_std, cas, cas_betas, dilate_sigmas, eds, geometric_sigmas
from gentoolkit.sampling.classic import (
    MCMC,
    ChainResult,
    RejectionResult,
    inverse_transform,
    inverse_transform_from_cdf,
    mala,
    metropolis_hastings,
    rejection_sampling,
    run_mcmc,
    score_from_log_prob,
    ula,
)

__all__ = [
    "MCMC",
    "ChainResult",
    "RejectionResult",
    "als",
    "als_noise_std",
    "cas",
    "cas_betas",
    "dilate_sigmas",
    "eds",
    "geometric_sigmas",
    "inverse_transform",
    "inverse_transform_from_cdf",
    "mala",
    "metropolis_hastings",
    "rejection_sampling",
    "run_mcmc",
    "score_from_log_prob",
    "ula",
]
