"""Score matching: losses (DSM, sliced SM), annealed samplers (ALS, CAS, EDS) and the error
of a learned score against an exact one."""

from gentoolkit.score.annealed import als, als_noise_std, cas, cas_betas, dilate_sigmas, eds, geometric_sigmas
from gentoolkit.score.losses import dsm_loss, ssm_loss
from gentoolkit.score.metrics import effective_noise, score_error

__all__ = [
    "als",
    "als_noise_std",
    "cas",
    "cas_betas",
    "dilate_sigmas",
    "dsm_loss",
    "eds",
    "effective_noise",
    "geometric_sigmas",
    "score_error",
    "ssm_loss",
]
