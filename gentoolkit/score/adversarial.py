"""Adversarial score matching (thesis 001, Sec. 8.6): denoising score matching plus an LSGAN
game played on the expected denoised sample (EDS).

With x~ = x + sigma z, the score network's EDS is H_theta(x~, sigma) = x~ + sigma^2
s_theta(x~, sigma) (Eq. 8.3). A discriminator D_phi learns to tell data from EDSs with the
least-squares GAN loss (Mao et al. 2017; labels +1 for data, -1 for EDSs), Eq. 8.4:

    L_D = E[(D(x) - 1)^2] + E[(D(H_theta(x~, sigma)) + 1)^2]        (minimised over phi)

(the text prints "max_phi"; LSGAN's discriminator minimises this squared error, which is
what the LSGAN objective and App. C.2 describe), and the score network minimises Eq. 8.5:

    L_s = E[(D(H_theta(x~, sigma)) - 1)^2] + lambda / 2 ||sigma s_theta(x~, sigma) + z||^2,

i.e. the DSM loss of Eq. 8.1 weighted by lambda (App. C.2 found lambda = 1 best) plus the
pressure to make the EDS look real.
"""

from __future__ import annotations

import torch

from gentoolkit._checks import batch, call_score, per_sample, positive_float, randn
from gentoolkit.score.losses import draw_sigmas


def adversarial_dsm_losses(
    score_net,
    disc,
    x: torch.Tensor,
    sigmas,
    generator: torch.Generator | None = None,
    *,
    lam: float = 1.0,
    part: str = "both",
) -> dict[str, torch.Tensor]:
    """The losses of Eq. 8.4 and 8.5 on one minibatch, with shared draws of sigma and z.

    Returns ``{"disc": L_D, "score": L_s, "dsm": the DSM term, "eds": H_theta}``. ``L_D`` sees
    the EDS detached (it trains phi only); ``L_s`` backpropagates through D into theta
    (step only theta's optimiser with it). ``part="disc"`` or ``"score"`` computes only that
    player's loss (plus "dsm" and "eds"), saving the discriminator passes the other needs; the
    draws are the same whichever part is asked for.
    """
    if part not in ("both", "disc", "score"):
        raise ValueError(f"part must be 'both', 'disc' or 'score', got {part!r}")
    x = batch("x", x)
    lam = positive_float("lam", lam, allow_zero=True)
    sigma = draw_sigmas(sigmas, x, generator)
    z = randn(x.shape, generator, like=x)
    sb = per_sample(sigma, x)
    xt = x + sb * z
    s = call_score(score_net, xt, sigma, "score_net")
    h = xt + sb**2 * s
    dsm = 0.5 * (sb * s + z).flatten(1).pow(2).sum(1).mean()
    out = {"dsm": dsm, "eds": h}
    if part != "score":
        out["disc"] = (disc(x) - 1).pow(2).mean() + (disc(h.detach()) + 1).pow(2).mean()
    if part != "disc":
        out["score"] = (disc(h) - 1).pow(2).mean() + lam * dsm
    return out
