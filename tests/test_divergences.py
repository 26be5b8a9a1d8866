"""Tests of gentoolkit.divergences against scipy, closed forms, brute-force optima and the theory's
properties. Each docstring says which wrong version of its formula the test catches."""

import math

import numpy as np
import pytest
import scipy.integrate as si
import scipy.stats as ss
import torch
from scipy.optimize import linear_sum_assignment
from scipy.spatial import distance
from scipy.special import ndtr, ndtri

from gentoolkit import divergences as D
from gentoolkit.data import toy2d
from gentoolkit.metrics import SlicedWasserstein
from tests.conftest import DEVICES

NAMES = list(D.F_DIVERGENCES)
LOG2 = math.log(2)


@pytest.fixture(autouse=True)
def _one_thread():
    """These tensors are small: one thread skips OpenMP's barriers, which cost more than the work when
    the machine's cores are shared (3x faster here under load); conftest's setting comes back after."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def dirichlet(shape, seed=0):
    x = -torch.rand(shape, generator=g(seed), dtype=torch.float64).log()  # Exp(1): normalized, Dirichlet(1)
    return x / x.sum(-1, keepdim=True)


def t64(*v):
    return torch.tensor(v, dtype=torch.float64)


def var(s):
    """A 1D covariance matrix, shape (1, 1)."""
    return torch.tensor([[s * s]], dtype=torch.float64)


# ------------------------------------------------------------------------------------------ the f table
@pytest.mark.parametrize("name", NAMES)
def test_generator_is_convex_with_f1_zero_and_the_definition_gives_the_direct_formula(name):
    """sum q f(p/q) (with the limits where q = 0 or p = 0) equals the direct formula of each name, on
    random distributions with zeros in either: catches the table's JS generator without the 1/2
    (2 JS), Pearson with p and q swapped (002's printed column), and a wrong slope at infinity."""
    d = D.F_DIVERGENCES[name]
    u = torch.linspace(0, 10, 2001, dtype=torch.float64)
    fu = d.f(u)
    assert (fu[2:] - 2 * fu[1:-1] + fu[:-2])[1:].min() >= -1e-12  # convex (f(0) may be inf)
    assert d.f(t64(1.0)).item() == pytest.approx(-math.log(4) if name == "gan" else 0.0, abs=1e-15)
    p, q = dirichlet((4, 9), 1), dirichlet((4, 9), 2)
    p[0, :3], q[1, 3:5], p[2, 5], q[2, 5] = 0, 0, 0, 0  # q = 0 < p, p = 0 < q, and both 0
    p, q = p / p.sum(-1, keepdim=True), q / q.sum(-1, keepdim=True)
    torch.testing.assert_close(d.from_generator(p, q), D.f_divergence(name, p, q), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_conjugate_satisfies_fenchel_young_and_its_sup_gives_back_f(name):
    """f*(f'(u)) = u f'(u) - f(u) (Fenchel-Young's equality case), t u - f*(t) <= f(u) for every t, and
    max_t on a fine grid of (t u - f*(t)) = f(u) (002, "Fenchel conjugate": f** = f): catches e.g.
    exp(t) for KL's exp(t - 1), Nowozin's JS conjugate -log(2 - e^t) paired with the halved generator,
    or a Hellinger conjugate t / (1 + t)."""
    d = D.F_DIVERGENCES[name]
    u = torch.logspace(-2, 2, 41, dtype=torch.float64)
    torch.testing.assert_close(d.conjugate(d.f_prime(u)), u * d.f_prime(u) - d.f(u), rtol=1e-10, atol=1e-12)
    lo, hi = max(d.domain[0], -40.0), min(d.domain[1], 20.0)
    t = torch.linspace(lo, hi, 400_001, dtype=torch.float64)[:, None]
    t = t[t[:, 0] < d.domain[1]] if d.domain[1] != 0.5 else t  # open upper ends (tv's domain is closed)
    u = t64(0.05, 0.3, 1.0, 2.5, 8.0)
    young = t * u - d.conjugate(t)
    assert (young <= d.f(u) + 1e-9).all()
    torch.testing.assert_close(young.max(0).values, d.f(u), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_activation_lands_in_the_conjugates_domain_and_the_stable_composition_agrees(name):
    """g_f(R) lies in dom f* (Nowozin Table 2), and conjugate_activation = f* o g_f, finite at |v| = 100
    where the naive composition overflows or loses the tail: catches an activation with the wrong range
    (e.g. JS's log 2 - softplus(-v) without the 1/2 of the halved generator)."""
    d = D.F_DIVERGENCES[name]
    v = torch.linspace(-30, 30, 601, dtype=torch.float64)
    a = d.activation(v)
    assert (a >= d.domain[0]).all() and ((a <= d.domain[1]) if name == "tv" else (a < d.domain[1])).all()
    w = torch.linspace(-15, 15, 301, dtype=torch.float64)
    torch.testing.assert_close(d.conjugate_activation(w), d.conjugate(d.activation(w)), rtol=1e-9, atol=1e-12)
    assert torch.isfinite(d.conjugate_activation(t64(-100.0, 100.0))).all()


@pytest.mark.parametrize("name", NAMES)
def test_slope_at_infinity_is_the_limit_of_f_over_u(name):
    """f'(inf) = lim f(u)/u, the weight of P's mass where Q has none (finite for js, tv, hellinger, gan):
    catches e.g. slope 1 for tv (a TV of 3/2 between disjoint supports)."""
    d = D.F_DIVERGENCES[name]
    ratio = (d.f(t64(1e9)) / 1e9).item()
    assert ratio > 10 if math.isinf(d.slope_at_infinity) else ratio == pytest.approx(d.slope_at_infinity, abs=1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_fgan_variational_bound_is_tight_at_the_optimal_critic(name):
    """sup_T E_P T - E_Q f*(T) = D_f(P || Q) (002, "Variational divergence estimation"): at T* = f'(p/q)
    exactly, and by brute force over the activation's output g_f(v), v on a grid, at each support point.
    Catches swapped p and q in the bound (it would give D_f(Q || P)) and any f / f* / g_f mismatch."""
    d = D.F_DIVERGENCES[name]
    p, q = dirichlet(6, 3), dirichlet(6, 4)
    exact = D.f_divergence(name, p, q)
    t_star = d.f_prime(p / q)
    torch.testing.assert_close((p * t_star - q * d.conjugate(t_star)).sum(), exact, rtol=1e-12, atol=1e-12)
    hi = 30 + t_star.max().clamp_min(0).item()  # kl and pearson's activation is the identity: v* = T*
    v = torch.linspace(-30, hi, 200_001, dtype=torch.float64)[:, None]
    brute = (p * d.activation(v) - q * d.conjugate_activation(v)).max(0).values.sum()
    torch.testing.assert_close(brute, exact, rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------------------ discrete
def test_f_divergence_matches_scipy_on_random_distributions():
    """Against scipy: entropy(p, q) (KL; catches p/q swapped, which is reverse_kl), jensenshannon(p, q)^2
    (base e; catches the sqrt and a missing 1/2), cityblock / 2 (TV; catches the missing 1/2),
    euclidean(sqrt p, sqrt q)^2 (Hellinger in the sum form, no 1/2), chisquare(p, q) (Pearson with
    expected q, not p)."""
    p, q = dirichlet((5, 7), 5), dirichlet((5, 7), 6)
    ref = {
        "kl": [ss.entropy(a, b) for a, b in zip(p, q)],
        "reverse_kl": [ss.entropy(b, a) for a, b in zip(p, q)],
        "js": [distance.jensenshannon(a, b) ** 2 for a, b in zip(p, q)],
        "tv": [distance.cityblock(a, b) / 2 for a, b in zip(p, q)],
        "hellinger": [distance.euclidean(a.sqrt(), b.sqrt()) ** 2 for a, b in zip(p, q)],
        "pearson": [ss.chisquare(a, b).statistic for a, b in zip(p.numpy(), q.numpy())],
    }
    ref["gan"] = [2 * j - math.log(4) for j in ref["js"]]
    for name, r in ref.items():
        np.testing.assert_allclose(D.f_divergence(name, p, q).numpy(), r, rtol=1e-10, err_msg=name)
    assert set(ref) == set(NAMES)


def test_infinite_where_the_support_demands_it_and_zero_for_equal_distributions():
    """q = 0 < p makes kl and pearson infinite but not reverse_kl (0 log 0 = 0), and the mirror case the
    reverse: catches a kl that drops the q = 0 points, or treats 0 log 0 as nan. Equal distributions give
    0 (gan: -log 4, Goodfellow's V(G, D*) at P = Q)."""
    p, q = t64(0.5, 0.5, 0.0), t64(0.25, 0.0, 0.75)  # p > 0 = q at 1, q > 0 = p at 2
    r = {n: D.f_divergence(n, p, q).item() for n in NAMES}
    assert r["kl"] == math.inf == r["reverse_kl"] == r["pearson"]
    p2, q2 = t64(0.5, 0.5, 0.0), t64(0.2, 0.4, 0.4)  # only p = 0 < q
    assert D.f_divergence("kl", p2, q2).item() == pytest.approx(ss.entropy(p2, q2))
    assert D.f_divergence("reverse_kl", p2, q2).item() == math.inf
    assert D.f_divergence("pearson", p2, q2).item() == pytest.approx(ss.chisquare(p2.numpy(), q2.numpy()).statistic)
    for n in NAMES:
        assert D.f_divergence(n, p2, p2).item() == pytest.approx(-math.log(4) if n == "gan" else 0.0, abs=1e-15)


def test_batched_over_leading_dims_and_broadcast():
    """A batch of p against one q equals the rows one at a time (catches a sum over the wrong dim)."""
    p, q = dirichlet((3, 2, 5), 7), dirichlet(5, 8)
    for n in NAMES:
        out = D.f_divergence(n, p, q)
        assert out.shape == (3, 2)
        torch.testing.assert_close(out[2, 1], D.f_divergence(n, p[2, 1], q))


@pytest.mark.parametrize("device", DEVICES)
def test_result_follows_the_input_device(device):
    p, q = dirichlet(6, 9), dirichlet(6, 10)
    for n in NAMES:
        out = D.f_divergence(n, p.to(device).float(), q.to(device).float())
        assert out.device.type == device and out.dtype == torch.float64
        torch.testing.assert_close(out.cpu(), D.f_divergence(n, p, q), rtol=1e-5, atol=1e-7)


def test_bad_inputs_raise_clear_errors():
    p, q = t64(0.5, 0.5), t64(0.25, 0.75)
    with pytest.raises(ValueError, match=r"unknown name='kld'.*'kl'.*'pearson'"):
        D.f_divergence("kld", p, q)
    with pytest.raises(ValueError, match=r"share the support.*\(2,\), \(3,\)"):
        D.f_divergence("kl", p, t64(0.2, 0.3, 0.5))
    with pytest.raises(ValueError, match=r"q must sum to 1.*got sum 1\.1"):
        D.f_divergence("kl", p, t64(0.5, 0.6))
    with pytest.raises(ValueError, match=r"p must be non-negative, got min -0\.5"):
        D.f_divergence("kl", t64(-0.5, 1.5), q)
    with pytest.raises(TypeError, match=r"p must be a torch.Tensor.*list"):
        D.f_divergence("kl", [0.5, 0.5], q)
    with pytest.raises(TypeError, match="floating-point"):
        D.f_divergence("kl", torch.tensor([0, 1]), q)
    with pytest.raises(ValueError, match="finite"):
        D.f_divergence("kl", t64(math.nan, 1.0), q)
    with pytest.raises(TypeError, match="name must be a str"):
        D.f_divergence(3, p, q)


# ------------------------------------------------------------------------------------------ grid and Gaussians
def test_grid_densities_give_the_gaussian_closed_forms_and_a_wrong_cell_raises():
    """Riemann sums of 1D normal densities on a grid (f_divergence_grid) against the closed forms:
    catches a grid path that forgets to weight by the cell (it would fail the mass check) or compares
    unnormalized masses."""
    x = torch.linspace(-12, 12, 2001, dtype=torch.float64)
    dx = (x[1] - x[0]).item()
    (m1, s1), (m2, s2) = (0.3, 0.9), (-0.5, 1.1)
    p, q = (torch.distributions.Normal(t64(m), t64(s)).log_prob(x).exp() for m, s in ((m1, s1), (m2, s2)))
    for n in ["kl", "reverse_kl", "hellinger", "pearson", "tv"]:
        ref = D.gaussian_divergence(n, t64(m1), var(s1), t64(m2), var(s2))
        rtol = 1e-5 if n == "tv" else 1e-10  # |p - q| has kinks where the densities cross: O(dx^2) there
        torch.testing.assert_close(D.f_divergence_grid(n, p, q, dx), ref, rtol=rtol, atol=1e-12)
    with pytest.raises(ValueError, match=r"p_vals \* cell must integrate to 1.*cell"):
        D.f_divergence_grid("kl", p, q, 1.0)
    with pytest.raises(ValueError, match="cell must be a finite number > 0"):
        D.f_divergence_grid("kl", p, q, -dx)


class _Normal:
    """A 1D normal density in plain floats (scipy.stats' frozen objects are ~50x slower per call in quad)."""

    def __init__(self, m, s):
        self.m, self.s = m, s

    def logpdf(self, x):
        return -0.5 * ((x - self.m) / self.s) ** 2 - math.log(self.s * math.sqrt(2 * math.pi))

    def pdf(self, x):
        return math.exp(self.logpdf(x))

    def ppf(self, u):
        return self.m + self.s * float(ndtri(u))


@pytest.mark.parametrize("m1,s1,m2,s2", [(0.3, 0.9, -0.5, 1.1), (1.0, 0.7, -0.4, 0.7), (0.0, 1.3, 0.2, 1.0)])
def test_1d_gaussian_closed_forms_match_scipy_quadrature(m1, s1, m2, s2):
    """Every 1D closed form (and JS by quadrature) against scipy.integrate.quad of its definition: catches
    KL with the covariances swapped, Hellinger as 1 - BC (no factor 2), Pearson's exponent without the
    (2 s2^2 - s1^2), TV's crossing points on the wrong side, and W1 as |dm| when the stds differ."""
    P, Q = _Normal(m1, s1), _Normal(m2, s2)
    integrands = {
        "kl": lambda x: P.pdf(x) * (P.logpdf(x) - Q.logpdf(x)),
        "reverse_kl": lambda x: Q.pdf(x) * (Q.logpdf(x) - P.logpdf(x)),
        "hellinger": lambda x: (P.pdf(x) ** 0.5 - Q.pdf(x) ** 0.5) ** 2,
        "tv": lambda x: 0.5 * abs(P.pdf(x) - Q.pdf(x)),
        "js": lambda x: (
            0.5 * sum(a.pdf(x) * (a.logpdf(x) + LOG2 - np.logaddexp(P.logpdf(x), Q.logpdf(x))) for a in (P, Q))
        ),
    }
    if 2 * s2**2 > s1**2:  # (p - q)^2 / q, with p^2 / q in logs (q underflows in the tails)
        integrands["pearson"] = lambda x: math.exp(2 * P.logpdf(x) - Q.logpdf(x)) - 2 * P.pdf(x) + Q.pdf(x)
    args = (t64(m1), var(s1), t64(m2), var(s2))
    for name, fn in integrands.items():
        ref = si.quad(fn, -30, 30, limit=400, points=[m1, m2])[0]
        assert D.gaussian_divergence(name, *args).item() == pytest.approx(ref, rel=1e-7, abs=1e-10), name
    cross = [ss.norm.cdf((m2 - m1) / (s1 - s2))] if s1 != s2 else []  # where the quantiles cross
    w1 = si.quad(lambda u: abs(P.ppf(u) - Q.ppf(u)), 0, 1, limit=400, points=cross)[0]
    assert D.gaussian_divergence("w1", *args).item() == pytest.approx(w1, rel=1e-6)
    assert D.gaussian_divergence("w2", *args).item() == pytest.approx(math.hypot(m1 - m2, s1 - s2), rel=1e-12)


def test_2d_gaussian_closed_forms_match_quadrature_and_monte_carlo():
    """Non-commuting 2D covariances: every closed form against its quadrature (two independent routes),
    KL and JS also against a Monte Carlo mean of scipy log-densities within 5 standard errors (independent
    of this module): catches a trace term tr(S1^-1 S2) for tr(S2^-1 S1), or log |S1|/|S2| inverted."""
    m1, m2 = t64(0.2, -0.1), t64(-0.4, 0.5)
    s1, s2 = t64(1.0, 0.3, 0.3, 0.6).reshape(2, 2), t64(0.8, -0.2, -0.2, 1.1).reshape(2, 2)
    for name in ["kl", "reverse_kl", "hellinger", "pearson"]:
        closed = D.gaussian_divergence(name, m1, s1, m2, s2, method="closed")
        quad = D.gaussian_divergence(name, m1, s1, m2, s2, method="quadrature")
        torch.testing.assert_close(closed, quad, rtol=1e-7, atol=1e-10)
    tv_closed = D.gaussian_divergence("tv", m1, s1, m2, s1)  # equal covariances: 2 Phi(delta/2) - 1
    torch.testing.assert_close(tv_closed, D.gaussian_divergence("tv", m1, s1, m2, s1, method="quadrature"))
    P, Q = ss.multivariate_normal(m1.numpy(), s1.numpy()), ss.multivariate_normal(m2.numpy(), s2.numpy())
    n = 50_000
    xp, xq = P.rvs(n, random_state=1), Q.rvs(n, random_state=2)
    kl = P.logpdf(xp) - Q.logpdf(xp)
    lm = lambda x: np.logaddexp(P.logpdf(x), Q.logpdf(x)) - LOG2  # noqa: E731
    js_terms = 0.5 * (P.logpdf(xp) - lm(xp)), 0.5 * (Q.logpdf(xq) - lm(xq))
    js, js_se = sum(t.mean() for t in js_terms), math.sqrt(sum(t.var() / n for t in js_terms))
    assert abs(D.gaussian_divergence("kl", m1, s1, m2, s2).item() - kl.mean()) < 5 * kl.std() / n**0.5
    assert abs(D.gaussian_divergence("js", m1, s1, m2, s2).item() - js) < 5 * js_se


def test_w2_between_gaussians_is_the_frechet_distance():
    """W2^2 = |dm|^2 + tr S1 + tr S2 - 2 sum sqrt(eig(S1 S2)) (the eigenvalues of S1 S2 are those of
    S2^1/2 S1 S2^1/2), symmetric in P and Q: catches tr(S1^1/2 S2^1/2), right only for commuting S."""
    m1, m2 = t64(0.2, -0.1), t64(-0.4, 0.5)
    s1, s2 = t64(1.0, 0.3, 0.3, 0.6).reshape(2, 2), t64(0.8, -0.2, -0.2, 1.1).reshape(2, 2)
    eig = np.linalg.eigvals(s1.numpy() @ s2.numpy()).real
    ref = math.sqrt(((m1 - m2) ** 2).sum().item() + s1.trace().item() + s2.trace().item() - 2 * np.sqrt(eig).sum())
    assert D.gaussian_divergence("w2", m1, s1, m2, s2).item() == pytest.approx(ref, rel=1e-10)
    assert D.gaussian_divergence("w2", m2, s2, m1, s1).item() == pytest.approx(ref, rel=1e-10)
    assert D.gaussian_divergence("w1", m1, s1, m2, s1).item() == pytest.approx((m1 - m2).norm().item())


def test_gaussian_bad_inputs_and_missing_closed_forms():
    m, s = t64(0.0, 0.0), torch.eye(2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"no closed form for name='js'"):
        D.gaussian_divergence("js", m, s, m + 1, s, method="closed")
    with pytest.raises(ValueError, match=r"no closed form for name='w1'"):
        D.gaussian_divergence("w1", m, s, m, 2 * s)
    with pytest.raises(ValueError, match="symmetric positive definite"):
        D.gaussian_divergence("kl", m, -s, m, s)
    with pytest.raises(ValueError, match=r"cov_q must have shape \(2, 2\)"):
        D.gaussian_divergence("kl", m, s, m, torch.eye(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="quadrature needs d <= 2"):
        D.gaussian_divergence("js", t64(0, 0, 0), torch.eye(3, dtype=torch.float64), t64(1, 0, 0), torch.eye(3))
    with pytest.raises(ValueError, match="unknown method='exact'"):
        D.gaussian_divergence("kl", m, s, m, s, method="exact")
    assert D.gaussian_divergence("pearson", m, s, m, 0.4 * s).item() == math.inf  # 2 S_q - S_p not PD


# ------------------------------------------------------------------------------------------ Wasserstein
def test_w1_1d_matches_scipy_with_unequal_sizes_weights_ties_and_batches():
    """Against scipy.stats.wasserstein_distance: catches a CDF taken just before each jump (wrong with
    ties), weights ignored or not normalized, and a quantile difference that assumes equal sizes."""
    gen = g(11)
    x, y = torch.randn(3, 50, generator=gen, dtype=torch.float64), torch.randn(3, 80, generator=gen) * 2 + 0.5
    wx, wy = torch.rand(3, 50, generator=gen), torch.rand(3, 80, generator=gen)
    x[:, :10], y[:, :5] = x[:, :1], x[:, :1]  # ties within and across the samples
    out, out_w = D.wasserstein_1d(x, y), D.wasserstein_1d(x, y, wx, wy)
    for i in range(3):
        assert out[i].item() == pytest.approx(ss.wasserstein_distance(x[i], y[i]), rel=1e-10)
        assert out_w[i].item() == pytest.approx(ss.wasserstein_distance(x[i], y[i], wx[i], wy[i]), rel=1e-10)
    with pytest.raises(ValueError, match=r"x_weights must be non-negative"):
        D.wasserstein_1d(x, y, -wx)
    with pytest.raises(ValueError, match=r"y_weights must have the shape of its values"):
        D.wasserstein_1d(x, y, wx, wx)


def test_sliced_w1_is_the_mean_of_exact_projected_w1_and_shares_the_metrics_directions():
    """With given directions, the mean of scipy's W1 of the projections (catches unnormalized directions
    and a W2-style root mean square); with a seed, the same directions as metrics.SlicedWasserstein."""
    gen = g(12)
    x, y = torch.randn(60, 2, generator=gen, dtype=torch.float64), torch.randn(90, 2, generator=gen) + 1
    u = torch.randn(2, 5, generator=gen, dtype=torch.float64) * 3
    un = u / u.norm(dim=0)
    ref = np.mean([ss.wasserstein_distance(x @ un[:, k], y.double() @ un[:, k]) for k in range(5)])
    assert D.sliced_wasserstein_1(x, y, directions=u).item() == pytest.approx(ref, rel=1e-10)
    same = SlicedWasserstein(y[:60].double(), 16, generator=g(3)).u
    torch.testing.assert_close(D.sliced_wasserstein_1(x, y, 16, seed=3), D.sliced_wasserstein_1(x, y, directions=same))
    assert D.sliced_wasserstein_1(x, y, 16, seed=3) != D.sliced_wasserstein_1(x, y, 16, seed=4)
    with pytest.raises(ValueError, match=r"y must have shape \(n, 2\)"):
        D.sliced_wasserstein_1(x, torch.zeros(5, 3))


def test_sliced_w1_of_a_translation_is_two_over_pi_of_its_length():
    """y = x + delta: each projection is shifted by u.delta, so SW1 = E|u.delta| = (2/pi)|delta| in 2D;
    the tolerance is 4 standard errors of the mean over L directions, sd |delta| sqrt(1/2 - 4/pi^2):
    catches an estimate of W1 itself (|delta|) or of the sliced W2 (|delta| / sqrt 2)."""
    x = torch.randn(100, 2, generator=g(13), dtype=torch.float64)
    delta, n_dir = t64(1.5, -2.0), 2000
    sw = D.sliced_wasserstein_1(x, x + delta, n_dir, generator=g(14)).item()
    se = delta.norm().item() * math.sqrt(0.5 - 4 / math.pi**2) / math.sqrt(n_dir)
    assert abs(sw - 2 / math.pi * delta.norm().item()) < 4 * se


# ------------------------------------------------------------------------------------------ parallel lines
def test_parallel_lines_give_the_lectures_values():
    """004's example: KL = inf, JS = log 2, TV = 1, W = |theta| for theta != 0, all 0 at theta = 0 (the
    issue's 'done when'), vectorized over theta: catches a JS of 2 log 2 (the unnormalized generator)."""
    theta = t64(-1.5, 0.0, 0.25, 3.0)
    r = D.parallel_lines(theta)
    inf, nz = math.inf, theta != 0
    assert (r["kl"][nz] == inf).all() and (r["reverse_kl"][nz] == inf).all()
    torch.testing.assert_close(r["js"][nz], torch.full((3,), LOG2, dtype=torch.float64))
    assert (r["tv"][nz] == 1).all() and (r["hellinger"][nz] == 2).all()
    torch.testing.assert_close(r["w1"], theta.abs())
    assert all(r[k][1].item() == 0 for k in r if k != "gan") and r["gan"][1].item() == pytest.approx(-math.log(4))
    assert D.parallel_lines(0.5)["w1"].shape == ()


@pytest.mark.parametrize("theta", [-0.7, 0.0, 0.3, 2.0])
def test_parallel_lines_agree_with_the_discretized_distributions_and_optimal_transport(theta):
    """The closed-form routine against a general computation: Z on m grid points, P and Q_theta as
    point masses, their supports merged (a shared point holds both masses), f_divergence on the result;
    W1 by exact assignment (scipy's linear_sum_assignment) between the two point clouds. Catches a
    derivation that mixes up f(0) and f'(inf) (hellinger 2, tv 1 and js log 2 need both)."""
    m = 50
    z = (torch.arange(m, dtype=torch.float64) + 0.5) / m
    pts_p = torch.stack([torch.zeros(m, dtype=torch.float64), z], 1)
    pts_q = torch.stack([torch.full((m,), theta, dtype=torch.float64), z], 1)
    support, idx = torch.unique(torch.cat([pts_p, pts_q]), dim=0, return_inverse=True)
    p = torch.zeros(len(support), dtype=torch.float64).index_add_(
        0, idx[:m], torch.full((m,), 1 / m, dtype=torch.float64)
    )
    q = torch.zeros(len(support), dtype=torch.float64).index_add_(
        0, idx[m:], torch.full((m,), 1 / m, dtype=torch.float64)
    )
    lines = D.parallel_lines(theta)
    for n in NAMES:
        assert D.f_divergence(n, p, q).item() == pytest.approx(lines[n].item(), abs=1e-12), n
    cost = torch.cdist(pts_p, pts_q).numpy()
    rows, cols = linear_sum_assignment(cost)
    assert cost[rows, cols].mean() == pytest.approx(lines["w1"].item(), abs=1e-12)


# ------------------------------------------------------------------------------------------ GAN optima
def test_optimal_critic_values_are_the_pointwise_optima_of_the_issues_losses():
    """sup over a fine grid of critic values c, at each support point, of minus the issue's D losses
    (minimax: -p log s(c) - q log(1 - s(c)); lsgan: p (c-1)^2 + q c^2; hinge: p relu(1-c) + q relu(1+c))
    equals optimal_critic_value, and the divergences named in its docstring: 2 JS - log 4 (scipy),
    Delta/4 - 1/2 with Delta = 2 pearson(Q || M), 2 TV - 2. Catches 2 JS - log 2, a missing factor 2 in
    the hinge value (TV - 1), and Mao's chi^2 taken as pearson(P || Q)."""
    p, q = dirichlet(6, 15), dirichlet(6, 16)
    c = torch.linspace(-15, 15, 300_001, dtype=torch.float64)[:, None]
    losses = {
        "minimax": -p * torch.nn.functional.logsigmoid(c) - q * torch.nn.functional.logsigmoid(-c),
        "lsgan": p * (c - 1) ** 2 + q * c**2,
        "hinge": p * torch.relu(1 - c) + q * torch.relu(1 + c),
    }
    for name, loss in losses.items():
        assert D.optimal_critic_value(name, p, q).item() == pytest.approx(-loss.min(0).values.sum().item(), abs=1e-8)
    js = distance.jensenshannon(p, q) ** 2
    assert D.optimal_critic_value("ns", p, q).item() == pytest.approx(2 * js - math.log(4), rel=1e-10)
    delta = 2 * D.f_divergence("pearson", q, (p + q) / 2).item()
    assert delta == pytest.approx(((p - q) ** 2 / (p + q)).sum().item(), rel=1e-12)
    assert D.optimal_critic_value("lsgan", p, q).item() == pytest.approx(delta / 4 - 0.5, rel=1e-12)
    assert D.optimal_critic_value("hinge", p, q).item() == pytest.approx(2 * D.f_divergence("tv", p, q).item() - 2)
    assert D.optimal_critic_value("f:kl", p, q).item() == pytest.approx(ss.entropy(p, q))
    with pytest.raises(ValueError, match="needs positions"):
        D.optimal_critic_value("wgan", p, q)
    with pytest.raises(ValueError, match=r"unknown loss='rsgan'.*'minimax'"):
        D.optimal_critic_value("rsgan", p, q)


# ------------------------------------------------------------------------------------------ landscapes
def test_landscape_against_a_gaussian_data_set_gives_the_closed_forms():
    """A one-component 'mixture' makes P Gaussian, so the grid landscape must equal gaussian_divergence
    over a (shift, scale) grid, sw1 = (2/pi)|shift| at equal scale, and each GAN loss its divergence:
    catches a generator density with s in place of s^2 or a wrong cross term in |x - mean|^2,
    a shape mixup between the two parameter axes, and P and Q swapped (kl against reverse_kl)."""
    mix = toy2d.Mixture2D([[0.5, -0.3]], 0.8)
    shifts, scales = t64(0.0, 0.7, 1.5), t64(0.65, 0.8, 1.2)
    mean = torch.stack([0.5 + shifts, torch.full_like(shifts, -0.3)], 1)[:, None]  # (3, 1, 2)
    out = D.gaussian_landscape(mix, mean, scales[None])
    assert out["kl"].shape == (3, 3) and set(out) == set(D.LANDSCAPE_NAMES)
    cov_p = 0.64 * torch.eye(2, dtype=torch.float64)
    for i, j in [(0, 1), (1, 0), (2, 2), (1, 2)]:
        m_q, cov_q = mean[i, 0], scales[j] ** 2 * torch.eye(2, dtype=torch.float64)
        for name in ["kl", "reverse_kl", "hellinger", "tv", "js"] + (["pearson"] if j > 0 else []):
            ref = D.gaussian_divergence(name, t64(0.5, -0.3), cov_p, m_q, cov_q, n_grid=301)
            rel = 1e-3 if name == "tv" else 1e-6  # tv: a kink where the densities cross, O(h^2) on both grids
            assert out[name][i, j].item() == pytest.approx(ref.item(), rel=rel, abs=1e-9), (name, i, j)
    torch.testing.assert_close(out["sw1"][:, 1], 2 / math.pi * shifts, rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(out["minimax"], 2 * out["js"] - math.log(4))
    torch.testing.assert_close(out["hinge"], 2 * out["tv"] - 2)
    assert torch.equal(out["ns"], out["minimax"]) and torch.equal(out["wgan"], out["sw1"])
    assert torch.equal(out["f:pearson"], out["pearson"])


def test_forward_kl_landscape_is_minimized_by_moment_matching_on_8gaussians():
    """For Q = N(0, s^2 I), KL(P || Q) = const + E_P|x|^2 / (2 s^2) + 2 log s is minimized at
    s^2 = tr Cov(P) / 2 (moment matching, mass covering); the reverse KL (mode seeking) picks a smaller
    s. The grid argmin must sit within one step of the closed form: catches P and Q swapped."""
    mix = toy2d.get("8gaussians")
    scales = torch.linspace(0.8, 1.8, 101, dtype=torch.float64)
    out = D.gaussian_landscape(mix, torch.zeros(2, dtype=torch.float64), scales, ["kl", "reverse_kl", "js"])
    best = math.sqrt(mix.cov().trace().item() / 2)
    assert abs(scales[out["kl"].argmin()].item() - best) <= 0.01 + 1e-12
    assert scales[out["reverse_kl"].argmin()] < best - 0.1
    assert (out["js"] <= LOG2).all() and (out["js"] >= 0).all()


def test_landscape_sw1_is_the_mean_w1_of_the_projected_laws_at_midpoint_angles():
    """Along u the mixture projects to sum_k w_k N(u.mu_k, std_k^2) and the generator to N(u.mean, s^2):
    scipy.integrate.quad of |F_P - F_Q| at the angles (k + 1/2) pi / L, averaged, is the landscape's sw1
    (catches angles starting at 0, and a CDF grid that misses part of the projected range)."""
    mix, mean, scale = toy2d.get("8gaussians"), t64(0.7, -0.2), 0.9
    out = D.gaussian_landscape(mix, mean, scale, ["sw1"], n_directions=2)["sw1"].item()
    w, mu, sd = mix.weights.numpy(), mix.means.numpy(), mix.stds.numpy()

    def gap(t, u):  # |F_P(t) - F_Q(t)| along u
        return abs(float((w * ndtr((t - mu @ u) / sd)).sum() - ndtr((t - mean.numpy() @ u) / scale)))

    us = [np.array([math.cos(a), math.sin(a)]) for a in (math.pi / 4, 3 * math.pi / 4)]
    ref = [si.quad(gap, -12, 12, args=(u,), limit=400)[0] for u in us]
    assert out == pytest.approx(np.mean(ref), rel=2e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_landscape_chunks_agree_and_follow_the_device(device):
    mix = toy2d.get("8gaussians")
    mean = torch.tensor([[0.0, 0.0], [1.0, 0.5], [2.0, 0.0]], dtype=torch.float64, device=device)
    names = ["kl", "sw1", "lsgan"]
    a = D.gaussian_landscape(mix, mean, 1.0, names, n=64)
    b = D.gaussian_landscape(mix, mean, 1.0, names, n=64, chunk=1)
    for k in names:
        assert a[k].device.type == device and a[k].shape == (3,)
        torch.testing.assert_close(a[k], b[k])


def test_landscape_bad_inputs():
    mix = toy2d.get("8gaussians")
    m = torch.zeros(2, dtype=torch.float64)
    with pytest.raises(TypeError, match="data must be a gentoolkit.data.Mixture2D"):
        D.gaussian_landscape("8gaussians", m, 1.0)
    with pytest.raises(ValueError, match=r"unknown names='jsd'.*'sw1'"):
        D.gaussian_landscape(mix, m, 1.0, ["jsd"])
    with pytest.raises(ValueError, match=r"mean must have shape \(\.\.\., 2\)"):
        D.gaussian_landscape(mix, torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="scale must be finite and > 0"):
        D.gaussian_landscape(mix, m, -1.0)
    with pytest.raises(ValueError, match="the grid holds mass"):
        D.gaussian_landscape(mix, m + 5, 1.0, ["kl"], bounds=(-3, 3, -3, 3))
    with pytest.raises(ValueError, match="below half the grid spacing"):
        D.gaussian_landscape(mix, m, 0.01, ["kl"])


# ------------------------------------------------------------------------------------------ relativistic
@pytest.mark.parametrize("name,slope,sup", [("s", 0.5, LOG2), ("ls", 2.0, 1.0), ("hinge", 1.0, 1.0)])
def test_relativistic_functions_have_the_properties_theorem_1_requires(name, slope, sup):
    """001 Theorem 1 (Sec. 6.4.1) asks f concave, f(0) = 0, differentiable at 0 with f'(0) != 0, and
    sup f = M > 0 reached at a positive argument (Fig. 6.1's top line): catches f_S without the + log 2
    (f(0) = -log 2), f_LS as -(z - 1)^2 (f(0) = -1) or (z-1)^2 - 1 (convex), f_Hinge as -max(0, 1 - z)."""
    f = D.RELATIVISTIC_F[name]
    z = torch.linspace(-10, 10, 4001, dtype=torch.float64)
    fz = f(z)
    assert (fz[2:] - 2 * fz[1:-1] + fz[:-2]).max() <= 1e-12
    zero = torch.zeros((), dtype=torch.float64, requires_grad=True)
    value = f(zero)
    (grad,) = torch.autograd.grad(value, zero)
    assert value.item() == 0 and grad.item() == pytest.approx(slope)
    assert fz.max().item() <= sup + 1e-15
    assert max(fz.max().item(), f(t64(40.0)).item()) == pytest.approx(sup, abs=1e-12)  # f_S: only at +inf
    assert z[fz.argmax()].item() > 0


def _relativistic_by_hand(f, c, p, q, kind):
    c, p, q = c.tolist(), p.tolist(), q.tolist()
    ff = lambda v: f(t64(v)).item()  # noqa: E731
    ep, eq = sum(a * b for a, b in zip(p, c)), sum(a * b for a, b in zip(q, c))
    if kind == "rp":
        return 2 * sum(pi * qj * ff(ci - cj) for pi, ci in zip(p, c) for qj, cj in zip(q, c))
    if kind == "ralf":
        return 2 * sum(pi * ff(ci - eq) for pi, ci in zip(p, c))
    ref_p, ref_q = (eq, ep) if kind == "ra" else ((ep + eq) / 2,) * 2
    return sum(pi * ff(ci - ref_p) for pi, ci in zip(p, c)) + sum(qj * ff(ref_q - cj) for qj, cj in zip(q, c))


@pytest.mark.parametrize("kind", D.RELATIVISTIC_KINDS)
@pytest.mark.parametrize("name", list(D.RELATIVISTIC_F))
def test_relativistic_objective_follows_the_steps_of_theorem_1(name, kind):
    """Each objective of Theorem 1 equals a loop over the support written from the thesis' formulas
    (catches E_P C in place of E_Q C in RaGAN, or a missing factor 2 in RpGAN); a constant critic gives 0;
    P = Q gives <= 0 for any critic (Jensen); P != Q and the proof sketch's critic C' = nabla 1[p > q]
    with a small nabla give > 0 (Sec. 6.4.2) - a sign flip C(y) - C(x) fails this."""
    f = D.RELATIVISTIC_F[name]
    p, q = dirichlet(6, 20), dirichlet(6, 21)
    c = torch.randn(6, generator=g(22), dtype=torch.float64)
    value = D.relativistic_objective(name, c, p, q, kind)
    assert value.item() == pytest.approx(_relativistic_by_hand(f, c, p, q, kind), rel=1e-12, abs=1e-14)
    const = torch.full((6,), 0.7, dtype=torch.float64)
    assert D.relativistic_objective(f, const, p, q, kind).item() == pytest.approx(0, abs=1e-15)
    assert D.relativistic_objective(name, c, p, p, kind).item() <= 1e-15
    c_prime = 1e-3 * (p > q).double()
    assert D.relativistic_objective(name, c_prime, p, q, kind).item() > 0


def test_relativistic_objective_on_disjoint_supports_reaches_twice_the_sup_and_rejects_bad_input():
    """RpGAN with f_LS, P and Q on two different points and C = (1, 0): every critic difference is 1,
    the argmax of f_LS, so the objective is 2 M = 2 (the flipped difference would give 2 f(-1) = -6)."""
    p, q = t64(1.0, 0.0), t64(0.0, 1.0)
    assert D.relativistic_objective("ls", t64(1.0, 0.0), p, q, "rp").item() == 2.0
    with pytest.raises(ValueError, match=r"unknown kind='rx'"):
        D.relativistic_objective("ls", t64(1.0, 0.0), p, q, "rx")
    with pytest.raises(ValueError, match=r"unknown f='sgan'.*'hinge'"):
        D.relativistic_objective("sgan", t64(1.0, 0.0), p, q)


# ------------------------------------------------------------------- gaps found by mutation testing
def _tv_1d_mpmath(m1, v1, m2, v2):
    """TV between N(m1, v1) and N(m2, v2) at 60 digits: the mass between the two crossing points."""
    import mpmath as mp

    with mp.workdps(60):
        m1, v1, m2, v2 = map(mp.mpf, (m1, v1, m2, v2))
        a, b = 1 / (2 * v2) - 1 / (2 * v1), m1 / v1 - m2 / v2
        c = m2**2 / (2 * v2) - m1**2 / (2 * v1) + mp.log(v2 / v1) / 2
        d = mp.sqrt(b * b - 4 * a * c)
        lo, hi = sorted([(-b - d) / (2 * a), (-b + d) / (2 * a)])
        mass = lambda m, v: mp.ncdf((hi - m) / mp.sqrt(v)) - mp.ncdf((lo - m) / mp.sqrt(v))  # noqa: E731
        return float(abs(mass(m1, v1) - mass(m2, v2)))


@pytest.mark.parametrize("ratio", [1 + 1e-12, 1 + 1e-9, 4.0, 0.25])
def test_tv_between_1d_gaussians_matches_a_60_digit_reference(ratio):
    """With v_q = v_p (1 + 1e-12) the quadratic of the crossing points has a ~ 1e-12: one root lies near
    -c/b and the other ~1e12 away. The value must match a 60-digit mpmath evaluation to 1e-13, for b < 0
    and b > 0. tv is stationary in the crossing points (p = q there), so a root's rounding error enters
    only squared: the textbook pairing (-b +- sqrt(disc)) / 2a, with its cancellation, is still within
    5.5e-10 (at dm = -0.3), which this tolerance catches, as it does a sign rule that is wrong for
    0 < b < 1; a sign rule wrong for every b < 0 stays within 1e-15 here (SURVIVORS.md)."""
    for m1, m2 in [(0.0, 1.0), (0.5, 0.0), (0.0, -0.3), (2.0, 1.5), (0.0, 4.0)]:
        got = D.gaussian_divergence("tv", t64(m1), var(1.0), t64(m2), var(math.sqrt(ratio)))
        assert got.item() == pytest.approx(_tv_1d_mpmath(m1, 1.0, m2, float(ratio)), rel=1e-13), (m1, m2)


def test_tv_1d_with_equal_variances_is_the_half_line_case():
    """_tv_1d's a = 0 branch (equal variances: the densities cross once, at -c/b, or never when the
    means agree too) against 2 Phi(|dm| / 2 sd) - 1; gaussian_divergence reaches it only through
    rounding, so it is called directly."""
    for m1, m2, v in [(0.0, 1.0, 1.0), (1.0, -0.5, 2.5), (0.3, 0.3, 0.7)]:
        got = D._tv_1d(t64(m1), t64(v), t64(m2), t64(v))
        assert got.item() == pytest.approx(math.erf(abs(m1 - m2) / (2 * math.sqrt(2 * v))), rel=1e-12, abs=1e-15)


def test_tv_with_equal_covariances_is_closed_in_2d_for_close_means():
    """Equal covariances have a closed form in any d (method="closed" must not raise), also when the
    Mahalanobis distance is below 1 (catches a clamp at 1 instead of 0)."""
    s = t64(1.0, 0.3, 0.3, 0.6).reshape(2, 2)
    m1, m2 = t64(0.0, 0.0), t64(0.2, -0.1)
    delta = math.sqrt((m1 - m2) @ torch.linalg.solve(s, m1 - m2))
    assert delta < 1
    got = D.gaussian_divergence("tv", m1, s, m2, s, method="closed")
    assert got.item() == pytest.approx(2 * ndtr(delta / 2) - 1, rel=1e-12)


def test_w1_in_1d_when_the_stds_differ_by_exactly_one():
    """sd_p - sd_q = 1 must take the folded-normal formula, not |dm| (the branch for equal stds)."""
    m1, s1, m2, s2 = 0.4, 2.0, -0.1, 1.0
    P, Q = _Normal(m1, s1), _Normal(m2, s2)
    cross = [ss.norm.cdf((m2 - m1) / (s1 - s2))]
    ref = si.quad(lambda u: abs(P.ppf(u) - Q.ppf(u)), 0, 1, limit=400, points=cross)[0]
    got = D.gaussian_divergence("w1", t64(m1), var(s1), t64(m2), var(s2))
    assert got.item() == pytest.approx(ref, rel=1e-6)


def test_an_infinite_pearson_is_float64_by_both_routes():
    m, s = t64(0.0, 0.0), torch.eye(2, dtype=torch.float64)
    for method in ("closed", "quadrature"):
        out = D.gaussian_divergence("pearson", m, s, m, 0.4 * s, method=method)
        assert out.item() == math.inf and out.dtype == torch.float64, method


def test_pearson_quadrature_widens_its_grid_to_hold_p_squared_over_q():
    """P = N(0, 2), Q = N(0.5, 1.02): p^2/q is a Gaussian of variance 1 / (2/2 - 1/1.02) = 51, far wider
    than P and Q; the grid must hold it (+- 12 of its std) to match the closed form: catches a grid
    sized by P and Q alone and each wrong variance formula (2 S1^-1 + S2^-1, 2 / S1^-1, 3 S1^-1)."""
    args = (t64(0.0), var(math.sqrt(2.0)), t64(0.5), var(math.sqrt(1.02)))
    closed = D.gaussian_divergence("pearson", *args, method="closed")
    quad = D.gaussian_divergence("pearson", *args, method="quadrature")
    assert quad.item() == pytest.approx(closed.item(), rel=1e-6)


def test_quadrature_uses_n_grid_and_documents_its_defaults():
    """n_grid is used (a coarse grid gives another value) and the defaults are 4001 points in 1D and
    601 per axis in 2D (the results equal those with these n_grid given)."""
    one = (t64(0.0), var(1.0), t64(0.7), var(1.4))
    default = D.gaussian_divergence("js", *one)
    assert torch.equal(default, D.gaussian_divergence("js", *one, n_grid=4001))
    assert D.gaussian_divergence("js", *one, n_grid=15).item() != default.item()
    m1, m2, s = t64(0.0, 0.0), t64(0.5, -0.2), torch.eye(2, dtype=torch.float64)
    assert torch.equal(
        D.gaussian_divergence("js", m1, s, m2, 1.3 * s), D.gaussian_divergence("js", m1, s, m2, 1.3 * s, n_grid=601)
    )


def test_quadrature_places_its_grid_at_the_means_far_from_the_origin():
    """Means at 40 and 41: the grid runs over the means +- 12 std, so a density evaluated at the
    mirrored point (x + m for x - m) falls outside it. Catches that sign in the Gaussian kernel."""
    args = (t64(40.0), var(1.0), t64(41.0), var(1.3))
    closed = D.gaussian_divergence("kl", *args)
    assert D.gaussian_divergence("kl", *args, method="quadrature").item() == pytest.approx(closed.item(), rel=1e-8)


def test_from_generator_is_inf_where_q_is_zero_and_sums_over_the_last_dim():
    """Mass of P where Q has none costs f'(inf) p, never 0 * f(p / 1e-300) (nan for pearson, kl);
    a batch of distributions sums over the support, not over the batch."""
    p = t64(0.5, 0.5, 0.0)
    q = t64(0.0, 0.5, 0.5)
    for name in ("kl", "pearson"):
        assert D.F_DIVERGENCES[name].from_generator(p, q).item() == math.inf, name
    pb, qb = dirichlet((2, 5), 1), dirichlet((2, 5), 2)
    got = D.F_DIVERGENCES["js"].from_generator(pb, qb)
    assert got.shape == (2,)
    torch.testing.assert_close(got, D.f_divergence("js", pb, qb))


def test_parallel_lines_at_zero_has_no_negative_zero():
    """f(1) = -log 1 = -0.0 for reverse_kl: the lecture's table shows 0, not -0."""
    out = D.parallel_lines(t64(0.0, 1.0))
    assert out["reverse_kl"][0].item() == 0.0
    for name, v in out.items():
        assert v[0].item() != 0.0 or not bool(torch.signbit(v[0])), name


def test_grid_divergences_of_a_batch_normalize_each_row():
    """Two rows of densities on one grid: each row is normalized over its own points (not over the
    batch), and the result equals the rows computed one by one."""
    x = torch.linspace(-8, 8, 801, dtype=torch.float64)
    cell = (x[1] - x[0]).item()
    dens = lambda m, s: torch.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))  # noqa: E731
    p = torch.stack([dens(0.0, 1.0), dens(0.5, 1.2)])
    q = dens(0.3, 0.9)
    both = D.f_divergence_grid("kl", p, q, cell)
    assert both.shape == (2,)
    for i in range(2):
        torch.testing.assert_close(both[i], D.f_divergence_grid("kl", p[i], q, cell), rtol=1e-13, atol=0)


def test_pearson_where_q_underflows_but_its_log_does_not():
    """The landscapes pass exact log masses: where q = exp(lq) underflows to 0 but lq is finite, p^2/q
    is exp(2 lp - lq) (finite), not inf. Catches 2 / lp and 3 lp in that exponent."""
    lp = torch.log(t64(1 - 1e-9, 1e-9))
    lq = t64(0.0, -746.0)  # exp(-746) underflows to 0 in float64
    assert lq.exp()[1] == 0
    got = D._sums(["pearson"], lp, lq)["pearson"]
    ref = (1 - 1e-9 - 1) ** 2 / 1 + math.exp(2 * math.log(1e-9) + 746.0)
    assert got.item() == pytest.approx(ref, rel=1e-10)


def test_pearson_of_a_distribution_with_itself_is_zero_also_on_subnormal_masses():
    """D(P || P) = 0 (theory: f(1) = 0). Masses of 1e-310 are subnormal, so pearson computes them in logs,
    exp(2 lp - lq) - 2 p + q = p - 2p + p: within a few subnormal units of 0 (1e-322), where a sign or
    factor slip in -2 p + q leaves 1e-310 to 4e-310."""
    p = t64(1.0, 1e-310, 1e-310, 0.0)
    assert 0 < p[1] < torch.finfo(torch.float64).tiny
    assert abs(D.f_divergence("pearson", p, p).item()) < 1e-315


def test_sums_refuses_a_name_it_has_no_formula_for():
    """Whatever order a set of names comes in, a name without a formula (the landscape's "sw1" is
    computed elsewhere) raises instead of summing the previous name's terms under its key."""
    lp = torch.log(t64(0.5, 0.5))
    for names in (["sw1"], ["kl", "sw1"], ["tv", "sw1", "kl"]):
        with pytest.raises(KeyError, match="sw1"):
            D._sums(names, lp, lp)


def test_landscape_defaults_and_bounds_follow_the_docstring():
    """n = 128, n_directions = 32, and bounds = the data's bounds(6) joined with every mean +- 6 scale:
    the default call equals the call with these given, for a generator inside the data's box and one
    reaching beyond it on every side (catches 7 for 6, 6 / scale, and each swapped bound)."""
    mix = toy2d.get("8gaussians")
    names = ["kl", "tv", "sw1"]
    for mean, scale in [(t64(0.3, -0.2), 0.2), (t64(-9.0, -8.0, 9.5, 8.5).reshape(2, 2), 2.5)]:
        mu = mean.reshape(-1, 2)
        b = mix.bounds(6.0)
        lo, hi = (mu - 6 * scale).min(0).values.tolist(), (mu + 6 * scale).max(0).values.tolist()
        bounds = (min(b[0], lo[0]), max(b[1], hi[0]), min(b[2], lo[1]), max(b[3], hi[1]))
        got = D.gaussian_landscape(mix, mean, scale, names)
        ref = D.gaussian_landscape(mix, mean, scale, names, n=128, n_directions=32, bounds=bounds)
        for k in names:
            torch.testing.assert_close(got[k], ref[k], rtol=1e-12, atol=0)


def test_landscape_of_sw1_alone():
    """Asking only for sw1 skips the grid divergences and gives the same values as in a full call."""
    mix = toy2d.get("8gaussians")
    mean = t64(0.0, 0.0, 1.0, 0.5).reshape(2, 2)
    alone = D.gaussian_landscape(mix, mean, 1.0, ["sw1"], n=64)
    torch.testing.assert_close(alone["sw1"], D.gaussian_landscape(mix, mean, 1.0, ["sw1", "kl"], n=64)["sw1"])


def test_landscape_renormalizes_a_grid_that_holds_99_percent():
    """Bounds that cut about 0.5-0.9% of both densities (allowed: within 0.01) give the divergences of the
    renormalized grid masses, computed here from the densities: catches adding the log of the held mass
    instead of subtracting it, and a float scale rounded to float32 (1.05 -> 1.0499999523: 8e-7)."""
    mix = toy2d.Mixture2D([[0.0, 0.0]], 1.0)
    bounds, n = (-3.0, 3.0, -3.0, 3.0), 96  # P holds P(|Z| < 3)^2 = 0.9946, Q 0.9913
    xs, ys, _ = toy2d.grid(bounds, n)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    pts = torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], 1))
    lp = mix.log_prob(pts)
    lq = -((pts - t64(0.1, 0.0)) ** 2).sum(1) / (2 * 1.05**2)
    lp, lq = lp - lp.logsumexp(0), lq - lq.logsumexp(0)
    got = D.gaussian_landscape(mix, t64(0.1, 0.0), 1.05, ["kl", "tv"], n=n, bounds=bounds)
    for k in ("kl", "tv"):
        assert got[k].item() == pytest.approx(D._sums([k], lp, lq)[k].item(), rel=1e-10), k


def test_projected_cdf_grid_spans_the_projection_of_the_four_corners_in_float64():
    """The CDF grid t runs over the projections of the bounds' four corners (catches a corner list
    that mixes in a y bound as an x), in float64."""
    mix = toy2d.get("8gaussians")
    bounds = (-1.0, 1.0, -20.0, 20.0)
    sliced = D._ProjectedCDFs(mix, bounds, 4, 64, torch.device("cpu"))
    corners = t64(-1.0, -20.0, -1.0, 20.0, 1.0, -20.0, 1.0, 20.0).reshape(4, 2)
    proj = corners @ sliced.u
    assert sliced.t.dtype == torch.float64
    assert sliced.t[0].item() == proj.min().item() and sliced.t[-1].item() == proj.max().item()


def test_sliced_w1_uses_weights_the_generator_and_the_default_projection_count():
    """A weight of 2 on a point equals that point given twice; the generator passed is the one used
    (two generators seeded alike agree, differently seeded ones do not); 128 directions by default."""
    gen = g(3)
    x, y = torch.randn(5, 2, generator=gen, dtype=torch.float64), torch.randn(4, 2, generator=gen, dtype=torch.float64)
    w = t64(2.0, 1.0, 1.0, 1.0, 1.0)
    x_twice = torch.cat([x, x[:1]])
    for args in [dict(x_weights=w), dict(y_weights=t64(1.0, 1.0, 1.0, 2.0))]:
        weighted = D.sliced_wasserstein_1(x, y, 16, seed=1, **args)
        xx, yy = (x_twice, y) if "x_weights" in args else (x, torch.cat([y, y[3:]]))
        torch.testing.assert_close(weighted, D.sliced_wasserstein_1(xx, yy, 16, seed=1))
    a = D.sliced_wasserstein_1(x, y, 16, generator=g(7))
    assert a.item() == D.sliced_wasserstein_1(x, y, 16, generator=g(7)).item()
    assert a.item() != D.sliced_wasserstein_1(x, y, 16, generator=g(8)).item()
    assert D.sliced_wasserstein_1(x, y, seed=2).item() == D.sliced_wasserstein_1(x, y, 128, seed=2).item()


def test_w1_1d_broadcasts_leading_dims_both_ways_and_normalizes_3d_weights():
    """x (2, 3, n) against y (m,) and y (2, 3, m) against x (n,): each problem equals the one solved
    alone; weights of a (2, 3, n) batch are normalized per row (over the last dim)."""
    gen = g(5)
    x3, y1 = (
        torch.randn(2, 3, 6, generator=gen, dtype=torch.float64),
        torch.randn(4, generator=gen, dtype=torch.float64),
    )
    wx = torch.rand(2, 3, 6, generator=gen, dtype=torch.float64)
    got = D.wasserstein_1d(x3, y1, x_weights=wx)
    assert got.shape == (2, 3)
    flipped = D.wasserstein_1d(y1, x3, y_weights=wx)
    for i in range(2):
        for j in range(3):
            ref = ss.wasserstein_distance(x3[i, j].numpy(), y1.numpy(), wx[i, j].numpy())
            assert got[i, j].item() == pytest.approx(ref, rel=1e-12)
            assert flipped[i, j].item() == pytest.approx(ref, rel=1e-12)


def test_relativistic_defaults_are_rp_and_the_critic_is_float64():
    p, q = t64(0.2, 0.3, 0.5), t64(0.5, 0.25, 0.25)
    c = t64(0.3, -0.1, 0.4)
    assert D.relativistic_objective("s", c, p, q).item() == D.relativistic_objective("s", c, p, q, "rp").item()
    v, crit = D.relativistic_divergence("ls", p, q)
    v_rp, _ = D.relativistic_divergence("ls", p, q, "rp")
    assert v.item() == v_rp.item() and crit.dtype == torch.float64


def test_relativistic_divergence_passes_max_iter_to_the_ascent():
    """One L-BFGS iteration (one line search) stops short of the sup that 300 reach (catches
    max_iter not passed: torch's default of 20 would reach it)."""
    p, q = t64(0.1, 0.2, 0.3, 0.4), t64(0.4, 0.3, 0.2, 0.1)
    full, _ = D.relativistic_divergence("s", p, q)
    short, _ = D.relativistic_divergence("s", p, q, max_iter=1)
    assert short.item() < full.item() - 1e-6
