"""The FID Inception-v3, written natively (no torchvision), and the Inception Score.

**The network.** FID (Heusel et al. 2017) is defined on the 2048-d pool features of the
Inception-v3 graph of TensorFlow's FID code (``inception-2015-12-05``), whose weights
pytorch-fid publishes as ``pt_inception-2015-12-05-6726825d.pth``. That graph is Szegedy et
al.'s Inception-v3 (torchvision's ``Inception3`` layout and parameter names, 1008 classes, no
auxiliary classifier) with four differences that change the features, so a plain Inception-v3
gives other numbers:

- the average pools inside the mixed blocks 5b-5d (A), 6b-6e (C) and 7b (E) do not count the
  zero padding (``count_include_pad=False``);
- the pool branch of the last block, 7c, takes a 3x3 *max* pool, not an average pool.

Inputs are images (n, 3, H, W) (or (n, 1, H, W), repeated to three channels) in [-1, 1], the
range the graph expects, resized to 299 x 299 bilinearly (``align_corners=False``, as
pytorch-fid) unless ``resize=False``. :meth:`FIDInceptionV3.forward` returns the features
(n, 2048) after the global average pool; :meth:`FIDInceptionV3.logits` the 1008 class logits
for the Inception Score.

**Weights.** :func:`load_fid_inception` reads the published file from a cache folder
(``$GENTOOLKIT_CACHE`` or ``~/.cache/gentoolkit``, subfolder ``inception``), downloading it from
pytorch-fid's release page when it is missing and ``download=True``. The file name carries
the first 8 hex digits of its sha256 (torch.hub's convention), which is checked before the
file is used; it is read with ``torch.load(weights_only=True)`` and must match this network's
parameter names and shapes exactly. Offline, a missing file raises an error that says where
to put it.

**Inception Score** (Salimans et al. 2016): IS = exp(E_x KL(p(y|x) || p(y))), p(y) the mean of
p(y|x) over the samples, computed on each of ``splits`` equal parts of the samples; reported
as the mean and standard deviation over the parts (the usual protocol: 10 splits of 50,000).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gentoolkit._checks import positive_int

__all__ = ["FID_WEIGHTS_URL", "FIDInceptionV3", "inception_score", "load_fid_inception"]

FID_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
)
FID_WEIGHTS_FILE = FID_WEIGHTS_URL.rsplit("/", 1)[1]
FID_WEIGHTS_SHA256_PREFIX = "6726825d"
N_CLASSES = 1008  # the TensorFlow graph's classes (1000 ImageNet classes and 8 unused)


class WeightsMissing(FileNotFoundError):
    """The FID Inception weight file is not in the cache and cannot be downloaded."""


class _Conv(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3), ReLU: parameters ``conv.*`` and ``bn.*``."""

    def __init__(self, c_in: int, c_out: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=1e-3)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg3(x):
    """The FID graph's 3x3 average pool (stride 1, padding 1) that ignores the padding."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class _MixedA(nn.Module):
    """35 x 35 block (5b-5d): 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | pool -> 1x1; 224 + pool channels."""

    def __init__(self, c_in: int, pool: int):
        super().__init__()
        self.branch1x1 = _Conv(c_in, 64, 1)
        self.branch5x5_1, self.branch5x5_2 = _Conv(c_in, 48, 1), _Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _Conv(c_in, 64, 1)
        self.branch3x3dbl_2 = _Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _Conv(96, 96, 3, padding=1)
        self.branch_pool = _Conv(c_in, pool, 1)

    def forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg3(x))], 1)


class _MixedB(nn.Module):
    """35 -> 17 reduction (6a): 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | max pool 3x3/2; 480 + c_in channels."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3 = _Conv(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = _Conv(c_in, 64, 1)
        self.branch3x3dbl_2 = _Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _Conv(96, 96, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class _MixedC(nn.Module):
    """17 x 17 block (6b-6e) with factorised 7x7 convolutions of width c7; 768 channels."""

    def __init__(self, c_in: int, c7: int):
        super().__init__()
        row, col = dict(padding=(0, 3)), dict(padding=(3, 0))
        self.branch1x1 = _Conv(c_in, 192, 1)
        self.branch7x7_1 = _Conv(c_in, c7, 1)
        self.branch7x7_2 = _Conv(c7, c7, (1, 7), **row)
        self.branch7x7_3 = _Conv(c7, 192, (7, 1), **col)
        self.branch7x7dbl_1 = _Conv(c_in, c7, 1)
        self.branch7x7dbl_2 = _Conv(c7, c7, (7, 1), **col)
        self.branch7x7dbl_3 = _Conv(c7, c7, (1, 7), **row)
        self.branch7x7dbl_4 = _Conv(c7, c7, (7, 1), **col)
        self.branch7x7dbl_5 = _Conv(c7, 192, (1, 7), **row)
        self.branch_pool = _Conv(c_in, 192, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for k in range(1, 6):
            d = getattr(self, f"branch7x7dbl_{k}")(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg3(x))], 1)


class _MixedD(nn.Module):
    """17 -> 8 reduction (7a): 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 | max pool; 512 + c_in."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = _Conv(c_in, 192, 1), _Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _Conv(c_in, 192, 1)
        self.branch7x7x3_2 = _Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _Conv(192, 192, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = x
        for k in range(1, 5):
            b7 = getattr(self, f"branch7x7x3_{k}")(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class _MixedE(nn.Module):
    """8 x 8 block (7b, 7c) with split 1x3 / 3x1 outputs; 2048 channels. ``pool``: "avg" (7b,
    padding not counted) or "max" (7c), the FID graph's pool branch."""

    def __init__(self, c_in: int, pool: str):
        super().__init__()
        self.pool = pool
        row, col = dict(padding=(0, 1)), dict(padding=(1, 0))
        self.branch1x1 = _Conv(c_in, 320, 1)
        self.branch3x3_1 = _Conv(c_in, 384, 1)
        self.branch3x3_2a, self.branch3x3_2b = _Conv(384, 384, (1, 3), **row), _Conv(384, 384, (3, 1), **col)
        self.branch3x3dbl_1 = _Conv(c_in, 448, 1)
        self.branch3x3dbl_2 = _Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a, self.branch3x3dbl_3b = _Conv(384, 384, (1, 3), **row), _Conv(384, 384, (3, 1), **col)
        self.branch_pool = _Conv(c_in, 192, 1)

    def forward(self, x):
        a = self.branch3x3_1(x)
        b = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        p = _avg3(x) if self.pool == "avg" else F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(a),
                self.branch3x3_2b(a),
                self.branch3x3dbl_3a(b),
                self.branch3x3dbl_3b(b),
                self.branch_pool(p),
            ],
            1,
        )


class FIDInceptionV3(nn.Module):
    """The Inception-v3 of TensorFlow's FID graph (module docstring), randomly initialised; load
    the published weights with :func:`load_fid_inception`. ``resize``: bilinear resize to 299 x 299
    first (the FID protocol; the network accepts any size >= 75 x 75 without it)."""

    def __init__(self, resize: bool = True):
        super().__init__()
        self.resize = bool(resize)
        self.Conv2d_1a_3x3 = _Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _Conv(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = _MixedA(192, 32), _MixedA(256, 64), _MixedA(288, 64)
        self.Mixed_6a = _MixedB(288)
        self.Mixed_6b, self.Mixed_6c = _MixedC(768, 128), _MixedC(768, 160)
        self.Mixed_6d, self.Mixed_6e = _MixedC(768, 160), _MixedC(768, 192)
        self.Mixed_7a = _MixedD(768)
        self.Mixed_7b, self.Mixed_7c = _MixedE(1280, "avg"), _MixedE(2048, "max")
        self.fc = nn.Linear(2048, N_CLASSES)
        self.eval()

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor of images (n, 3, H, W) in [-1, 1], got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(
                f"x must have shape (n, 3, H, W) or (n, 1, H, W) (images in [-1, 1]), got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor (pixels in [-1, 1]), got dtype {x.dtype}")
        if not self.resize and min(x.shape[-2:]) < 75:
            raise ValueError(f"without resize the images must be at least 75 x 75, got {tuple(x.shape[-2:])}")
        x = x.to(self.fc.weight.dtype)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.resize:
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The 2048-d pool features (n, 2048) of images x in [-1, 1]."""
        h = self._input(x)
        for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3"):
            h = getattr(self, name)(h)
        h = F.max_pool2d(h, 3, stride=2)
        h = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(h)), 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            h = getattr(self, f"Mixed_{name}")(h)
        return h.mean((2, 3))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The 1008 class logits (n, 1008) (for :func:`inception_score`)."""
        return self.fc(self.forward(x))


def _cache_dir() -> Path:
    root = os.environ.get("GENTOOLKIT_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "gentoolkit") / "inception"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(url: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=60) as r:  # noqa: S310 (a fixed https URL)
            for block in iter(lambda: r.read(1 << 20), b""):
                f.write(block)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_fid_inception(path=None, *, download: bool = True, device=None) -> FIDInceptionV3:
    """The FID Inception-v3 with pytorch-fid's published weights, in eval mode.

    ``path``: the weight file (default: ``FID_WEIGHTS_FILE`` in the cache folder, downloaded
    from ``FID_WEIGHTS_URL`` when missing and ``download``). The file's sha256 must start with
    ``FID_WEIGHTS_SHA256_PREFIX``; its tensors must match the network's names and shapes."""
    default = path is None
    path = _cache_dir() / FID_WEIGHTS_FILE if default else Path(path)
    if not path.is_file():
        if default and download:
            try:
                _download(FID_WEIGHTS_URL, path)
            except OSError as e:
                raise WeightsMissing(
                    f"the FID Inception weights are not in {path} and the download from {FID_WEIGHTS_URL} failed "
                    f"({e}). Download that file on a machine with internet access and copy it to {path} (or set "
                    f"GENTOOLKIT_CACHE to a folder whose inception/ subfolder holds it)."
                ) from e
        else:
            raise WeightsMissing(
                f"no FID Inception weight file at {path}; get {FID_WEIGHTS_URL} and put it there"
                + ("" if not default else " (or call with download=True)")
            )
    digest = _sha256(path)
    if not digest.startswith(FID_WEIGHTS_SHA256_PREFIX):
        raise ValueError(
            f"{path} is not pytorch-fid's FID Inception weight file: its sha256 {digest[:16]}... does not start "
            f"with {FID_WEIGHTS_SHA256_PREFIX}; delete it and download {FID_WEIGHTS_URL} again"
        )
    net = FIDInceptionV3()
    load_matching(net, torch.load(path, map_location="cpu", weights_only=True), str(path))
    return net.to(device if device is not None else "cpu").eval()


def load_matching(net: nn.Module, state: dict, where: str) -> None:
    """Load ``state`` into ``net`` requiring the same names and shapes (BatchNorm's
    ``num_batches_tracked`` counters may be absent: files from older PyTorch lack them)."""
    if not isinstance(state, dict):
        raise ValueError(f"{where} must hold a state dict of tensors, got {type(state).__name__}")
    own = net.state_dict()
    missing = sorted(k for k in own if k not in state and not k.endswith("num_batches_tracked"))
    unexpected = sorted(k for k in state if k not in own)
    wrong = sorted(k for k in state if k in own and tuple(state[k].shape) != tuple(own[k].shape))
    if missing or unexpected or wrong:
        raise ValueError(
            f"{where} does not match the FID Inception-v3: missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"wrong shapes {[(k, tuple(state[k].shape), tuple(own[k].shape)) for k in wrong[:5]]}"
        )
    net.load_state_dict(state, strict=False)


def inception_score(probs, splits: int = 10, *, logits: bool = False) -> tuple[float, float]:
    """The Inception Score (module docstring) of class probabilities (n, K) (rows summing to 1),
    or of logits with ``logits=True``: (mean, std) over ``splits`` consecutive parts (as equal as
    :func:`torch.tensor_split` makes them). Between 1 (every sample the same, or every prediction
    uniform) and K (confident and balanced predictions)."""
    if not isinstance(probs, torch.Tensor):
        raise TypeError(f"probs must be a torch.Tensor of shape (n, K), got {type(probs).__name__}")
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValueError(f"probs must have shape (n, K) with K >= 2 classes, got {tuple(probs.shape)}")
    if not probs.is_floating_point() or not bool(torch.isfinite(probs).all()):
        raise ValueError("probs must be a finite floating-point tensor")
    splits = positive_int("splits", splits)
    if splits > len(probs):
        raise ValueError(f"splits={splits} exceeds the number of samples {len(probs)}")
    p = probs.double()
    if logits:
        logp = torch.log_softmax(p, 1)
    else:
        if bool((p < 0).any()) or not torch.allclose(p.sum(1), torch.ones(len(p), dtype=p.dtype), atol=1e-4):
            raise ValueError("probs must be probabilities (>= 0, rows summing to 1); pass logits=True for logits")
        logp = torch.log(p.clamp(min=1e-300))
    scores = []
    for part in torch.tensor_split(logp, splits):
        q = part.exp()
        log_py = torch.log(q.mean(0).clamp(min=1e-300))
        kl = (q * (part - log_py)).sum(1).mean()
        scores.append(kl.exp())
    s = torch.stack(scores)
    return float(s.mean()), float(s.std(unbiased=False)) if splits > 1 else 0.0
