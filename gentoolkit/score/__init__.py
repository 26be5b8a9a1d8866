"""Score matching: losses (DSM, sliced SM) and the error of a learned score against an exact one."""

from gentoolkit.score.losses import dsm_loss, ssm_loss
from gentoolkit.score.metrics import score_error

__all__ = ["dsm_loss", "ssm_loss", "score_error"]
