"""Divergences between distributions, and the values GAN critics reach at their optimum (issue 16, items 5-6).

Convention: P (mass or density p) is the data, Q (q) the model, and an f-divergence is

    D_f(P || Q) = sum_x q(x) f(p(x) / q(x))      (an integral for densities),

f convex with f(1) = 0 (thesis 001, Sec. 2.2.3, Eq. 2.5; lecture 002, "f-divergence family"; Nowozin et
al. 2016, Eq. 1), with the limits of the perspective q f(p/q): 0 where p = q = 0, and p f'(inf) where
q = 0 < p, f'(inf) = lim_{u -> inf} f(u) / u. Each f is chosen so that D_f is the named formula:

    kl          sum p log(p/q)                      f = u log u
    reverse_kl  sum q log(q/p)                      f = -log u
    js          1/2 KL(P||M) + 1/2 KL(Q||M)         f = 1/2 [u log u - (u+1) log((u+1)/2)],  M = (P+Q)/2
    tv          1/2 sum |p - q|                     f = 1/2 |u - 1|
    hellinger   sum (sqrt p - sqrt q)^2             f = (sqrt u - 1)^2
    pearson     sum (p - q)^2 / q                   f = (u - 1)^2
    gan         2 js - log 4  (Goodfellow's V(G, D*), lecture 004; not a divergence: f(1) = -log 4)
                                                    f = u log u - (u+1) log(u+1)

Two entries of the table in 002 (and of Nowozin et al.'s Table 1) disagree with this convention and were
re-derived here: their JS generator -(u+1) log((1+u)/2) + u log u gives sum q f(p/q) = 2 JS, twice the
1/2-normalized formula printed next to it (our f is half of it, and its conjugate and activation are
rescaled to match); their Pearson column reads int (q - p)^2 / p, while (u-1)^2 under D_f = sum q f(p/q)
gives sum (p - q)^2 / q, the formula used here.

Contents: :data:`F_DIVERGENCES` (f, conjugate, f-GAN activation, optimal critic f'); :func:`f_divergence`
(discrete), :func:`f_divergence_grid` (densities on a grid), :func:`gaussian_divergence` (closed forms and
quadrature); :func:`wasserstein_1d` (exact) and :func:`sliced_wasserstein_1`; :func:`parallel_lines`
(004); :func:`optimal_critic_value` and :func:`gaussian_landscape`; f_S, f_LS, f_Hinge and
:func:`relativistic_objective` (001 Ch. 6). Results are float64 tensors on the inputs' device.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from gentoolkit._checks import generator_for, points, positive_int
from gentoolkit.data.toy2d import Mixture2D, grid

__all__ = [
    "F_DIVERGENCES",
    "FDivergence",
    "GAN_LOSSES",
    "LANDSCAPE_NAMES",
    "RELATIVISTIC_F",
    "RELATIVISTIC_KINDS",
    "RELATIVISTIC_SUP_F",
    "f_Hinge",
    "f_LS",
    "f_S",
    "f_divergence",
    "f_divergence_grid",
    "gaussian_divergence",
    "gaussian_landscape",
    "optimal_critic_value",
    "parallel_lines",
    "relativistic_divergence",
    "relativistic_objective",
    "sliced_wasserstein_1",
    "wasserstein_1d",
]

_LOG2, _INF = math.log(2.0), math.inf


# ---------------------------------------------------------------------------------------- the f table
@dataclass(frozen=True)
class FDivergence:
    """One f-divergence (002, "f-divergence family" and "Fenchel conjugate"; Nowozin et al. 2016, Tables 1, 2).

    ``f(u)`` (u >= 0) is the generator and ``f_prime(u)`` its derivative: T*(x) = f'(p(x)/q(x)) is the
    critic that makes the variational bound D_f >= sup_T E_P T - E_Q f*(T) tight (002). ``conjugate(t)``
    is f*(t) = sup_u (t u - f(u)), +inf outside ``domain`` (the interval of t where it is finite;
    Nowozin's conjugates, i.e. of f continued to u < 0 where its formula allows: for pearson and tv the
    conjugate of f restricted to u >= 0 is smaller below t = -2 and t = -1/2, where no optimal critic
    lies). ``activation(v)`` is the f-GAN output activation g_f: R -> domain (Table 2), and
    ``conjugate_activation(v)`` = f*(g_f(v)) in a form that is stable for large |v|. ``slope_at_infinity``
    is f'(inf) = lim f(u)/u, the weight of mass of P where Q has none."""

    name: str
    formula: str
    f: Callable[[torch.Tensor], torch.Tensor]
    f_prime: Callable[[torch.Tensor], torch.Tensor]
    conjugate: Callable[[torch.Tensor], torch.Tensor]
    domain: tuple[float, float]
    activation: Callable[[torch.Tensor], torch.Tensor]
    conjugate_activation: Callable[[torch.Tensor], torch.Tensor]
    slope_at_infinity: float

    def from_generator(self, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """The definition itself, sum_{q>0} q f(p/q) + f'(inf) sum_{q=0} p, on checked distributions
        (last dim = support). :func:`f_divergence` uses the direct formulas instead."""
        p, q = _pair(p, q)
        u = torch.where(q > 0, p / q.clamp_min(1e-300), torch.ones_like(p))
        inner = torch.where(q > 0, q * self.f(u), torch.zeros_like(p))
        outer = torch.where((q == 0) & (p > 0), p * self.slope_at_infinity, torch.zeros_like(p))
        return (inner + outer).sum(-1)


def _where_in(mask, value, t):
    return torch.where(mask, value, torch.full_like(t, _INF))


F_DIVERGENCES: dict[str, FDivergence] = {
    d.name: d
    for d in [
        FDivergence(
            "kl", "sum p log(p/q)",
            f=lambda u: torch.xlogy(u, u),
            f_prime=lambda u: u.log() + 1,
            conjugate=lambda t: (t - 1).exp(),
            domain=(-_INF, _INF),
            activation=lambda v: v,
            conjugate_activation=lambda v: (v - 1).exp(),
            slope_at_infinity=_INF,
        ),
        FDivergence(
            "reverse_kl", "sum q log(q/p)",
            f=lambda u: -u.log(),
            f_prime=lambda u: -1 / u,
            conjugate=lambda t: _where_in(t < 0, -1 - (-t.clamp_max(-1e-300)).log(), t),
            domain=(-_INF, 0.0),
            activation=lambda v: -(-v).exp(),
            conjugate_activation=lambda v: v - 1,
            slope_at_infinity=0.0,
        ),
        FDivergence(
            "js", "1/2 KL(p||m) + 1/2 KL(q||m), m = (p+q)/2",
            f=lambda u: 0.5 * (torch.xlogy(u, u) - (u + 1) * ((u + 1) / 2).log()),
            f_prime=lambda u: 0.5 * (2 * u / (u + 1)).log(),
            # f*(t) = 1/2 g*(2t) for f = g/2, g the generator of 002: g*(s) = -log(2 - e^s)
            conjugate=lambda t: _where_in(t < _LOG2 / 2, -0.5 * (_LOG2 + torch.log1p(-(2 * t).exp() / 2)), t),
            domain=(-_INF, _LOG2 / 2),
            activation=lambda v: 0.5 * (_LOG2 + F.logsigmoid(v)),
            conjugate_activation=lambda v: 0.5 * (F.softplus(v) - _LOG2),
            slope_at_infinity=_LOG2 / 2,
        ),
        FDivergence(
            "tv", "1/2 sum |p - q|",
            f=lambda u: 0.5 * (u - 1).abs(),
            f_prime=lambda u: 0.5 * torch.sign(u - 1),
            conjugate=lambda t: _where_in(t.abs() <= 0.5, t, t),
            domain=(-0.5, 0.5),
            activation=lambda v: 0.5 * v.tanh(),
            conjugate_activation=lambda v: 0.5 * v.tanh(),
            slope_at_infinity=0.5,
        ),
        FDivergence(
            "hellinger", "sum (sqrt p - sqrt q)^2",
            f=lambda u: (u.sqrt() - 1) ** 2,
            f_prime=lambda u: 1 - u.rsqrt(),
            conjugate=lambda t: _where_in(t < 1, t / (1 - t), t),
            domain=(-_INF, 1.0),
            activation=lambda v: -torch.expm1(-v),
            conjugate_activation=lambda v: torch.expm1(v),
            slope_at_infinity=1.0,
        ),
        FDivergence(
            "pearson", "sum (p - q)^2 / q",
            f=lambda u: (u - 1) ** 2,
            f_prime=lambda u: 2 * (u - 1),
            conjugate=lambda t: t * t / 4 + t,
            domain=(-_INF, _INF),
            activation=lambda v: v,
            conjugate_activation=lambda v: v * v / 4 + v,
            slope_at_infinity=_INF,
        ),
        FDivergence(
            "gan", "2 js - log 4",
            f=lambda u: torch.xlogy(u, u) - torch.xlogy(u + 1, u + 1),
            f_prime=lambda u: (u / (u + 1)).log(),
            conjugate=lambda t: _where_in(t < 0, -torch.log(-torch.expm1(t.clamp_max(-1e-300))), t),
            domain=(-_INF, 0.0),
            activation=F.logsigmoid,
            conjugate_activation=F.softplus,
            slope_at_infinity=0.0,
        ),
    ]
}  # fmt: skip


# ---------------------------------------------------------------------------------------- checks
def _name(arg: str, name, known) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{arg} must be a str, one of {list(known)}, got {type(name).__name__}")
    if name not in known:
        raise ValueError(f"unknown {arg}={name!r}; expected one of {list(known)}")
    return name


def _tensor(arg: str, x, what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{arg} must be a torch.Tensor of {what}, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{arg} must be a floating-point tensor, got dtype {x.dtype}")
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"{arg} must have at least one dim (last dim = support), got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{arg} must be finite, got a non-finite entry")
    return x


def _masses(arg: str, x, what: str) -> torch.Tensor:
    x = _tensor(arg, x, what)
    if bool((x < 0).any()):
        raise ValueError(f"{arg} must be non-negative, got min {x.min().item():g}")
    return x.double()


def _pair(p, q, what: str = "probabilities summing to 1 over the last dim") -> tuple[torch.Tensor, torch.Tensor]:
    """Two checked distributions on one support, in float64, broadcast over their leading dims."""
    f64 = all(isinstance(x, torch.Tensor) and x.dtype == torch.float64 for x in (p, q))
    tol = 1e-6 if f64 else 1e-4
    p, q = _masses("p", p, what), _masses("q", q, what)
    for arg, x in (("p", p), ("q", q)):
        s = x.sum(-1)
        bad = (s - 1).abs() > tol
        if bool(bad.any()):
            raise ValueError(f"{arg} must sum to 1 over its last dim (within {tol:g}), got sum {s[bad][0].item():.8g}")
    return _same_support(p, q)


def _same_support(p, q):
    if p.device != q.device:
        raise ValueError(f"p and q must be on the same device, got {p.device} and {q.device}")
    try:
        shape = torch.broadcast_shapes(p.shape, q.shape)
    except RuntimeError:
        shape = None
    if shape is None or p.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"p and q must share the support (last dim) and broadcast, got shapes {tuple(p.shape)}, {tuple(q.shape)}"
        )
    return p.expand(shape), q.expand(shape)


# ---------------------------------------------------------------------------------------- discrete
def _sums(names, lp: torch.Tensor, lq: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each divergence or critic optimum in ``names``, summed over the last dim, from normalized log
    masses (-inf where a mass is 0); the exponentials are shared. Logs keep KL finite where a density
    underflows but its log does not."""
    p, q = lp.exp(), lq.exp()
    zero = torch.zeros((), dtype=p.dtype, device=p.device)
    js = []  # computed once: gan = 2 js - log 4 reuses it

    def js_sum():
        if not js:
            lm = torch.logaddexp(lp, lq) - _LOG2
            js.append(
                (0.5 * (torch.where(p > 0, p * (lp - lm), zero) + torch.where(q > 0, q * (lq - lm), zero))).sum(-1)
            )
        return js[0]

    out = {}
    for name in names:
        if name == "js":
            out[name] = js_sum()
            continue
        if name == "gan":  # 2 js - log 4, the masses summing to 1
            out[name] = 2 * js_sum() - 2 * _LOG2
            continue
        if name == "kl":
            t = torch.where(p > 0, p * (lp - lq), zero)
        elif name == "reverse_kl":
            t = torch.where(q > 0, q * (lq - lp), zero)
        elif name == "tv":
            t = 0.5 * (p - q).abs()
        elif name == "hellinger":
            t = ((0.5 * lp).exp() - (0.5 * lq).exp()) ** 2
        elif name == "pearson":  # (p - q)^2 / q = p^2 / q - 2 p + q, p^2 / q in logs where q is subnormal or
            # underflowed (its few bits would give a wrong ratio), also where p underflowed but p^2 / q did not
            # (an exact log mass -1600 against -3176); inf where q = 0 < p; q where p = 0
            normal = q >= torch.finfo(q.dtype).tiny
            in_logs = torch.where(lp > -_INF, (2 * lp - lq).exp() - 2 * p + q, q)
            t = torch.where(normal, (p - q) ** 2 / torch.where(normal, q, 1.0), in_logs)
        elif name == "lsgan":  # -p q / (p + q): minus the least-squares critic's smallest loss at each point
            t = torch.where(p + q > 0, -p * q / (p + q).clamp_min(1e-300), zero)
        elif name == "hinge":  # -2 min(p, q): minus the hinge critic's smallest loss at each point
            t = -2 * torch.minimum(p, q)
        else:  # never sum another name's terms under a new key
            raise KeyError(f"_sums has no formula for {name!r}")
        out[name] = t.sum(-1)
    return out


def f_divergence(name: str, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """D_f(P || Q) between discrete distributions (module docstring: kl, reverse_kl, js, tv, hellinger,
    pearson, gan), computed from the direct formulas with 0 log 0 = 0 and inf where the support demands
    it (kl with q = 0 < p, reverse_kl with p = 0 < q, pearson with q = 0 < p).

    Args:
        name: a key of :data:`F_DIVERGENCES`.
        p, q: floating tensors of probabilities on the same support (last dim), summing to 1 over it;
            leading dims broadcast (one distribution against a batch).
    Returns: float64 tensor of the broadcast leading shape, on the inputs' device."""
    name = _name("name", name, F_DIVERGENCES)
    p, q = _pair(p, q)
    return _sums([name], p.log(), q.log())[name]


def f_divergence_grid(name: str, p_vals: torch.Tensor, q_vals: torch.Tensor, cell: float) -> torch.Tensor:
    """D_f between two densities given by their values on a regular grid (last dim = the grid's points,
    e.g. a 2D grid flattened as by :func:`gentoolkit.data.toy2d.grid`; leading dims broadcast).

    ``cell`` is the volume of one grid cell (dx in 1D, dx * dy in 2D). The masses p_vals * cell must
    integrate to 1 within 0.01 (a grid that cuts off a density, or a wrong cell, raises); they are then
    renormalized and compared as discrete distributions (:func:`f_divergence`): a Riemann sum, which
    converges fast for smooth densities (Gaussians: spacing of one std already gives ~1e-8), and as
    spacing^2 for tv, whose |p - q| has kinks where the densities cross."""
    name = _name("name", name, F_DIVERGENCES)
    cell = _cell(cell)
    p, q = _masses("p_vals", p_vals, "density values"), _masses("q_vals", q_vals, "density values")
    p, q = _same_support(p, q)
    return _sums([name], _grid_log_masses("p_vals", p, cell), _grid_log_masses("q_vals", q, cell))[name]


def _cell(cell) -> float:
    if isinstance(cell, bool) or not isinstance(cell, numbers.Real) or not (math.isfinite(cell) and cell > 0):
        raise ValueError(f"cell must be a finite number > 0 (the grid cell's length, area or volume), got {cell!r}")
    return float(cell)


def _grid_log_masses(arg: str, vals: torch.Tensor, cell: float) -> torch.Tensor:
    mass = vals.sum(-1) * cell
    bad = (mass - 1).abs() > 0.01
    if bool(bad.any()):
        raise ValueError(
            f"{arg} * cell must integrate to 1 within 0.01, got {mass[bad][0].item():.6g}: "
            "is cell the cell volume (dx * dy in 2D), and does the grid hold the whole density?"
        )
    return vals.log() - vals.sum(-1, keepdim=True).log()


# ---------------------------------------------------------------------------------------- Gaussians
_GAUSSIAN_NAMES = (*F_DIVERGENCES, "w1", "w2")


def _mvn_log_kernel(x, m, cov):
    """log N(x; m, cov) up to its normalizing constant, -1/2 (x - m)' cov^-1 (x - m), for x of shape (n, d):
    the quadrature normalizes the grid masses itself, which removes the constant."""
    z = torch.linalg.solve_triangular(torch.linalg.cholesky(cov), (x - m).T, upper=False)
    return -0.5 * (z * z).sum(0)


def _logdet(a):
    return 2 * torch.linalg.cholesky(a).diagonal().log().sum()


def _is_pd(a) -> bool:
    return int(torch.linalg.cholesky_ex(a).info) == 0


def _psd_sqrt(a):
    w, v = torch.linalg.eigh(a)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def _closed_form(name, m1, s1, m2, s2):
    """Closed forms between N(m1, s1) = P and N(m2, s2) = Q, or None where there is none."""
    d, dm = len(m1), m1 - m2
    maha = lambda s: dm @ torch.linalg.solve(s, dm)  # noqa: E731
    if name in ("kl", "reverse_kl"):  # KL(N1 || N2) = 1/2 [tr(S2^-1 S1) + dm' S2^-1 dm - d + log |S2|/|S1|]
        a, b = (s1, s2) if name == "kl" else (s2, s1)
        return 0.5 * (torch.linalg.solve(b, a).trace() + maha(b) - d + _logdet(b) - _logdet(a))
    if name == "hellinger":  # 2 (1 - BC), BC = |S1|^1/4 |S2|^1/4 / |S|^1/2 exp(-dm' S^-1 dm / 8), S = (S1+S2)/2
        s = (s1 + s2) / 2
        log_bc = 0.25 * (_logdet(s1) + _logdet(s2)) - 0.5 * _logdet(s) - maha(s) / 8
        return -2 * torch.expm1(log_bc)
    if name == "pearson":  # int p^2/q - 1 = |S2| / (|S1|^1/2 |A|^1/2) exp(dm' A^-1 dm) - 1, A = 2 S2 - S1 > 0
        a = 2 * s2 - s1
        if not _is_pd(a):
            return torch.tensor(_INF, dtype=m1.dtype, device=m1.device)
        return torch.expm1(_logdet(s2) - 0.5 * _logdet(s1) - 0.5 * _logdet(a) + maha(a))
    if name == "tv" and torch.equal(s1, s2):  # 2 Phi(delta / 2) - 1, delta the Mahalanobis distance
        return torch.erf(maha(s1).clamp_min(0).sqrt() / (2 * math.sqrt(2)))
    if name == "tv" and d == 1:
        return _tv_1d(m1[0], s1[0, 0], m2[0], s2[0, 0])
    if name == "w2":  # 002 "Frechet Inception Distance": W2^2 = |dm|^2 + tr(S1 + S2 - 2 (S2^1/2 S1 S2^1/2)^1/2)
        r = _psd_sqrt(s2)
        w2 = dm @ dm + s1.trace() + s2.trace() - 2 * _psd_sqrt(r @ s1 @ r).trace()
        return w2.clamp_min(0).sqrt()
    if name == "w1" and torch.equal(s1, s2):  # a translation: W_p = |dm| for every p
        return dm.norm()
    if name == "w1" and d == 1:  # E |dm + (sd1 - sd2) Z| under the quantile coupling (folded normal mean)
        mu, sd = dm[0], (s1[0, 0].sqrt() - s2[0, 0].sqrt()).abs()
        if sd == 0:
            return mu.abs()
        r = mu / (sd * math.sqrt(2))
        return sd * math.sqrt(2 / math.pi) * torch.exp(-r * r) + mu * torch.erf(r)
    return None


def _tv_1d(m1, v1, m2, v2):
    """TV between N(m1, v1) and N(m2, v2): |P(I) - Q(I)| with I the interval between the two points where
    the densities cross (roots of log p - log q = a x^2 + b x + c; one root and a half line if v1 = v2)."""
    a = 1 / (2 * v2) - 1 / (2 * v1)
    b = m1 / v1 - m2 / v2
    c = m2 * m2 / (2 * v2) - m1 * m1 / (2 * v1) + 0.5 * torch.log(v2 / v1)
    if a == 0:
        if b == 0:
            return torch.zeros_like(m1)
        lo, hi = -c / b, torch.tensor(_INF, dtype=m1.dtype, device=m1.device)
    else:  # numerically stable roots: r1 = w / a, r2 = c / w
        w = -0.5 * (b + torch.where(b >= 0, 1.0, -1.0) * (b * b - 4 * a * c).clamp_min(0).sqrt())
        lo, hi = torch.sort(torch.stack([w / a, c / w])).values
    mass = lambda m, v: torch.special.ndtr((hi - m) / v.sqrt()) - torch.special.ndtr((lo - m) / v.sqrt())  # noqa: E731
    return (mass(m1, v1) - mass(m2, v2)).abs()


def gaussian_divergence(
    name: str, mean_p, cov_p, mean_q, cov_q, *, method: str = "auto", n_grid: int | None = None
) -> torch.Tensor:
    """A divergence between P = N(mean_p, cov_p) and Q = N(mean_q, cov_q) (means (d,), covariances (d, d)).

    Closed forms (any d unless said): kl, reverse_kl; hellinger = 2 (1 - Bhattacharyya coefficient);
    pearson (finite iff 2 cov_q - cov_p is positive definite, derived by completing the square);
    tv for equal covariances (2 Phi(delta/2) - 1, delta the Mahalanobis distance of the means) and in
    1D (the mass between the two crossing points of the densities); w2 (the Frechet distance of 002,
    returned as W2, not W2^2); w1 for equal covariances (|mean_p - mean_q|) and in 1D
    (E|dm + (sd_p - sd_q) Z|, the quantile coupling). No closed form: js, gan, tv otherwise, and these
    use quadrature (d = 1 or 2): a Riemann sum on ``n_grid`` points per axis (default 4001 in 1D, 601 in
    2D) over the means +- 12 std, as :func:`f_divergence_grid`; spectrally accurate for the smooth
    integrands (1e-10 against the closed forms), about 1e-6 relative for tv, whose |p - q| has a kink
    where the densities cross. ``method``: "auto" (closed form where there is one), "closed" (raise where there
    is none) or "quadrature" (f-divergences only; to check the closed forms; pearson is inf where its
    integral diverges, as in the closed form, since a finite grid would return a finite sum)."""
    name = _name("name", name, _GAUSSIAN_NAMES)
    method = _name("method", method, ("auto", "closed", "quadrature"))
    m1, s1 = _gaussian("mean_p", mean_p, "cov_p", cov_p)
    m2, s2 = _gaussian("mean_q", mean_q, "cov_q", cov_q)
    if len(m1) != len(m2):
        raise ValueError(f"P and Q must have the same dimension, got mean_p ({len(m1)},) and mean_q ({len(m2)},)")
    if m1.device != m2.device:
        raise ValueError(f"P and Q must be on the same device, got {m1.device} and {m2.device}")
    out = None if method == "quadrature" else _closed_form(name, m1, s1, m2, s2)
    if out is not None:
        return out
    if method == "closed" or name in ("w1", "w2"):
        what = "quadrature does not apply to a Wasserstein distance" if method == "quadrature" else "none exists"
        raise ValueError(f"no closed form for name={name!r} between these Gaussians ({what}); try method='auto'")
    d = len(m1)
    if d > 2:
        raise ValueError(f"name={name!r} has no closed form here and quadrature needs d <= 2, got d = {d}")
    n = positive_int("n_grid", n_grid if n_grid is not None else (4001 if d == 1 else 601))
    var = torch.maximum(s1.diagonal(), s2.diagonal())
    if name == "pearson":
        if not _is_pd(2 * s2 - s1):  # p^2/q grows in the tails and its integral diverges: no grid can show it
            return torch.tensor(_INF, dtype=torch.float64, device=m1.device)
        # p^2/q is a Gaussian with covariance (2 S1^-1 - S2^-1)^-1, wider than both: the grid must hold it
        var = torch.maximum(var, torch.linalg.inv(2 * torch.linalg.inv(s1) - torch.linalg.inv(s2)).diagonal())
    lo, hi = torch.minimum(m1, m2) - 12 * var.sqrt(), torch.maximum(m1, m2) + 12 * var.sqrt()
    axes = [torch.linspace(lo[i].item(), hi[i].item(), n, dtype=torch.float64, device=m1.device) for i in range(d)]
    x = torch.cartesian_prod(*axes) if d == 2 else axes[0][:, None]
    lp, lq = _mvn_log_kernel(x, m1, s1), _mvn_log_kernel(x, m2, s2)
    return _sums([name], lp - lp.logsumexp(0), lq - lq.logsumexp(0))[name]


def _gaussian(mean_arg, mean, cov_arg, cov):
    m = _tensor(mean_arg, mean, "a mean of shape (d,)")
    if m.ndim != 1:
        raise ValueError(f"{mean_arg} must have shape (d,), got {tuple(m.shape)}")
    s = _tensor(cov_arg, cov, "a covariance of shape (d, d)")
    d = len(m)
    if s.shape != (d, d):
        raise ValueError(f"{cov_arg} must have shape ({d}, {d}) to match {mean_arg}, got {tuple(s.shape)}")
    s = s.double().to(m.device)
    if not torch.allclose(s, s.T) or not _is_pd(s):
        raise ValueError(f"{cov_arg} must be symmetric positive definite, got {s.tolist()}")
    return m.double(), s


# ---------------------------------------------------------------------------------------- Wasserstein
def _weights(arg, w, x):
    if w is None:
        return torch.full_like(x, 1.0 / x.shape[-1])
    w = _masses(arg, w, "non-negative weights").to(x.device)
    if w.shape != x.shape:
        raise ValueError(f"{arg} must have the shape of its values {tuple(x.shape)}, got {tuple(w.shape)}")
    s = w.sum(-1, keepdim=True)
    if bool((s <= 0).any()):
        raise ValueError(f"{arg} must have a positive sum over the last dim")
    return w / s


def _w1_sorted(x, y, wx, wy):
    """int |F_x(t) - F_y(t)| dt for weighted samples (..., n), (..., m) with equal leading dims."""
    xs, ix = x.sort(-1)
    ys, iy = y.sort(-1)
    pad = torch.zeros_like(x[..., :1])
    cx = torch.cat([pad, wx.gather(-1, ix).cumsum(-1)], -1)
    cy = torch.cat([pad, wy.gather(-1, iy).cumsum(-1)], -1)
    t = torch.cat([xs, ys], -1).sort(-1).values
    left = t[..., :-1].contiguous()  # F is constant on [t_k, t_k+1): its value is the mass at or below t_k
    fx = cx.gather(-1, torch.searchsorted(xs.contiguous(), left, right=True))
    fy = cy.gather(-1, torch.searchsorted(ys.contiguous(), left, right=True))
    return ((fx - fy).abs() * t.diff(dim=-1)).sum(-1)


def wasserstein_1d(x: torch.Tensor, y: torch.Tensor, x_weights=None, y_weights=None) -> torch.Tensor:
    """Exact Wasserstein-1 distance between two (weighted) empirical distributions on the line:
    W1 = int |F_x(t) - F_y(t)| dt (the CDF form of int_0^1 |F_x^-1(u) - F_y^-1(u)| du; the formula of
    ``scipy.stats.wasserstein_distance``). Sizes may differ: x (..., n), y (..., m), leading dims
    broadcast (a batch of problems); weights (default uniform) have their values' shape and need not be
    normalized. The Kantorovich-Rubinstein dual of this W1 is WGAN's critic objective (002, 001 Eq. 2.31)."""
    x = _tensor("x", x, "sample values (..., n)")
    y = _tensor("y", y, "sample values (..., m)")
    if x.device != y.device:
        raise ValueError(f"x and y must be on the same device, got {x.device} and {y.device}")
    x, y = x.double(), y.double()
    wx, wy = _weights("x_weights", x_weights, x), _weights("y_weights", y_weights, y)
    try:
        lead = torch.broadcast_shapes(x.shape[:-1], y.shape[:-1])
    except RuntimeError as e:
        raise ValueError(f"x and y's leading dims must broadcast, got {tuple(x.shape)} and {tuple(y.shape)}") from e
    ex = lambda a, n: a.expand(*lead, n)  # noqa: E731
    return _w1_sorted(ex(x, x.shape[-1]), ex(y, y.shape[-1]), ex(wx, x.shape[-1]), ex(wy, y.shape[-1]))


def sliced_wasserstein_1(
    x: torch.Tensor,
    y: torch.Tensor,
    n_projections: int = 128,
    *,
    directions: torch.Tensor | None = None,
    x_weights=None,
    y_weights=None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Sliced Wasserstein-1 distance between samples x (n, d) and y (m, d) (sizes may differ): the mean over
    unit directions u of the exact 1D W1 between u.x and u.y (:func:`wasserstein_1d`), a Monte Carlo
    estimate of E_u W1(u#P, u#Q) with u uniform on the sphere; POT-free.

    SW1 <= W1 (a projection is 1-Lipschitz), with equality only in 1D; in 2D a translation by delta gives
    SW1 = (2/pi) |delta| against W1 = |delta|. ``directions`` (d, L) fixes the directions (normalized
    here), else ``n_projections`` are drawn as N(0, I) columns in float64 on the generator's device,
    then normalized: the draw of :class:`gentoolkit.metrics.SlicedWasserstein`, the sliced *W2* of two
    equal-size samples, so one seed gives both the same directions."""
    x, y = points("x", x), points("y", y, x.shape[1])
    if directions is None:
        n_projections = positive_int("n_projections", n_projections)
        gen = generator_for(generator, seed)
        dev = gen.device if gen is not None else x.device
        u = torch.randn(x.shape[1], n_projections, generator=gen, dtype=torch.float64, device=dev).to(x.device)
    else:
        u = _tensor("directions", directions, "directions (d, L)").double().to(x.device)
        if u.ndim != 2 or u.shape[0] != x.shape[1] or bool((u.norm(dim=0) == 0).any()):
            raise ValueError(
                f"directions must have shape ({x.shape[1]}, L) with non-zero columns, got {tuple(u.shape)}"
            )
    u = u / u.norm(dim=0, keepdim=True)
    px, py = (x.double() @ u).T, (y.double() @ u).T  # (L, n), (L, m)
    wx = _weights("x_weights", x_weights, x.double()[:, 0]).expand_as(px)
    wy = _weights("y_weights", y_weights, y.double()[:, 0]).expand_as(py)
    return _w1_sorted(px, py, wx, wy).mean()


# ---------------------------------------------------------------------------------------- parallel lines
def parallel_lines(theta) -> dict[str, torch.Tensor]:
    """The parallel-lines example of lecture 004 ("Wasserstein distance vs KL vs JSD"; Arjovsky et al.
    2017, Example 1): P the law of (0, Z), Q_theta that of (theta, Z), Z ~ U[0, 1].

    Derived, not looked up: for theta != 0 the two segments are disjoint, so with respect to the
    reference measure P + Q_theta the densities are p = 1, q = 0 on P's segment and p = 0, q = 1 on
    Q's, and D_f = int_{q>0} q f(0) + int_{q=0} p f'(inf) = f(0) + f'(inf), read off each generator in
    :data:`F_DIVERGENCES` (kl, reverse_kl, pearson: inf; js: log 2; tv: 1; hellinger: 2; gan: 0);
    for theta = 0, P = Q and D_f = f(1) (0; gan: -log 4). W1 = |theta|: the horizontal coupling
    (0, z) -> (theta, z) costs |theta|, and W1 is at least the W1 of the first coordinates (a
    1-Lipschitz projection), W1(delta_0, delta_theta), computed by :func:`wasserstein_1d`.

    Returns: {name: tensor of theta's shape} for each f-divergence name and "w1", float64."""
    if isinstance(theta, numbers.Real) and not isinstance(theta, bool):
        theta = torch.tensor(float(theta), dtype=torch.float64)
    if not isinstance(theta, torch.Tensor) or not theta.is_floating_point():
        raise TypeError(f"theta must be a float or a floating-point tensor, got {type(theta).__name__}")
    if not bool(torch.isfinite(theta).all()):
        raise ValueError("theta must be finite")
    theta = theta.double()
    out = {}
    for name, d in F_DIVERGENCES.items():
        zero, one = torch.zeros_like(theta), torch.ones_like(theta)
        out[name] = torch.where(theta == 0, d.f(one), d.f(zero) + d.slope_at_infinity) + 0.0  # no -0.0
    out["w1"] = wasserstein_1d(torch.zeros_like(theta)[..., None], theta[..., None])
    return out


# ---------------------------------------------------------------------------------------- GAN optima
GAN_LOSSES = ("minimax", "ns", "lsgan", "hinge", "wgan", *(f"f:{n}" for n in F_DIVERGENCES if n != "gan"))


def optimal_critic_value(loss: str, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """sup over unconstrained critics of a GAN critic's objective (= minus its smallest loss), P the data and
    Q the generator, on discrete distributions; each is the pointwise optimum, derived per support point:

    - "minimax", "ns" (D = -E_P log s(C) - E_Q log(1 - s(C)), the same critic for both): at
      s(C*) = p/(p+q), 2 JS - log 4 (Goodfellow et al.; lecture 004, V(G, D*)).
    - "lsgan" (D = E_P (C-1)^2 + E_Q C^2): C* = p/(p+q), smallest loss sum pq/(p+q), so the value is
      Delta/4 - 1/2 with Delta = sum (p-q)^2/(p+q), which is Mao et al.'s (2017, Thm. 2)
      chi^2_Pearson(P+Q || 2Q) = 2C(G), here 2 pearson(Q || M), M = (P+Q)/2.
    - "hinge" (D = E_P relu(1-C) + E_Q relu(1+C)): C* = sign(p - q), smallest loss 2 sum min(p, q):
      value 2 tv - 2. (001 Secs. 2.5.3 and 6.2 say HingeGAN estimates the reverse KL; the unconstrained pointwise
      optimum derived here is total variation, as in Lim and Ye 2017.)
    - "f:<name>" (f-GAN, critic objective E_P g(V) - E_Q f*(g(V)), 002): D_f itself.
    - "wgan" needs a metric on the support (W1 = sup over 1-Lipschitz critics): see
      :func:`wasserstein_1d`, :func:`sliced_wasserstein_1` and :func:`gaussian_landscape`.
    """
    loss = _name("loss", loss, GAN_LOSSES)
    if loss == "wgan":
        raise ValueError("loss='wgan' needs positions, not only masses: use wasserstein_1d or gaussian_landscape")
    p, q = _pair(p, q)
    key = _loss_terms(loss)
    return _sums([key], p.log(), q.log())[key]


def _loss_terms(loss: str) -> str:
    return {"minimax": "gan", "ns": "gan", "lsgan": "lsgan", "hinge": "hinge"}.get(loss, loss[2:])


# ---------------------------------------------------------------------------------------- landscapes
LANDSCAPE_NAMES = (*F_DIVERGENCES, "sw1", *GAN_LOSSES)


def gaussian_landscape(
    data: Mixture2D,
    mean,
    scale,
    names=None,
    *,
    n: int = 128,
    bounds=None,
    n_directions: int = 32,
    chunk: int | None = None,
) -> dict[str, torch.Tensor]:
    """Each divergence and each GAN loss's optimal-critic value between a 2D mixture P (``data``) and the
    generator Q = N(mean, scale^2 I), over a grid of generator parameters (the landscapes of issue 16,
    item 6; plotting lives in the widgets).

    ``mean`` (..., 2) and ``scale`` (a float or a tensor) broadcast to the parameter grid's shape B, e.g.
    mean (S, 1, 2) and scale (1, T) for a shift-by-scale surface; results have shape B, float64, on
    mean's device. ``names`` (default all of :data:`LANDSCAPE_NAMES`): f-divergences D_f(P || Q) of
    :data:`F_DIVERGENCES`; "sw1", the sliced W1, from the exact CDFs of the projected mixture and
    Gaussian along ``n_directions`` equally spaced angles in [0, pi) (a deterministic midpoint rule;
    SW1 <= W1, and exact W1 in 2D has no closed form); and the GAN losses of
    :func:`optimal_critic_value`, with "wgan" = "sw1" (the Wasserstein critic's optimum W1 replaced by
    its sliced version, a stand-in, not the value).

    Densities are evaluated on an n x n grid (:func:`gentoolkit.data.toy2d.grid`) over ``bounds``
    (default: the data's ``bounds(6)`` joined with every mean +- 6 scale), normalized, and compared as
    discrete distributions (:func:`f_divergence_grid`); Q's log-density is exact, so KL stays finite
    where a density underflows. The grid holds P and Q, not necessarily p^2/q: when the generator is
    narrower than the data (2 scale^2 close to the data's variance) pearson's integrand reaches beyond
    it and the value is a truncation (tests: 1e-6 against the closed forms otherwise; tv, with its kink,
    1e-3 at n = 128). Parameters run in chunks of ``chunk`` (default: about 2^18 numbers per
    chunk); a scale below half the grid spacing, or bounds holding less than 99% of a density, raise."""
    if not isinstance(data, Mixture2D):
        raise TypeError(f"data must be a gentoolkit.data.Mixture2D, got {type(data).__name__}")
    names = list(LANDSCAPE_NAMES) if names is None else [_name("names", k, LANDSCAPE_NAMES) for k in names]
    if not names:
        raise ValueError(f"names must hold at least one of {list(LANDSCAPE_NAMES)}, got an empty list")
    mean = _tensor("mean", mean, "generator means (..., 2)").double()
    if mean.shape[-1] != 2:
        raise ValueError(f"mean must have shape (..., 2), got {tuple(mean.shape)}")
    if isinstance(scale, numbers.Real) and not isinstance(scale, bool):
        scale = torch.tensor(float(scale), dtype=torch.float64)  # not float32: 1.05 would become 1.0499999523
    if not isinstance(scale, torch.Tensor) or not scale.is_floating_point():
        raise TypeError(f"scale must be a float or a floating-point tensor, got {type(scale).__name__}")
    scale = scale.double().to(mean.device)
    if not bool((torch.isfinite(scale) & (scale > 0)).all()):
        raise ValueError(f"scale must be finite and > 0, got min {scale.min().item():g}")
    try:
        shape = torch.broadcast_shapes(mean.shape[:-1], scale.shape)
    except RuntimeError as e:
        raise ValueError(
            f"mean (..., 2) and scale must broadcast, got {tuple(mean.shape)}, {tuple(scale.shape)}"
        ) from e
    mu, s = mean.expand(*shape, 2).reshape(-1, 2), scale.expand(shape).reshape(-1)
    n, n_directions = positive_int("n", n), positive_int("n_directions", n_directions)
    if bounds is None:
        b = data.bounds(6.0)
        lo, hi = (mu - 6 * s[:, None]).min(0).values.tolist(), (mu + 6 * s[:, None]).max(0).values.tolist()
        bounds = (min(b[0], lo[0]), max(b[1], hi[0]), min(b[2], lo[1]), max(b[3], hi[1]))
    xs, ys, _ = _grid(bounds, n)
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    for what, sd in (("scale", s.min().item()), ("the data's smallest std", data.stds.min().item())):
        if sd < 0.5 * max(dx, dy):
            raise ValueError(
                f"{what} {sd:g} is below half the grid spacing {max(dx, dy):.3g}: raise n or narrow bounds"
            )
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    pts = torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], 1)).to(mean.device)
    log_cell = math.log(dx * dy)
    lp = _log_masses("data", data.log_prob(pts) + log_cell)
    key = lambda k: "sw1" if k in ("sw1", "wgan") else (_loss_terms(k) if k in GAN_LOSSES else k)  # noqa: E731
    wanted = {key(k) for k in names}
    res = {k: [] for k in wanted}
    chunk = None if chunk is None else positive_int("chunk", chunk)
    step = chunk or max(1, 2**18 // len(pts))  # about 2^18 numbers per array: cache-sized, fastest on CPU
    sq = (pts * pts).sum(1)
    for i in range(0, len(s) if wanted - {"sw1"} else 0, step):
        m_, s_ = mu[i : i + step], s[i : i + step, None]
        d2 = sq - 2 * m_ @ pts.T + (m_ * m_).sum(1, keepdim=True)  # |x - mean|^2, (B, N)
        lq = _log_masses(
            "the generator N(mean, scale^2 I)", log_cell - d2 / (2 * s_**2) - torch.log(2 * math.pi * s_**2)
        )
        for k, v in _sums(wanted - {"sw1"}, lp, lq).items():
            res[k].append(v)
    if "sw1" in wanted:
        sliced = _ProjectedCDFs(data, bounds, n_directions, _N_T_PER_N * n, mean.device)
        step = chunk or max(1, 2**18 // sliced.size)
        res["sw1"] = [sliced.w1(mu[i : i + step], s[i : i + step]) for i in range(0, len(s), step)]
    res = {k: torch.cat(v).reshape(shape) for k, v in res.items()}
    return {k: res[key(k)] for k in names}


_N_T_PER_N = 8  # points of the 1D CDF grid per point of the 2D grid's side


class _ProjectedCDFs:
    """Sliced W1 between a mixture and N(mean, s^2 I) from exact projected CDFs: along u the data is the
    1D mixture sum_k w_k N(u.mu_k, std_k^2) and the generator N(u.mean, s^2), so W1 along u is
    int |F_P(t) - F_Q(t)| dt (the CDF form of :func:`wasserstein_1d`), by the trapezoid rule on n_t
    points over the bounds' projection; directions at the midpoint angles (k + 1/2) pi / L."""

    def __init__(self, data, bounds, n_directions, n_t, device):
        ang = (torch.arange(n_directions, dtype=torch.float64, device=device) + 0.5) * (math.pi / n_directions)
        self.u = torch.stack([ang.cos(), ang.sin()])  # (2, L)
        corners = torch.tensor([[x, y] for x in bounds[:2] for y in bounds[2:]], dtype=torch.float64, device=device)
        proj = corners @ self.u
        self.t = torch.linspace(proj.min().item(), proj.max().item(), n_t, dtype=torch.float64, device=device)
        mu_k, sd_k, w = (v.to(device) for v in (data.means @ self.u.cpu(), data.stds, data.weights))
        z = (self.t - mu_k[:, :, None]) / sd_k[:, None, None]  # (K, L, T)
        self.cdf_p = torch.einsum("k,klt->lt", w, torch.special.ndtr(z))
        self.size = n_directions * n_t

    def w1(self, mean, scale):
        cdf_q = torch.special.ndtr((self.t - (mean @ self.u)[:, :, None]) / scale[:, None, None])  # (B, L, T)
        return torch.trapezoid((self.cdf_p - cdf_q).abs(), self.t, dim=-1).mean(-1)


def _grid(bounds, n):
    try:
        b = [float(v) for v in bounds]
    except (TypeError, ValueError) as e:
        raise TypeError(f"bounds must be (xmin, xmax, ymin, ymax), got {bounds!r}") from e
    if len(b) != 4 or not all(map(math.isfinite, b)) or not (b[0] < b[1] and b[2] < b[3]):
        raise ValueError(f"bounds must be finite (xmin, xmax, ymin, ymax) with min < max, got {bounds!r}")
    if n < 2:
        raise ValueError(f"n must be >= 2 grid points per axis, got {n}")
    return grid(b, n)


def _log_masses(what, lv):
    total = lv.logsumexp(-1, keepdim=True)
    bad = (total - 0).abs() > 0.01
    if bool(bad.any()):
        raise ValueError(f"the grid holds mass {total[bad][0].exp().item():.4g} of {what}, not 1: widen bounds")
    return lv - total


# ---------------------------------------------------------------------------------------- relativistic
def f_S(z: torch.Tensor) -> torch.Tensor:
    """f_S(z) = log sigmoid(z) + log 2 (001 Eq. 6.11, Fig. 6.1; SGAN's concave function of the critic
    difference): concave, f(0) = 0, f'(0) = 1/2, sup = log 2 reached only at +inf."""
    return F.logsigmoid(z) + _LOG2


def f_LS(z: torch.Tensor) -> torch.Tensor:
    """f_LS(z) = 1 - (z - 1)^2 (001 Eq. 6.12, LSGAN with labels -1/1): concave, f(0) = 0, f'(0) = 2,
    sup = 1 at z = 1 (and it decreases after: large critic differences are penalized)."""
    return 1 - (z - 1) ** 2


def f_Hinge(z: torch.Tensor) -> torch.Tensor:
    """f_Hinge(z) = 1 - max(0, 1 - z) = min(z, 1) (001 Eq. 6.13, HingeGAN): concave, f(0) = 0, f'(0) = 1,
    sup = 1 for every z >= 1."""
    return 1 - F.relu(1 - z)


RELATIVISTIC_F: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"s": f_S, "ls": f_LS, "hinge": f_Hinge}
RELATIVISTIC_KINDS = ("rp", "ra", "ralf", "rc")
RELATIVISTIC_SUP_F = {"s": _LOG2, "ls": 1.0, "hinge": 1.0}  # sup_z f(z) (001 Eqs. 6.11-6.13): D_f <= 2 sup f


def relativistic_objective(f, critic: torch.Tensor, p: torch.Tensor, q: torch.Tensor, kind: str = "rp"):
    """The objective F(P, Q, C, f) of 001 Theorem 1 (Sec. 6.4.1) for a critic C given by its values on a
    discrete support (last dim), with exact expectations under p and q; its sup over C is the
    relativistic f-divergence D_f^kind(P, Q) (zero for a constant critic; <= 0 when P = Q, by Jensen):

        rp    2 E_{x~P, y~Q} f(C(x) - C(y))
        ra    E_P f(C(x) - E_Q C) + E_Q f(E_P C - C(y))
        ralf  2 E_P f(C(x) - E_Q C)
        rc    E_P f(C(x) - E_M C) + E_Q f(E_M C - C(y)),  M = (P + Q)/2

    ``f``: a key of :data:`RELATIVISTIC_F` ("s", "ls", "hinge": f_S, f_LS, f_Hinge) or a concave callable
    with f(0) = 0, f'(0) != 0, sup f > 0 reached at a positive argument (the conditions of Theorem 1)."""
    if isinstance(f, str):
        f = RELATIVISTIC_F[_name("f", f, RELATIVISTIC_F)]
    elif not callable(f):
        raise TypeError(f"f must be a callable or one of {list(RELATIVISTIC_F)}, got {type(f).__name__}")
    kind = _name("kind", kind, RELATIVISTIC_KINDS)
    p, q = _pair(p, q)
    c = _tensor("critic", critic, "critic values on the support").double().to(p.device)
    p, c = _same_support(p, c)
    q, c = _same_support(q, c)
    mean = lambda w: (w * c).sum(-1, keepdim=True)  # noqa: E731
    if kind == "rp":
        return 2 * (p[..., :, None] * q[..., None, :] * f(c[..., :, None] - c[..., None, :])).sum((-1, -2))
    if kind == "ralf":
        return 2 * (p * f(c - mean(q))).sum(-1)
    ref_p, ref_q = (mean(q), mean(p)) if kind == "ra" else (mean((p + q) / 2),) * 2
    return (p * f(c - ref_p)).sum(-1) + (q * f(ref_q - c)).sum(-1)


_TAUS = (0.1, 0.01, 0.001)  # smoothing of the hinge's kink during the ascent


def _smooth_hinge(tau):
    return lambda z: 1 - tau * F.softplus((1 - z) / tau)


def relativistic_divergence(f: str, p: torch.Tensor, q: torch.Tensor, kind: str = "rp", *, max_iter: int = 300):
    """D_f^kind(P, Q) = sup_C F(P, Q, C, f) (001, Sec. 6.4.1, Theorem 1; F is
    :func:`relativistic_objective`) for discrete P and Q, the critic C free on the
    support. F is concave in C (f is concave and its arguments are linear in C), so an ascent finds the
    sup: L-BFGS with a strong-Wolfe line search from C = 0, on a batch of pairs at once (their objectives
    add up and are separable). f_Hinge's kink is smoothed during the ascent, 1 - tau softplus((1 - z)/tau)
    for tau = 0.1, 0.01, 0.001 (within 2 tau log 2 of it), and the returned value is the exact objective
    at the critic found: a lower bound within about 1.4e-3 of the sup. Where the sup is not attained
    (f_S on disjoint supports: C -> inf) the value approaches it as the ascent's gradients vanish.
    A constant critic reaches 0, so the result is clamped at 0 from below (it is >= 0 and, as the
    theorem proves, 0 iff P = Q; <= 2 sup f).

    Args: f in "s", "ls", "hinge"; p, q (..., K) distributions on one support; kind in
    :data:`RELATIVISTIC_KINDS`. Returns (values (...,), critics (..., K)), float64."""
    if not isinstance(f, str) or f not in RELATIVISTIC_F:
        raise ValueError(f"f must be one of {list(RELATIVISTIC_F)}, got {f!r}")
    p, q = _pair(p, q)
    value = relativistic_objective(f, torch.zeros_like(p), p, q, kind)  # a constant critic; checks kind
    p, q = torch.broadcast_tensors(p, q)
    c = torch.zeros(p.shape, dtype=torch.float64, device=p.device, requires_grad=True)
    for fit in [_smooth_hinge(t) for t in _TAUS] if f == "hinge" else [RELATIVISTIC_F[f]]:
        opt = torch.optim.LBFGS(
            [c], lr=1, max_iter=max_iter, tolerance_grad=1e-12, tolerance_change=1e-15, line_search_fn="strong_wolfe"
        )

        def closure(fit=fit):
            c.grad = None
            loss = -relativistic_objective(fit, c, p, q, kind).sum()
            loss.backward()
            return loss

        opt.step(closure)
    with torch.no_grad():
        value = torch.maximum(relativistic_objective(f, c, p, q, kind), value)
    return value, c.detach()
