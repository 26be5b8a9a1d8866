"""gentoolkit.gan.losses against naive formulas, closed forms and the f-GAN bound's optimum."""

import math

import pytest
import torch
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy

from gentoolkit.gan import losses
from gentoolkit.gan.losses import f_gan
from tests.conftest import DEVICES

F_NAMES = ["kl", "reverse_kl", "js", "pearson", "hellinger"]
RELATIVISTIC = {"rsgan", "rasgan", "ralsgan", "rahinge"}
EXPONENTIAL = {"f:kl", "f:reverse_kl", "f:hellinger"}  # terms exp(+-C): float32 overflows past |C| ~ 88


def logits(seed=0, n=64, dtype=torch.float64):
    """Real and fake logits from different distributions, so that swapping them changes every loss."""
    g = torch.Generator().manual_seed(seed)
    real = 0.8 + torch.randn(n, generator=g, dtype=dtype)
    fake = -0.6 + 1.7 * torch.randn(n, generator=g, dtype=dtype)
    return real, fake


# naive versions, written straight from the issue, 001 App. A.7 and 002 / Nowozin et al. Table 2
def sig(c):
    return 1 / (1 + torch.exp(-c))


def ra(r, f):
    return r - f.mean(), f - r.mean()


ACT = {  # g_f
    "kl": lambda v: v,
    "reverse_kl": lambda v: -torch.exp(-v),
    "js": lambda v: 0.5 * (math.log(2) - torch.log(1 + torch.exp(-v))),
    "pearson": lambda v: v,
    "hellinger": lambda v: 1 - torch.exp(-v),
}
CONJ = {  # f*
    "kl": lambda t: torch.exp(t - 1),
    "reverse_kl": lambda t: -1 - torch.log(-t),
    "js": lambda t: -0.5 * torch.log(2 - torch.exp(2 * t)),
    "pearson": lambda t: t**2 / 4 + t,
    "hellinger": lambda t: t / (1 - t),
}
NAIVE = {  # name: (D, G)
    "minimax": (
        lambda r, f: -torch.log(sig(r)).mean() - torch.log(1 - sig(f)).mean(),
        lambda r, f: torch.log(1 - sig(f)).mean(),
    ),
    "ns": (
        lambda r, f: -torch.log(sig(r)).mean() - torch.log(1 - sig(f)).mean(),
        lambda r, f: -torch.log(sig(f)).mean(),
    ),
    "lsgan": (lambda r, f: ((r - 1) ** 2).mean() + (f**2).mean(), lambda r, f: ((f - 1) ** 2).mean()),
    "hinge": (
        lambda r, f: torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean(),
        lambda r, f: -f.mean(),
    ),
    "wgan": (lambda r, f: -r.mean() + f.mean(), lambda r, f: -f.mean()),
    "rsgan": (lambda r, f: -torch.log(sig(r - f)).mean(), lambda r, f: -torch.log(sig(f - r)).mean()),
    "rasgan": (
        lambda r, f: -torch.log(sig(ra(r, f)[0])).mean() - torch.log(1 - sig(ra(r, f)[1])).mean(),
        lambda r, f: -torch.log(sig(ra(r, f)[1])).mean() - torch.log(1 - sig(ra(r, f)[0])).mean(),
    ),
    "ralsgan": (
        lambda r, f: ((ra(r, f)[0] - 1) ** 2).mean() + ((ra(r, f)[1] + 1) ** 2).mean(),
        lambda r, f: ((ra(r, f)[1] - 1) ** 2).mean() + ((ra(r, f)[0] + 1) ** 2).mean(),
    ),
    "rahinge": (
        lambda r, f: torch.clamp(1 - ra(r, f)[0], min=0).mean() + torch.clamp(1 + ra(r, f)[1], min=0).mean(),
        lambda r, f: torch.clamp(1 - ra(r, f)[1], min=0).mean() + torch.clamp(1 + ra(r, f)[0], min=0).mean(),
    ),
} | {
    f"f:{d}": (
        lambda r, f, d=d: -(ACT[d](r).mean() - CONJ[d](ACT[d](f)).mean()),
        lambda r, f, d=d: -ACT[d](f).mean(),
    )
    for d in F_NAMES
}


def test_every_name_has_a_naive_formula_here():
    """A loss added to the zoo without a naive formula in this file fails here."""
    assert set(losses.names()) == set(NAIVE)


@pytest.mark.parametrize("name", list(NAIVE))
def test_every_loss_equals_its_formula(name):
    """Each d_loss and g_loss equals its formula written out naively in float64. Catches a
    flipped sign, a missing or extra factor (e.g. 1/2 on a term), real and fake swapped (the
    logits come from different distributions: the naive formula with them swapped differs,
    asserted), D~ built from the wrong batch's mean, and the wrong activation or conjugate."""
    loss = losses.get(name)
    real, fake = logits()
    naive_d, naive_g = NAIVE[name]
    torch.testing.assert_close(loss.d_loss(real, fake), naive_d(real, fake), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(loss.g_loss(real, fake), naive_g(real, fake), rtol=1e-10, atol=1e-12)
    assert not torch.isclose(naive_d(real, fake), naive_d(fake, real))
    # (n, 1) outputs give the same value
    torch.testing.assert_close(loss.d_loss(real[:, None], fake[:, None]), naive_d(real, fake))


@pytest.mark.parametrize("d", F_NAMES)
def test_saturating_f_gan_generator_loss(d):
    """``saturating=True`` gives G = -E f*(g_f(C_f)), the generator's part of V, and the default
    Nowozin's -E g_f(C_f); a mix-up of the two fails one of them."""
    real, fake = logits(1)
    sat = f_gan(d, saturating=True)
    torch.testing.assert_close(sat.g_loss(real, fake), -CONJ[d](ACT[d](fake)).mean())
    torch.testing.assert_close(sat.d_loss(real, fake), losses.get(f"f:{d}").d_loss(real, fake))
    assert not torch.isclose(sat.g_loss(real, fake), losses.get(f"f:{d}").g_loss(real, fake))
    # f_gan(d) called now, not the table get() built at import (a mutated f_gan reaches only this)
    alt = f_gan(d)
    torch.testing.assert_close(alt.g_loss(real, fake), -ACT[d](fake).mean())
    torch.testing.assert_close(alt.d_loss(real, fake), CONJ[d](ACT[d](fake)).mean() - ACT[d](real).mean())
    assert (alt.name, alt.divergence, alt.saturating, sat.saturating) == (f"f:{d}", d, False, True)
    assert alt.description.endswith("; G = -E g_f(C_f) (Nowozin's alternative)")
    assert sat.description.endswith("; G = -E f*(g_f(C_f)) (saturating)")
    assert alt.description.startswith("f-GAN, ") and alt.description.split(": g_f")[0] in sat.description
    torch.testing.assert_close(alt.activation(fake), ACT[d](fake))
    torch.testing.assert_close(alt.conjugate(ACT[d](fake)), CONJ[d](ACT[d](fake)))


@pytest.mark.parametrize("name", list(NAIVE))
def test_finite_and_right_at_large_logits(name):
    """|C| up to 100: values and gradients finite, and in float32 equal to float64. Catches
    log(sigmoid(c)) written naively (log 0 = -inf at c = -100 in float32 and float64 alike) and
    1 - exp(-v) instead of expm1. The f-GANs with exponential terms (exp(99) > float32's max)
    are checked in float32 up to |C| = 80 and in float64 up to 100 (see FGANLoss's docstring)."""
    loss = losses.get(name)
    big = torch.tensor([-100.0, -60.0, -1.0, 0.0, 2.0, 60.0, 100.0], dtype=torch.float64)
    real, fake = big, big.flip(0) * 0.9
    for dtype in (torch.float64, torch.float32):
        scale = 0.8 if (dtype == torch.float32 and name in EXPONENTIAL) else 1.0
        r = (real * scale).to(dtype).requires_grad_(True)
        f = (fake * scale).to(dtype).requires_grad_(True)
        for fn in (loss.d_loss, loss.g_loss):
            v = fn(r, f)
            gr, gf = torch.autograd.grad(v, (r, f), allow_unused=True)
            grads = [x for x in (gr, gf) if x is not None]
            assert torch.isfinite(v) and all(torch.isfinite(x).all() for x in grads), (name, dtype, fn.__name__)
            ref = fn((real * scale).detach(), (fake * scale).detach())
            torch.testing.assert_close(v.double(), ref, rtol=1e-5, atol=1e-4)


def test_shapes_and_pairing():
    """(n,) and (n, 1) mix; unpaired losses take batches of different sizes; rsgan (paired)
    refuses them (a silent broadcast (n,) - (m,) would be wrong); bad shapes and types raise."""
    real, fake = logits(2)
    for name in losses.names():
        loss = losses.get(name)
        a = loss.d_loss(real[:, None], fake)
        torch.testing.assert_close(a, loss.d_loss(real, fake[:, None]))
        if name != "rsgan":
            loss.d_loss(real[:40], fake)
            loss.g_loss(real[:40], fake)
    with pytest.raises(ValueError, match="same number of samples, got 40 and 64"):
        losses.get("rsgan").d_loss(real[:40], fake)
    with pytest.raises(ValueError, match=r"fake_out must have shape \(n,\) or \(n, 1\).*\(64, 2\)"):
        losses.get("ns").d_loss(real, torch.zeros(64, 2))
    with pytest.raises(ValueError, match="real_out"):
        losses.get("ns").d_loss(torch.zeros(0), fake)
    with pytest.raises(TypeError, match="real_out must be a torch.Tensor"):
        losses.get("ns").d_loss([1.0, 2.0], fake)
    with pytest.raises(TypeError, match="floating-point"):
        losses.get("ns").d_loss(torch.ones(3, dtype=torch.long), fake)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="unknown loss name 'nss'; known losses: minimax, ns, .*f:hellinger"):
        losses.get("nss")
    with pytest.raises(TypeError, match="name must be a str"):
        losses.get(3)
    with pytest.raises(ValueError, match="divergence must be one of"):
        f_gan("tv")


def test_flags_and_descriptions_match_what_the_losses_use():
    """``relativistic`` is true exactly for the losses whose g_loss depends on the real outputs
    (changing them changes g_loss; the others accept None), ``paired`` only for rsgan, and
    every loss has a description. A mislabelled flag would make the trainer skip the real
    batch that a relativistic generator needs."""
    real, fake = logits(3)
    for name in losses.names():
        loss = losses.get(name)
        assert loss.description and loss.name == name
        moved = loss.g_loss(real + 0.5 * torch.arange(64.0, dtype=real.dtype) / 64, fake)
        depends = not torch.isclose(moved, loss.g_loss(real, fake))
        assert loss.relativistic == depends == (name in RELATIVISTIC), name
        assert loss.paired == (name == "rsgan")
        if not loss.relativistic:
            torch.testing.assert_close(loss.g_loss(None, fake), loss.g_loss(real, fake))
    with pytest.raises(TypeError, match="real_out"):
        losses.get("rasgan").g_loss(None, fake)


# ---------------------------------------------------------------------------- optimal critics
P = torch.tensor([1.0, 2.0, 3.0, 4.0, 10.0], dtype=torch.float64) / 20
Q = torch.tensor([6.0, 5.0, 4.0, 3.0, 2.0], dtype=torch.float64) / 20


def as_batch(table, probs):
    """The outputs of a tabular critic on a batch in which support point k appears 20 p_k
    times: batch means are then exact expectations."""
    counts = (probs * 20).round().long()
    return table[torch.repeat_interleave(torch.arange(len(probs)), counts)]


def f_of(d, u):
    """The generator functions f of the divergences' conventions (D_f = sum q f(p/q))."""
    return {
        "kl": lambda u: u * torch.log(u),
        "reverse_kl": lambda u: -torch.log(u),
        "js": lambda u: 0.5 * (u * torch.log(u) - (u + 1) * torch.log((u + 1) / 2)),
        "pearson": lambda u: (u - 1) ** 2,
        "hellinger": lambda u: (torch.sqrt(u) - 1) ** 2,
    }[d](u)


INV_ACT = {  # g_f^{-1}
    "kl": lambda t: t,
    "reverse_kl": lambda t: -torch.log(-t),
    "js": lambda t: -torch.log(2 * torch.exp(-2 * t) - 1),
    "pearson": lambda t: t,
    "hellinger": lambda t: -torch.log(1 - t),
}
DIRECT = {  # D_f(P || Q) in its usual form, or from scipy
    "kl": lambda p, q: entropy(p, q),
    "reverse_kl": lambda p, q: entropy(q, p),
    "js": lambda p, q: jensenshannon(p, q) ** 2,
    "pearson": lambda p, q: float(((p - q) ** 2 / q).sum()),
    "hellinger": lambda p, q: float(((p.sqrt() - q.sqrt()) ** 2).sum()),
}


def test_minimax_optimal_critic_gives_log4_minus_2js():
    """At C* = log(p/q) the minimax (and ns) critic loss is log 4 - 2 JS(P, Q) (004: the optimum
    of the vanilla objective is the JSD) and C* is stationary. Catches softplus(c) and
    softplus(-c) exchanged, or a factor on one term (either moves the optimum off log(p/q))."""
    c = torch.log(P / Q).requires_grad_(True)
    for name in ("minimax", "ns"):
        v = losses.get(name).d_loss(as_batch(c, P), as_batch(c, Q))
        assert v.item() == pytest.approx(math.log(4) - 2 * jensenshannon(P, Q) ** 2, rel=1e-12)
        (grad,) = torch.autograd.grad(v, c)
        assert grad.abs().max() < 1e-12


@pytest.mark.parametrize("d", F_NAMES)
def test_f_gan_optimal_critic_gives_the_divergence(d):
    """With the critic at the bound's optimum T* = f'(p/q) (f' by autograd of f, mapped back
    through the inverse activation), -d_loss is D_f(P || Q) exactly, computed directly (scipy
    for kl, reverse_kl and js); any other critic gives less (it is a lower bound). Catches a
    wrong conjugate or activation, Nowozin's JS scaling (2 JS), and P and Q swapped."""
    u = (P / Q).requires_grad_(True)
    (t_star,) = torch.autograd.grad(f_of(d, u).sum(), u)
    c = INV_ACT[d](t_star)
    loss = losses.get(f"f:{d}")
    torch.testing.assert_close(loss.activation(c), t_star)
    direct = DIRECT[d](P, Q)
    assert float((Q * f_of(d, P / Q)).sum()) == pytest.approx(direct, rel=1e-12)
    assert -loss.d_loss(as_batch(c, P), as_batch(c, Q)).item() == pytest.approx(direct, rel=1e-10)
    g = torch.Generator().manual_seed(4)
    for _ in range(5):
        other = c + 0.3 * torch.randn(5, generator=g, dtype=c.dtype)
        assert -loss.d_loss(as_batch(other, P), as_batch(other, Q)).item() < direct


@pytest.mark.parametrize("d", F_NAMES)
def test_trained_f_gan_critic_recovers_the_divergence(d):
    """The issue's Done-when: a tabular critic (one free logit per support point) trained with
    Adam on minibatches of samples from two known discrete distributions recovers D_f(P || Q)
    within 10%. Catches any loss whose optimum is not the divergence (e.g. Nowozin's JS scale,
    off by 2x, or a wrong activation that cannot reach T*)."""
    g = torch.Generator().manual_seed(5)
    table = (0.1 * torch.randn(5, generator=g, dtype=torch.float64)).requires_grad_(True)
    opt = torch.optim.Adam([table], lr=0.05)
    loss = losses.get(f"f:{d}")
    for step in range(400):
        xr = torch.multinomial(P, 256, replacement=True, generator=g)
        xf = torch.multinomial(Q, 256, replacement=True, generator=g)
        opt.zero_grad()
        loss.d_loss(table[xr], table[xf]).backward()
        opt.step()
        if step == 300:
            opt.param_groups[0]["lr"] = 0.01
    estimate = -loss.d_loss(as_batch(table.detach(), P), as_batch(table.detach(), Q)).item()
    assert estimate == pytest.approx(DIRECT[d](P, Q), rel=0.1)


@pytest.mark.parametrize("device", DEVICES)
def test_device_follows_the_inputs(device):
    real, fake = logits(6, dtype=torch.float32)
    for name in losses.names():
        loss = losses.get(name)
        v = loss.d_loss(real.to(device), fake.to(device))
        assert v.device.type == device
        torch.testing.assert_close(v.cpu(), loss.d_loss(real, fake), rtol=1e-5, atol=1e-5)


def test_bad_outputs_and_names_say_what_was_given():
    """A critic output that is not a tensor is named with its type; the critic loss needs the
    real outputs (only a non-relativistic generator loss may omit them)."""
    fake = torch.zeros(4)
    with pytest.raises(TypeError, match=r"^fake_out must be a torch.Tensor of shape \(n,\) or \(n, 1\), got list$"):
        losses.get("ns").d_loss(fake, [0.0] * 4)
    with pytest.raises(TypeError, match=r"^real_out must be a torch.Tensor .*, got NoneType$"):
        losses.get("ns").d_loss(None, fake)
    assert torch.isfinite(losses.get("ns").g_loss(None, fake))
    with pytest.raises(TypeError, match=r"^name must be a str, one of \[.*\], got int$"):
        losses.get(3)
