"""Classic samplers (thesis 001, Sec. 2.1): inverse transform, rejection sampling,
random-walk Metropolis-Hastings, unadjusted Langevin (ULA) and Metropolis-adjusted Langevin
(MALA). Each works on a log-density (or a score) in any dimension, batched over chains, and
reports its acceptance rate where it has one. The annealed samplers (ALS, CAS) that use a
noise-conditional score live in :mod:`gentoolkit.score`.
"""

from gentoolkit.sampling.classic import (
    ChainResult,
    RejectionResult,
    inverse_transform,
    inverse_transform_from_cdf,
    mala,
    metropolis_hastings,
    rejection_sampling,
    ula,
)

__all__ = [
    "ChainResult",
    "RejectionResult",
    "inverse_transform",
    "inverse_transform_from_cdf",
    "mala",
    "metropolis_hastings",
    "rejection_sampling",
    "ula",
]
