"""How far a learned score is from an exact one."""

from __future__ import annotations

import torch

from gentoolkit._checks import generator_for, positive_int


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
        device: where ``score_fn`` runs (default: CPU).
    """
    n = positive_int("n", n)
    levels = torch.as_tensor(sigmas, dtype=torch.float64).flatten()
    if levels.numel() == 0 or bool((levels <= 0).any()):
        raise ValueError(f"sigmas must be a non-empty list of levels > 0, got {levels.tolist()}")
    g = generator_for(generator, seed)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    out = []
    for s in levels.tolist():  # a handful of levels; each is one batched evaluation
        x = mixture.sample(n, g, sigma=s).to(dev)
        sig = torch.full((n,), s, device=dev)
        exact = mixture.score(x.double(), s)
        est = score_fn(x, sig).double()
        out.append(((est - exact).pow(2).sum() / exact.pow(2).sum()).sqrt().item())
    return torch.tensor(out, dtype=torch.float64)
