"""How far a learned score is from an exact one."""

from __future__ import annotations

import math

import torch

from gentoolkit._checks import generator_for, positive_int
from gentoolkit.config import device_for


@torch.no_grad()
def score_error(
    score_fn,
    mixture,
    sigmas,
    n: int = 4096,
    generator: torch.Generator | None = None,
    *,
    seed: int | None = None,
    device=None,
) -> torch.Tensor:
    """Relative L2 error of ``score_fn`` against the exact score of ``mixture`` at each level:

        err(sigma) = sqrt( E||s(x, sigma) - s*(x, sigma)||^2 / E||s*(x, sigma)||^2 ),
        x ~ p_sigma (the data convolved with N(0, sigma^2 I)),

    i.e. measured where denoising score matching trains the network. Returns a float64
    tensor with one error per level; ``.mean()`` averages over the levels.

    Args:
        score_fn: ``(x, sigma) -> score`` with sigma of shape (n,).
        mixture: a :class:`gentoolkit.data.toy2d.Mixture2D` (exact ``score``).
        sigmas: 1-D tensor or list of levels (> 0).
        n: samples per level.
        generator / seed: randomness of the evaluation points.
        device: where ``score_fn`` runs; None (default): the device of its parameters when
            it is a network, else ``cuda`` when available (see ``config.device_for``).
    """
    n = positive_int("n", n)
    levels = torch.as_tensor(sigmas, dtype=torch.float64).flatten()
    if levels.numel() == 0 or bool((levels <= 0).any()):
        raise ValueError(f"sigmas must be a non-empty list of levels > 0, got {levels.tolist()}")
    g = generator_for(generator, seed)
    dev = device_for(score_fn, device)
    out = []
    for s in levels.tolist():  # a handful of levels; each is one batched evaluation
        x = mixture.sample(n, g, sigma=s).to(dev)
        sig = torch.full((n,), s, device=dev)
        exact = mixture.score(x.double(), s)
        est = score_fn(x, sig).double()  # both on dev
        out.append(((est - exact).pow(2).sum() / exact.pow(2).sum()).sqrt().item())
    return torch.tensor(out, dtype=torch.float64)


@torch.no_grad()
def effective_noise(
    mixture, x: torch.Tensor, sigma_grid=None, *, center=None, max_points: int = 512, rtol: float = 1e-4
) -> torch.Tensor:
    """The noise level the samples look like: the maximum-likelihood v such that x ~ p_v,
    p_v = p * N(0, v^2 I) with p the clean ``mixture``.

    If x really is clean data plus N(0, v^2 I) noise, this is a consistent estimate of v; for
    a single narrow Gaussian it is the sample's RMS radius (the exact measure of Prop. 1/2's
    proofs). For a mixture, noise much smaller than the components' own std cannot be told
    apart from the data's spread, so the estimate is only informative where v is not small
    compared with the component std. Used by the noise tracker to measure ALS and CAS.

    Args:
        mixture: a ``Mixture2D``.
        x: samples (n, 2), or a batch of sample sets (B, n, 2).
        sigma_grid: candidate levels (1-D, increasing); default 64 levels from 1e-3 to 50.
        center: instead of a fixed grid, one expected level per set (B,): the grid is then
            center * 4^[-1 .. 1] in 9 steps, far cheaper when the level is roughly known.
        max_points: use at most this many samples per set (the first ones).
        rtol: relative precision of the golden-section refinement.

    Returns a float64 tensor of shape () or (B,): the best level of the grid, refined by a
    golden-section search in log v between its two neighbours (to ``rtol``).
    """
    single = x.ndim == 2
    xb = (x[None] if single else x)[:, :max_points].double().cpu()
    if xb.ndim != 3 or xb.shape[-1] != 2:
        raise ValueError(f"x must have shape (n, 2) or (B, n, 2), got {tuple(x.shape)}")
    b, n, _ = xb.shape
    if center is not None:
        c0 = torch.as_tensor(center, dtype=torch.float64).reshape(-1).expand(b)
        factors = torch.logspace(-math.log10(4), math.log10(4), 9, dtype=torch.float64)
        grid = c0[:, None] * factors[None, :]  # (B, G)
    elif sigma_grid is None:
        grid = torch.logspace(-3, math.log10(50.0), 64, dtype=torch.float64).expand(b, -1)
    else:
        grid = torch.as_tensor(sigma_grid, dtype=torch.float64).expand(b, -1)
    flat = xb.reshape(b * n, 2)

    def mean_ll(v: torch.Tensor) -> torch.Tensor:  # v: (B,) one level per set
        return mixture.log_prob(flat, v.repeat_interleave(n)).reshape(b, n).mean(1)

    ll = torch.stack([mean_ll(grid[:, k]) for k in range(grid.shape[1])], 1)  # (B, G), a loop over levels
    j = ll.argmax(1)
    lg = grid.log()
    lo = lg.gather(1, (j - 1).clamp_min(0)[:, None])[:, 0]
    hi = lg.gather(1, (j + 1).clamp_max(grid.shape[1] - 1)[:, None])[:, 0]
    r = (math.sqrt(5) - 1) / 2
    c, d = hi - r * (hi - lo), lo + r * (hi - lo)
    fc, fd = mean_ll(c.exp()), mean_ll(d.exp())
    for _ in range(max(1, math.ceil(math.log(rtol / 0.5) / math.log(r)))):  # bracket shrinks by r each time
        left = fc > fd  # the maximum lies in [lo, d]
        hi, lo = torch.where(left, d, hi), torch.where(left, lo, c)
        new = torch.where(left, hi - r * (hi - lo), lo + r * (hi - lo))
        fnew = mean_ll(new.exp())
        c, d, fc, fd = (
            torch.where(left, new, d),
            torch.where(left, c, new),
            torch.where(left, fnew, fd),
            torch.where(left, fc, fnew),
        )
    v = ((lo + hi) / 2).exp()
    return v[0] if single else v
