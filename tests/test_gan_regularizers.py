"""gentoolkit.gan.regularizers against closed forms on critics whose gradients are known."""

import math

import pytest
import torch
import torch.nn.functional as F
from scipy.stats import multivariate_normal
from torch import nn

from gentoolkit.gan import losses
from gentoolkit.gan import regularizers as R
from gentoolkit.nets import MLPDiscriminator
from tests.conftest import DEVICES


def gen(seed):
    return torch.Generator().manual_seed(seed)


class Linear(nn.Module):
    """C(x) = w . x + b: grad_x C = w everywhere, so ||grad|| = ||w||."""

    def __init__(self, w, b=0.3):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float64))
        self.b = nn.Parameter(torch.tensor(b, dtype=torch.float64))

    def forward(self, x):
        return x @ self.w + self.b


class Quadratic(nn.Module):
    """C(x) = x^T A x with A symmetric: grad_x C = 2 A x. Output shape (n, 1), as a critic may give."""

    def __init__(self, a):
        super().__init__()
        self.a = nn.Parameter(torch.as_tensor(a, dtype=torch.float64))

    def forward(self, x):
        return ((x @ self.a) * x).sum(dim=1, keepdim=True)


A = torch.tensor([[1.5, 0.4], [0.4, 0.3]], dtype=torch.float64)


def batches(seed=0, n=32):
    g = gen(seed)
    return torch.randn(n, 2, generator=g, dtype=torch.float64) + 1.0, 0.5 * torch.randn(
        n, 2, generator=g, dtype=torch.float64
    )


# ---------------------------------------------------------------------------- gradient penalties
@pytest.mark.parametrize("norm_w", [2.5, 0.4])
def test_gradient_penalty_on_a_linear_critic(norm_w):
    """||grad C|| = ||w|| everywhere, so the two-sided penalty is (||w|| - 1)^2 and the one-sided
    max(0, ||w|| - 1)^2 (zero for ||w|| < 1); its gradient in w is 2 (||w|| - 1) w / ||w||.
    Catches the squared norm for the norm, one-sided and two-sided exchanged, and a penalty
    detached from the critic's parameters (no create_graph: no gradient to train with)."""
    w = torch.tensor([0.6, 0.8], dtype=torch.float64) * norm_w
    real, fake = batches()
    for one_sided in (False, True):
        critic = Linear(w)
        gp = R.gradient_penalty(critic, real, fake, gen(1), one_sided=one_sided)
        excess = norm_w - 1 if not one_sided else max(norm_w - 1, 0.0)
        assert gp.item() == pytest.approx(excess**2, rel=1e-12, abs=1e-15)
        gp.backward()
        torch.testing.assert_close(critic.w.grad, 2 * excess * w / norm_w)


def test_gradient_penalty_interpolates_per_sample_with_the_seed():
    """On C(x) = x^T A x (grad 2 A x) the penalty equals the hand computation at
    x^ = eps x_r + (1 - eps) x_f, eps = torch.rand(n) from the same seed (001 App. A.7.8);
    the same seed gives the same value, another seed another. Catches eps per coordinate
    instead of per sample, eps and 1 - eps exchanged, a sum instead of the mean, and an
    unseeded draw."""
    real, fake = batches(2)
    critic = Quadratic(A)
    eps = torch.rand(32, generator=gen(7), dtype=torch.float64)[:, None]
    norms = (2 * (eps * real + (1 - eps) * fake) @ A).norm(dim=1)
    for one_sided in (False, True):
        excess = (norms - 1).clamp(min=0) if one_sided else norms - 1
        gp = R.gradient_penalty(critic, real, fake, gen(7), one_sided=one_sided)
        torch.testing.assert_close(gp, (excess**2).mean().detach())
        assert gp.item() == R.gradient_penalty(critic, real, fake, gen(7), one_sided=one_sided).item()
        assert gp.item() != R.gradient_penalty(critic, real, fake, gen(8), one_sided=one_sided).item()


def test_r1_penalty_on_a_quadratic_critic():
    """R1 = gamma / 2 E ||2 A x_r||^2 on the real batch (003), and it trains A. Catches a missing
    1/2, the norm instead of its square, a sum over the batch, and the fake batch used."""
    real, _ = batches(3)
    critic = Quadratic(A)
    r1 = R.r1_penalty(critic, real, 10.0)
    expected = 10.0 / 2 * ((2 * real @ A) ** 2).sum(dim=1).mean()
    torch.testing.assert_close(r1, expected.detach())
    r1.backward()
    assert critic.a.grad is not None and critic.a.grad.abs().sum() > 0
    assert R.r1_penalty(critic, real, 0.0).item() == 0.0


def test_penalties_reject_bad_input():
    real, fake = batches()
    with pytest.raises(ValueError, match=r"real and fake must have the same shape, got \(32, 2\) and \(31, 2\)"):
        R.gradient_penalty(Linear([1.0, 0.0]), real, fake[:31])
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0, got -1.0"):
        R.r1_penalty(Linear([1.0, 0.0]), real, -1.0)
    with pytest.raises(ValueError, match=r"critic\(x\) must have shape"):
        R.r1_penalty(lambda x: x, real, 1.0)
    with pytest.raises(ValueError, match="real must be a floating-point tensor"):
        R.r1_penalty(Linear([1.0, 0.0]), torch.ones(3), 1.0)


# ---------------------------------------------------------------------------- Lipschitz constraints
def test_clip_weights_bounds_every_parameter():
    """Every parameter, biases included, ends in [-c, c]; values already inside are untouched.
    Catches clipping the weights only, or clamping to [0, c]."""
    critic = MLPDiscriminator(hidden=16, depth=2, seed=0)
    with torch.no_grad():
        for p in critic.parameters():
            p.mul_(10)
    before = [p.clone() for p in critic.parameters()]
    assert R.clip_weights(critic, 0.05) is critic
    for p, b in zip(critic.parameters(), before):
        assert p.abs().max() <= 0.05
        inside = b.abs() <= 0.05
        assert torch.equal(p[inside], b[inside])
    assert min(p.min() for p in critic.parameters()) == -0.05
    with pytest.raises(ValueError, match="c must be a finite number > 0, got 0.0"):
        R.clip_weights(critic, 0.0)
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        R.clip_weights([1.0], 0.1)


def test_spectral_normalize_gives_unit_largest_singular_values():
    """After the power iterations of a few forward passes every Linear and Conv layer, nested
    ones included, has largest singular value 1 (up to 1e-3), and a second call does not wrap
    the layers twice. Catches a helper that skips nested or Conv layers."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Sequential(nn.Linear(16, 16), nn.ReLU()), nn.Linear(16, 1))
    conv = nn.Conv2d(3, 4, 3)
    with torch.no_grad():
        for p in [*net.parameters(), *conv.parameters()]:
            p.mul_(5)
    assert R.spectral_normalize(net) is net
    R.spectral_normalize(net)
    R.spectral_normalize(conv, n_power_iterations=5)
    for _ in range(30):
        net(torch.randn(8, 2))
        conv(torch.randn(1, 3, 6, 6))
    layers = [m for m in net.modules() if isinstance(m, nn.Linear)] + [conv]
    for m in layers:
        assert len(m.parametrizations.weight) == 1
        sigma = torch.linalg.matrix_norm(m.weight.detach().reshape(m.weight.shape[0], -1), ord=2)
        assert sigma.item() == pytest.approx(1.0, abs=1e-3)


# ---------------------------------------------------------------------------- generator-side tricks
def test_critic_features_and_feature_matching():
    """critic_features is the input of the critic's last layer (applying that layer gives the
    critic's output back), and feature matching is ||mean f_r - mean f_f||^2 (004) for batches
    of different sizes. Catches the output layer instead of the last hidden one, and a mean of
    per-sample squared distances or an unsquared norm instead."""
    critic = MLPDiscriminator(hidden=8, depth=2, seed=1)
    x = torch.randn(10, 2, generator=gen(4))
    h = R.critic_features(critic, x)
    assert h.shape == (10, 8)
    torch.testing.assert_close(critic.net[-1](h).squeeze(1), critic(x))
    fr, ff = torch.randn(10, 8, generator=gen(5)) + 1, torch.randn(6, 8, generator=gen(6))
    expected = sum((fr[:, j].mean() - ff[:, j].mean()) ** 2 for j in range(8))
    torch.testing.assert_close(R.feature_matching_loss(fr, ff), expected)
    with pytest.raises(ValueError, match=r"same feature shape, got \(8,\) and \(7,\)"):
        R.feature_matching_loss(fr, ff[:, :7])
    with pytest.raises(TypeError, match="critic must have a .net attribute"):
        R.critic_features(Linear([1.0, 0.0]), x)


def test_label_smoothing_formula_and_optimum():
    """One-sided smoothing is BCE with target 0.9 on the real logits and 0 on the fake ones;
    real_label = 1 is the ns critic loss; at the tabular optimum s(C*) = 0.9 p / (p + q)
    (004) the gradient vanishes. Catches smoothing both sides (fake target 0.1) and the
    target on the wrong term."""
    real, fake = batches(5)
    cr, cf = real[:, 0], fake[:, 1]
    bce = F.binary_cross_entropy_with_logits
    expected = bce(cr, torch.full_like(cr, 0.9)) + bce(cf, torch.zeros_like(cf))
    torch.testing.assert_close(R.label_smoothed_d_loss(cr, cf), expected)
    torch.testing.assert_close(R.label_smoothed_d_loss(cr, cf, real_label=1.0), losses.get("ns").d_loss(cr, cf))
    p = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    q = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
    s = 0.9 * p / (p + q)
    c = torch.log(s / (1 - s)).requires_grad_(True)
    idx_r = torch.repeat_interleave(torch.arange(4), (p * 10).round().long())
    idx_f = torch.repeat_interleave(torch.arange(4), (q * 10).round().long())
    (grad,) = torch.autograd.grad(R.label_smoothed_d_loss(c[idx_r], c[idx_f]), c)
    assert grad.abs().max() < 1e-12
    with pytest.raises(ValueError, match=r"real_label must be in \(0, 1\], got 1.5"):
        R.label_smoothed_d_loss(cr, cf, real_label=1.5)


def test_pack_shape_order_and_errors():
    """Row i of pack(x, m) is x[i m], ..., x[i m + m - 1] concatenated; images stack channels.
    Catches interleaving (x[i], x[i + n/m], ...) and a silent drop of the remainder."""
    x = torch.arange(12.0).reshape(6, 2)
    torch.testing.assert_close(R.pack(x, 3), torch.tensor([[0.0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]))
    torch.testing.assert_close(R.pack(x, 1), x)
    img = torch.randn(4, 3, 5, 5)
    packed = R.pack(img, 2)
    assert packed.shape == (2, 6, 5, 5)
    torch.testing.assert_close(packed[1, 3:], img[3])
    with pytest.raises(ValueError, match=r"batch size of x \(7\) must be divisible by m=2"):
        R.pack(torch.zeros(7, 2), 2)
    with pytest.raises(ValueError, match="m must be a positive integer, got 0"):
        R.pack(x, 0)


# ---------------------------------------------------------------------------- mixture-density GAN
@pytest.mark.parametrize("dim", [1, 2, 3, 9])
def test_simplex_vertices_are_a_regular_simplex(dim):
    """Unit norm, pairwise inner products -1/dim, centroid 0 (the MD-GAN cluster centres)."""
    v = R.simplex_vertices(dim)
    assert v.shape == (dim + 1, dim)
    gram = v @ v.T
    expected = torch.full_like(gram, -1 / dim).fill_diagonal_(1.0)
    torch.testing.assert_close(gram, expected)
    torch.testing.assert_close(v.mean(dim=0), torch.zeros(dim, dtype=v.dtype))


def test_mdgan_likelihood_and_losses_against_the_formula():
    """lk(e) = sum_k 1/(d+1) N(e; mu_k, 0.25 I) against scipy; lambda is the maximum of lk
    (>= lk at random points and near every vertex, and attained); d_loss and g_loss are
    003's objective with eps. Catches weights 1/d, the covariance's sqrt for sigma2, a
    lambda below the maximum (log of a negative number), and the signs of the two terms."""
    dim = 3
    md = R.MDGANLoss(dim)
    g = gen(9)
    e = torch.randn(50, dim, generator=g, dtype=torch.float64)
    e[:10] = md.centres.repeat(3, 1)[:10] + 0.1 * torch.randn(10, dim, generator=g, dtype=torch.float64)
    naive = sum(multivariate_normal(mu.numpy(), 0.25 * torch.eye(dim).numpy()).pdf(e.numpy()) for mu in md.centres)
    lk = md.likelihood(e)
    torch.testing.assert_close(lk, torch.as_tensor(naive / (dim + 1)))
    assert bool((lk <= md.lam).all())
    probe = md.centres[:, None] * torch.linspace(0.5, 1.5, 1001, dtype=torch.float64)[:, None]
    assert md.lam * (1 - 1e-5) < md.likelihood(probe.reshape(-1, dim)).max().item() <= md.lam
    near = md.centres.repeat(200, 1) + 0.05 * torch.randn(800, dim, generator=g, dtype=torch.float64)
    assert bool((md.likelihood(near) <= md.lam).all())
    er, ef = e[:25], e[25:]
    torch.testing.assert_close(
        md.d_loss(er, ef), -torch.log(lk[:25]).mean() - torch.log(md.lam - lk[25:] + md.eps).mean()
    )
    torch.testing.assert_close(md.g_loss(None, ef), torch.log(md.lam - lk[25:] + md.eps).mean())
    with pytest.raises(ValueError, match=r"embeddings must have shape \(n, 3\)"):
        md.d_loss(torch.zeros(4, 2), ef)
    with pytest.raises(ValueError, match="lam must be >= the maximum of lk"):
        R.MDGANLoss(dim, lam=0.5 * md.lam)


# ---------------------------------------------------------------------------- rejection sampling
P = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
Q = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
LOG_RATIO = torch.log(P / Q)


def propose(m, g):
    """m samples of Q on the support {0, 1, 2, 3}, shape (m, 1)."""
    return torch.multinomial(Q, m, replacement=True, generator=g).double()[:, None]


def perfect_critic(x):
    """D*(x) = log(p(x) / q(x)), the optimal minimax logit, shape (m, 1)."""
    return LOG_RATIO[x[:, 0].long()][:, None]


def test_drs_acceptance_probability_formula():
    """sigmoid(F) with F = D~ - D~_M - log(1 - exp(D~ - D~_M - eps)) - gamma (Azadi et al.,
    Eq. 8) written out naively; for gamma = 0 and small eps it is exp(D~ - D~_M), the exact
    rejection rule p / (M q). Catches a missing eps, a sign on gamma or on the log term."""
    d = torch.tensor([-3.0, -1.0, -0.2, 0.0], dtype=torch.float64)
    for gamma, eps in [(0.0, 1e-6), (0.5, 1e-3), (-1.0, 1e-2)]:
        f = d - 0.0 - torch.log(1 - torch.exp(d - 0.0 - eps)) - gamma
        torch.testing.assert_close(R.drs_accept_prob(d, 0.0, gamma=gamma, eps=eps), 1 / (1 + torch.exp(-f)))
    torch.testing.assert_close(R.drs_accept_prob(d, 0.0, eps=1e-9), torch.exp(d), rtol=1e-6, atol=0)
    # the defaults gamma = 0, eps = 1e-6
    torch.testing.assert_close(
        R.drs_accept_prob(d, 0.0), R.drs_accept_prob(d, 0.0, gamma=0.0, eps=1e-6), rtol=0, atol=0
    )
    assert (
        R.drs_accept_prob(torch.zeros(1, dtype=torch.float64), 0.0).item()
        != R.drs_accept_prob(torch.zeros(1, dtype=torch.float64), 0.0, eps=1.0).item()
    )


def test_drs_with_a_perfect_critic_recovers_p():
    """Proposals from Q, critic log(p/q): the accepted samples' histogram matches P within 4
    standard errors per bin (Q differs from P by more than 30 of them), the acceptance rate is
    1/M = 1/4, D~_M ends at max log(p/q) even from a burn-in of one proposal (running max),
    and the same seed gives the same samples. Catches a fixed D~_M (the burn-in's; early
    probabilities would exceed 1), accepting with 1 - sigmoid(F), and an unseeded coin."""
    n = 20000
    res = R.drs(propose, perfect_critic, n, gen(10), burn_in=1, batch_size=4096)
    assert res.samples.shape == (n, 1)
    freq = torch.bincount(res.samples[:, 0].long(), minlength=4).double() / n
    se = (P * (1 - P) / n).sqrt()
    assert bool(((freq - P).abs() < 4 * se).all()), (freq, P)
    assert bool(((Q - P).abs() > 30 * se).all())
    assert res.acceptance_rate == pytest.approx(0.25, abs=4 * math.sqrt(0.25 * 0.75 / res.proposed) + 0.01)
    assert res.logit_max == pytest.approx(LOG_RATIO.max().item())
    again = R.drs(propose, perfect_critic, n, gen(10), burn_in=1, batch_size=4096)
    assert torch.equal(again.samples, res.samples)
    # gamma > 0 accepts fewer
    assert R.drs(propose, perfect_critic, 2000, gen(11), gamma=1.0).acceptance_rate < res.acceptance_rate - 0.05


def test_drs_rejects_bad_input():
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        R.drs(propose, perfect_critic, 0)
    with pytest.raises(ValueError, match=r"critic\(x\) must return one logit per sample"):
        R.drs(propose, lambda x: torch.zeros(3), 10, gen(0), burn_in=5)
    with pytest.raises(TypeError, match="gamma must be a finite number"):
        R.drs(propose, perfect_critic, 10, gen(0), gamma=float("nan"))


def drs_by_hand(n, seed, burn_in, batch_size, eps=1e-6):
    """Alg. 1 of Azadi et al. written out sequentially: D~_M from the burn-in, then per
    proposal the running maximum, the coin u < p_accept, until n are kept."""
    g = gen(seed)
    logit_max = perfect_critic(propose(burn_in, g)).max()
    kept, proposed = [], 0
    while len(kept) < n:
        x = propose(batch_size, g)
        d = perfect_critic(x)[:, 0]
        coins = torch.rand(batch_size, generator=g, dtype=d.dtype)
        for i in range(batch_size):
            logit_max = torch.maximum(logit_max, d[i])
            if coins[i] < R.drs_accept_prob(d[i], logit_max, eps=eps):
                kept.append(x[i])
        proposed += batch_size
    return torch.stack(kept)[:n], proposed, logit_max.item()


def test_drs_replays_the_sequential_algorithm():
    """The batched DRS equals the sequential algorithm proposal by proposal: the running
    maximum carries over from batch to batch (its last entry, not another), it stops as soon
    as n are kept (not one batch later), and it reports the proposals it made. The burn-in's
    maximum is below the largest logit, so the running maximum matters; a large eps (0.5)
    changes the acceptance, so it must reach drs_accept_prob."""
    for n, burn_in, batch_size, eps in (
        (30, 1, 16, 1e-6),
        (7, 2, 5, 1e-6),
        (4, 1, 1, 1e-6),
        (6, 1, 3, 1e-6),
        (30, 1, 16, 0.5),
    ):
        res = R.drs(propose, perfect_critic, n, gen(4), burn_in=burn_in, batch_size=batch_size, eps=eps)
        samples, proposed, logit_max = drs_by_hand(n, 4, burn_in, batch_size, eps)
        assert torch.equal(res.samples, samples) and res.proposed == proposed
        assert res.logit_max == logit_max and res.acceptance_rate <= 1


def test_drs_defaults_and_its_proposal_budget():
    import inspect

    params = inspect.signature(R.drs).parameters
    assert {k: params[k].default for k in ("gamma", "eps", "burn_in", "batch_size", "max_proposals")} == {
        "gamma": 0.0,
        "eps": 1e-6,
        "burn_in": 10_000,
        "batch_size": 10_000,
        "max_proposals": 10_000_000,
    }
    assert inspect.signature(R.drs_accept_prob).parameters["eps"].default == 1e-6
    # the budget is checked before each batch: after one batch of 8 with max_proposals = 8, stop
    with pytest.raises(RuntimeError, match=r"^DRS proposed 8 samples and accepted \d+ < n=1000; lower gamma$"):
        R.drs(propose, perfect_critic, 1000, gen(5), burn_in=1, batch_size=8, max_proposals=8)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(burn_in=0), "^burn_in must be a positive integer"),
        (dict(batch_size=0), "^batch_size must be a positive integer"),
        (dict(eps=0.0), "^eps must be"),
    ],
)
def test_drs_errors_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        R.drs(propose, perfect_critic, 10, gen(0), **kwargs)
    with pytest.raises(ValueError, match=r"^critic\(x\) must return one logit per sample \(5\), got 3$"):
        R.drs(propose, lambda x: torch.zeros(3), 10, gen(0), burn_in=5)


@pytest.mark.parametrize("device", DEVICES)
def test_penalties_follow_the_inputs_device(device):
    """The penalties and pack run where the inputs are; a CPU generator gives the same
    interpolation on CUDA (the values agree with CPU)."""
    real, fake = batches(12)
    critic = Quadratic(A)
    gp_cpu = R.gradient_penalty(critic, real, fake, gen(3))
    r1_cpu = R.r1_penalty(critic, real, 2.0)
    critic_dev = Quadratic(A).to(device)
    gp = R.gradient_penalty(critic_dev, real.to(device), fake.to(device), gen(3))
    r1 = R.r1_penalty(critic_dev, real.to(device), 2.0)
    assert gp.device.type == device == r1.device.type
    torch.testing.assert_close(gp.cpu(), gp_cpu)
    torch.testing.assert_close(r1.cpu(), r1_cpu)
    md = R.MDGANLoss(2)
    e = torch.randn(8, 2, generator=gen(4))
    torch.testing.assert_close(md.d_loss(e.to(device), e.to(device)).cpu(), md.d_loss(e, e))


class _Plain(nn.Module):  # a module without .net: critic_features must refuse it
    def forward(self, x):
        return x[:, 0]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: R.clip_weights("w", 0.1), TypeError, "^module must be a torch.nn.Module, got str$"),
        (lambda: R.spectral_normalize("w"), TypeError, "^module must be a torch.nn.Module, got str$"),
        (lambda: R.spectral_normalize(nn.Linear(2, 1), 0), ValueError, "^n_power_iterations must be"),
        (lambda: R.gradient_penalty(lambda x: x[:, 0], torch.zeros(3), torch.zeros(3, 2)), ValueError, "^real must"),
        (lambda: R.gradient_penalty(lambda x: x[:, 0], torch.zeros(3, 2), torch.zeros(3)), ValueError, "^fake must"),
        (
            lambda: R.r1_penalty(lambda x: x[:2, 0], torch.zeros(3, 2), 1.0),
            ValueError,
            r"^critic\(x\) must return one output per sample \(3\), got 2$",
        ),
        (lambda: R.feature_matching_loss(torch.zeros(3), torch.zeros(3, 2)), ValueError, "^features_real must"),
        (lambda: R.feature_matching_loss(torch.zeros(3, 2), torch.zeros(3)), ValueError, "^features_fake must"),
        (lambda: R.label_smoothed_d_loss(torch.zeros(3), torch.zeros(3), 0.0), ValueError, "^real_label must"),
        (lambda: R.label_smoothed_d_loss([0.0], torch.zeros(3)), TypeError, "^real_out must"),
        (lambda: R.label_smoothed_d_loss(torch.zeros(3), [0.0]), TypeError, "^fake_out must"),
        (lambda: R.pack(torch.zeros(4), 2), ValueError, "^x must"),
        (lambda: R.simplex_vertices(0), ValueError, "^dim must"),
        (
            lambda: R.critic_features(_Plain(), torch.zeros(3, 2)),
            TypeError,
            r"\(as MLPDiscriminator\), got _Plain with .net = NoneType$",
        ),
        (lambda: R.critic_features(MLPDiscriminator(), torch.zeros(3)), ValueError, "^x must"),
        (lambda: R.MDGANLoss(0), ValueError, "^dim must"),
        (lambda: R.MDGANLoss(3, sigma2=0.0), ValueError, "^sigma2 must"),
        (lambda: R.MDGANLoss(3, eps=0.0), ValueError, "^eps must"),
        (lambda: R.MDGANLoss(3, lam=-1.0), ValueError, "^lam must"),
        (lambda: R.drs(propose, lambda x: [0.0], 10, gen(0), burn_in=2), TypeError, r"^critic\(x\) must be a torch"),
    ],
)
def test_each_bad_argument_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_regularizer_defaults():
    import inspect

    assert inspect.signature(R.spectral_normalize).parameters["n_power_iterations"].default == 1
    assert inspect.signature(R.gradient_penalty).parameters["one_sided"].default is False
    mdgan = inspect.signature(R.MDGANLoss).parameters
    assert (mdgan["sigma2"].default, mdgan["lam"].default, mdgan["eps"].default) == (0.25, None, 1e-8)
    loss = R.MDGANLoss(3)
    assert loss.name == "mdgan" and "on the 4 vertices of a simplex" in loss.description  # dim + 1


# ---------------------------------------------------------------------------- defaults, by behaviour
# (inspect.signature reads the signature a user sees; these check that the code uses it)
def test_gradient_penalty_is_two_sided_by_default():
    """||grad C|| = 0.5 < 1: the two-sided penalty (0.5 - 1)^2 = 0.25, not the one-sided 0."""
    real, fake = batches(2)
    gp = R.gradient_penalty(Linear([0.3, 0.4]), real, fake, gen(0))
    assert gp.item() == pytest.approx(0.25, rel=1e-12)


def test_spectral_normalize_passes_its_power_iterations_and_skips_only_weight_parametrizations():
    """The default is one power iteration and the argument reaches torch's spectral_norm; a
    layer whose *bias* carries another parametrization still gets its weight normalized (only
    a weight that is already parametrized is skipped)."""
    lin, conv = nn.Linear(2, 3), nn.Conv2d(1, 2, 3)
    R.spectral_normalize(lin)
    R.spectral_normalize(conv, n_power_iterations=4)
    assert lin.parametrizations.weight[0].n_power_iterations == 1
    assert conv.parametrizations.weight[0].n_power_iterations == 4

    class Half(nn.Module):
        def forward(self, b):
            return b / 2

    other = nn.Linear(2, 3)
    nn.utils.parametrize.register_parametrization(other, "bias", Half())
    R.spectral_normalize(other)
    assert nn.utils.parametrize.is_parametrized(other, "weight")
    assert len(other.parametrizations.weight) == 1


def test_critic_features_accepts_two_layers_and_names_a_wrong_net():
    class Two(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

    first = nn.Linear(2, 3)
    x = torch.randn(4, 2, generator=gen(1))
    torch.testing.assert_close(R.critic_features(Two(nn.Sequential(first, nn.Linear(3, 1))), x), first(x))
    with pytest.raises(TypeError, match=r"got Two with .net = Linear$"):
        R.critic_features(Two(nn.Linear(2, 1)), x)


def test_simplex_vertices_are_exact_in_float64():
    """The Gram matrix to 1e-14: catches a vertex computed in float32 (error ~1e-8)."""
    for dim in (2, 5):
        v = R.simplex_vertices(dim)
        assert v.dtype == torch.float64
        expected = torch.full((dim + 1, dim + 1), -1 / dim, dtype=torch.float64).fill_diagonal_(1.0)
        torch.testing.assert_close(v @ v.T, expected, rtol=0, atol=1e-14)


def test_mdgan_defaults_and_dtype():
    """eps = 1e-8 by default (far from the clusters lk ~ 0 and g_loss = log(lambda + 1e-8));
    lam may equal the maximum exactly; the description states the objective; the
    likelihood keeps the embeddings' dtype."""
    md = R.MDGANLoss(2)
    far = torch.full((3, 2), 50.0, dtype=torch.float64)
    assert md.g_loss(None, far).item() == pytest.approx(math.log(md.lam + 1e-8), rel=1e-15)
    assert R.MDGANLoss(2, lam=md.lam_max).lam == md.lam_max
    assert md.description.endswith("D = -E log lk(e_r) - E log(lambda - lk(e_f)); G = E log(lambda - lk(e_f))")
    assert md.log_likelihood(torch.zeros(3, 2)).dtype == torch.float32


def test_drs_default_batch_sizes_and_budget():
    """With the defaults, the burn-in draws 10,000 proposals, each batch 10,000, and a critic
    that never accepts stops after exactly 10,000,000 proposals."""
    sizes = []

    def sample(m, g):
        sizes.append(m)
        return torch.zeros(m, 1)

    R.drs(sample, lambda x: torch.zeros(x.shape[0]), 1, gen(0))
    assert sizes[:2] == [10_000, 10_000]
    with pytest.raises(RuntimeError, match=r"^DRS proposed 10000000 samples and accepted 0 < n=1;"):
        R.drs(lambda m, g: torch.zeros(m, 1), lambda x: torch.zeros(x.shape[0]), 1, gen(0), gamma=1e4)
