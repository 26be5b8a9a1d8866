"""Image datasets: MNIST read from its IDX files, and StackedMNIST (1,000 modes).

MNIST is distributed as four files in LeCun's IDX format (http://yann.lecun.com/exdb/mnist/):
a big-endian header, a magic number whose third byte is the element type (0x08: unsigned
byte) and fourth the number of dimensions, one big-endian int32 per dimension, then the raw
elements. :class:`MNIST` parses that format itself (no torchvision), checks it strictly and,
with ``verify=True``, checks the MD5 of each decompressed file against the canonical one.

Pixels are scaled from 0..255 to [-1, 1] (``x / 127.5 - 1``): the output range of the
``tanh`` that ends DCGAN-style generators, so data and samples live on the same scale.

:class:`StackedMNIST` stacks three MNIST digits as the R, G and B channels of one image; its
label ``100 d_R + 10 d_G + d_B`` takes 1,000 values, the modes that the mode-collapse
literature counts (Metz et al. 2017, unrolled GANs; Srivastava et al. 2017, VEEGAN).

Where the files are: ``root=None`` asks :func:`find_root`; ``download=True`` fetches the
missing files from :data:`MIRRORS`, checked before they are moved into place.
"""

from __future__ import annotations

import gzip
import hashlib
import numbers
import os
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gentoolkit._checks import positive_int

__all__ = [
    "MIRRORS",
    "RAW_MD5",
    "RAW_SIZE",
    "DownloadError",
    "MNIST",
    "StackedMNIST",
    "find_root",
    "clear_cache",
]

#: Where ``download=True`` looks, in order; each serves ``<mirror><file>.gz``.
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]

#: MD5 of each DECOMPRESSED file (the gzip wrappers differ between mirrors; the content does not).
RAW_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

#: Size in bytes of each decompressed file (for the messages).
RAW_SIZE = {
    "train-images-idx3-ubyte": 47_040_016,
    "train-labels-idx1-ubyte": 60_008,
    "t10k-images-idx3-ubyte": 7_840_016,
    "t10k-labels-idx1-ubyte": 10_008,
}

#: Seconds ``download=True`` waits on one mirror before trying the next.
TIMEOUT = 30.0

_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES_MAGIC = 0x00000803  # 2051: unsigned bytes, 3 dims
_LABELS_MAGIC = 0x00000801  # 2049: unsigned bytes, 1 dim
_SIDE = 28
_IMAGE_SIZES = (28, 32)

# parsed files: (resolved path, size, mtime_ns) -> (uint8 tensor, md5 of the decompressed bytes)
_CACHE: dict[tuple[str, int, int], tuple[torch.Tensor, str]] = {}
_CACHE_MAX = 8


class DownloadError(OSError):
    """Every mirror failed to serve a file whose checksum matches."""


class IndexOutOfRange(IndexError, ValueError):
    """An index outside the dataset (an IndexError, so that ``for x in dataset`` stops)."""


def clear_cache() -> None:
    """Forget the parsed files kept in memory (the next :class:`MNIST` reads the disk again)."""
    _CACHE.clear()


# ---------------------------------------------------------------- where the files are


def _shared_data_dir() -> Path:
    """The shared offline copy: ``<project>/../shared/data``, where ``<project>`` is the
    folder that holds the ``gentoolkit`` package (e.g. ``~/gentoolkit`` -> ``~/shared/data``)."""
    import gentoolkit

    return Path(gentoolkit.__file__).resolve().parents[1].parent / "shared" / "data"


def _cache_dir() -> Path:
    """``$XDG_CACHE_HOME/gentoolkit``, or ``~/.cache/gentoolkit``."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "gentoolkit"


def find_root(name: str = "mnist") -> Path:
    """The folder that holds data set ``name``, looked up in this order:

    1. ``$GENTOOLKIT_DATA/<name>`` if the environment variable ``GENTOOLKIT_DATA`` is set
       (returned whether or not it exists: setting it is a decision);
    2. the shared offline copy ``<project>/../shared/data/<name>``, where ``<project>`` is the
       folder holding the ``gentoolkit`` package (e.g. ``~/gentoolkit`` -> ``~/shared/data/mnist``),
       if that folder exists;
    3. the cache ``$XDG_CACHE_HOME/gentoolkit/<name>`` (``~/.cache/gentoolkit/<name>`` when
       ``XDG_CACHE_HOME`` is unset), where ``download=True`` puts the files.
    """
    if not isinstance(name, str) or not name or "/" in name or "\\" in name:
        raise ValueError(f"name must be a non-empty folder name (a str without '/'), got {name!r}")
    env = os.environ.get("GENTOOLKIT_DATA")
    if env:
        return Path(env).expanduser() / name
    shared = _shared_data_dir() / name
    if shared.is_dir():
        return shared
    return _cache_dir() / name


def _locate(root: Path, name: str) -> Path | None:
    """``root/name`` (raw) if present, else ``root/name.gz``, else None."""
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _urls(name: str) -> list[str]:
    return [m.rstrip("/") + "/" + name + ".gz" for m in MIRRORS]


def _missing_message(root: Path, split: str, missing: list[str]) -> str:
    lines = [f"MNIST {split} split: {len(missing)} file(s) missing from {root}:"]
    for name in missing:
        lines.append(f"  {name} (or {name}.gz), md5 {RAW_MD5[name]} of the decompressed file, {RAW_SIZE[name]:,} bytes")
        lines.extend(f"    {url}" for url in _urls(name))
    lines.append(f"pass download=True or put the files in {root}")
    return "\n".join(lines)


# ---------------------------------------------------------------- reading and checking


def _read(path: Path) -> bytes:
    """The decompressed bytes of ``path`` (gzip when its name ends in ``.gz``)."""
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: not a valid gzip file ({e}); re-download it") from e
    return raw


def _header(path: Path, buf: bytes, magic: int, ndim: int, what: str) -> tuple[int, ...]:
    """Check the magic number and that the byte count is header + prod(dims); return dims."""
    head = 4 + 4 * ndim
    if len(buf) < head:
        raise ValueError(f"{path}: {len(buf):,} bytes, too short for an IDX header (expected at least {head})")
    found = int.from_bytes(buf[:4], "big")
    if found != magic:
        raise ValueError(f"{path}: magic number {found}, expected {magic} ({what})")
    dims = tuple(int(d) for d in np.frombuffer(buf, dtype=">i4", count=ndim, offset=4))
    expected = head + int(np.prod(dims, dtype=np.int64))
    if len(buf) != expected:
        kind = "truncated" if len(buf) < expected else "extra bytes"
        shape = " x ".join(str(d) for d in dims)
        raise ValueError(f"{path}: {kind}: {len(buf):,} bytes, expected {expected:,} for {shape}")
    return dims


def _parse(path: Path, kind: str) -> tuple[torch.Tensor, str]:
    """Parse one IDX file (``kind`` "images" or "labels"), cached by (path, size, mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _CACHE:
        return _CACHE[key]
    buf = _read(path)
    if kind == "images":
        n, h, w = _header(path, buf, _IMAGES_MAGIC, 3, "IDX images, ubyte, 3 dims")
        if (h, w) != (_SIDE, _SIDE):
            raise ValueError(f"{path}: images are {h} x {w}, expected {_SIDE} x {_SIDE}")
        array = np.frombuffer(buf, dtype=np.uint8, offset=16).reshape(n, h, w)
        tensor = torch.from_numpy(array.copy())
    else:
        _header(path, buf, _LABELS_MAGIC, 1, "IDX labels, ubyte, 1 dim")
        array = np.frombuffer(buf, dtype=np.uint8, offset=8)
        bad = np.flatnonzero(array > 9)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{path}: label {int(array[i])} at index {i}, expected labels in 0..9")
        tensor = torch.from_numpy(array.astype(np.int64))
    entry = (tensor, hashlib.md5(buf).hexdigest())
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = entry
    return entry


# ---------------------------------------------------------------- download


def _download(root: Path, name: str) -> None:
    """Fetch ``name.gz`` from the first mirror that serves it with the right decompressed MD5;
    written to a temporary file in ``root`` and renamed into place only once checked."""
    expected = RAW_MD5.get(name)
    failures = []
    for url in _urls(name):
        tmp = None
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
                payload = response.read()
            found = hashlib.md5(gzip.decompress(payload)).hexdigest()
            if found != expected:
                raise ValueError(f"md5 {found} of the decompressed file, expected {expected}")
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=root)
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            os.replace(tmp, root / f"{name}.gz")
            tmp = None
            return
        except (OSError, EOFError, ValueError, zlib.error) as e:
            failures.append(f"  {url}: {type(e).__name__}: {e}")
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.remove(tmp)
    tried = "\n".join(failures) if failures else "  (MIRRORS is empty)"
    raise DownloadError(f"could not download {name}.gz into {root}; every mirror failed:\n{tried}")


# ---------------------------------------------------------------- argument checks


def _image_size(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"image_size must be an int (28 or 32), got {value!r} ({type(value).__name__})")
    if value not in _IMAGE_SIZES:
        raise ValueError(f"image_size must be 28 or 32, got {value}")
    return int(value)


def _index(i, n: int) -> int:
    if isinstance(i, bool) or not isinstance(i, numbers.Integral):
        if isinstance(i, torch.Tensor) and i.ndim == 0 and not i.is_floating_point() and i.dtype != torch.bool:
            i = int(i)
        else:
            raise TypeError(f"index must be an int, got {i!r} ({type(i).__name__}); use batch() for many")
    if not -n <= i < n:
        raise IndexOutOfRange(f"index {i} out of range for a dataset of {n} items (expected -{n} <= index < {n})")
    return int(i)


def _indices(indices, n: int) -> torch.Tensor:
    """A 1-D int64 CPU tensor of indices in range (negative ones count from the end, as in torch)."""
    if isinstance(indices, torch.Tensor):
        if indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool:
            raise TypeError(f"indices must be integers, got a tensor of dtype {indices.dtype}")
        idx = indices.detach().to("cpu", torch.int64)
    else:
        try:
            idx = torch.as_tensor(indices, dtype=torch.int64 if len(indices) == 0 else None)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(f"indices must be a 1-D LongTensor or a list of ints, got {indices!r}") from e
        if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
            raise TypeError(f"indices must be integers, got {indices!r}")
        idx = idx.to(torch.int64)
    if idx.ndim != 1:
        raise ValueError(f"indices must be 1-D, got shape {tuple(idx.shape)}")
    if idx.numel():
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -n or hi >= n:
            bad = lo if lo < -n else hi
            raise IndexOutOfRange(f"index {bad} out of range for a dataset of {n} items (expected -{n} <= index < {n})")
    return idx


def _float_dtype(dtype) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    return dtype


def _scale(x: torch.Tensor, image_size: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """uint8 (..., 28, 28) -> ``dtype`` in [-1, 1] on ``device``, padded to ``image_size``.

    ``x / 127.5 - 1`` is computed as ``(2x - 255) / 255``: exact integers divided once, so
    every pixel is the correctly rounded value in any float dtype (0 -> -1, 255 -> 1). The uint8
    values travel to ``device`` first (4x less to copy than floats)."""
    out = x.to(device).to(dtype).mul_(2).sub_(255).div_(255)
    if image_size != _SIDE:
        p = (image_size - _SIDE) // 2
        out = F.pad(out, (p, p, p, p), value=-1.0)
    return out


# ---------------------------------------------------------------- datasets


class MNIST:
    """MNIST digits, read from LeCun's IDX files (http://yann.lecun.com/exdb/mnist/).

    Args:
        root: folder with ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each raw or gzipped
            (``.gz``; the raw file wins when both are present). None: :func:`find_root` ("mnist"):
            ``$GENTOOLKIT_DATA/mnist``, else the shared copy ``<project>/../shared/data/mnist``
            if it exists, else ``$XDG_CACHE_HOME/gentoolkit/mnist`` (``~/.cache/...``).
        split: "train" (60,000 digits) or "test" (10,000; the ``t10k`` files).
        download: fetch this split's missing files from :data:`MIRRORS` into ``root``. A file is
            renamed into place only after the MD5 of its decompressed bytes matches
            :data:`RAW_MD5` (always checked, whatever ``verify`` says); present files are never
            fetched again.
        verify: check the MD5 of each decompressed file against :data:`RAW_MD5` (after the
            format checks, whose messages are more precise). ``verify=False`` for a deliberately
            different file in the same format.
        image_size: 28, or 32 for nets built for 32 x 32 (DCGAN-32): 2 pixels of background
            (-1) on each side, added by ``__getitem__``, :meth:`batch` and :meth:`images`.

    Attributes: ``data`` (uint8, N x 28 x 28, unpadded), ``targets`` (int64, N), ``split``,
    ``root`` (a Path), ``image_size``. Items are ``(image, label)``: a float32
    (1, image_size, image_size) tensor in [-1, 1] (``x / 127.5 - 1``: the ``tanh`` output range
    of DCGAN generators) and an int. Parsed files are cached in memory by (path, size, mtime),
    so building the same split twice reads the disk once.

    Raises:
        FileNotFoundError: a file is missing (the message lists root, names, MD5s and URLs).
        ValueError: a file is not the IDX file expected (magic number, size, 28 x 28, label
            range, label count) or its MD5 differs; the message names the file.
        DownloadError: ``download=True`` and every mirror failed (each failure listed).
    """

    def __init__(self, root=None, split: str = "train", download: bool = False, verify: bool = True, image_size=28):
        if not isinstance(split, str):
            raise TypeError(f"split must be 'train' or 'test' (a str), got {split!r} ({type(split).__name__})")
        if split not in _SPLITS:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if root is not None and not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a path (str or os.PathLike) or None, got {root!r} ({type(root).__name__})")
        for arg, value in (("download", download), ("verify", verify)):
            if not isinstance(value, bool):
                raise TypeError(f"{arg} must be True or False, got {value!r} ({type(value).__name__})")
        self.image_size = _image_size(image_size)
        self.split = split
        self.root = Path(root).expanduser() if root is not None else find_root("mnist")

        names = _SPLITS[split]
        missing = [n for n in names if _locate(self.root, n) is None]
        if missing and not download:
            raise FileNotFoundError(_missing_message(self.root, split, missing))
        if missing:  # _download puts each file in place or raises DownloadError
            self.root.mkdir(parents=True, exist_ok=True)
            for name in missing:
                _download(self.root, name)

        images_path, labels_path = (_locate(self.root, n) for n in names)
        data, images_md5 = _parse(images_path, "images")
        targets, labels_md5 = _parse(labels_path, "labels")
        if len(targets) != len(data):
            raise ValueError(
                f"{labels_path}: {len(targets):,} labels, expected {len(data):,} (one per image in {images_path})"
            )
        if verify:
            for path, name, found in ((images_path, names[0], images_md5), (labels_path, names[1], labels_md5)):
                expected = RAW_MD5.get(name)
                if found != expected:
                    raise ValueError(
                        f"{path}: md5 {found} of the decompressed file, expected {expected}; the file is "
                        f"corrupt or not the canonical MNIST: delete it and download it again "
                        f"(download=True), or pass verify=False if it is deliberately different"
                    )
        # private copies: the cache must not see in-place edits of .data / .targets
        self.data = data.clone()
        self.targets = targets.clone()

    def __len__(self) -> int:
        return self.data.shape[0]

    def __getitem__(self, i) -> tuple[torch.Tensor, int]:
        i = _index(i, len(self))
        return _scale(self.data[i][None], self.image_size), int(self.targets[i])

    def batch(self, indices, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 1, S, S) float32 in [-1, 1] and labels (B,) int64 for ``indices`` (a 1-D
        LongTensor or a list of ints), in one indexing operation, on ``device``."""
        idx = _indices(indices, len(self))
        return _scale(self.data[idx][:, None], self.image_size, device=device), self.targets[idx].to(device)

    def images(self, dtype=torch.float32, device=None) -> torch.Tensor:
        """All images, (N, 1, S, S) in [-1, 1], of ``dtype`` on ``device``."""
        return _scale(self.data[:, None], self.image_size, _float_dtype(dtype), device)

    def __repr__(self) -> str:
        return f"MNIST(split={self.split!r}, n={len(self)}, image_size={self.image_size}, root='{self.root}')"


class StackedMNIST:
    """StackedMNIST: three MNIST digits stacked as the R, G and B channels of one image.

    The benchmark of the mode-collapse literature (Metz et al. 2017; Srivastava et al. 2017,
    VEEGAN): the label ``100 d_R + 10 d_G + d_B`` takes 1,000 values, and a generator's mode
    count is how many of them a classifier finds among its samples.

    Args:
        mnist: the :class:`MNIST` the digits come from.
        size: number of items (default ``len(mnist)``).
        seed: seeds the ``torch.Generator`` that draws the three source indices of every item,
            uniformly with replacement from ``mnist``: same seed, same data set.
        image_size: 28, or 32 (2 pixels of background, -1, on each side, as for :class:`MNIST`).

    Attributes: ``mnist``, ``indices`` ((size, 3) int64: the source digits of the R, G, B
    channels), ``targets`` ((size,) int64 in 0..999), ``seed``, ``image_size``, ``n_modes``
    (1000). Items are ``(image, label)``: a float32 (3, S, S) tensor in [-1, 1] and an int.
    """

    n_modes = 1000

    def __init__(self, mnist: MNIST, size=None, seed: int = 0, image_size=28):
        if not isinstance(mnist, MNIST):
            raise TypeError(f"mnist must be an MNIST instance, got {type(mnist).__name__}")
        size = len(mnist) if size is None else positive_int("size", size)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seed must be an int, got {seed!r} ({type(seed).__name__})")
        if not 0 <= seed < 2**63:
            raise ValueError(f"seed must be an int in 0..2**63-1, got {seed}")
        self.mnist = mnist
        self.seed = int(seed)
        self.image_size = _image_size(image_size)
        g = torch.Generator().manual_seed(self.seed)
        self.indices = torch.randint(len(mnist), (size, 3), generator=g, dtype=torch.int64)
        d = mnist.targets[self.indices]
        self.targets = 100 * d[:, 0] + 10 * d[:, 1] + d[:, 2]

    def __len__(self) -> int:
        return self.indices.shape[0]

    def __getitem__(self, i) -> tuple[torch.Tensor, int]:
        i = _index(i, len(self))
        return _scale(self.mnist.data[self.indices[i]], self.image_size), int(self.targets[i])

    def batch(self, indices, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 3, S, S) float32 in [-1, 1] and labels (B,) int64, in one indexing
        operation, on ``device``."""
        idx = _indices(indices, len(self))
        x = self.mnist.data[self.indices[idx]]  # (B, 3, 28, 28)
        return _scale(x, self.image_size, device=device), self.targets[idx].to(device)

    def __repr__(self) -> str:
        return f"StackedMNIST(size={len(self)}, seed={self.seed}, image_size={self.image_size}, mnist={self.mnist!r})"
