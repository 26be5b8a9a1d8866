"""Score matching (thesis 001, Sec. 2.3.1 and 8.6): the losses that train a noise-conditional
score network, ``dsm_loss`` (denoising) and ``ssm_loss`` (sliced, variance-reduced), and
:mod:`gentoolkit.score.adversarial` (DSM plus an LSGAN game on the expected denoised sample).

The annealed samplers that use such a network are in :mod:`gentoolkit.sampling`, and the
score's error against an exact one in :mod:`gentoolkit.metrics`.
"""

import warnings

from gentoolkit.score.losses import draw_sigmas, dsm_loss, ssm_loss

__all__ = ["draw_sigmas", "dsm_loss", "ssm_loss"]

# old import paths (before issue 10), kept one release
_MOVED = {
    **{n: "gentoolkit.sampling" for n in ("als", "als_noise_std", "cas", "cas_betas", "dilate_sigmas", "eds")},
    "geometric_sigmas": "gentoolkit.sampling",
    "score_error": "gentoolkit.metrics",
    "effective_noise": "gentoolkit.metrics",
}


def __getattr__(name):
    if name in _MOVED:
        import importlib

        warnings.warn(
            f"gentoolkit.score.{name} moved to {_MOVED[name]}.{name}; the old path goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'gentoolkit.score' has no attribute {name!r}")
