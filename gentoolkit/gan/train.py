"""Training GANs on 2D data: a stepping :class:`GANTrainer` (what the live view drives) and
:func:`train_gan`, a loop over it with a progress bar and checkpoints.

One generator step is ``n_d`` critic steps, each on a fresh real batch and fresh noise, then
one generator step (thesis 001, Sec. 4.6.1: n_D is "the number of discriminator updates per
generator update"). Both networks use Adam. The two setups of 001, Sec. 4.6.1 / Table 4.1
are :data:`SETUPS`: ``"dcgan"`` (lr = .0002, betas = (.5, .999), n_D = 1, Radford et al.)
and ``"wgan-gp"`` (lr = .0001, betas = (.5, .9), n_D = 5, Gulrajani et al.).

Built on :mod:`gentoolkit.train` (atomic checkpoints loaded with ``weights_only=True``,
exact resume, NaN/inf detection, tqdm) and measured with
:func:`gentoolkit.metrics.mode_stats` (the 2D grid benchmarks of assignment 003; mode
collapse as in lecture 004: "the generator of a GAN collapses to one or few distribution
modes").

Randomness: one CPU ``torch.Generator`` seeded from ``seed`` draws everything (the fixed
evaluation noise first, then every minibatch, every z and the gradient penalty's
interpolation weights), so the same seed gives the same run on CPU and CUDA up to the
devices' arithmetic, and its state is part of the checkpoint, so a resumed run continues
bit for bit where the saved one stopped.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
from torch.func import functional_call

from gentoolkit._checks import positive_float, positive_int, randn
from gentoolkit.config import resolve_device
from gentoolkit.data import Mixture2D
from gentoolkit.gan import losses as gan_losses
from gentoolkit.gan import regularizers
from gentoolkit.metrics import mode_stats
from gentoolkit.train import (
    EMA,
    apply_snapshot,
    autocast,
    batch_sampler,
    check_finite,
    load_checkpoint,
    run_loop,
    save_checkpoint,
    snapshot,
)

#: The two setups of thesis 001, Sec. 4.6.1 (Table 4.1's columns): Adam's lr (both networks),
#: betas and the critic steps per generator step. Chosen for image GANs, they are slow for the
#: small 2D MLPs: with "dcgan" and a gradient penalty only 2 of the 8 modes of "8gaussians" are
#: covered after 1,500 steps, and "wgan-gp" with the wgan loss covers 10 of 25 after 2,000;
#: tests/test_gan_train.py trains the 2D toys with lr_g 3e-4, lr_d 1e-3 and betas (.5, .999).
SETUPS: dict[str, dict] = {
    "dcgan": {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "n_d": 1},
    "wgan-gp": {"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9), "n_d": 5},
}

#: Regularizers of the critic's loss and their default weights (``reg_weight``):
#: ``"gp"`` lambda E[(||grad C(x_hat)|| - 1)^2] on interpolates (WGAN-GP, lambda = 10 as in 004, Alg. 1),
#: ``"gp-one-sided"`` the same with max(0, ||grad|| - 1)^2, ``"r1"`` gamma / 2 E||grad C(x_r)||^2
#: (003; gamma = 1 covers the 2D grids in the tests), ``"clip"`` clips every critic weight to [-c, c] after each
#: critic step (WGAN, c = 0.01, 002).
REGULARIZERS: dict[str, float] = {"gp": 10.0, "gp-one-sided": 10.0, "r1": 1.0, "clip": 0.01}


@dataclass
class GANHistory:
    """What a :class:`GANTrainer` logs (and :func:`train_gan` returns), from step 0 on (a
    resumed run includes the saved history).

    Per generator step: ``d_loss`` (the critic's loss without the penalty, on its last of the
    n_d steps), ``g_loss`` (the generator's loss) and ``penalty`` (the weighted regularizer term
    added to the critic's loss, 0 without one). Every ``log_every`` steps (at the step counts in
    ``eval_steps``), measured on the fixed evaluation noise with
    :func:`gentoolkit.metrics.mode_stats`: ``covered`` (modes covered), ``kl`` (KL of the mode
    histogram from the mixture's weights, nats) and ``high_quality`` (fraction of samples within
    3 std of a mode). ``seconds``: wall time of the last :func:`train_gan` call.
    """

    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    penalty: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    covered: list[int] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    high_quality: list[float] = field(default_factory=list)
    seconds: float = field(default=0.0, compare=False)
    ema: torch.nn.Module | None = field(default=None, compare=False, repr=False)

    @property
    def steps(self) -> int:
        """Generator steps done."""
        return len(self.g_loss)


#: What :meth:`GANTrainer.configure` can change between steps (the live view's controls), in
#: the order it applies them (a new regularizer resets reg_weight to its default first).
CONTROLS = (
    "loss",
    "regularizer",
    "reg_weight",
    "lr_g",
    "lr_d",
    "betas",
    "n_d",
    "unrolled_steps",
    "unroll_backprop",
    "batch_size",
    "log_every",
)


def _integer(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def _betas(betas) -> tuple[float, float]:
    if (
        not isinstance(betas, (tuple, list))
        or len(betas) != 2
        or any(isinstance(b, bool) or not isinstance(b, numbers.Real) for b in betas)
    ):
        raise TypeError(f"betas must be a pair of numbers (beta1, beta2), got {betas!r}")
    b1, b2 = float(betas[0]), float(betas[1])
    if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
        raise ValueError(f"betas must both lie in [0, 1) (Adam's momentum coefficients), got {betas!r}")
    return b1, b2


def _sqrt0(v: torch.Tensor) -> torch.Tensor:
    """sqrt(v) for v >= 0 whose gradient is 0 (not inf * 0 = nan) where v = 0."""
    pos = v > 0
    return torch.where(pos, v, torch.ones_like(v)).sqrt() * pos


class GANTrainer:
    """A GAN in training, one generator step at a time (what the live view steps).

    Args:
        data: the real data: a :class:`gentoolkit.data.Mixture2D` (or anything with
            ``.sample(n, generator)``), or an (N, d) tensor of points (e.g. drawn by hand),
            from whose rows minibatches are drawn with replacement.
        generator: a module z -> x with an int attribute ``latent_dim`` (the size of z ~ N(0, I)),
            e.g. :class:`gentoolkit.nets.MLPGenerator`; moved to ``device`` and trained in place.
        critic: a module x -> C(x), one raw output per sample (shape (n,) or (n, 1)), e.g.
            :class:`gentoolkit.nets.MLPDiscriminator` (``spectral_norm=True`` for spectral
            normalisation, a property of the network rather than of the loss).
        loss: a name of :func:`gentoolkit.gan.losses.get` ("ns", "minimax", "wgan", "rsgan", ...).
        setup: the defaults of ``lr_g``, ``lr_d``, ``betas`` and ``n_d``: a key of :data:`SETUPS`
            (thesis 001, Sec. 4.6.1); explicit arguments win.
        lr_g / lr_d / betas: Adam's learning rates (generator / critic) and betas (both).
        n_d: critic steps per generator step.
        regularizer / reg_weight: None or a key of :data:`REGULARIZERS`, and its weight (None:
            that regularizer's default).
        reg_every: lazy regularization (Karras et al. 2020, "Analyzing and improving the image
            quality of StyleGAN", Sec. 3.1): the penalty ("gp", "gp-one-sided" or "r1") enters the
            critic's loss only in the generator steps whose index is a multiple of ``reg_every``,
            multiplied by ``reg_every``, so its expected gradient is unchanged while its cost (a
            second backward pass through the critic) is paid once in ``reg_every`` steps; the
            history's penalty is 0 in the other steps. 1 (the default): every step. R1 every 16
            steps was StyleGAN2's choice; on the MNIST DCGAN (2 cores) R1 in every step ran at
            658-684 steps/min against 928-1,046 without it, and every 16 steps at 972.
        unrolled_steps / unroll_backprop: the unrolled critic (Metz et al. 2016, in 003); see
            :meth:`step`.
        batch_size: real and fake points per step (each critic step and the generator step).
        pack: PacGAN's packing degree m (Lin et al. 2018; thesis 001, Sec. 3: "showing the critic
            more than one sample at a time by concatenating multiple input samples into one", so
            that only m realistic *and different* samples look real together; 001 App. A uses
            PACGAN2). The critic then sees batch_size / m packs of m samples concatenated along
            the first feature axis (:func:`gentoolkit.gan.regularizers.pack`: channels for
            images), so it must take m times the data's channels (features) and return one
            value per pack; losses and penalties (the gradient penalty interpolates whole packs,
            R1 takes the gradient with respect to a whole real pack) are computed on packs.
            ``batch_size`` must be a multiple of m. 1 (the default): no packing. Fixed at
            construction (the critic's input size depends on it).
        mixture: the :class:`~gentoolkit.data.Mixture2D` that the mode statistics are measured
            against (default: ``data`` when it is one; none for a tensor, then nothing is logged
            but the losses).
        n_eval: size of the fixed evaluation noise (the points logged and shown).
        log_every: measure the modes every ``log_every`` generator steps.
        seed: seeds everything random (see the module's docstring).
        device: ``"cpu"``, ``"cuda"`` or None (cuda when available), as
            :func:`gentoolkit.config.resolve_device`.

    Every control in :data:`CONTROLS` is an attribute that can be set between steps (checked as
    in the constructor; ``configure(**controls)`` sets several at once, all or none), and so is
    ``data`` (the live view's drawn points) and ``mixture``. Bad values raise ``TypeError`` /
    ``ValueError`` naming the argument; a generator or critic whose outputs do not fit the data
    is caught at construction by a forward pass on zeros (in eval mode, without gradients).
    """

    def __init__(
        self,
        data,
        generator: torch.nn.Module,
        critic: torch.nn.Module,
        *,
        loss: str = "ns",
        setup: str = "dcgan",
        lr_g: float | None = None,
        lr_d: float | None = None,
        betas=None,
        n_d: int | None = None,
        regularizer: str | None = None,
        reg_weight: float | None = None,
        reg_every: int = 1,
        unrolled_steps: int = 0,
        unroll_backprop: bool = False,
        batch_size: int = 256,
        pack: int = 1,
        mixture: Mixture2D | None = None,
        n_eval: int = 2048,
        log_every: int = 100,
        seed: int = 0,
        device=None,
    ):
        for name, m in (("generator", generator), ("critic", critic)):
            if not isinstance(m, torch.nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(m).__name__}")
        latent = getattr(generator, "latent_dim", None)
        if isinstance(latent, bool) or not isinstance(latent, numbers.Integral) or latent < 1:
            raise TypeError(
                "generator must have an int attribute latent_dim >= 1 (the size of z), as "
                f"gentoolkit.nets.MLPGenerator has; got latent_dim={latent!r}"
            )
        if not isinstance(setup, str) or setup not in SETUPS:
            raise ValueError(f"setup={setup!r} is not known; expected one of {sorted(SETUPS)}")
        seed = _integer("seed", seed, minimum=0)
        self.n_eval = positive_int("n_eval", n_eval)
        self.pack = positive_int("pack", pack)
        self.device = resolve_device(device)
        self.generator = generator.to(self.device).train()
        self.critic = critic.to(self.device).train()
        self.latent_dim = int(latent)
        p = next(generator.parameters(), None)
        self._like = torch.empty(0, device=self.device, dtype=p.dtype if p is not None else torch.float32)
        base = SETUPS[setup]
        lr_g = positive_float("lr_g", base["lr_g"] if lr_g is None else lr_g)
        lr_d = positive_float("lr_d", base["lr_d"] if lr_d is None else lr_d)
        b = _betas(base["betas"] if betas is None else betas)
        self.opt_g = torch.optim.Adam(generator.parameters(), lr=lr_g, betas=b)
        self.opt_d = torch.optim.Adam(critic.parameters(), lr=lr_d, betas=b)
        self.loss = loss
        self.regularizer = regularizer
        self.reg_weight = reg_weight
        self.reg_every = positive_int("reg_every", reg_every)
        if self.reg_every > 1 and self._regularizer in (None, "clip"):
            raise ValueError(
                f"reg_every={self.reg_every} applies a penalty every {self.reg_every} steps, but regularizer is "
                f"{self._regularizer!r}; choose a penalty (gp, gp-one-sided or r1) or reg_every=1"
            )
        self.n_d = base["n_d"] if n_d is None else n_d
        self.unrolled_steps = unrolled_steps
        self.unroll_backprop = unroll_backprop
        self._batch_size = self._check_batch_size(batch_size)
        self.log_every = log_every
        self.data = data
        self.mixture = mixture
        self.rng = torch.Generator().manual_seed(seed)
        self.eval_z = randn((self.n_eval, self.latent_dim), self.rng, like=self._like)
        self.history = GANHistory()
        self._step = 0

    # ------------------------------------------------------------------ controls
    @property
    def loss(self) -> str:
        """The loss's name (:func:`gentoolkit.gan.losses.get`)."""
        return self._loss_name

    @loss.setter
    def loss(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"loss must be a loss name (str), got {name!r} ({type(name).__name__})")
        try:
            self._loss_fn = gan_losses.get(name)
        except ValueError as e:
            raise ValueError(f"loss={name!r} is not known; expected one of {gan_losses.names()}") from e
        self._loss_name = name

    @property
    def regularizer(self) -> str | None:
        """None or a key of :data:`REGULARIZERS`; setting a new one resets ``reg_weight`` to its
        default."""
        return self._regularizer

    @regularizer.setter
    def regularizer(self, name: str | None) -> None:
        if name == "none":
            name = None
        if name is not None and not isinstance(name, str):
            raise TypeError(f"regularizer must be None or a name (str), got {name!r} ({type(name).__name__})")
        if name is not None and name not in REGULARIZERS:
            raise ValueError(f"regularizer={name!r} is not known; expected None or one of {sorted(REGULARIZERS)}")
        if name != getattr(self, "_regularizer", None):
            self._reg_weight = None
        self._regularizer = name

    @property
    def reg_weight(self) -> float | None:
        """The regularizer's weight (lambda of "gp", gamma of "r1", c of "clip"); None without one."""
        if self._regularizer is None:
            return None
        return REGULARIZERS[self._regularizer] if self._reg_weight is None else self._reg_weight

    @reg_weight.setter
    def reg_weight(self, w: float | None) -> None:
        if w is not None:
            w = positive_float("reg_weight", w)
            if self._regularizer is None:
                raise ValueError(f"reg_weight={w:g} was given but regularizer is None; choose a regularizer first")
        self._reg_weight = w

    @property
    def lr_g(self) -> float:
        """The generator's learning rate."""
        return self.opt_g.param_groups[0]["lr"]

    @lr_g.setter
    def lr_g(self, lr: float) -> None:
        lr = positive_float("lr_g", lr)
        for group in self.opt_g.param_groups:
            group["lr"] = lr

    @property
    def lr_d(self) -> float:
        """The critic's learning rate."""
        return self.opt_d.param_groups[0]["lr"]

    @lr_d.setter
    def lr_d(self, lr: float) -> None:
        lr = positive_float("lr_d", lr)
        for group in self.opt_d.param_groups:
            group["lr"] = lr

    @property
    def betas(self) -> tuple[float, float]:
        """Adam's (beta1, beta2), the same for both networks."""
        return tuple(self.opt_g.param_groups[0]["betas"])

    @betas.setter
    def betas(self, betas) -> None:
        b = _betas(betas)
        for group in self.opt_g.param_groups + self.opt_d.param_groups:
            group["betas"] = b

    @property
    def n_d(self) -> int:
        """Critic steps per generator step."""
        return self._n_d

    @n_d.setter
    def n_d(self, n: int) -> None:
        self._n_d = positive_int("n_d", n)

    @property
    def unrolled_steps(self) -> int:
        """Look-ahead critic steps for the generator's loss (0: none)."""
        return self._unrolled_steps

    @unrolled_steps.setter
    def unrolled_steps(self, k: int) -> None:
        self._unrolled_steps = _integer("unrolled_steps", k, minimum=0)

    @property
    def unroll_backprop(self) -> bool:
        """Whether the generator's gradient flows through the unrolled critic steps."""
        return self._unroll_backprop

    @unroll_backprop.setter
    def unroll_backprop(self, flag: bool) -> None:
        if not isinstance(flag, bool):
            raise TypeError(f"unroll_backprop must be True or False, got {flag!r} ({type(flag).__name__})")
        self._unroll_backprop = flag

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @batch_size.setter
    def batch_size(self, n: int) -> None:
        self._batch_size = self._check_batch_size(n)
        self._draw = self._sampler(self._data)

    def _check_batch_size(self, n) -> int:
        n = positive_int("batch_size", n)
        if n % self.pack:
            raise ValueError(
                f"batch_size={n} must be a multiple of pack={self.pack} (the critic sees packs of {self.pack})"
            )
        return n

    @property
    def log_every(self) -> int:
        return self._log_every

    @log_every.setter
    def log_every(self, n: int) -> None:
        self._log_every = positive_int("log_every", n)

    @property
    def data(self):
        """The real data (a dataset with ``.sample`` or an (N, d) tensor); settable between steps."""
        return self._data

    @data.setter
    def data(self, data) -> None:
        if isinstance(data, torch.Tensor):
            if data.ndim < 2 or data.shape[0] < 1 or not data.is_floating_point():
                raise ValueError(
                    f"data must be a floating-point tensor of shape (N, d) or (N, C, H, W) with N >= 1, got shape "
                    f"{tuple(data.shape)} and dtype {data.dtype}"
                )
            data = data.detach()
            shape = tuple(data.shape[1:])
        elif hasattr(data, "sample"):
            shape = (
                (2,)
                if isinstance(data, Mixture2D)
                else tuple(data.sample(1, torch.Generator().manual_seed(0)).shape[1:])
            )
        elif hasattr(data, "batch") and hasattr(data, "__len__"):
            shape = tuple(data.batch([0])[0].shape[1:])
        else:
            raise TypeError(
                f"data must be a Mixture2D (anything with .sample(n, generator)), an image dataset (len and "
                f".batch(indices), e.g. gentoolkit.data.images.MNIST) or an (N, ...) tensor, got {type(data).__name__}"
            )
        self._probe(shape)
        self._draw = self._sampler(data)
        self._data, self._shape = data, shape

    def _sampler(self, data):
        """Real batches on the device, in the networks' dtype (a float64 model on float32 data)."""
        draw, dtype = batch_sampler(data, self._batch_size, self.device), self._like.dtype
        return lambda g: draw(g).to(dtype)

    @property
    def mixture(self) -> Mixture2D | None:
        """What the mode statistics are measured against: the ``mixture`` given, else ``data``
        when it is a :class:`~gentoolkit.data.Mixture2D`, else None (no mode statistics)."""
        if self._mixture is not None:
            return self._mixture
        return self._data if isinstance(self._data, Mixture2D) else None

    @mixture.setter
    def mixture(self, mixture: Mixture2D | None) -> None:
        if mixture is not None:
            if not isinstance(mixture, Mixture2D):
                raise TypeError(f"mixture must be None or a Mixture2D, got {type(mixture).__name__}")
            if self._shape != (2,):
                raise ValueError(
                    f"mixture needs 2D data (mode statistics are 2D), but data items have shape {self._shape}"
                )
        self._mixture = mixture

    @property
    def controls(self) -> dict:
        """The current value of every control in :data:`CONTROLS`."""
        return {name: getattr(self, name) for name in CONTROLS}

    def configure(self, **controls) -> None:
        """Set several controls at once (names from :data:`CONTROLS`); if one is bad, none
        changes and the error names it."""
        unknown = sorted(set(controls) - set(CONTROLS))
        if unknown:
            raise TypeError(f"unknown control(s) {unknown}; expected names from {list(CONTROLS)}")
        old = self.controls
        try:
            for name in CONTROLS:
                if name in controls:
                    setattr(self, name, controls[name])
        except (TypeError, ValueError):
            self._regularizer = old["regularizer"]
            self._reg_weight = None
            for name in CONTROLS:
                if name not in ("regularizer", "reg_weight"):
                    setattr(self, name, old[name])
            if old["regularizer"] is not None:
                self.reg_weight = old["reg_weight"]
            raise

    # ------------------------------------------------------------------ training
    @property
    def steps(self) -> int:
        """Generator steps done so far."""
        return self._step

    def _probe(self, shape: tuple) -> None:
        """Check on zeros that z -> G(z) has shape (n, *shape) and C(x) has shape (n,) or (n, 1)."""
        z = torch.zeros(2 * self.pack, self.latent_dim, device=self.device, dtype=self._like.dtype)
        g_mode, c_mode = self.generator.training, self.critic.training
        try:
            self.generator.eval()
            self.critic.eval()
            with torch.no_grad():
                x = self.generator(z)
                n = z.shape[0]
                if not isinstance(x, torch.Tensor) or tuple(x.shape) != (n, *shape):
                    got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                    want = ", ".join(map(str, ("n", *shape)))
                    raise ValueError(
                        f"generator must map z of shape (n, {self.latent_dim}) to samples of shape ({want}) "
                        f"like the data's; got {got} for n = {n}"
                    )
                xp = self._packed(x)
                try:
                    out = self.critic(xp)
                except (RuntimeError, ValueError) as e:  # e.g. a convolution's channel count
                    what = (
                        f"packs of {self.pack} samples, shape {tuple(xp.shape[1:])}"
                        if self.pack > 1
                        else (f"samples of shape {tuple(shape)}")
                    )
                    raise ValueError(f"critic must take {what}; it failed on them: {e}") from None
                self._check_out(out, xp.shape[0])
        finally:
            self.generator.train(g_mode)
            self.critic.train(c_mode)

    def _packed(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as the critic sees it: packs of :attr:`pack` samples (PacGAN), or as it is."""
        return x if self.pack == 1 else regularizers.pack(x, self.pack)

    def _check_out(self, out, n: int) -> torch.Tensor:
        if not isinstance(out, torch.Tensor) or out.shape not in ((n,), (n, 1)):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            per = f"pack of {self.pack} samples" if self.pack > 1 else "point"
            raise ValueError(f"critic must return one value per {per}, shape ({n},) or ({n}, 1); got {got}")
        return out

    def _critic_out(self, critic, x: torch.Tensor) -> torch.Tensor:
        """The critic's outputs on ``x`` packed (:meth:`_packed`): one per pack."""
        x = self._packed(x)
        return self._check_out(critic(x), x.shape[0])

    def _fake(self, n: int) -> torch.Tensor:
        return self.generator(randn((n, self.latent_dim), self.rng, like=self._like))

    def _hint(self) -> str:
        if self._regularizer is None:
            reg = "add a gradient penalty (regularizer='gp' or 'r1')"
        elif self._regularizer == "clip":
            reg = "use a gradient penalty (regularizer='gp') instead of weight clipping"
        else:
            reg = f"raise reg_weight (now {self.reg_weight:g})"
        return f"lower lr_d (now {self.lr_d:g}) and lr_g (now {self.lr_g:g}), {reg}, or raise n_d (now {self.n_d})."

    def _lazy(self, step: int) -> float:
        """The penalty's factor in generator step ``step``: ``reg_every`` when it is a multiple of
        it (lazy regularization), 0 otherwise; 1 when ``reg_every`` is 1."""
        return float(self.reg_every) if step % self.reg_every == 0 else 0.0

    def _critic_loss(
        self, critic, real: torch.Tensor, fake: torch.Tensor, lazy: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The critic's adversarial loss and the weighted penalty times ``lazy`` (:meth:`_lazy`;
        0: not computed), for ``critic`` (the module or a functional copy of it)."""
        d = self._loss_fn.d_loss(self._critic_out(critic, real), self._critic_out(critic, fake))
        real, fake = self._packed(real), self._packed(fake)  # penalties on whole packs (PacGAN)
        reg, w = self._regularizer, self.reg_weight
        if lazy == 0:  # a step without the penalty (lazy regularization)
            reg = None
        elif reg is not None and lazy != 1:
            w = w * lazy
        if reg in ("gp", "gp-one-sided"):
            pen = w * regularizers.gradient_penalty(
                critic, real, fake, generator=self.rng, one_sided=reg == "gp-one-sided"
            )
        elif reg == "r1":
            pen = regularizers.r1_penalty(critic, real, w)
        else:
            pen = torch.zeros((), device=d.device, dtype=d.dtype)
        return d, pen

    def _what(self, part: str) -> str:
        reg = f" + {self._regularizer}" if part == "critic" and self._regularizer not in (None, "clip") else ""
        return f"{part} ({self._loss_name}{reg})"

    def _unrolled(self, step: int) -> dict:
        """The critic's parameters after ``unrolled_steps`` look-ahead Adam steps from the
        current ones (and the current Adam moments), as a dict for ``functional_call``; the
        critic and its optimiser are left untouched. Each look-ahead step draws a fresh real
        batch and fresh noise and applies the regularizer (and clipping) as a real step would.
        With ``unroll_backprop`` the fakes keep their graph and the Adam steps are taken with
        ``create_graph=True``, so the generator's gradient includes how the critic reacts to it
        (Metz et al.'s full gradient); without it the parameters are detached after every
        look-ahead step (the generator then simply trains against a critic k steps ahead)."""
        group = self.opt_d.param_groups[0]
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        backprop = self._unroll_backprop
        named = list(self.critic.named_parameters())
        params = {n: p.detach().requires_grad_() for n, p in named}
        buffers = {n: b.clone() for n, b in self.critic.named_buffers()}  # e.g. spectral norm's u, v
        m, v, t = {}, {}, {}
        for n, p in named:
            st = self.opt_d.state.get(p, {})
            m[n] = st["exp_avg"].clone() if "exp_avg" in st else torch.zeros_like(p)
            v[n] = st["exp_avg_sq"].clone() if "exp_avg_sq" in st else torch.zeros_like(p)
            t[n] = float(st["step"]) if "step" in st else 0.0
        clip = self.reg_weight if self._regularizer == "clip" else None
        for _ in range(self._unrolled_steps):

            def critic(x, params=params):
                return functional_call(self.critic, (params, buffers), (x,))

            real = self._draw(self.rng)
            if backprop:
                fake = self._fake(self._batch_size)
            else:
                with torch.no_grad():
                    fake = self._fake(self._batch_size)
            d, pen = self._critic_loss(critic, real, fake, self._lazy(step))
            total = d + pen
            check_finite(total, step, self._what("unrolled critic"), self._hint())
            grads = torch.autograd.grad(total, list(params.values()), create_graph=backprop)
            new = {}
            for (n, p), gr in zip(params.items(), grads):
                t[n] += 1
                m[n] = torch.lerp(m[n], gr, 1 - b1)
                v[n] = v[n] * b2 + (1 - b2) * gr * gr
                denom = _sqrt0(v[n]) / math.sqrt(1 - b2 ** t[n]) + eps
                q = p - (lr / (1 - b1 ** t[n])) * m[n] / denom
                if clip is not None:
                    q = q.clamp(-clip, clip)
                new[n] = q if backprop else q.detach().requires_grad_()
            params = new
        return {**params, **buffers}

    def _critic_update(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One critic step (a fresh real and fake batch, loss + penalty, Adam, clipping) in
        generator step (or :meth:`critic_steps`' count) ``step``; returns (real batch, critic
        loss, penalty)."""
        D = self.critic
        real = self._draw(self.rng)
        with torch.no_grad():
            fake = self._fake(self._batch_size)
        d, pen = self._critic_loss(D, real, fake, self._lazy(step))
        total = d + pen
        check_finite(total, step, self._what("critic"), self._hint())
        self.opt_d.zero_grad(set_to_none=True)
        total.backward()
        self.opt_d.step()
        if self._regularizer == "clip":
            regularizers.clip_weights(D, self.reg_weight)
        return real, d, pen

    def critic_steps(self, k: int = 1) -> dict:
        """``k`` critic steps against the generator as it is, without any generator step (the
        critic of discriminator rejection sampling, trained further on a fixed final G: Azadi et
        al. 2019, Sec. 3.2; assignment 003). Each step is exactly a critic step of :meth:`step`
        (fresh real and fake batches, the loss's ``d_loss`` plus the weighted penalty, Adam,
        clipping for "clip"), except that the generator runs in eval mode (a batch-norm layer
        of G uses, and keeps, its running statistics), so neither its parameters nor its
        buffers change. The generator's step counter and :attr:`history` do not move.

        Returns ``{"d_loss": [...], "penalty": [...]}``, one value per step. Raises
        :class:`gentoolkit.train.TrainingDiverged` on a NaN/inf loss (naming the critic step,
        counted from 0 over every call).
        """
        k = positive_int("k", k)
        G, D = self.generator, self.critic
        modes = [(m, m.training) for m in G.modules()]
        G.eval()
        D.train()
        out = {"d_loss": [], "penalty": []}
        try:
            for _ in range(k):
                self._critic_count = getattr(self, "_critic_count", 0) + 1
                _, d, pen = self._critic_update(self._critic_count - 1)
                out["d_loss"].append(d.item())
                out["penalty"].append(pen.item())
        finally:
            for m, mode in modes:
                m.train(mode)
        return out

    def _one_step(self) -> dict:
        G, D, step = self.generator, self.critic, self._step
        G.train()
        D.train()
        for _ in range(self._n_d):
            real, d, pen = self._critic_update(step)
        if self._unrolled_steps:
            state = self._unrolled(step)

            def critic(x):
                return functional_call(D, state, (x,))

        else:
            critic = D
        fake = self._fake(self._batch_size)
        # relativistic losses compare with the real batch of the last critic step
        real_out = self._critic_out(critic, real) if self._loss_fn.relativistic else None
        g = self._loss_fn.g_loss(real_out, self._critic_out(critic, fake))
        check_finite(g, step, self._what("generator"), self._hint())
        self.opt_g.zero_grad(set_to_none=True)
        g.backward(inputs=list(G.parameters()))
        self.opt_g.step()
        out = {"step": step, "d_loss": d.item(), "g_loss": g.item(), "penalty": pen.item()}
        self.history.d_loss.append(out["d_loss"])
        self.history.g_loss.append(out["g_loss"])
        self.history.penalty.append(out["penalty"])
        self._step += 1
        if self._step % self._log_every == 0 and self.mixture is not None:
            stats = self.evaluate()
            self.history.eval_steps.append(self._step)
            self.history.covered.append(stats["covered"])
            self.history.kl.append(stats["kl"])
            self.history.high_quality.append(stats["high_quality"])
        return out

    def step(self, k: int = 1) -> dict:
        """Do ``k`` generator steps, each after ``n_d`` critic steps, and return the last one's
        ``{"step", "d_loss", "g_loss", "penalty"}`` (also appended to :attr:`history`).

        A critic step: a fresh real batch and a fresh fake batch (no gradient into G), the
        loss's ``d_loss`` plus the weighted penalty, one Adam step, then clipping for "clip".
        The generator step: fresh noise, the loss's ``g_loss`` against the real batch of the last
        critic step (relativistic losses need one), gradients into G only. With
        ``unrolled_steps = k > 0`` the generator's loss is computed against a look-ahead copy of
        the critic (Metz et al. 2016, "Unrolled generative adversarial networks", tried on the
        2D grids in 003): k more critic steps are taken *functionally* (``torch.func.functional_call``
        on a copy of the parameters, buffers and Adam moments, the same Adam update as torch's),
        and the real critic and its optimiser do not move. By default the copy's parameters are
        constants for the generator (the cheap first-order version common in 2D code); with
        ``unroll_backprop=True`` the generator's gradient flows through the k steps (the full
        gradient of Metz et al., a second-order cost).

        Raises :class:`gentoolkit.train.TrainingDiverged` naming the step, the loss and a likely
        fix when a loss is NaN or infinite (checked before its update, so the networks keep the
        last finite one).
        """
        k = positive_int("k", k)
        for _ in range(k):
            out = self._one_step()
        return out

    # ------------------------------------------------------------------ samples and statistics
    @torch.no_grad()
    def samples(self) -> torch.Tensor:
        """G on the fixed evaluation noise (``n_eval`` points, in eval mode): the points the
        statistics and the live view use, the same z at every step."""
        mode = self.generator.training
        self.generator.eval()
        try:
            return self.generator(self.eval_z)
        finally:
            self.generator.train(mode)

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` fresh samples G(z), z drawn from ``seed`` (the run's random stream is untouched)."""
        n = positive_int("n", n)
        z = randn(
            (n, self.latent_dim), torch.Generator().manual_seed(_integer("seed", seed, minimum=0)), like=self._like
        )
        mode = self.generator.training
        self.generator.eval()
        try:
            return self.generator(z)
        finally:
            self.generator.train(mode)

    def evaluate(self) -> dict:
        """:func:`gentoolkit.metrics.mode_stats` of :meth:`samples` against :attr:`mixture`."""
        if self.mixture is None:
            raise ValueError("no mixture to measure modes against: pass mixture= (data is a tensor)")
        return mode_stats(self.samples(), self.mixture)

    # ------------------------------------------------------------------ checkpoints
    def _stateful(self) -> dict:
        return {"netG": self.generator, "netD": self.critic, "optG": self.opt_g, "optD": self.opt_d}

    def state_dict(self) -> dict:
        """Everything an exact resume needs: both networks and optimisers ("netG", "netD",
        "optG", "optD"), the random generator's state ("generator"), "step", "history", the
        "controls" and the evaluation noise "eval_z"; tensors and plain containers only, so
        it loads with ``weights_only=True``."""
        h = {
            f.name: list(getattr(self.history, f.name)) for f in fields(GANHistory) if f.name not in ("seconds", "ema")
        }
        return snapshot(self._step, self.rng, self._stateful(), history=h, controls=self.controls, eval_z=self.eval_z)

    def load_state_dict(self, state: dict, *, controls: bool = True) -> None:
        """Continue from :meth:`state_dict`'s ``state``. With ``controls=False`` the current
        controls are kept (:func:`train_gan` resumes with the arguments it was given)."""
        keep = None if controls else self.controls
        apply_snapshot(state, self.rng, self._stateful())
        self._step = int(state["step"])
        self.history = GANHistory(**{k: list(v) for k, v in state["history"].items()})
        self.eval_z = state["eval_z"].to(self._like)
        self.configure(**(state["controls"] if controls else keep))

    def save(self, path) -> None:
        """Write :meth:`state_dict` to ``path`` atomically (:func:`gentoolkit.train.save_checkpoint`)."""
        save_checkpoint(path, self.state_dict())

    def load(self, path) -> None:
        """Continue from a file written by :meth:`save` (loaded with ``weights_only=True``)."""
        self.load_state_dict(load_checkpoint(path, map_location=self.device))


def train_gan(
    data,
    generator: torch.nn.Module,
    critic: torch.nn.Module,
    *,
    n_steps: int = 2000,
    loss: str = "ns",
    setup: str = "dcgan",
    lr_g: float | None = None,
    lr_d: float | None = None,
    betas=None,
    n_d: int | None = None,
    regularizer: str | None = None,
    reg_weight: float | None = None,
    reg_every: int = 1,
    unrolled_steps: int = 0,
    unroll_backprop: bool = False,
    batch_size: int = 256,
    pack: int = 1,
    mixture: Mixture2D | None = None,
    n_eval: int = 2048,
    log_every: int = 100,
    seed: int = 0,
    device=None,
    progress: bool = True,
    checkpoint=None,
    checkpoint_every: int = 500,
    resume: bool = False,
    callback=None,
    ema: float | None = None,
    ema_warmup: bool = False,
    precision: str = "fp32",
    log=None,
    tensorboard=None,
    sample_every: int = 500,
    sample_dir=None,
    n_grid: int = 64,
) -> GANHistory:
    """Train ``generator`` against ``critic`` on ``data`` for ``n_steps`` generator steps (a
    :class:`GANTrainer` stepped in a loop; every argument up to ``device`` is documented
    there) and return its :class:`GANHistory`; both networks are trained in place.

    Args:
        progress: a tqdm bar with the last losses and the mode count.
        checkpoint: a file path, written atomically every ``checkpoint_every`` steps and at the
            end. With ``resume=True`` and an existing file, training continues from it up to
            ``n_steps``: networks, optimiser moments, random state, step and history come from
            the file, the controls (loss, lrs, n_d, ...) from the arguments, so resuming with
            the same arguments gives the uninterrupted run bit for bit, and resuming with, say,
            a lower lr after a divergence continues from the saved state with it.
        callback: called as ``callback(step, out)`` after every step, ``out`` as returned by
            :meth:`GANTrainer.step`.
        ema: None, or the decay of an :class:`gentoolkit.train.EMA` of the generator's weights
            (e.g. 0.999: averaged generators give cleaner samples), saved in the checkpoint and
            returned as ``history.ema``; ``ema_warmup`` starts it with the decay
            min(ema, (1 + t) / (10 + t)) (:class:`gentoolkit.train.EMA`'s ``warmup``).
        precision: ``"fp32"`` or ``"bf16"``: each step under bf16 :func:`gentoolkit.train.autocast`
            (about twice the images/s on CPU; the weights and optimizers stay float32).
        log / tensorboard: a CSV file of d_loss, g_loss and penalty at every step, and a
            TensorBoard folder when the package is installed (:class:`gentoolkit.train.RunLog`).
        sample_dir / sample_every / n_grid: for image data, a PNG grid of the (EMA) generator on
            ``n_grid`` fixed latents every ``sample_every`` steps and at the end.

    Raises :class:`gentoolkit.train.TrainingDiverged` (step, loss, likely fix) on NaN/inf.
    """
    n_steps = positive_int("n_steps", n_steps)
    checkpoint_every = positive_int("checkpoint_every", checkpoint_every)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    trainer = GANTrainer(
        data,
        generator,
        critic,
        loss=loss,
        setup=setup,
        lr_g=lr_g,
        lr_d=lr_d,
        betas=betas,
        n_d=n_d,
        regularizer=regularizer,
        reg_weight=reg_weight,
        reg_every=reg_every,
        unrolled_steps=unrolled_steps,
        unroll_backprop=unroll_backprop,
        batch_size=batch_size,
        pack=pack,
        mixture=mixture,
        n_eval=n_eval,
        log_every=log_every,
        seed=seed,
        device=device,
    )
    averaged = None if ema is None else EMA(generator, ema, warmup=ema_warmup)
    autocast(trainer.device, precision)  # checks precision before any work
    n_grid = positive_int("n_grid", n_grid)
    grid_z = randn((n_grid, trainer.latent_dim), torch.Generator().manual_seed(int(seed)), like=trainer._like)
    if resume and checkpoint is not None and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint, map_location=trainer.device)
        trainer.load_state_dict(state, controls=False)
        if averaged is not None:
            averaged.load_state_dict(state["ema"] if "ema" in state else generator.state_dict())

    def state_fn(step: int) -> dict:
        state = trainer.state_dict()
        return state if averaged is None else {**state, "ema": averaged.state_dict()}

    @torch.no_grad()
    def grid() -> torch.Tensor:
        g_ = averaged.module if averaged is not None else generator
        mode = g_.training
        g_.eval()
        try:
            return g_(grid_z)
        finally:
            g_.train(mode)

    def step_fn(step: int) -> dict:
        with autocast(trainer.device, precision):
            out = trainer.step()
        return {k: v for k, v in out.items() if k != "step"}

    def postfix(step: int) -> dict:
        h = trainer.history
        return {"d": f"{h.d_loss[-1]:.3f}", "g": f"{h.g_loss[-1]:.3f}", "modes": h.covered[-1] if h.covered else "-"}

    seconds = run_loop(
        step_fn,
        start=trainer.steps,
        n_steps=n_steps,
        desc=f"{loss} GAN",
        progress=progress,
        postfix=postfix,
        state_fn=state_fn,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        emas=[averaged] if averaged is not None else [],
        log=log,
        tensorboard=tensorboard,
        sample_fn=grid if sample_dir is not None else None,
        sample_every=sample_every,
        sample_dir=sample_dir,
        callback=None if callback is None else lambda step, out: callback(step, {"step": step, **out}),
    )
    generator.eval()
    critic.eval()
    h = trainer.history
    h.seconds = seconds
    h.ema = None if averaged is None else averaged.module
    return h


def train_critic(
    G: torch.nn.Module,
    critic: torch.nn.Module,
    data,
    *,
    n_steps: int,
    loss: str = "ns",
    lr: float = 2e-4,
    betas=(0.5, 0.999),
    regularizer: str | None = None,
    reg_weight: float | None = None,
    batch_size: int = 64,
    seed: int = 0,
    device=None,
    progress: bool = False,
) -> dict:
    """Train ``critic`` alone to tell ``data`` from the samples of a fixed generator ``G``, for
    ``n_steps`` Adam steps (:meth:`GANTrainer.critic_steps`): the critic that discriminator
    rejection sampling (Azadi et al. 2019, Sec. 3.2: "we train D further on the final G";
    assignment 003) and latent Langevin sampling (report 000, Sec. 4) need when only the
    generator was kept, as in a pretrained file.

    With the minimax / non-saturating critic loss (``loss="ns"``, the default; their critic
    losses are the same) the optimal critic's logit is log(p_data(x) / p_G(x)) (lecture 004,
    "Vanilla GAN optimality"), the density ratio both samplers use.

    Args:
        G: the generator, a module z -> x with an int ``latent_dim``; run in eval mode without
            gradients, so its parameters and buffers do not change (its modes are restored).
        critic: a module x -> one raw output per sample; trained in place, left in eval mode.
            Prefer a critic without batch norm (``norm="layer"``): DRS and latent Langevin
            score one sample at a time, which a batch-norm critic trained on all-real and
            all-fake batches was never asked to do.
        data: the real data, as :class:`GANTrainer` takes it (an image dataset such as
            :class:`gentoolkit.data.images.MNIST`, a tensor of samples, a Mixture2D).
        n_steps: critic steps (>= 1).
        loss / regularizer / reg_weight: as in :class:`GANTrainer`.
        lr / betas: the critic's Adam learning rate and betas.
        batch_size: real and fake samples per step.
        seed: seeds the batches and the noise (the same seed gives the same critic).
        device: "cpu", "cuda" or None (cuda when available).
        progress: a tqdm bar over the steps.

    Returns ``{"d_loss": [...], "penalty": [...], "seconds": float}``.
    """
    import time

    from gentoolkit._progress import steps as progress_steps

    n_steps = positive_int("n_steps", n_steps)
    lr = positive_float("lr", lr)
    if not isinstance(G, torch.nn.Module):
        raise TypeError(f"G must be a torch.nn.Module (the generator), got {type(G).__name__}")
    modes = [(m, m.training) for m in G.modules()]
    try:
        trainer = GANTrainer(
            data,
            G,
            critic,
            loss=loss,
            lr_g=lr,
            lr_d=lr,
            betas=betas,
            regularizer=regularizer,
            reg_weight=reg_weight,
            batch_size=batch_size,
            n_eval=1,
            seed=seed,
            device=device,
        )
        out = {"d_loss": [], "penalty": []}
        start = time.perf_counter()
        for _ in progress_steps(n_steps, 1, progress, "critic"):
            one = trainer.critic_steps(1)
            out["d_loss"] += one["d_loss"]
            out["penalty"] += one["penalty"]
        out["seconds"] = time.perf_counter() - start
    finally:
        for m, mode in modes:
            m.train(mode)
    critic.eval()
    return out
