"""A small MNIST digit classifier that gentoolkit trains itself, and what it measures.

Uses (issues "Metrics" and "From 2D to images"):

- :func:`digit_quality` judges generated MNIST samples by the **fraction** of samples the
  classifier assigns a probability >= 0.9 (``confident``) and by the class histogram. Mean
  confidence alone is too lenient: a probe measured 0.59-0.63 mean confidence on pure noise and
  0.80 on samples that still looked like scribbles, against 0.984 on real test images.
- :func:`stacked_mode_count` counts the modes of StackedMNIST samples (each of the three
  channels classified, label ``100 a + 10 b + c``, 1,000 modes) and the KL divergence between
  their label histogram and the uniform one, the "modes" and "KL" of the mode-collapse
  literature (Metz et al. 2017; Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN).
- :meth:`DigitClassifier.features` (the penultimate activations) is meant for a "FID-MNIST":
  a Frechet distance in THIS network's feature space. Such numbers are only comparable with
  other numbers computed with the same weights (:data:`DIGITS_SHA256`); they are NOT
  comparable with the Inception FID of papers, nor with any other MNIST classifier's FID.

The committed weights ``gentoolkit/metrics/weights/digits.pt`` come from
``python benchmarks/digit_classifier.py --write`` (the default recipe of
:func:`train_digit_classifier` on the MNIST train split); :func:`load_digit_classifier`
checks their sha256 against :data:`DIGITS_SHA256` before loading them.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gentoolkit._checks import positive_float, positive_int
from gentoolkit.config import resolve_device
from gentoolkit.metrics.frechet import fid

__all__ = [
    "DIGITS_SHA256",
    "WEIGHTS_PATH",
    "DigitClassifier",
    "as_digit_images",
    "digit_quality",
    "fid_mnist",
    "load_digit_classifier",
    "random_translate",
    "stacked_mode_count",
    "train_digit_classifier",
    "translate",
    "weights_state",
]

#: The committed weights, written by ``python benchmarks/digit_classifier.py --write``.
WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "digits.pt"

#: sha256 of :data:`WEIGHTS_PATH`; printed by ``benchmarks/digit_classifier.py --write``.
DIGITS_SHA256 = "4cd0c0eb7a8037dcb4da6fa608bb819a3fa426b3c22d586aab83ed9275773190"

REBUILD_HINT = (
    "rebuild it with `python benchmarks/digit_classifier.py --write` and paste the printed sha256 "
    "into DIGITS_SHA256 in gentoolkit/metrics/digits.py"
)

_SIDE = 28
_N_CLASSES = 10
_N_STACKED = 1000


class DigitClassifier(nn.Module):
    """A small CNN for MNIST digits: (n, 1, 28, 28) in [-1, 1] -> logits (n, 10).

    conv 3x3 (1 -> ``channels[0]``), ReLU, max-pool 2 (-> 14 x 14); conv 3x3 (-> ``channels[1]``),
    ReLU, max-pool 2 (-> 7 x 7); flatten; dropout; linear (-> ``hidden``), ReLU (the
    :meth:`features`); dropout; linear (-> 10). The defaults (16, 32, 64, no dropout) have 105,866
    parameters (424 kB in float32); the committed weights score 99.02% on the MNIST test digits.

    Args:
        channels: the two convolutions' output channels.
        hidden: size of the penultimate layer (the :meth:`features`).
        dropout: dropout probability before each linear layer (train mode only; 0 by default:
            the short recipe underfits rather than overfits).
        seed: seed of the weight initialisation (drawn inside ``torch.random.fork_rng``: the
            global random state is left as it was).
    """

    def __init__(self, channels=(16, 32), hidden: int = 64, dropout: float = 0.0, *, seed: int = 0):
        super().__init__()
        if not isinstance(channels, (tuple, list)) or len(channels) != 2:
            raise ValueError(f"channels must be a pair of positive ints, got {channels!r}")
        c1, c2 = (positive_int("channels", c) for c in channels)
        hidden = positive_int("hidden", hidden)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seed must be an int, got {seed!r} ({type(seed).__name__})")
        self.config = {"channels": (c1, c2), "hidden": hidden, "dropout": float(dropout)}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
            self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
            self.fc1 = nn.Linear(c2 * 7 * 7, hidden)
            self.fc2 = nn.Linear(hidden, _N_CLASSES)
        self.drop = nn.Dropout(float(dropout))

    @property
    def n_features(self) -> int:
        """Size of :meth:`features` (``hidden``)."""
        return self.fc1.out_features

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate activations (n, ``hidden``) (after the ReLU), for a FID-MNIST; see the
        module docstring: such a distance is not comparable with the Inception FID."""
        _check_batch("x", x)
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return F.relu(self.fc1(self.drop(h.flatten(1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (n, 10) of images ``x`` (n, 1, 28, 28) in [-1, 1]."""
        return self.fc2(self.drop(self.features(x)))


def _check_batch(name: str, x) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (n, 1, 28, 28), got {type(x).__name__}")
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, _SIDE, _SIDE):
        raise ValueError(f"{name} must have shape (n, 1, 28, 28) (MNIST images in [-1, 1]), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")


# ---------------------------------------------------------------- augmentation


def translate(images: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Shift each image by whole pixels, filling with the background -1 (no wrap-around).

    ``images`` (n, c, 28, 28); ``shifts`` (n, 2) ints (dy, dx) in -2..2: positive dy moves the
    content down, positive dx to the right (``out[.., i, j] = images[.., i - dy, j - dx]``).
    Vectorized: one pad and two ``gather`` calls, no loop over the samples.
    """
    n, c, h, w = images.shape
    if shifts.shape != (n, 2):
        raise ValueError(f"shifts must have shape ({n}, 2) (dy, dx per image), got {tuple(shifts.shape)}")
    if shifts.numel() and int(shifts.abs().max()) > 2:
        raise ValueError(f"shifts must be in -2..2, got {int(shifts.abs().max())}")
    p = 2
    xp = F.pad(images, (p, p, p, p), value=-1.0)  # (n, c, h + 4, w + 4)
    shifts = shifts.to(images.device, torch.int64)
    rows = torch.arange(h, device=images.device)[None, :] + p - shifts[:, :1]  # (n, h)
    cols = torch.arange(w, device=images.device)[None, :] + p - shifts[:, 1:]  # (n, w)
    out = xp.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * p))
    return out.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def random_translate(images: torch.Tensor, generator: torch.Generator, max_shift: int = 2):
    """:func:`translate` by shifts drawn uniformly from -max_shift..max_shift (each axis
    independently) with ``generator`` (a CPU generator); returns ``(shifted, shifts)``."""
    shifts = torch.randint(-max_shift, max_shift + 1, (images.shape[0], 2), generator=generator)
    return translate(images, shifts), shifts


# ---------------------------------------------------------------- training

_OUTLIER_FRACTION = 8  # one noise image per 8 digits in a batch
_OUTLIER_WEIGHT = 0.5


def _outlier_batch(k: int, generator: torch.Generator) -> torch.Tensor:
    """``k`` non-digits for outlier exposure: half uniform noise in [-1, 1], half sparse
    blobs (background -1, a random 30% of the pixels lit), drawn with ``generator``."""
    u = torch.rand(k, 1, _SIDE, _SIDE, generator=generator) * 2 - 1
    lit = torch.rand(k, 1, _SIDE, _SIDE, generator=generator) < 0.3
    blobs = torch.where(lit, torch.ones(()), -torch.ones(()))
    half = torch.arange(k)[:, None, None, None] % 2 == 0
    return torch.where(half, u, blobs)


def _training_data(mnist) -> tuple[torch.Tensor, torch.Tensor]:
    """(images float32 (N, 1, 28, 28) in [-1, 1], labels int64 (N,)) from an MNIST or a pair."""
    from gentoolkit.data.images import MNIST

    if mnist is None:
        mnist = MNIST(split="train")
    if isinstance(mnist, MNIST):
        x = mnist.data[:, None].to(torch.float32).mul_(2).sub_(255).div_(255)  # as MNIST does, unpadded
        return x, mnist.targets
    if not (isinstance(mnist, (tuple, list)) and len(mnist) == 2):
        raise TypeError(
            f"mnist must be a gentoolkit.data.images.MNIST, an (images, labels) pair of tensors or None, "
            f"got {type(mnist).__name__}"
        )
    x, y = mnist
    _check_batch("mnist[0] (images)", x)
    if not isinstance(y, torch.Tensor) or y.shape != (x.shape[0],) or y.is_floating_point():
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"mnist[1] (labels) must be an integer tensor of shape ({x.shape[0]},), got {shape}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= _N_CLASSES):
        raise ValueError(f"mnist[1] (labels) must be in 0..9, got values in {int(y.min())}..{int(y.max())}")
    return x.to(torch.float32), y.to(torch.int64)


def train_digit_classifier(
    mnist=None,
    *,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    device=None,
    augment: bool = True,
    outliers: bool = True,
    progress: bool = True,
    max_steps: int | None = None,
) -> DigitClassifier:
    """Train a :class:`DigitClassifier` with Adam and cross-entropy; returns it in eval mode.

    Args:
        mnist: a :class:`gentoolkit.data.images.MNIST` (its unpadded 28 x 28 ``data``), an
            ``(images, labels)`` pair ((N, 1, 28, 28) float in [-1, 1], (N,) ints in 0..9), or
            None: ``MNIST(split="train")``.
        epochs: passes over the data, each in a fresh random order.
        batch_size, lr: minibatch size and Adam learning rate.
        seed: seeds the initialisation, the ``torch.Generator`` of the shuffling and of the
            shifts, and (inside ``torch.random.fork_rng``, the global state is left alone) the
            dropout masks: on CPU the same seed gives the same weights.
        device: where to train (None: cuda when available, see ``config.resolve_device``).
        augment: shift every training image by a random -2..2 pixels on each axis
            (:func:`random_translate`, vectorized).
        progress: a tqdm bar over the steps.
        outliers: add the outlier-exposure batches described below.
        max_steps: stop after this many steps (None: ``epochs`` full passes); the cosine
            schedule spans the steps actually run.

    The learning rate decays from ``lr`` to 0 along a cosine over the run. With ``outliers``
    (default), every batch also holds one non-digit per 8 digits (half uniform noise in [-1, 1],
    half random sparse pixels) trained towards the uniform distribution (outlier exposure,
    Hendrycks et al. 2019), so that noise is NOT classified confidently: without it this net gave
    most uniform-noise images a probability >= 0.9.

    The default recipe (3 epochs, batch 64, lr 3e-3, augment, outliers) took 36 s on 2 idle CPU
    cores (about 2.5 min when they are shared with other jobs) and reached 99.02% on the 10,000
    test digits (``benchmarks/digit_classifier.py``).
    """
    epochs = positive_int("epochs", epochs)
    batch_size = positive_int("batch_size", batch_size)
    lr = positive_float("lr", lr)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {seed!r} ({type(seed).__name__})")
    for arg, value in (("augment", augment), ("outliers", outliers), ("progress", progress)):
        if not isinstance(value, bool):
            raise TypeError(f"{arg} must be True or False, got {value!r} ({type(value).__name__})")
    if max_steps is not None:
        max_steps = positive_int("max_steps", max_steps)
    dev = resolve_device(device)
    x, y = _training_data(mnist)
    n = x.shape[0]
    if n == 0:
        raise ValueError("mnist must hold at least one image, got 0")
    per_epoch = math.ceil(n / batch_size)
    total = epochs * per_epoch if max_steps is None else min(max_steps, epochs * per_epoch)

    net = DigitClassifier(seed=int(seed)).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(int(seed))
    net.train()
    from tqdm.auto import tqdm

    bar = tqdm(total=total, disable=not progress, desc="digit classifier", leave=False)
    step = 0
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(int(seed) + 1)  # dropout masks (and CUDA's, when training there)
        while step < total:
            order = torch.randperm(n, generator=g)
            for start in range(0, n, batch_size):
                if step >= total:
                    break
                idx = order[start : start + batch_size]
                xb = x[idx]
                if augment:
                    xb, _ = random_translate(xb, g)
                xb, yb = xb.to(dev), y[idx].to(dev)
                for group in opt.param_groups:  # cosine decay from lr to 0 over the run
                    group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / total))
                if outliers:
                    k = max(1, xb.shape[0] // _OUTLIER_FRACTION)
                    noise = _outlier_batch(k, g).to(dev)
                    logits = net(torch.cat([xb, noise]))
                    loss = F.cross_entropy(logits[: xb.shape[0]], yb)
                    # outlier exposure: cross-entropy to the uniform distribution on the noise
                    loss = loss - _OUTLIER_WEIGHT * F.log_softmax(logits[xb.shape[0] :], dim=1).mean()
                else:
                    loss = F.cross_entropy(net(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                bar.update(1)
                if progress and step % 50 == 0:
                    bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    bar.close()
    return net.eval()


# ---------------------------------------------------------------- committed weights


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def weights_state(net: DigitClassifier, **meta) -> dict:
    """What ``digits.pt`` holds: the architecture, the float32 CPU state dict and ``meta``
    (plain numbers and strings: ``torch.load(weights_only=True)`` reads it)."""
    return {
        "format": 1,
        "config": {"channels": list(net.config["channels"]), "hidden": net.config["hidden"]},
        "state_dict": {k: v.detach().to("cpu", torch.float32).clone() for k, v in net.state_dict().items()},
        "meta": dict(meta),
    }


def load_digit_classifier(device=None) -> DigitClassifier:
    """The committed classifier (:data:`WEIGHTS_PATH`), in eval mode on ``device`` (None: cuda
    when available).

    The file's sha256 is checked against :data:`DIGITS_SHA256` first, then it is read with
    ``torch.load(weights_only=True)``. Raises FileNotFoundError when the file is missing and
    ValueError when its checksum differs; both messages say how to rebuild it.
    """
    dev = resolve_device(device)
    path = Path(WEIGHTS_PATH)
    if not path.is_file():
        raise FileNotFoundError(f"the digit classifier's weights {str(path)!r} are missing; {REBUILD_HINT}")
    found = _sha256(path)
    if found != DIGITS_SHA256:
        raise ValueError(
            f"the digit classifier's weights {str(path)!r} have sha256 {found}, expected DIGITS_SHA256 = "
            f"{DIGITS_SHA256}: the file is modified or corrupt; restore it from git or {REBUILD_HINT}"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    config = state["config"]
    net = DigitClassifier(channels=tuple(config["channels"]), hidden=config["hidden"])
    net.load_state_dict(state["state_dict"])
    return net.to(dev).eval()


# ---------------------------------------------------------------- measurements


def as_digit_images(name: str, images, channels: int) -> torch.Tensor:
    """``images`` as a float (n, channels, 28, 28) tensor; (n, c, 32, 32) is center-cropped."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if not images.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (pixels in [-1, 1]), got dtype {images.dtype}")
    shape = tuple(images.shape)
    if channels == 1:
        expected = "(n, 1, 28, 28), (n, 28, 28), (n, 784) or (n, 1, 32, 32)"
        if images.ndim == 2 and shape[1] == _SIDE * _SIDE:
            images = images.reshape(-1, 1, _SIDE, _SIDE)
        elif images.ndim == 3 and shape[1:] == (_SIDE, _SIDE):
            images = images[:, None]
    else:
        expected = f"(n, {channels}, 28, 28) or (n, {channels}, 32, 32)"
    if images.ndim != 4 or images.shape[1] != channels or tuple(images.shape[2:]) not in ((28, 28), (32, 32)):
        raise ValueError(f"{name} must have shape {expected}, got {shape}")
    if images.shape[-1] == 32:  # MNIST(image_size=32): 2 background pixels on each side
        images = images[..., 2:30, 2:30]
    if images.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image, got shape {shape}")
    if not bool(torch.isfinite(images).all()):
        raise ValueError(f"{name} must be finite, got NaN or infinite pixels")
    return images


def _threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold must be a number in (0, 1], got {threshold!r} ({type(threshold).__name__})")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    return float(threshold)


def _probabilities(images: torch.Tensor, classifier, batch_size: int) -> torch.Tensor:
    """Softmax probabilities (n, 10), float64 on the CPU, of (n, 1, 28, 28) images, batched."""
    if classifier is None:
        classifier = load_digit_classifier()
    if not callable(classifier):
        raise TypeError(f"classifier must be a callable (a DigitClassifier) or None, got {type(classifier).__name__}")
    dev = images.device
    if isinstance(classifier, nn.Module):
        p = next(classifier.parameters(), None)
        if p is not None:
            dev = p.device
    out = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            xb = images[start : start + batch_size].to(dev)
            logits = classifier(xb)
            if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (xb.shape[0], _N_CLASSES):
                found = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
                raise ValueError(f"classifier must return logits of shape ({xb.shape[0]}, 10), got {found}")
            # float64 so that ``>= threshold`` compares with the threshold as given (a float32
            # comparison would round a threshold just above 0.5 down to 0.5)
            out.append(torch.softmax(logits.float(), dim=1).cpu().double())
    return torch.cat(out)


def digit_quality(images, classifier=None, *, threshold: float = 0.9, batch_size: int = 1000) -> dict:
    """How digit-like MNIST samples are, according to the classifier.

    Args:
        images: (n, 1, 28, 28) in [-1, 1] (also accepted: (n, 28, 28), (n, 784), and
            (n, 1, 32, 32) as ``MNIST(image_size=32)`` pads them, center-cropped to 28 x 28).
            Any device; finite values (out-of-range pixels are not clipped).
        classifier: a callable returning logits (b, 10) for (b, 1, 28, 28) images, evaluated
            under ``no_grad`` on its parameters' device; None: :func:`load_digit_classifier`.
            A module is used as it is: pass it in eval mode.
        threshold: a sample is *confident* when its largest probability is >= threshold.
        batch_size: images per forward pass.

    Returns a dict: ``confident`` (the fraction of confident samples, the number to watch:
    about 0.98 on real test digits, near 0 on noise), ``mean_confidence`` (mean largest
    probability; lenient, see the module docstring), ``histogram`` (10 fractions, summing to
    1, of the argmax classes of ALL samples), ``confident_histogram`` (the same over the
    confident samples only; all zeros when there are none), ``n`` and ``n_confident``.
    Histograms are float64 CPU tensors.
    """
    threshold = _threshold(threshold)
    batch_size = positive_int("batch_size", batch_size)
    x = as_digit_images("images", images, 1)
    probs = _probabilities(x, classifier, batch_size)
    conf, label = probs.max(dim=1)
    ok = conf >= threshold
    n = x.shape[0]
    n_ok = int(ok.sum())
    hist = torch.bincount(label, minlength=_N_CLASSES).double() / n
    chist = torch.bincount(label[ok], minlength=_N_CLASSES).double()
    if n_ok:
        chist /= n_ok
    return {
        "confident": n_ok / n,
        "mean_confidence": float(conf.double().mean()),
        "histogram": hist,
        "confident_histogram": chist,
        "n": n,
        "n_confident": n_ok,
    }


def quality_table(qualities: dict) -> str:
    """A markdown table of :func:`digit_quality` results, one row per set of samples.

    Columns: the confident fraction (of n), the mean confidence, and the rarest and commonest
    argmax class with their shares (from ``histogram``), the two numbers that show mode
    dropping. Notebook 08 displays it with ``IPython.display.Markdown``.

    Args:
        qualities: a dict {row name: the dict :func:`digit_quality` returned}; at least one row.
    """
    if not isinstance(qualities, dict) or not qualities:
        raise TypeError(f"qualities must be a non-empty dict of digit_quality results, got {qualities!r}")
    rows = [
        "| samples | confident (p >= 0.9) | mean confidence | rarest class | commonest class |",
        "|---|---|---|---|---|",
    ]
    keys = ("confident", "n", "mean_confidence", "histogram")
    for name, q in qualities.items():
        if not isinstance(q, dict) or any(k not in q for k in keys):
            raise TypeError(f"qualities[{name!r}] must be a digit_quality result (a dict with {keys}), got {q!r}")
        h = q["histogram"]
        rows.append(
            f"| {name} | {q['confident']:.1%} of {q['n']} | {q['mean_confidence']:.3f} | "
            f"{int(h.argmin())} ({float(h.min()):.1%}) | {int(h.argmax())} ({float(h.max()):.1%}) |"
        )
    return "\n".join(rows)


def stacked_mode_count(images, classifier=None, *, threshold: float | None = None, batch_size: int = 1000) -> dict:
    """Modes and KL of StackedMNIST samples (n, 3, 28, 28) (or (n, 3, 32, 32), center-cropped).

    Each channel is classified as an MNIST digit; the label of a sample is ``100 a + 10 b + c``
    (R, G, B digits, as :class:`gentoolkit.data.images.StackedMNIST`). As in the mode-collapse
    literature (VEEGAN, PacGAN), ``modes`` is the number of distinct labels among the samples
    and ``kl`` is KL(p || uniform) = sum_k p_k log(1000 p_k) (natural log) of their label
    histogram p: 0 for a perfectly uniform histogram, log(1000 / m) when m labels are equally
    frequent, log(1000) = 6.91 for a single mode.

    Args:
        classifier: as for :func:`digit_quality` (None: the committed classifier).
        threshold: None (default, as VEEGAN/PacGAN): every sample counts. A number in (0, 1]:
            a sample counts only when all three of its channels are classified with
            probability >= threshold; the others are left out of modes, KL and histogram.

    Returns a dict: ``modes`` (int), ``kl`` (float; NaN when no sample counts), ``histogram``
    ((1000,) float64 fractions of the counted samples), ``n`` and ``n_counted``.
    """
    if threshold is not None:
        threshold = _threshold(threshold)
    batch_size = positive_int("batch_size", batch_size)
    x = as_digit_images("images", images, 3)
    n = x.shape[0]
    probs = _probabilities(x.reshape(n * 3, 1, _SIDE, _SIDE), classifier, batch_size).reshape(n, 3, _N_CLASSES)
    conf, digit = probs.max(dim=2)  # (n, 3)
    labels = 100 * digit[:, 0] + 10 * digit[:, 1] + digit[:, 2]
    if threshold is not None:
        labels = labels[(conf >= threshold).all(dim=1)]
    counts = torch.bincount(labels, minlength=_N_STACKED).double()
    m = labels.shape[0]
    if m == 0:
        return {"modes": 0, "kl": math.nan, "histogram": counts, "n": n, "n_counted": 0}
    p = counts / m
    seen = p > 0
    kl = float((p[seen] * torch.log(p[seen] * _N_STACKED)).sum())
    return {"modes": int(seen.sum()), "kl": max(kl, 0.0), "histogram": p, "n": n, "n_counted": m}


@torch.no_grad()
def fid_mnist(images_real, images_fake, classifier=None, *, batch_size: int = 1000) -> float:
    """FID-MNIST: :func:`gentoolkit.metrics.frechet.fid` on the 64-d features of the digit
    classifier (:meth:`DigitClassifier.features`) of two image sets (n, 1, 28, 28) in [-1, 1].
    Not comparable with an Inception FID (module docstring of :mod:`gentoolkit.metrics.frechet`);
    compare values computed at equal sample sizes."""
    if classifier is None:
        classifier = load_digit_classifier()
    device = next(classifier.parameters()).device
    feats = []
    for name, images in (("images_real", images_real), ("images_fake", images_fake)):
        x = as_digit_images(name, images, 1)
        parts = [classifier.features(x[i : i + batch_size].to(device).float()) for i in range(0, len(x), batch_size)]
        feats.append(torch.cat(parts))
    return fid(*feats)
