"""A noise- or time-conditional U-Net score network s_theta(x, c) for 28x28 and 32x32 images.

The architecture is the DDPM U-Net of Ho et al. (2020), the score network that thesis 001
(references/001_dd1c9446192fd545.txt, Sec. 8.2 and Table 8.3) found to improve sample
quality over the RefineNet of NCSN/NCSNv2 (Song and Ermon 2019, 2020), and the backbone of the
DDPM++/NCSN++ score models of Song et al. (2021) that report 000
(references/000_4e57916f1cad8472.txt, Sec. 3.1 and 5.1) samples from. It is cut down so that
it trains on a laptop CPU (1.1 M parameters at 28x28x1 by default):

- a 3x3 input convolution to ``width`` channels;
- per resolution, ``num_res_blocks`` residual blocks (GroupNorm, SiLU, 3x3 conv, + a
  per-channel bias projected from the condition embedding, GroupNorm, SiLU, dropout, 3x3
  conv initialised to zero, and a 1x1 skip convolution when the number of channels changes),
  each followed by a single-head self-attention block at the resolutions in
  ``attn_resolutions``; then a stride-2 3x3 convolution halves the resolution (not after the
  last level);
- a middle block at the lowest resolution: residual block, attention, residual block;
- the way up mirrors the way down with ``num_res_blocks + 1`` residual blocks per level, each
  taking the concatenation of the current features and one skip activation saved on the way
  down, and nearest-neighbour x2 upsampling followed by a 3x3 convolution between levels;
- GroupNorm, SiLU and a 3x3 output convolution back to ``channels``.

The second convolution of every residual block and the output projection of every attention
block start at zero (as in Ho et al. 2020, who scale them by 1e-10), so at initialisation
every block reduces to its skip path (the identity, or a 1x1 conv where the width changes);
the output convolution keeps PyTorch's default initialisation, so an untrained network
returns an O(1) (not identically zero) score.

GroupNorm uses the largest divisor of C that is at most min(32, C // 4) as its number of
groups for C channels (:func:`num_groups`): at most 32 groups as in DDPM, and at least 4
channels per group, since with one channel per group the normalisation after the condition's
per-channel bias would subtract that bias again and the network would ignore the noise level.

Conditioning follows :class:`gentoolkit.nets.ScoreMLP` (001, Sec. 8.3.1) so that every loss,
sampler and trainer of the package accepts either network unchanged:

- ``cond="sigma"``: c is the noise level sigma > 0. The network sees
  x_in = x / sqrt(data_std^2 + sigma^2) (unit variance at every level: the c_in of Karras et
  al. 2022) and the embedding of u = log(sigma) / 4 (their c_noise), and its output is divided
  by sigma (s(x, sigma) = s(x) / sigma of 001 Sec. 8.3.1: the optimal score has size
  |x - x_clean| / sigma^2 ~ 1 / sigma, so the network only learns an O(1) quantity).
- ``cond="time"``: c is a diffusion time t (in [0, 1] for the SDEs of 000), u = t, and the
  raw output is returned; wrap the net in :class:`gentoolkit.sde.training.ScaledScore` for the
  input and output scaling.

The embedding of u is the sinusoidal (transformer) embedding of 1000 u used by DDPM for its
integer step t in {0, ..., 999} (sin and cos of 1000 u * 10000^(-k / (K - 1)), k < K, with
2K = ``width`` rounded up to an even number, at least 4), followed
by an MLP Linear-SiLU-Linear to ``embed_dim``; each residual block adds SiLU-Linear of it to
its features as a per-channel bias. With u = log(sigma) / 4 the levels sigma in [0.01, 50]
span u in [-1.15, 0.98], about as wide as DDPM's time range.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from gentoolkit._checks import positive_float, positive_int


def num_groups(channels: int) -> int:
    """GroupNorm groups for ``channels``: the largest divisor of ``channels`` that is at most
    min(32, channels // 4) (and at least 1).

    So at most 32 groups, as in DDPM, and at least 4 channels per group whenever C >= 4 (DDPM's
    narrowest level, 128 channels in 32 groups, has exactly 4). One channel per group would be
    instance normalisation, which subtracts every per-channel constant, so the condition
    embedding added as a per-channel bias just before ``norm2`` would be erased.
    Examples: 8 -> 2, 16 -> 4, 24 -> 6, 32 -> 8, 64 -> 16, 96 -> 24, 128 and more -> 32.
    """
    cap = max(1, min(32, channels // 4))
    return max(g for g in range(1, cap + 1) if channels % g == 0)


def group_norm(channels: int) -> nn.GroupNorm:
    """``nn.GroupNorm`` with :func:`num_groups` groups."""
    return nn.GroupNorm(num_groups(channels), channels)


def sinusoidal_embedding(u: torch.Tensor, dim: int) -> torch.Tensor:
    """The transformer/DDPM sinusoidal embedding of 1000 u: shape (n,) -> (n, dim), float32.

    [sin(1000 u f_k), cos(1000 u f_k)] with f_k = 10000^(-k / (dim/2 - 1)), k < dim / 2
    (``dim`` even, >= 4). Computed in float32 even under autocast (sin of a large argument in
    bfloat16 would be meaningless).
    """
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=u.device, dtype=torch.float32) / (half - 1))
    a = 1000.0 * u.float()[:, None] * freqs[None, :]
    return torch.cat([a.sin(), a.cos()], dim=1)


class ResBlock(nn.Module):
    """DDPM residual block: h = skip(x) + conv2(drop(act(GN(conv1(act(GN(x))) + proj(emb))))).

    ``conv2`` starts at zero, so the block is ``skip`` (the identity or a 1x1 conv) at init.
    """

    def __init__(self, in_ch: int, out_ch: int, embed_dim: int, dropout: float):
        super().__init__()
        self.norm1 = group_norm(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb_proj = nn.Linear(embed_dim, out_ch)
        self.norm2 = group_norm(out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb_proj(F.silu(emb))[:, :, None, None].to(h.dtype)
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over the H*W positions (DDPM): x + proj(softmax(q^T k /
    sqrt(C)) v), q, k, v from a 1x1 conv of GN(x). ``proj`` starts at zero (identity at init).
    The softmax is taken in float32, so the block is safe under bfloat16 autocast."""

    def __init__(self, ch: int):
        super().__init__()
        self.norm = group_norm(ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        n, c, hgt, wid = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, c, hgt * wid).unbind(1)  # each (n, C, P)
        logits = torch.einsum("ncp,ncq->npq", q.float(), k.float()) / math.sqrt(c)
        w = torch.softmax(logits, dim=-1).to(v.dtype)  # (n, P, P): position p attends to q
        h = torch.einsum("npq,ncq->ncp", w, v).reshape(n, c, hgt, wid)
        return x + self.proj(h)


class ScoreUNet(nn.Module):
    """s_theta(x, c): a DDPM-style U-Net for images, conditioned on a noise level or a time.

    See the module docstring for the layout (Ho et al. 2020; 001 Sec. 8.2, Table 8.3; 000
    Sec. 3.1) and the conditioning (001 Sec. 8.3.1, as :class:`gentoolkit.nets.ScoreMLP`).

    Args:
        channels: image channels (1 for MNIST, 3 for CIFAR-10).
        image_size: side S of the square images; must be divisible by
            2**(len(channel_mults) - 1) (28 -> 14 -> 7 and 32 -> 16 -> 8 by default).
        width: channels of the first level; level i has ``width * channel_mults[i]``.
        channel_mults: one multiplier per resolution, highest resolution first.
        num_res_blocks: residual blocks per level on the way down (one more on the way up).
        attn_resolutions: resolutions (sides, e.g. 7) at which every residual block is
            followed by self-attention; each must be one of the U-Net's resolutions
            ``image_size // 2**i``. The middle block always has one attention block.
        dropout: dropout probability inside the residual blocks, in [0, 1).
        cond: ``"sigma"`` (c is the noise level sigma > 0) or ``"time"`` (c is a time t).
        embed_dim: size of the condition embedding; ``4 * width`` by default (DDPM).
        data_std: rough std of the clean data, for the input scaling (``cond="sigma"``);
            0.5 suits images in [-1, 1].
        seed: seed of the weight initialisation (drawn inside ``torch.random.fork_rng``: the
            global random state is left untouched).

    ``forward(x, c)`` takes x of shape (n, channels, image_size, image_size) and c as a float
    or a tensor of shape (n,) and returns a tensor of x's shape and dtype.

    Parameter counts (asserted by tests/test_nets_unet.py): 1,112,801 for the defaults at
    28x28x1 (``ScoreUNet()``); 8,952,067 for ``ScoreUNet(3, 32, width=64,
    channel_mults=(1, 2, 2, 2), num_res_blocks=2, attn_resolutions=(16,))`` at 32x32x3 (a
    half-width DDPM CIFAR-10 net; the full one has width 128, 35.7 M parameters).
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 28,
        width: int = 32,
        channel_mults: Sequence[int] = (1, 2, 2),
        num_res_blocks: int = 1,
        attn_resolutions: Sequence[int] = (7,),
        dropout: float = 0.0,
        *,
        cond: str = "sigma",
        embed_dim: int | None = None,
        data_std: float = 0.5,
        seed: int = 0,
    ):
        super().__init__()
        self.channels = positive_int("channels", channels)
        self.image_size = positive_int("image_size", image_size)
        width = positive_int("width", width)
        num_res_blocks = positive_int("num_res_blocks", num_res_blocks)
        mults = _int_tuple("channel_mults", channel_mults)
        if not mults:
            raise ValueError("channel_mults must have at least one entry, got ()")
        if min(mults) < 1:
            raise ValueError(f"channel_mults entries must be positive integers, got {mults}")
        factor = 2 ** (len(mults) - 1)
        if self.image_size % factor:
            raise ValueError(
                f"image_size must be divisible by 2**(len(channel_mults) - 1) = {factor} "
                f"(channel_mults={mults}), got {self.image_size}"
            )
        self.resolutions = tuple(self.image_size // 2**i for i in range(len(mults)))
        attn = _int_tuple("attn_resolutions", attn_resolutions)
        for r in attn:
            if r not in self.resolutions:
                raise ValueError(
                    f"attn_resolutions entries must be resolutions of the U-Net {self.resolutions}, got {r}"
                )
        self.attn_resolutions = attn
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        if cond not in ("sigma", "time"):
            raise ValueError(f"cond must be 'sigma' or 'time', got {cond!r}")
        self.cond = cond
        embed_dim = 4 * width if embed_dim is None else positive_int("embed_dim", embed_dim)
        self.data_std = positive_float("data_std", data_std)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seed must be an int, got {seed!r} ({type(seed).__name__})")
        self.freq_dim = max(4, width + width % 2)
        self.channel_mults, self.width, self.num_res_blocks = mults, width, num_res_blocks

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.embed = nn.Sequential(nn.Linear(self.freq_dim, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim))
            self.conv_in = nn.Conv2d(self.channels, width, 3, padding=1)
            # way down: remember the channels of every activation pushed on the skip stack
            self.down = nn.ModuleList()
            skips, ch = [width], width
            for i, m in enumerate(mults):
                res = self.resolutions[i]
                for _ in range(num_res_blocks):
                    self.down.append(ResBlock(ch, width * m, embed_dim, dropout))
                    ch = width * m
                    if res in attn:
                        self.down.append(AttnBlock(ch))
                    skips.append(ch)
                if i < len(mults) - 1:
                    self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                    skips.append(ch)
            self.mid = nn.ModuleList(
                [ResBlock(ch, ch, embed_dim, dropout), AttnBlock(ch), ResBlock(ch, ch, embed_dim, dropout)]
            )
            # way up: every residual block eats one skip activation
            self.up = nn.ModuleList()
            for i in reversed(range(len(mults))):
                res, m = self.resolutions[i], mults[i]
                for _ in range(num_res_blocks + 1):
                    self.up.append(ResBlock(ch + skips.pop(), width * m, embed_dim, dropout))
                    ch = width * m
                    if res in attn:
                        self.up.append(AttnBlock(ch))
                if i > 0:
                    self.up.append(_Upsample(ch))
            assert not skips
            self.norm_out = group_norm(ch)
            self.conv_out = nn.Conv2d(ch, self.channels, 3, padding=1)

    def unet(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The network body on an already scaled input x and embedding argument u, shape (n,)
        (log(sigma) / 4 or t); :meth:`forward` adds the checks and the sigma scalings."""
        emb = self.embed(sinusoidal_embedding(u, self.freq_dim))
        h = self.conv_in(x)
        hs = [h]
        for layer in self.down:
            if isinstance(layer, ResBlock):
                h = layer(h, emb)
                hs.append(h)
            elif isinstance(layer, AttnBlock):
                h = hs[-1] = layer(h)
            else:  # downsampling
                h = layer(h)
                hs.append(h)
        for layer in self.mid:
            h = layer(h, emb)
        for layer in self.up:
            if isinstance(layer, ResBlock):
                h = layer(torch.cat([h, hs.pop().to(h.dtype)], dim=1), emb)
            else:
                h = layer(h)
        return self.conv_out(F.silu(self.norm_out(h)))

    def forward(self, x: torch.Tensor, c) -> torch.Tensor:
        s = self.image_size
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != (self.channels, s, s):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a tensor of shape (n, {self.channels}, {s}, {s}), got {shape}")
        name = "sigma" if self.cond == "sigma" else "t"
        if isinstance(c, bool) or not isinstance(c, (numbers.Real, torch.Tensor)):
            raise TypeError(f"the condition {name} must be a float or a tensor of shape (n,), got {type(c).__name__}")
        c = torch.as_tensor(c, dtype=x.dtype, device=x.device)
        if c.ndim == 0:
            c = c.expand(x.shape[0])
        if c.shape != (x.shape[0],):
            raise ValueError(
                f"the condition {name} must be a float or have shape ({x.shape[0]},), got {tuple(c.shape)}"
            )
        if not bool(torch.isfinite(c).all()):
            raise ValueError(f"the condition {name} must be finite, got {c[~torch.isfinite(c)][0].item()}")
        if self.cond == "time":
            return self.unet(x, c).to(x.dtype)
        if bool((c <= 0).any()):
            raise ValueError(f"sigma must be > 0 for a noise-conditional score network, got {c[c <= 0][0].item()}")
        cb = c[:, None, None, None]
        h = self.unet(x / torch.sqrt(self.data_std**2 + cb**2), c.log() / 4)
        return h.to(x.dtype) / cb


class _Upsample(nn.Module):
    """Nearest-neighbour x2 upsampling followed by a 3x3 convolution (DDPM)."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _int_tuple(name: str, value) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of ints, got {value!r} ({type(value).__name__})")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be a sequence of ints, got {value!r}")
    return tuple(int(v) for v in value)
