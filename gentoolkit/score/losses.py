"""Score-matching losses for a noise-conditional score network s(x, sigma).

Notation (thesis 001, Sec. 2.3.1 and 8.3.1): x is a clean data point, sigma a noise level,
x~ = x + sigma z with z ~ N(0, I) a noisy point, and s(x~, sigma) the network's estimate of
grad log p_sigma(x~), the score of the data convolved with N(0, sigma^2 I).

``score_net(x, sigma)`` is any callable taking x of shape (n, d) and sigma of shape (n,) (one
level per sample) and returning shape (n, d); a :class:`gentoolkit.nets.ScoreMLP` is one.
Both losses weight level sigma by lambda(sigma) = sigma^2 (Song and Ermon 2019), so every
level contributes O(1) and the losses of different levels can be averaged.
"""

from __future__ import annotations

import numbers

import torch

from gentoolkit._checks import batch, call_score, per_sample, positive_int, randn


def _levels(sigmas, like: torch.Tensor) -> torch.Tensor:
    if isinstance(sigmas, numbers.Real) and not isinstance(sigmas, bool):
        sigmas = [float(sigmas)]
    try:
        s = torch.as_tensor(sigmas, dtype=like.dtype).to(like.device)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(
            f"sigmas must be a float or a 1-D tensor/list of noise levels, got {type(sigmas).__name__}"
        ) from e
    if s.ndim != 1 or s.numel() == 0:
        raise ValueError(
            f"sigmas must be a float or a non-empty 1-D tensor of noise levels, got shape {tuple(s.shape)}"
        )
    if not bool(torch.isfinite(s).all()) or bool((s <= 0).any()):
        raise ValueError(f"sigmas must all be finite and > 0, got {s.tolist()[:8]}")
    return s


def draw_sigmas(sigmas, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One noise level per sample of ``x``, drawn uniformly from ``sigmas`` (a float or a 1-D
    list/tensor of levels): the p(sigma) of 001, Eq. 2.9. Shape (n,), x's dtype and device."""
    s = _levels(sigmas, x)
    dev = generator.device if generator is not None else x.device
    idx = torch.randint(len(s), (x.shape[0],), generator=generator, device=dev).to(x.device)
    return s[idx]


def dsm_loss(score_net, x: torch.Tensor, sigmas, generator: torch.Generator | None = None, *, reduction: str = "mean"):
    """Denoising score matching (001, Eq. 2.11 / Eq. 8.1), weighted by lambda(sigma) = sigma^2:

        l(x, sigma, z) = 1/2 || sigma s(x + sigma z, sigma) + z ||^2,

    with sigma drawn per sample uniformly from ``sigmas`` and z ~ N(0, I). Its minimiser is
    the score of the smoothed data, s*(x~, sigma) = grad log p_sigma(x~) (Vincent 2011), and
    for any s, E[l(s)] - E[l(s*)] = sigma^2 / 2 E||s - s*||^2.

    Args:
        score_net: callable ``(x, sigma) -> score`` (sigma of shape (n,)).
        x: clean data, shape (n, ...) (points or images).
        sigmas: a float or a 1-D tensor of noise levels.
        generator: for the levels and the noise (same generator state, same loss).
        reduction: ``"mean"`` (a scalar) or ``"none"`` (one loss per sample).
    """
    x = batch("x", x)
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    sigma = draw_sigmas(sigmas, x, generator)
    z = randn(x.shape, generator, like=x)
    sb = per_sample(sigma, x)
    s = call_score(score_net, x + sb * z, sigma, "score_net")
    per = 0.5 * (sb * s + z).flatten(1).pow(2).sum(1)
    return per.mean() if reduction == "mean" else per


def ssm_loss(
    score_net,
    x: torch.Tensor,
    sigmas,
    generator: torch.Generator | None = None,
    *,
    n_projections: int = 1,
    reduction: str = "mean",
):
    """Sliced score matching with variance reduction (SSM-VR; 001, Eq. 2.8; Song et al. 2020)
    on the noisy data x~ = x + sigma z, weighted by lambda(sigma) = sigma^2:

        l(x~, sigma, v) = sigma^2 [ v^T (d s / d x~) v + 1/2 ||s(x~, sigma)||^2 ],  v ~ N(0, I).

    The Jacobian-vector term is one extra backward pass (never the full d x d Jacobian). By
    integration by parts its expectation equals sigma^2 / 2 E||s - grad log p_sigma||^2 minus
    a constant, so it has the same minimiser as :func:`dsm_loss` without using the clean x
    in the target (only to make x~). "Variance reduction" means the 1/2 (v^T s)^2 term of
    plain SSM is replaced by its expectation over v, 1/2 ||s||^2.

    Args as in :func:`dsm_loss`; ``n_projections`` random directions v per sample are
    averaged. The graph is kept (``create_graph=True``), so the loss can be backpropagated.
    """
    x = batch("x", x)
    n_projections = positive_int("n_projections", n_projections)
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    sigma = draw_sigmas(sigmas, x, generator)
    z = randn(x.shape, generator, like=x)
    sb = per_sample(sigma, x)
    xt = (x + sb * z).detach().requires_grad_(True)
    with torch.enable_grad():
        s = call_score(score_net, xt, sigma, "score_net")
        jvp = 0  # becomes a (n,) tensor on x's device and dtype at the first direction
        for _ in range(n_projections):  # over directions, not samples: each pass is batched
            v = randn(x.shape, generator, like=x)
            (g,) = torch.autograd.grad((s * v).sum(), xt, create_graph=True)
            jvp = jvp + (g * v).flatten(1).sum(1)
        per = sigma**2 * (jvp / n_projections + 0.5 * s.flatten(1).pow(2).sum(1))
    return per.mean() if reduction == "mean" else per
