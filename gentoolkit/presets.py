"""Named training presets for MNIST: every hyper-parameter of a run, with a one-line help each.

A preset is a :class:`Preset`: a name, a one-line description and a frozen dataclass config
(:class:`GANConfig`, :class:`NCSNConfig` or :class:`VPConfig`) whose fields are *all* the
hyper-parameters of the run (networks, optimiser, loss, EMA, sampler). Each field carries, in
its ``metadata``, a one-line ``help`` and its allowed values (``low`` / ``high`` bounds,
``choices``), which :mod:`gentoolkit.cli` turns into one ``--flag`` per field and
:func:`check` enforces. Use :func:`get` and :func:`names`:

>>> from gentoolkit import presets
>>> presets.get("mnist-wgan-gp").config.n_d
5

The four presets (MNIST in [-1, 1], 28 x 28, ``x / 127.5 - 1``):

- ``mnist-dcgan-ns``: DCGAN with the non-saturating loss and the "dcgan" setup of thesis 001,
  Sec. 4.6.1 (Adam betas (.5, .999), n_D = 1; Radford et al. 2016), batch 64, an EMA (.999) of
  the generator for sampling, R1 (gamma = 1; Mescheder et al. 2018, assignment 003) applied
  lazily, every 16 steps with weight 16 (Karras et al. 2020, Sec. 3.1), and both learning rates
  at 4e-4 instead of the setup's 2e-4, 8,000 steps. Without R1 the recipe under-produced 2s and
  4s (classes 2.9-16.2% at 64.7% confident after 14,000 steps); R1 keeps every class near 10%,
  and with it the doubled learning rate is stable and gets there in two thirds of the steps
  (README, "Pretrained models"). ``--regularizer none --reg-every 1 --lr-g 2e-4 --lr-d 2e-4`` is
  the plain DCGAN of the assignment's "Vanilla GAN".
- ``mnist-wgan-gp``: WGAN-GP (Gulrajani et al. 2017): the wgan loss, gradient penalty 10, the
  "wgan-gp" setup (lr 1e-4, betas (.5, .9), n_D = 5). The critic uses layer norm, not batch
  norm: the penalty is a per-sample gradient norm, which BatchNorm couples across the batch
  (lecture 004, "layer norm for WGAN-GP").
- ``mnist-ncsn-cas``: an NCSN (``ScoreUNet(cond="sigma")``) trained with DSM on a geometric
  schedule, sampled with consistent annealed sampling (001, Alg. 5). The schedule follows
  Song and Ermon 2020's rules (001, Ch. 8):

  * Technique 1, sigma_1 about the largest pairwise distance of the training data: measured on
    8,000 random MNIST training digits in [-1, 1]^784 it is 31.6 (median 20.5); the full set's
    maximum is a little larger, so sigma_1 = 35.
  * sigma_L = 0.02: NCSNv2's 0.01 for data in [0, 1], rescaled to [-1, 1] (2.5 grey levels).
  * Technique 2, gamma = sigma_{i-1} / sigma_i with
    Phi(sqrt(2D)(gamma - 1) + 3 gamma) - Phi(sqrt(2D)(gamma - 1) - 3 gamma) = 0.5 for
    D = 784: gamma = 1.082, so L = 1 + log(35 / 0.02) / log(1.082) = 96 levels.
  * Technique 4, the step size: with gamma = 1.0818 and T = 5 steps per level, the variance
    ratio (1 - eta)^{2T} (gamma^2 - 2 / (2 - eta)) + 2 / (2 - eta) of ALS is smallest (1.094)
    at eta = eps / sigma_L^2 = 0.1, so eps = 0.1 * 0.02^2 = 4e-5. CAS spends the T = 5
    updates as ``dilate_sigmas(sigmas, 5)`` (476 levels, gamma' = 0.9844) and needs
    |1 - eta| <= gamma', i.e. eta in [0.0156, 1.984]: 0.1 is well inside, and with it both
    samplers of 001 Ch. 8 can be compared at one eps (``--sampler als``).
  * EMA .999 (001, Sec. 8.7, as Song and Ermon 2020 on MNIST-sized data).

- ``mnist-vp-ggf``: a time-conditional ``ScoreUNet(cond="time")`` wrapped by
  :class:`gentoolkit.sde.ScaledScore` for the VP SDE (beta 0.1 .. 20, Song et al. 2021),
  trained with :func:`gentoolkit.sde.sde_dsm_loss` and sampled with Gotta Go Fast (001,
  Alg. 6) at eps_rel = 0.02, eps_abs = 2 / 256 (one 8-bit level of data in [-1, 1], 001
  Sec. 10.4.1.2); ``--sampler em`` uses Euler-Maruyama with 1,000 steps instead. Training
  times are uniform (Eq. 2.19); ``--t-sampling lognormal`` draws them with EDM's log-normal
  noise levels instead (Karras et al. 2022, Sec. 5; ``--p-mean``, ``--p-std``, ``--uniform-frac``),
  and ``--precond edm`` adds EDM's preconditioning. The recipe is sized for 2 CPU cores: a U-Net
  of width 16 with channel multipliers (1, 4, 4) (966k parameters: a cheap 28x28 level), batches
  of 64 at a constant lr 7e-4 for 4,000 steps (18-22 minutes with its evaluation on 2 cores,
  depending on the machine's speed: the README's measurements); more steps with ``--lr-decay`` for
  a longer run.

The NCSN and WGAN-GP ``n_steps`` are for a GPU (about 10-40 minutes each on one); use ``--steps``
for shorter runs.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

__all__ = [
    "ADDED_LATER",
    "CONFIGS",
    "GANConfig",
    "NCSNConfig",
    "PRESETS",
    "Preset",
    "VPConfig",
    "check",
    "check_value",
    "from_dict",
    "get",
    "names",
]


def _hp(default, help: str, *, low=None, high=None, low_open=False, high_open=False, choices=None, flag=None):
    """A hyper-parameter field: ``default``, its one-line ``help`` and its allowed values
    (bounds ``low``/``high``, open when ``*_open``; ``choices``); ``flag`` renames its CLI flag."""
    meta = {"help": help, "low": low, "high": high, "low_open": low_open, "high_open": high_open, "choices": choices}
    if flag is not None:
        meta["flag"] = flag
    return field(default=default, metadata=meta)


# ------------------------------------------------------------------------------------ configs


@dataclass(frozen=True)
class GANConfig:
    """Every hyper-parameter of a DCGAN-family run (:func:`gentoolkit.gan.train.train_gan`)."""

    # networks
    latent_dim: int = _hp(100, "size of the generator's latent z ~ N(0, I)", low=1)
    width_g: int = _hp(64, "channels of the generator's last hidden layer (DCGANGenerator width)", low=1)
    width_d: int = _hp(64, "channels of the critic's first layer (DCGANDiscriminator width)", low=1)
    norm_d: str = _hp("batch", "normalisation in the critic: batch, layer or none", choices=("batch", "layer", "none"))
    spectral_norm: bool = _hp(False, "spectral normalisation of every critic layer (SNGAN)")
    pack: int = _hp(
        1, "PacGAN: the critic sees packs of this many samples, concatenated along channels (1: none)", low=1
    )
    minibatch_std: int = _hp(
        0, "group size of the critic's minibatch-std feature map (Karras et al. 2018; 0: none)", low=0
    )
    # game
    loss: str = _hp("ns", "GAN loss, a name of gentoolkit.gan.losses (ns, minimax, wgan, lsgan, hinge, ...)")
    setup: str = _hp(
        "dcgan",
        "thesis 001 Sec. 4.6.1 setup, dcgan or wgan-gp (recorded; the lrs, betas and n_d below are explicit)",
        choices=("dcgan", "wgan-gp"),
    )
    regularizer: str = _hp(
        "none",
        "critic regularizer: none, gp, gp-one-sided, r1 or clip",
        choices=("none", "gp", "gp-one-sided", "r1", "clip"),
    )
    reg_weight: float = _hp(0.0, "weight of the regularizer (gp: lambda, r1: gamma, clip: c); 0: its default", low=0.0)
    reg_every: int = _hp(
        1, "lazy regularization: the penalty (gp or r1) every this many steps, times this (StyleGAN2)", low=1
    )
    # optimisation
    lr_g: float = _hp(2e-4, "Adam learning rate of the generator", low=0.0, low_open=True)
    lr_d: float = _hp(2e-4, "Adam learning rate of the critic", low=0.0, low_open=True)
    beta1: float = _hp(0.5, "Adam beta1 (both networks)", low=0.0, high=1.0, high_open=True)
    beta2: float = _hp(0.999, "Adam beta2 (both networks)", low=0.0, high=1.0, high_open=True)
    n_d: int = _hp(1, "critic steps per generator step", low=1)
    batch_size: int = _hp(64, "real and fake images per step", low=1)
    n_steps: int = _hp(10_000, "generator steps of the whole run", low=1, flag="steps")
    ema: float = _hp(
        0.999, "decay of the EMA of the generator's weights (sampled from)", low=0.0, high=1.0, high_open=True
    )
    ema_warmup: bool = _hp(True, "start the EMA with decay min(ema, (1 + t) / (10 + t)): a short run forgets the init")
    precision: str = _hp(
        "bf16", "fp32, or bf16: forward passes under bf16 autocast (about 2x images/s on CPU)", choices=("fp32", "bf16")
    )
    seed: int = _hp(0, "seed of the weights, the minibatches and every noise draw", low=0)
    # bookkeeping
    checkpoint_every: int = _hp(500, "steps between checkpoints (and one at the end)", low=1)
    sample_every: int = _hp(1000, "steps between PNG grids in OUT/grids (and one at the end)", low=1)
    n_grid: int = _hp(64, "images in each training grid", low=1)

    kind = "gan"


_UNET_HELP = {
    "width": "channels of the U-Net's first level (ScoreUNet width)",
    "channel_mults": "channel multiplier per resolution, comma-separated (28 -> 14 -> 7)",
    "num_res_blocks": "residual blocks per U-Net level",
    "attn_resolutions": "resolutions with self-attention, comma-separated (empty: none)",
    "dropout": "dropout probability in the residual blocks",
}


@dataclass(frozen=True)
class NCSNConfig:
    """Every hyper-parameter of a noise-conditional score model (NCSN) run: ``ScoreUNet(cond="sigma")``
    trained by :func:`gentoolkit.train.train_score` (DSM), sampled by CAS or ALS (001, Alg. 4/5)."""

    # network
    width: int = _hp(32, _UNET_HELP["width"], low=1)
    channel_mults: tuple = _hp((1, 2, 2), _UNET_HELP["channel_mults"], low=1)
    num_res_blocks: int = _hp(1, _UNET_HELP["num_res_blocks"], low=1)
    attn_resolutions: tuple = _hp((7,), _UNET_HELP["attn_resolutions"], low=1)
    dropout: float = _hp(0.0, _UNET_HELP["dropout"], low=0.0, high=1.0, high_open=True)
    data_std: float = _hp(
        0.5, "data std of the U-Net's input scaling x / sqrt(data_std^2 + sigma^2)", low=0.0, low_open=True
    )
    # noise levels (Song and Ermon 2020, Techniques 1-2)
    sigma_max: float = _hp(
        35.0, "sigma_1, the largest noise level (about the largest pairwise distance)", low=0.0, low_open=True
    )
    sigma_min: float = _hp(0.02, "sigma_L, the smallest noise level", low=0.0, low_open=True)
    n_sigmas: int = _hp(96, "L, the number of geometric noise levels", low=2)
    # optimisation
    lr: float = _hp(2e-4, "Adam learning rate", low=0.0, low_open=True)
    lr_decay: bool = _hp(True, "cosine decay of the lr to lr / 20 over the run")
    batch_size: int = _hp(128, "images per step", low=1)
    n_steps: int = _hp(30_000, "optimisation steps of the whole run", low=1, flag="steps")
    ema: float = _hp(0.999, "decay of the EMA of the weights (sampled from)", low=0.0, high=1.0, high_open=True)
    ema_warmup: bool = _hp(True, "start the EMA with decay min(ema, (1 + t) / (10 + t)): a short run forgets the init")
    precision: str = _hp(
        "bf16", "fp32, or bf16: forward passes under bf16 autocast (about 2x images/s on CPU)", choices=("fp32", "bf16")
    )
    seed: int = _hp(0, "seed of the weights, the minibatches and every noise draw", low=0)
    # sampler (001, Ch. 8)
    sampler: str = _hp(
        "cas", "sampler: cas (Alg. 5, consistent) or als (Alg. 4, annealed Langevin)", choices=("cas", "als")
    )
    eps: float = _hp(4e-5, "step size eps; eta = eps / sigma_L^2 (Technique 4)", low=0.0, low_open=True)
    n_steps_each: int = _hp(5, "updates per noise level (ALS: n_sigma; CAS: dilates the schedule)", low=1)
    denoise: bool = _hp(True, "end with the expected denoised sample H(x, sigma_L)")
    # bookkeeping
    checkpoint_every: int = _hp(500, "steps between checkpoints (and one at the end)", low=1)
    sample_every: int = _hp(5000, "steps between PNG grids (of the EMA model) in OUT/grids", low=1)
    n_grid: int = _hp(64, "images in each training grid", low=1)

    kind = "ncsn"


@dataclass(frozen=True)
class VPConfig:
    """Every hyper-parameter of a VP-SDE run: ``ScaledScore(VPSDE, ScoreUNet(cond="time"))`` trained
    with :func:`gentoolkit.sde.sde_dsm_loss`, sampled with GGF (001, Alg. 6) or Euler-Maruyama."""

    # network
    width: int = _hp(16, _UNET_HELP["width"], low=1)
    channel_mults: tuple = _hp((1, 4, 4), _UNET_HELP["channel_mults"], low=1)
    num_res_blocks: int = _hp(1, _UNET_HELP["num_res_blocks"], low=1)
    attn_resolutions: tuple = _hp((7,), _UNET_HELP["attn_resolutions"], low=1)
    dropout: float = _hp(0.0, _UNET_HELP["dropout"], low=0.0, high=1.0, high_open=True)
    data_std: float = _hp(0.5, "data std of ScaledScore's input scaling c(t)", low=0.0, low_open=True)
    precond: str = _hp(
        "eps",
        "the U-Net's output: eps (std(t) times the score), or edm: EDM's F with a skip of the input "
        "(Karras et al. 2022, Table 1) and its loss weight 1 + sigma^2 / data_std^2 (needs t_sampling lognormal)",
        choices=("eps", "edm"),
    )
    # SDE
    beta_min: float = _hp(0.1, "VP SDE beta(0)", low=0.0, low_open=True)
    beta_max: float = _hp(20.0, "VP SDE beta(1)", low=0.0, low_open=True)
    t_eps: float = _hp(
        1e-3, "smallest time, of training and of sampling", low=0.0, high=1.0, low_open=True, high_open=True
    )
    t_sampling: str = _hp(
        "uniform",
        "training times: uniform on [t_eps, 1] (Eq. 2.19), or lognormal: log sigma(t) ~ N(p_mean, p_std^2), "
        "sigma = std / mean (Karras et al. 2022, Sec. 5)",
        choices=("uniform", "lognormal"),
    )
    p_mean: float = _hp(-1.2, "mean of log sigma(t) (t_sampling lognormal)")
    p_std: float = _hp(1.2, "std of log sigma(t) (t_sampling lognormal)", low=0.0, low_open=True)
    uniform_frac: float = _hp(
        0.0, "share of each batch at uniform times (t_sampling lognormal; the rest log-normal)", low=0.0, high=1.0
    )
    # optimisation
    lr: float = _hp(7e-4, "Adam learning rate", low=0.0, low_open=True)
    lr_decay: bool = _hp(False, "cosine decay of the lr to lr / 20 over the run")
    batch_size: int = _hp(64, "images per step", low=1)
    n_steps: int = _hp(4000, "optimisation steps of the whole run", low=1, flag="steps")
    ema: float = _hp(0.999, "decay of the EMA of the weights (sampled from)", low=0.0, high=1.0, high_open=True)
    ema_warmup: bool = _hp(True, "start the EMA with decay min(ema, (1 + t) / (10 + t)): a short run forgets the init")
    precision: str = _hp(
        "bf16", "fp32, or bf16: forward passes under bf16 autocast (about 2x images/s on CPU)", choices=("fp32", "bf16")
    )
    seed: int = _hp(0, "seed of the weights, the minibatches and every noise draw", low=0)
    # sampler (001, Ch. 10)
    sampler: str = _hp("ggf", "sampler: ggf (Gotta Go Fast, adaptive) or em (Euler-Maruyama)", choices=("ggf", "em"))
    tol: float = _hp(0.02, "GGF relative tolerance eps_rel", low=0.0, low_open=True)
    eps_abs: float = _hp(
        2.0 / 256, "GGF absolute tolerance eps_abs (one 8-bit level of [-1, 1])", low=0.0, low_open=True
    )
    em_steps: int = _hp(1000, "Euler-Maruyama steps (sampler em)", low=1)
    denoise: bool = _hp(True, "end with Tweedie's formula at t_eps")
    # bookkeeping
    checkpoint_every: int = _hp(500, "steps between checkpoints (and one at the end)", low=1)
    sample_every: int = _hp(5000, "steps between PNG grids (of the EMA model) in OUT/grids", low=1)
    n_grid: int = _hp(64, "images in each training grid", low=1)

    kind = "vp"


CONFIGS = {"gan": GANConfig, "ncsn": NCSNConfig, "vp": VPConfig}

#: Hyper-parameters added after the first runs were saved, with the value that reproduces the
#: behaviour before them; :func:`from_dict` fills them in when a saved config lacks them.
ADDED_LATER = {
    "gan": {"pack": 1, "minibatch_std": 0, "reg_every": 1},
    "vp": {"t_sampling": "uniform", "p_mean": -1.2, "p_std": 1.2, "uniform_frac": 0.0, "precond": "eps"},
}


@dataclass(frozen=True)
class Preset:
    """A named run: ``description`` (one line) and ``config`` (all hyper-parameters)."""

    name: str
    description: str
    config: GANConfig | NCSNConfig | VPConfig

    @property
    def kind(self) -> str:
        return self.config.kind


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "mnist-dcgan-ns",
            "DCGAN 28x28, non-saturating loss + lazy R1 (gamma 1, every 16 steps), Adam lr 4e-4 (betas .5/.999), "
            "EMA .999 of G, batch 64",
            GANConfig(regularizer="r1", reg_every=16, lr_g=4e-4, lr_d=4e-4, n_steps=8_000),
        ),
        Preset(
            "mnist-wgan-gp",
            "WGAN-GP 28x28: wgan loss, gradient penalty 10, wgan-gp setup (lr 1e-4, betas .5/.9, n_D 5), "
            "layer-norm critic, EMA .999 of G",
            GANConfig(
                loss="wgan",
                setup="wgan-gp",
                norm_d="layer",
                regularizer="gp",
                reg_weight=10.0,
                lr_g=1e-4,
                lr_d=1e-4,
                beta1=0.5,
                beta2=0.9,
                n_d=5,
                n_steps=20_000,
            ),
        ),
        Preset(
            "mnist-ncsn-cas",
            "NCSN U-Net, DSM on 96 geometric sigmas 35 -> 0.02, consistent annealed sampling (eps 4e-5, 5/level), "
            "EMA .999",
            NCSNConfig(),
        ),
        Preset(
            "mnist-vp-ggf",
            "VP-SDE U-Net (ScaledScore), continuous DSM, Gotta Go Fast sampling (eps_rel .02), EMA .999",
            VPConfig(),
        ),
    )
}


def names() -> list[str]:
    """The preset names, in the order of :data:`PRESETS`."""
    return list(PRESETS)


def get(name: str) -> Preset:
    """The :class:`Preset` called ``name``; a ValueError listing the names otherwise."""
    if not isinstance(name, str) or name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of: {', '.join(PRESETS)}")
    return PRESETS[name]


# ------------------------------------------------------------------------------------ checks


def fields(config) -> tuple:
    """The hyper-parameter fields of a config class or instance (dataclass fields)."""
    return dataclasses.fields(config)


def check_value(f: dataclasses.Field, value):
    """``value`` converted to field ``f``'s type and checked against its bounds and choices;
    a ValueError naming the rule otherwise (the message does not name the field)."""
    meta = f.metadata
    default = f.default
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (tuple, list)) or any(
            isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in value
        ):
            raise ValueError(f"must be a list of integers, got {value!r}")
        value = tuple(int(v) for v in value)
        for v in value:
            _bounds(meta, v)
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ValueError(f"must be an integer, got {value!r}")
        value = int(value)
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"must be finite, got {value!r}")
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError(f"must be a string, got {value!r}")
        if meta.get("choices") and value not in meta["choices"]:
            raise ValueError(f"must be one of {', '.join(meta['choices'])}; got {value!r}")
        return value
    _bounds(meta, value)
    return value


def _bounds(meta, value) -> None:
    low, high = meta.get("low"), meta.get("high")
    if low is not None and (value <= low if meta.get("low_open") else value < low):
        raise ValueError(f"must be {'>' if meta.get('low_open') else '>='} {low:g}, got {value:g}")
    if high is not None and (value >= high if meta.get("high_open") else value > high):
        raise ValueError(f"must be {'<' if meta.get('high_open') else '<='} {high:g}, got {value:g}")


def check(config):
    """Check every field of ``config`` (:func:`check_value`) and the rules between fields;
    return it. Raises ValueError naming the field (``"lr_g: must be > 0, got -1"``)."""
    for f in fields(config):
        try:
            check_value(f, getattr(config, f.name))
        except ValueError as e:
            raise ValueError(f"{f.name}: {e}") from None
    if config.kind == "gan" and config.regularizer == "none" and config.reg_weight != 0:
        raise ValueError(f"reg_weight ({config.reg_weight:g}) is set but regularizer is none: choose a regularizer")
    if config.kind == "gan" and config.regularizer in ("none", "clip") and config.reg_every != 1:
        raise ValueError(
            f"reg_every ({config.reg_every}) applies a penalty lazily but regularizer is {config.regularizer}: "
            "choose gp, gp-one-sided or r1, or reg_every 1 (--reg-every 1)"
        )
    if config.kind == "gan" and config.batch_size % config.pack:
        raise ValueError(f"batch_size ({config.batch_size}) must be a multiple of pack ({config.pack})")
    if config.kind == "gan" and config.minibatch_std and (config.batch_size // config.pack) % config.minibatch_std:
        raise ValueError(
            f"the critic sees {config.batch_size // config.pack} inputs a step (batch_size {config.batch_size} / pack "
            f"{config.pack}), not a multiple of minibatch_std ({config.minibatch_std}): change one of them"
        )
    if config.kind == "ncsn" and not config.sigma_max > config.sigma_min:
        raise ValueError(f"sigma_max ({config.sigma_max:g}) must be > sigma_min ({config.sigma_min:g})")
    if config.kind == "vp" and config.t_sampling == "uniform":
        defaults = {f.name: f.default for f in fields(config)}
        for name in ("p_mean", "p_std", "uniform_frac"):
            if getattr(config, name) != defaults[name]:
                raise ValueError(
                    f"{name} ({getattr(config, name):g}) shapes log-normal training times but t_sampling is uniform: "
                    "add --t-sampling lognormal"
                )
        if config.precond == "edm":
            raise ValueError(
                "precond edm weights the loss by 1 + sigma^2 / data_std^2 (about 10^5 at t = 1), which uniform "
                "t_sampling reaches as often as any other time: add --t-sampling lognormal"
            )
    if config.kind == "vp" and not config.beta_max > config.beta_min:
        raise ValueError(f"beta_max ({config.beta_max:g}) must be > beta_min ({config.beta_min:g})")
    return config


def from_dict(kind: str, values: dict):
    """The config of ``kind`` with ``values`` (e.g. read from config.json: lists become tuples),
    checked; ValueError for an unknown kind, unknown or missing fields, or a bad value."""
    if kind not in CONFIGS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {sorted(CONFIGS)}")
    cls = CONFIGS[kind]
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown hyper-parameters for a {kind} run: {unknown}")
    # fields added after runs and pretrained files were written: an older config.json lacks them
    # and meant their default (the behaviour before the field existed)
    values = {**{k: v for k, v in ADDED_LATER.get(kind, {}).items() if k not in values}, **values}
    missing = sorted(known - set(values))
    if missing:
        raise ValueError(f"missing hyper-parameters for a {kind} run: {missing}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return check(cls(**values))
