"""Every bad argument of gentoolkit.divergences, with the exact message it must give: the error names
the argument, the value and what was expected, and is raised at the public entry point. Each row also
pins a guard's boundary (a value just inside it passes in the second table), so a guard that is too
strict or too lax, or a message that names the wrong argument, fails here."""

import math
import re

import pytest
import torch

from gentoolkit import divergences as D
from gentoolkit.data import toy2d


def t64(*v):
    return torch.tensor(v, dtype=torch.float64)


P, Q = t64(0.5, 0.5), t64(0.25, 0.75)
M2, S2 = t64(0.0, 0.0), torch.eye(2, dtype=torch.float64)
MIX = toy2d.get("8gaussians")
ZERO2 = torch.zeros(2, dtype=torch.float64)
X = torch.zeros(5, 2, dtype=torch.float64)
NAMES_LIST = re.escape(str(list(D.F_DIVERGENCES)))
SUPPORT = "probabilities summing to 1 over the last dim"


def _grid_density():
    x = torch.linspace(-10, 10, 201, dtype=torch.float64)
    return torch.distributions.Normal(0.0, 1.0).log_prob(x).exp(), 0.1


PV, CELL = _grid_density()
E = re.escape


BAD = [
    # --- names
    (lambda: D.f_divergence(3, P, Q), TypeError, rf"^name must be a str, one of {NAMES_LIST}, got int$"),
    (lambda: D.f_divergence("kld", P, Q), ValueError, rf"^unknown name='kld'; expected one of {NAMES_LIST}$"),
    (lambda: D.f_divergence_grid(3, PV, PV, CELL), TypeError, rf"^name must be a str, one of {NAMES_LIST}, got int$"),
    (
        lambda: D.gaussian_divergence(3, M2, S2, M2, S2),
        TypeError,
        r"^name must be a str, one of \['kl', .*'w2'\], got int$",
    ),
    (lambda: D.gaussian_divergence("w3", M2, S2, M2, S2), ValueError, r"^unknown name='w3'; expected one of \['kl', "),
    # --- tensors: type, dtype, shape, finiteness, each naming its argument
    (lambda: D.f_divergence("kl", [0.5, 0.5], Q), TypeError, rf"^p must be a torch.Tensor of {SUPPORT}, got list$"),
    (lambda: D.f_divergence("kl", P, (0.5, 0.5)), TypeError, rf"^q must be a torch.Tensor of {SUPPORT}, got tuple$"),
    (
        lambda: D.f_divergence("kl", P, torch.tensor([0, 1])),
        TypeError,
        r"^q must be a floating-point tensor, got dtype torch.int64$",
    ),
    (
        lambda: D.f_divergence("kl", torch.tensor(1.0, dtype=torch.float64), Q),
        ValueError,
        E("p must have at least one dim (last dim = support), got shape ()") + "$",
    ),
    (
        lambda: D.f_divergence("kl", torch.zeros(3, 0, dtype=torch.float64), Q),
        ValueError,
        E("p must have at least one dim (last dim = support), got shape (3, 0)") + "$",
    ),
    (lambda: D.f_divergence("kl", P, t64(math.inf, 0.0)), ValueError, r"^q must be finite, got a non-finite entry$"),
    (lambda: D.f_divergence("kl", P, t64(1.5, -0.5)), ValueError, r"^q must be non-negative, got min -0.5$"),
    # --- sums: float32 tolerance 1e-4, float64 1e-6; the first bad sum is shown
    (
        lambda: D.f_divergence("kl", P, t64(0.5, 0.500002)),
        ValueError,
        r"^q must sum to 1 over its last dim \(within 1e-06\), got sum 1.000002$",
    ),
    (
        lambda: D.f_divergence("kl", torch.tensor([0.5, 0.5003]), Q.float()),
        ValueError,
        r"^p must sum to 1 over its last dim \(within 0.0001\), got sum 1.0003\d*$",
    ),
    # --- support and broadcasting
    (
        lambda: D.f_divergence("kl", P, t64(0.2, 0.3, 0.5)),
        ValueError,
        E("p and q must share the support (last dim) and broadcast, got shapes (2,), (3,)") + "$",
    ),
    (
        lambda: D.f_divergence("kl", P.expand(2, 3, 2) * 1, Q.expand(4, 3, 2) * 1),
        ValueError,
        E("p and q must share the support (last dim) and broadcast, got shapes (2, 3, 2), (4, 3, 2)") + "$",
    ),
    # --- grid densities and cells
    (
        lambda: D.f_divergence_grid("kl", PV, PV, True),
        ValueError,
        E("cell must be a finite number > 0 (the grid cell's length, area or volume), got True") + "$",
    ),
    (lambda: D.f_divergence_grid("kl", PV, PV, 0), ValueError, r"^cell must be a finite number > 0 .*, got 0$"),
    (
        lambda: D.f_divergence_grid("kl", PV, PV, math.inf),
        ValueError,
        r"^cell must be a finite number > 0 .*, got inf$",
    ),
    (lambda: D.f_divergence_grid("kl", PV, PV, "0.1"), ValueError, r"^cell must be a finite number > 0 .*, got '0.1'$"),
    (
        lambda: D.f_divergence_grid("kl", PV, PV * 1.02, CELL),
        ValueError,
        E(
            "q_vals * cell must integrate to 1 within 0.01, got 1.02: is cell the cell volume (dx * dy in 2D), "
            "and does the grid hold the whole density?"
        )
        + "$",
    ),  # fmt: skip
    (
        lambda: D.f_divergence_grid("kl", PV, [1.0], CELL),
        TypeError,
        r"^q_vals must be a torch.Tensor of density values, got list$",
    ),
    (
        lambda: D.f_divergence_grid("kl", [1.0], PV, CELL),
        TypeError,
        r"^p_vals must be a torch.Tensor of density values, got list$",
    ),
    (lambda: D.f_divergence_grid("kl", PV, -PV, CELL), ValueError, r"^q_vals must be non-negative, got min -0.398942$"),
    # --- Gaussians
    (
        lambda: D.gaussian_divergence("kl", M2, S2, t64(0.0), S2),
        ValueError,
        E("cov_q must have shape (1, 1) to match mean_q, got (2, 2)") + "$",
    ),
    (
        lambda: D.gaussian_divergence("kl", M2, S2, t64(0.0), torch.eye(1, dtype=torch.float64)),
        ValueError,
        E("P and Q must have the same dimension, got mean_p (2,) and mean_q (1,)") + "$",
    ),
    (
        lambda: D.gaussian_divergence("kl", S2, S2, M2, S2),
        ValueError,
        E("mean_p must have shape (d,), got (2, 2)") + "$",
    ),
    (
        lambda: D.gaussian_divergence("kl", M2, [[1.0, 0.0], [0.0, 1.0]], M2, S2),
        TypeError,
        r"^cov_p must be a torch.Tensor of a covariance of shape \(d, d\), got list$",
    ),
    (
        lambda: D.gaussian_divergence("kl", M2, S2, [0.0, 0.0], S2),
        TypeError,
        r"^mean_q must be a torch.Tensor of a mean of shape \(d,\), got list$",
    ),
    (
        lambda: D.gaussian_divergence("kl", M2, t64(1.0, 0.5, 0.0, 1.0).reshape(2, 2), M2, S2),
        ValueError,
        E("cov_p must be symmetric positive definite, got [[1.0, 0.5], [0.0, 1.0]]") + "$",
    ),
    (
        lambda: D.gaussian_divergence("kl", M2, S2, M2, t64(1.0, 0.0, 0.0, 0.0).reshape(2, 2)),
        ValueError,
        E("cov_q must be symmetric positive definite, got [[1.0, 0.0], [0.0, 0.0]]") + "$",
    ),
    (
        lambda: D.gaussian_divergence("w2", M2, S2, M2, S2, method="quadrature"),
        ValueError,
        E(
            "no closed form for name='w2' between these Gaussians (quadrature does not apply to a Wasserstein "
            "distance); try method='auto'"
        )
        + "$",
    ),  # fmt: skip
    (
        lambda: D.gaussian_divergence("w1", M2, S2, M2, 2 * S2),
        ValueError,
        E("no closed form for name='w1' between these Gaussians (none exists); try method='auto'") + "$",
    ),
    (
        lambda: D.gaussian_divergence("js", M2, S2, M2 + 1, S2, method="closed"),
        ValueError,
        E("no closed form for name='js' between these Gaussians (none exists); try method='auto'") + "$",
    ),
    (
        lambda: D.gaussian_divergence(
            "js", t64(0, 0, 0), torch.eye(3, dtype=torch.float64), t64(1, 0, 0), torch.eye(3)
        ),
        ValueError,
        E("name='js' has no closed form here and quadrature needs d <= 2, got d = 3") + "$",
    ),
    (
        lambda: D.gaussian_divergence("js", M2, S2, M2, S2, n_grid=0),
        ValueError,
        r"^n_grid must be a positive integer, got 0$",
    ),
    (lambda: D.gaussian_divergence("kl", M2, S2, M2, S2, method=1), TypeError, r"^method must be a str, one of "),
    # --- Wasserstein
    (
        lambda: D.wasserstein_1d(t64(0.0, 1.0), t64(0.0), t64(1.0, 1.0, 1.0)),
        ValueError,
        E("x_weights must have the shape of its values (2,), got (3,)") + "$",
    ),
    (
        lambda: D.wasserstein_1d(t64(0.0, 1.0), t64(0.0), None, t64(0.0)),
        ValueError,
        r"^y_weights must have a positive sum over the last dim$",
    ),
    (
        lambda: D.wasserstein_1d(t64(0.0, 1.0), t64(0.0), t64(-1.0, 2.0)),
        ValueError,
        r"^x_weights must be non-negative, got min -1$",
    ),
    (
        lambda: D.wasserstein_1d(t64(0.0, 1.0), t64(0.0), [0.5, 0.5]),
        TypeError,
        r"^x_weights must be a torch.Tensor of non-negative weights, got list$",
    ),
    (
        lambda: D.wasserstein_1d([0.0], t64(0.0)),
        TypeError,
        E("x must be a torch.Tensor of sample values (..., n), got list") + "$",
    ),
    (
        lambda: D.wasserstein_1d(t64(0.0), [0.0]),
        TypeError,
        E("y must be a torch.Tensor of sample values (..., m), got list") + "$",
    ),
    (
        lambda: D.wasserstein_1d(torch.zeros(2, 3, dtype=torch.float64), torch.zeros(3, 4, dtype=torch.float64)),
        ValueError,
        E("x and y's leading dims must broadcast, got (2, 3) and (3, 4)") + "$",
    ),
    (
        lambda: D.sliced_wasserstein_1(X, X, directions=t64(1.0, 0.0, 0.0, 0.0).reshape(2, 2)),
        ValueError,
        E("directions must have shape (2, L) with non-zero columns, got (2, 2)") + "$",
    ),
    (  # a zero column in rows that are not zero
        lambda: D.sliced_wasserstein_1(X, X, directions=t64(1.0, 0.0, 1.0, 0.0).reshape(2, 2)),
        ValueError,
        E("directions must have shape (2, L) with non-zero columns, got (2, 2)") + "$",
    ),
    (lambda: D.sliced_wasserstein_1(X[0], X), ValueError, E("x must have shape (n, d), got (2,)") + "$"),
    (
        lambda: D.sliced_wasserstein_1([[0.0]], X),
        TypeError,
        E("x must be a torch.Tensor of shape (n, d), got list") + "$",
    ),
    (
        lambda: D.sliced_wasserstein_1(X, X, directions=torch.ones(3, 4, dtype=torch.float64)),
        ValueError,
        E("directions must have shape (2, L) with non-zero columns, got (3, 4)") + "$",
    ),
    (
        lambda: D.sliced_wasserstein_1(X, X, directions=t64(1.0, 0.0)),
        ValueError,
        E("directions must have shape (2, L) with non-zero columns, got (2,)") + "$",
    ),
    (
        lambda: D.sliced_wasserstein_1(X, X, directions=[[1.0], [0.0]]),
        TypeError,
        E("directions must be a torch.Tensor of directions (d, L), got list") + "$",
    ),
    (lambda: D.sliced_wasserstein_1(X, X, 0), ValueError, r"^n_projections must be a positive integer, got 0$"),
    (
        lambda: D.sliced_wasserstein_1(X, torch.zeros(5, 3)),
        ValueError,
        E("y must have shape (n, 2), got (5, 3)") + "$",
    ),
    (
        lambda: D.sliced_wasserstein_1(X, X, x_weights=torch.ones(4, dtype=torch.float64)),
        ValueError,
        E("x_weights must have the shape of its values (5,), got (4,)") + "$",
    ),
    (
        lambda: D.sliced_wasserstein_1(X, X, y_weights=torch.ones(4, dtype=torch.float64)),
        ValueError,
        E("y_weights must have the shape of its values (5,), got (4,)") + "$",
    ),
    # --- parallel lines
    (
        lambda: D.parallel_lines(torch.tensor(1)),
        TypeError,
        r"^theta must be a float or a floating-point tensor, got Tensor$",
    ),
    (lambda: D.parallel_lines("1"), TypeError, r"^theta must be a float or a floating-point tensor, got str$"),
    (lambda: D.parallel_lines(True), TypeError, r"^theta must be a float or a floating-point tensor, got bool$"),
    (lambda: D.parallel_lines(t64(0.0, math.nan)), ValueError, r"^theta must be finite$"),
    (lambda: D.parallel_lines(math.inf), ValueError, r"^theta must be finite$"),
    # --- GAN optima
    (
        lambda: D.optimal_critic_value("wgan", P, Q),
        ValueError,
        E("loss='wgan' needs positions, not only masses: use wasserstein_1d or gaussian_landscape") + "$",
    ),
    (lambda: D.optimal_critic_value("gan", P, Q), ValueError, r"^unknown loss='gan'; expected one of \['minimax', "),
    # --- landscapes
    (
        lambda: D.gaussian_landscape("8gaussians", ZERO2, 1.0),
        TypeError,
        r"^data must be a gentoolkit.data.Mixture2D, got str$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, 1.0, []),
        ValueError,
        E(f"names must hold at least one of {list(D.LANDSCAPE_NAMES)}, got an empty list") + "$",
    ),
    (lambda: D.gaussian_landscape(MIX, ZERO2, 1.0, [3]), TypeError, r"^names must be a str, one of \['kl', "),
    (
        lambda: D.gaussian_landscape(MIX, torch.zeros(3, dtype=torch.float64), 1.0),
        ValueError,
        E("mean must have shape (..., 2), got (3,)") + "$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, [0.0, 0.0], 1.0),
        TypeError,
        E("mean must be a torch.Tensor of generator means (..., 2), got list") + "$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, torch.tensor(1)),
        TypeError,
        r"^scale must be a float or a floating-point tensor, got Tensor$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, True),
        TypeError,
        r"^scale must be a float or a floating-point tensor, got bool$",
    ),
    (lambda: D.gaussian_landscape(MIX, ZERO2, 0.0), ValueError, r"^scale must be finite and > 0, got min 0$"),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, t64(1.0, -2.0, 3.0)),
        ValueError,
        r"^scale must be finite and > 0, got min -2$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, t64(1.0, math.inf)),
        ValueError,
        r"^scale must be finite and > 0, got min 1$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, torch.zeros(3, 2, dtype=torch.float64), t64(1.0, 2.0)),
        ValueError,
        E("mean (..., 2) and scale must broadcast, got (3, 2), (2,)") + "$",
    ),
    (lambda: D.gaussian_landscape(MIX, ZERO2, 1.0, n=0), ValueError, r"^n must be a positive integer, got 0$"),
    (lambda: D.gaussian_landscape(MIX, ZERO2, 1.0, n=1), ValueError, r"^n must be >= 2 grid points per axis, got 1$"),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, 1.0, n_directions=0),
        ValueError,
        r"^n_directions must be a positive integer, got 0$",
    ),
    (lambda: D.gaussian_landscape(MIX, ZERO2, 1.0, chunk=0), ValueError, r"^chunk must be a positive integer, got 0$"),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, 1.0, bounds=(-4, 4, -4)),
        ValueError,
        E("bounds must be finite (xmin, xmax, ymin, ymax) with min < max, got (-4, 4, -4)") + "$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, 1.0, bounds=(-4, 4, 4, 4)),
        ValueError,
        E("bounds must be finite (xmin, xmax, ymin, ymax) with min < max, got (-4, 4, 4, 4)") + "$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, 1.0, bounds=(4, 4, -4, 4)),
        ValueError,
        E("bounds must be finite (xmin, xmax, ymin, ymax) with min < max, got (4, 4, -4, 4)") + "$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, 1.0, bounds=(-4, 4, -4, math.nan)),
        ValueError,
        E("bounds must be finite (xmin, xmax, ymin, ymax) with min < max, got (-4, 4, -4, nan)") + "$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, 1.0, bounds="abcd"),
        TypeError,
        E("bounds must be (xmin, xmax, ymin, ymax), got 'abcd'") + "$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, 1.0, bounds=4),
        TypeError,
        E("bounds must be (xmin, xmax, ymin, ymax), got 4") + "$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, 0.01, ["kl"]),
        ValueError,
        r"^scale 0.01 is below half the grid spacing 0.\d+: raise n or narrow bounds$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, 1.0, ["kl"], n=8),
        ValueError,
        rf"^the data's smallest std {MIX.stds.min().item():g} is below half the grid spacing 1.71: "
        "raise n or narrow bounds$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2 + 3, 1.0, ["kl"], bounds=(-3.5, 3.5, -3.5, 3.5), n=400),
        ValueError,
        r"^the grid holds mass 0.\d+ of the generator N\(mean, scale\^2 I\), not 1: widen bounds$",
    ),
    (
        lambda: D.gaussian_landscape(MIX, ZERO2, 0.5, ["kl"], bounds=(-1.5, 1.5, -1.5, 1.5)),
        ValueError,
        r"^the grid holds mass 0.\d+ of data, not 1: widen bounds$",
    ),
    # --- relativistic
    (
        lambda: D.relativistic_objective(3, t64(1.0, 0.0), P, Q),
        TypeError,
        E(f"f must be a callable or one of {list(D.RELATIVISTIC_F)}, got int") + "$",
    ),
    (
        lambda: D.relativistic_objective("ls", [1.0, 0.0], P, Q),
        TypeError,
        r"^critic must be a torch.Tensor of critic values on the support, got list$",
    ),
    (
        lambda: D.relativistic_objective("ls", t64(1.0, 0.0, 0.0), P, Q),
        ValueError,
        E("p and q must share the support (last dim) and broadcast, got shapes (2,), (3,)") + "$",
    ),
    (
        lambda: D.relativistic_objective("ls", t64(1.0, 0.0), P, Q, kind="rx"),
        ValueError,
        E(f"unknown kind='rx'; expected one of {list(D.RELATIVISTIC_KINDS)}") + "$",
    ),
    (
        lambda: D.relativistic_divergence(D.f_LS, P, Q),
        ValueError,
        r"^f must be one of \['s', 'ls', 'hinge'\], got <function f_LS at 0x[0-9a-f]+>$",
    ),
    (
        lambda: D.relativistic_divergence("sgan", P, Q),
        ValueError,
        E("f must be one of ['s', 'ls', 'hinge'], got 'sgan'") + "$",
    ),
    (
        lambda: D.relativistic_divergence("ls", P, Q, "rx"),
        ValueError,
        E(f"unknown kind='rx'; expected one of {list(D.RELATIVISTIC_KINDS)}") + "$",
    ),
]


@pytest.mark.parametrize("call, error, message", BAD)
def test_each_bad_argument_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


INTEGERS = torch.arange(-12.0, 13.0, dtype=torch.float64)
PHI = torch.distributions.Normal(0.0, 1.0).log_prob(INTEGERS).exp()  # sums to 1 within 3e-9 (Poisson summation)

OK = [
    # each guard's boundary, from the accepted side
    lambda: D.f_divergence("kl", P.float(), t64(0.5, 0.500002)),  # one float32 input: the 1e-4 tolerance
    lambda: D.f_divergence("kl", P, t64(0.5, 0.5000009)),  # float64: within 1e-6
    lambda: D.f_divergence("kl", torch.tensor([0.5, 0.50009]), Q.float()),  # float32: within 1e-4
    lambda: D.f_divergence("kl", P.expand(2, 3, 2) * 1, Q.expand(1, 3, 2) * 1),  # leading dims broadcast
    lambda: D.f_divergence("kl", t64(1.0, 0.0), t64(0.5, 0.5)),  # zeros are masses
    lambda: D.f_divergence_grid("kl", PHI, PHI, 1),  # an int cell
    lambda: D.f_divergence_grid("kl", PV, PV * 1.009, CELL),  # mass within 0.01
    lambda: D.gaussian_divergence("js", t64(0.0), S2[:1, :1], t64(1.0), S2[:1, :1], n_grid=3),
    lambda: D.wasserstein_1d(t64(0.0, 1.0), t64(0.0), t64(0.0, 1.0), t64(0.5)),  # a zero weight, a sum 0.5
    lambda: D.sliced_wasserstein_1(X, X, directions=t64(1.0, 0.0, 0.0, -2.0).reshape(2, 2)),
    lambda: D.sliced_wasserstein_1(X, X, directions=t64(1.0, 1.0, 0.0, 0.0).reshape(2, 2)),  # a zero row
    lambda: D.sliced_wasserstein_1(X, X, 1),
    lambda: D.parallel_lines(0),  # an int theta
    lambda: D.parallel_lines(torch.tensor(-1.0)),  # float32
    lambda: D._grid([-1, 1, -1, 1], 2),  # two points per axis
    lambda: D.gaussian_landscape(MIX, ZERO2, 1, ["sw1"], n=64, n_directions=1),  # an int scale
    lambda: D.gaussian_landscape(MIX, ZERO2, torch.tensor([0.5, 1.0]), ["kl"], n=64, chunk=1),
    lambda: D.relativistic_objective(lambda z: -((z - 1) ** 2) + 1, t64(1.0, 0.0), P, Q),
]


@pytest.mark.parametrize("call", OK)
def test_each_guard_lets_its_boundary_through(call):
    """No error just inside each guard: a guard made stricter (>= for >, a tolerance cut) fails here."""
    call()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: two devices")
def test_inputs_on_two_devices_are_refused_by_name():
    c = torch.device("cuda")
    cases = [
        (lambda: D.f_divergence("kl", P, Q.to(c)), "^p and q must be on the same device, got cpu and cuda:0$"),
        (
            lambda: D.gaussian_divergence("kl", M2, S2, M2.to(c), S2),
            "^P and Q must be on the same device, got cpu and cuda:0$",
        ),
        (
            lambda: D.wasserstein_1d(t64(0.0), t64(1.0).to(c)),
            "^x and y must be on the same device, got cpu and cuda:0$",
        ),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
