"""The GAN loss zoo: ``get(name)`` gives the critic's and the generator's loss for one name.

Every loss takes the critic's raw outputs C(x), ``real_out`` = C(x_r) on a real batch and
``fake_out`` = C(x_f) on a generated one, each of shape (n,) or (n, 1), and returns a
scalar: means over the batch, no extra factors. The critic minimizes ``d_loss``, the
generator ``g_loss``. sigma is the logistic sigmoid; every log-sigmoid is written with
softplus (-log sigma(c) = softplus(-c), -log(1 - sigma(c)) = softplus(c)), so the losses
and their gradients stay finite for |C| in the hundreds.

Standard losses (lecture 004; thesis 001, App. A.7.1, A.7.4, A.7.6, A.7.8):

- ``"minimax"``: D = -E log sigma(C_r) - E log(1 - sigma(C_f)); G = E log(1 - sigma(C_f)).
- ``"ns"`` (non-saturating, 004; 001 Eq. A.5): D as minimax; G = -E log sigma(C_f).
- ``"lsgan"``: D = E (C_r - 1)^2 + E C_f^2; G = E (C_f - 1)^2. (001 Eq. A.10 writes the
  same loss with the labels 0 and 1 swapped; the issue's labels are used here.)
- ``"hinge"``: D = E relu(1 - C_r) + E relu(1 + C_f); G = -E C_f.
- ``"wgan"``: D = -E C_r + E C_f; G = -E C_f (the Lipschitz constraint is a regularizer's
  job, see :mod:`gentoolkit.gan.regularizers`).

Relativistic losses (001, Ch. 4 and App. A.7.2, A.7.3, A.7.5, A.7.7). ``"rsgan"`` pairs
real and fake samples one to one, so both batches must have the same size (``paired``).
The relativistic average losses compare each sample with the mean critic of the other
batch, D~(x_r) = C(x_r) - E C(x_f) and D~(x_f) = C(x_f) - E C(x_r), and the generator's
loss mirrors the critic's (real and fake swapped), so it needs the real outputs too
(``relativistic``):

- ``"rsgan"``: D = -E log sigma(C_r - C_f); G = -E log sigma(C_f - C_r).
- ``"rasgan"``: D = -E log sigma(D~_r) - E log(1 - sigma(D~_f));
  G = -E log sigma(D~_f) - E log(1 - sigma(D~_r)).
- ``"ralsgan"``: D = E (D~_r - 1)^2 + E (D~_f + 1)^2; G = E (D~_f - 1)^2 + E (D~_r + 1)^2.
- ``"rahinge"``: D = E relu(1 - D~_r) + E relu(1 + D~_f); G = E relu(1 - D~_f) + E relu(1 + D~_r).

The PDF text of 001, App. A.7.5 and A.7.7 writes some generator expectations as
"x_f ~ P" and "x_r ~ Q", and heads A.7.7's equations "HingeGAN"; these are conversion or
typing slips (fake samples come from Q, real ones from P; A.7.7 is RaHingeGAN), read here
from the logic of A.7.3, where the generator's loss is the critic's with real and fake
swapped.

f-GAN losses (lecture 002, "Variational divergence estimation"; Nowozin et al. 2016,
Table 2): ``"f:kl"``, ``"f:reverse_kl"``, ``"f:js"``, ``"f:pearson"``, ``"f:hellinger"``,
see :class:`FGANLoss`. At the critic's optimum, ``-d_loss`` is D_f(P || Q) with P the data
and Q the generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

LOG2 = math.log(2.0)


def critic_outputs(name: str, out) -> torch.Tensor:
    """Check that ``out`` holds one critic output per sample, shape (n,) or (n, 1), and return
    it as shape (n,)."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (n,) or (n, 1), got {type(out).__name__}")
    if not out.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {out.dtype}")
    if not (out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1)) or out.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n,) or (n, 1) with n >= 1, got {tuple(out.shape)}")
    return out.reshape(-1)


@dataclass(frozen=True)
class GANLoss:
    """One loss of the zoo: ``d_loss(real_out, fake_out)`` for the critic and
    ``g_loss(real_out, fake_out)`` for the generator, both to be minimized.

    Attributes:
        name: the name :func:`get` knows it by.
        description: a one-line formula (what the live view shows).
        relativistic: ``g_loss`` uses the real outputs too (for the other losses
            ``real_out`` may be ``None`` in ``g_loss``).
        paired: real and fake outputs are paired one to one, so both batches must have the
            same size (``"rsgan"``).
    """

    name: str
    description: str
    d_fn: Callable = field(repr=False, compare=False)
    g_fn: Callable = field(repr=False, compare=False)
    relativistic: bool = False
    paired: bool = False

    def _outputs(self, real_out, fake_out, *, need_real: bool = True):
        cf = critic_outputs("fake_out", fake_out)
        if real_out is None and not need_real:
            return None, cf
        cr = critic_outputs("real_out", real_out)
        if self.paired and cr.shape != cf.shape:
            raise ValueError(
                f"the {self.name!r} loss pairs real and fake samples one to one: real_out and fake_out "
                f"must have the same number of samples, got {cr.shape[0]} and {cf.shape[0]}"
            )
        return cr, cf

    def d_loss(self, real_out, fake_out) -> torch.Tensor:
        """The critic's loss on C(x_r) (``real_out``) and C(x_f) (``fake_out``)."""
        return self.d_fn(*self._outputs(real_out, fake_out))

    def g_loss(self, real_out, fake_out) -> torch.Tensor:
        """The generator's loss; ``real_out`` may be ``None`` unless the loss is relativistic."""
        return self.g_fn(*self._outputs(real_out, fake_out, need_real=self.relativistic))


def _ra(cr, cf):
    """The relativistic average critic differences D~(x_r), D~(x_f) (001, App. A.7.3)."""
    return cr - cf.mean(), cf - cr.mean()


def _rasgan_d(cr, cf):
    dr, df = _ra(cr, cf)
    return F.softplus(-dr).mean() + F.softplus(df).mean()


def _rasgan_g(cr, cf):
    dr, df = _ra(cr, cf)
    return F.softplus(-df).mean() + F.softplus(dr).mean()


def _ralsgan_d(cr, cf):
    dr, df = _ra(cr, cf)
    return ((dr - 1) ** 2).mean() + ((df + 1) ** 2).mean()


def _ralsgan_g(cr, cf):
    dr, df = _ra(cr, cf)
    return ((df - 1) ** 2).mean() + ((dr + 1) ** 2).mean()


def _rahinge_d(cr, cf):
    dr, df = _ra(cr, cf)
    return F.relu(1 - dr).mean() + F.relu(1 + df).mean()


def _rahinge_g(cr, cf):
    dr, df = _ra(cr, cf)
    return F.relu(1 - df).mean() + F.relu(1 + dr).mean()


def _bce_d(cr, cf):
    return F.softplus(-cr).mean() + F.softplus(cf).mean()


_STANDARD = [
    GANLoss(
        "minimax",
        "minimax (Goodfellow et al. 2014): D = -E log s(C_r) - E log(1 - s(C_f)); G = E log(1 - s(C_f)) "
        "(saturates when the critic wins)",
        _bce_d,
        lambda cr, cf: -F.softplus(cf).mean(),
    ),
    GANLoss(
        "ns",
        "non-saturating: D = -E log s(C_r) - E log(1 - s(C_f)); G = -E log s(C_f)",
        _bce_d,
        lambda cr, cf: F.softplus(-cf).mean(),
    ),
    GANLoss(
        "lsgan",
        "least squares (Mao et al. 2017): D = E (C_r - 1)^2 + E C_f^2; G = E (C_f - 1)^2",
        lambda cr, cf: ((cr - 1) ** 2).mean() + (cf**2).mean(),
        lambda cr, cf: ((cf - 1) ** 2).mean(),
    ),
    GANLoss(
        "hinge",
        "hinge (Lim and Ye 2017): D = E relu(1 - C_r) + E relu(1 + C_f); G = -E C_f",
        lambda cr, cf: F.relu(1 - cr).mean() + F.relu(1 + cf).mean(),
        lambda cr, cf: -cf.mean(),
    ),
    GANLoss(
        "wgan",
        "Wasserstein (Arjovsky et al. 2017): D = -E C_r + E C_f; G = -E C_f (needs a Lipschitz constraint)",
        lambda cr, cf: cf.mean() - cr.mean(),
        lambda cr, cf: -cf.mean(),
    ),
    GANLoss(
        "rsgan",
        "relativistic standard (001 App. A.7.2): D = -E log s(C_r - C_f); G = -E log s(C_f - C_r), paired",
        lambda cr, cf: F.softplus(cf - cr).mean(),
        lambda cr, cf: F.softplus(cr - cf).mean(),
        relativistic=True,
        paired=True,
    ),
    GANLoss(
        "rasgan",
        "relativistic average standard (001 App. A.7.3): D = -E log s(D~_r) - E log(1 - s(D~_f)); "
        "G = the same with real and fake swapped; D~_r = C_r - E C_f, D~_f = C_f - E C_r",
        _rasgan_d,
        _rasgan_g,
        relativistic=True,
    ),
    GANLoss(
        "ralsgan",
        "relativistic average least squares (001 App. A.7.5): D = E (D~_r - 1)^2 + E (D~_f + 1)^2; "
        "G = E (D~_f - 1)^2 + E (D~_r + 1)^2",
        _ralsgan_d,
        _ralsgan_g,
        relativistic=True,
    ),
    GANLoss(
        "rahinge",
        "relativistic average hinge (001 App. A.7.7): D = E relu(1 - D~_r) + E relu(1 + D~_f); "
        "G = E relu(1 - D~_f) + E relu(1 + D~_r)",
        _rahinge_d,
        _rahinge_g,
        relativistic=True,
    ),
]


@dataclass(frozen=True, kw_only=True)
class FGANLoss(GANLoss):
    """An f-GAN loss (lecture 002; Nowozin et al. 2016): the critic's output v = C(x) goes
    through an output activation T = g_f(v) into the domain of the Fenchel conjugate f*, and

        V = E_P[g_f(C(x_r))] - E_Q[f*(g_f(C(x_f)))]  <=  D_f(P || Q) = sum q f(p / q),

    with equality at T*(x) = f'(p(x) / q(x)) (002: "the lower bound is tight for T* = f'").
    The critic maximizes V: ``d_loss = -V``, so that ``-d_loss`` at the optimal critic is the
    divergence. The generator's loss is, by default, Nowozin et al.'s alternative (their
    Sec. 3.2, the f-GAN analogue of the non-saturating loss) ``g_loss = -E_Q[g_f(C(x_f))]``;
    with ``saturating=True`` it is the minimax one, the part of V that depends on the
    generator, ``g_loss = -E_Q[f*(g_f(C(x_f)))]``.

    The divergences use the conventions of :mod:`gentoolkit.divergences`:

    ========== ======================== ========================== =========================== ================
    name       f(u)                     g_f(v)                     f*(t)                        optimal C
    ========== ======================== ========================== =========================== ================
    kl         u log u                  v                          exp(t - 1)                   1 + log(p/q)
    reverse_kl -log u                   -exp(-v)                   -1 - log(-t)                 log(p/q)
    js         1/2 [u log u - (u + 1)   1/2 (log 2 - softplus(-v)) -1/2 log(2 - exp(2t))        log(p/q)
               log((u + 1) / 2)]
    pearson    (u - 1)^2                v                          t^2 / 4 + t                  2 (p/q - 1)
    hellinger  (sqrt u - 1)^2           1 - exp(-v)                t / (1 - t)                  1/2 log(p/q)
    ========== ======================== ========================== =========================== ================

    JS: 002's table (as Nowozin et al.'s Table 1) lists f(u) = u log u - (u + 1) log((1 + u)/2)
    next to D_JS = 1/2 KL(p || m) + 1/2 KL(q || m); that f gives twice D_JS. Here f is halved
    so that the optimum is D_JS itself (at most log 2); then f*(t) = 1/2 f_N*(2 t) and
    g_f = 1/2 of Nowozin's activation, derived here. With this activation the optimal logit
    is log(p/q), the minimax GAN's, and V = log 2 - 1/2 (minimax ``d_loss``).

    The activations' compositions are evaluated in closed form: f*(g_f(v)) is exp(v - 1)
    (kl), v - 1 (reverse_kl), -1/2 (log 2 - softplus(v)) (js), v^2/4 + v (pearson) and
    exp(v) - 1 (hellinger). The exponentials are the divergence's own growth, not a
    numerical artefact: a critic output of 100 claims a density ratio of about e^100, whose
    loss term exceeds float32's range (about e^88.7); in float64 every f-GAN loss is finite
    for |C| up to 700, and the js loss (softplus only) is finite in float32 too.
    """

    divergence: str
    activation: Callable = field(repr=False, compare=False)
    conjugate: Callable = field(repr=False, compare=False)
    saturating: bool = False


# per divergence: (g_f, f*, f* o g_f in closed form)
_F = {
    "kl": (lambda v: v, lambda t: torch.exp(t - 1), lambda v: torch.exp(v - 1)),
    "reverse_kl": (lambda v: -torch.exp(-v), lambda t: -1 - torch.log(-t), lambda v: v - 1),
    "js": (
        lambda v: 0.5 * (LOG2 - F.softplus(-v)),
        lambda t: -0.5 * torch.log(2 - torch.exp(2 * t)),
        lambda v: -0.5 * (LOG2 - F.softplus(v)),
    ),
    "pearson": (lambda v: v, lambda t: t**2 / 4 + t, lambda v: v**2 / 4 + v),
    "hellinger": (lambda v: -torch.expm1(-v), lambda t: t / (1 - t), lambda v: torch.expm1(v)),
}
_F_FORMULA = {
    "kl": "KL(P||Q): g_f(v) = v, f*(t) = exp(t - 1)",
    "reverse_kl": "KL(Q||P): g_f(v) = -exp(-v), f*(t) = -1 - log(-t)",
    "js": "JS(P,Q) (at most log 2): g_f(v) = (log 2 - softplus(-v))/2, f*(t) = -log(2 - exp(2t))/2",
    "pearson": "Pearson chi^2 sum (p-q)^2/q: g_f(v) = v, f*(t) = t^2/4 + t",
    "hellinger": "squared Hellinger sum (sqrt p - sqrt q)^2: g_f(v) = 1 - exp(-v), f*(t) = t/(1 - t)",
}


def f_gan(divergence: str, *, saturating: bool = False) -> FGANLoss:
    """The f-GAN loss for ``divergence`` (one of "kl", "reverse_kl", "js", "pearson",
    "hellinger"); see :class:`FGANLoss`. ``get("f:kl")`` is ``f_gan("kl")``."""
    if divergence not in _F:
        raise ValueError(f"divergence must be one of {sorted(_F)}, got {divergence!r}")
    act, conj, conj_act = _F[divergence]
    if saturating:
        g_fn, g_text = (lambda cr, cf: -conj_act(cf).mean()), "G = -E f*(g_f(C_f)) (saturating)"
    else:
        g_fn, g_text = (lambda cr, cf: -act(cf).mean()), "G = -E g_f(C_f) (Nowozin's alternative)"
    return FGANLoss(
        name=f"f:{divergence}",
        description=f"f-GAN, {_F_FORMULA[divergence]}; D = -(E g_f(C_r) - E f*(g_f(C_f))); {g_text}",
        d_fn=lambda cr, cf: conj_act(cf).mean() - act(cr).mean(),
        g_fn=g_fn,
        divergence=divergence,
        activation=act,
        conjugate=conj,
        saturating=saturating,
    )


_LOSSES = {loss.name: loss for loss in _STANDARD} | {f"f:{d}": f_gan(d) for d in _F}


def names() -> list[str]:
    """The names :func:`get` knows, in the order of the module's docstring."""
    return list(_LOSSES)


def get(name: str) -> GANLoss:
    """The loss called ``name`` (see :func:`names`)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, one of {names()}, got {type(name).__name__}")
    if name not in _LOSSES:
        raise ValueError(f"unknown loss name {name!r}; known losses: {', '.join(names())}")
    return _LOSSES[name]
