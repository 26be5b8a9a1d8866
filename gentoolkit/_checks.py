"""Argument checks shared by the public entry points (clear errors, raised early)."""

from __future__ import annotations

import math
import numbers

import torch


def positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def positive_float(name: str, value, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not (ok and math.isfinite(value)):
        expected = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ValueError(f"{name} must be {expected}, got {value}")
    return value


def points(name: str, x, dim: int | None = None) -> torch.Tensor:
    """Check that ``x`` is a floating (n, dim) tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (n, {dim or 'd'}), got {type(x).__name__}")
    if x.ndim != 2 or (dim is not None and x.shape[1] != dim):
        raise ValueError(f"{name} must have shape (n, {dim or 'd'}), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def noise_levels(name: str, sigma, x: torch.Tensor, *, allow_zero: bool = True) -> torch.Tensor:
    """Turn a float or an (n,) tensor of noise levels into an (n,) tensor on x's device."""
    if isinstance(sigma, torch.Tensor):
        s = sigma.to(device=x.device, dtype=x.dtype)
        if s.ndim == 0:
            s = s.expand(x.shape[0])
        elif s.ndim != 1 or s.shape[0] != x.shape[0]:
            raise ValueError(
                f"{name} must be a float or a 1-D tensor with one entry per sample "
                f"(shape ({x.shape[0]},)), got shape {tuple(s.shape)}"
            )
    elif isinstance(sigma, numbers.Real) and not isinstance(sigma, bool):
        s = torch.full((x.shape[0],), float(sigma), device=x.device, dtype=x.dtype)
    else:
        raise TypeError(f"{name} must be a float or a torch.Tensor, got {type(sigma).__name__}")
    bad = ~torch.isfinite(s) | ((s < 0) if allow_zero else (s <= 0))
    if bool(bad.any()):
        expected = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {expected}, got {s[bad][0].item()}")
    return s


def generator_for(generator, seed=None) -> torch.Generator | None:
    """A ``torch.Generator`` from either an explicit generator or an int seed."""
    if generator is not None and seed is not None:
        raise ValueError("pass either generator= or seed=, not both")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        return generator
    if seed is not None:
        g = torch.Generator()
        g.manual_seed(int(seed))
        return g
    return None


def randn(shape, generator: torch.Generator | None, *, like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise of ``shape`` with ``like``'s dtype and device.

    Drawn on the generator's device and moved, so a CPU generator gives the same numbers
    whether the model runs on CPU or CUDA.
    """
    dev = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=dev, dtype=like.dtype).to(like.device)


def per_sample(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A per-sample value ``v`` of shape (n,) viewed as (n, 1, ..., 1), so that it broadcasts
    over x's sample shape (points (n, d) and images (n, c, h, w) alike)."""
    return v.reshape(-1, *([1] * (x.ndim - 1)))


def full_like_batch(value: float, x: torch.Tensor) -> torch.Tensor:
    """One copy of ``value`` per sample of ``x``: shape (n,), x's dtype and device."""
    return torch.full((x.shape[0],), float(value), dtype=x.dtype, device=x.device)


def uniform(shape, generator: torch.Generator | None, *, like: torch.Tensor) -> torch.Tensor:
    """U(0, 1) draws of ``shape`` with ``like``'s dtype and device, drawn on the generator's
    device (as :func:`randn`)."""
    dev = generator.device if generator is not None else like.device
    return torch.rand(shape, generator=generator, device=dev, dtype=like.dtype).to(like.device)


def batch(name: str, x, expected: str = "(n, ...) with n samples") -> torch.Tensor:
    """Check that ``x`` is a floating-point tensor with a leading batch axis (ndim >= 2)."""
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or not x.is_floating_point():
        got = f"shape {tuple(x.shape)}, dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a floating-point tensor of shape {expected}, got {got}")
    return x


def call_score(fn, x: torch.Tensor, sigma: torch.Tensor, name: str = "score_fn", cond: str = "sigma") -> torch.Tensor:
    """``fn(x, sigma)``, checked to return a tensor of x's shape (a clear error, not a
    broadcasting surprise deep inside a sampler or loss)."""
    out = fn(x, sigma)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"{name}(x, {cond}) must return a tensor of x's shape {tuple(x.shape)}, got {got}")
    return out
