"""Tests for gentoolkit.gan.latent (DDLS: Langevin dynamics in a GAN's latent space).

The statistical tests use a linear generator G(z) = A z + b and a quadratic critic
d(x) = -||x - c||^2 / (2 s^2), for which the DDLS target p_0(z) exp(d(G(z)) / T) is Gaussian:

    E(z) = ||z||^2 / 2 + ||A z + b - c||^2 / (2 s^2 T),   grad E(z) = P z - A^T (c - b) / (s^2 T),
    precision P = I + A^T A / (s^2 T),   mean m = P^{-1} A^T (c - b) / (s^2 T).

The unadjusted chain z' = M z + (eps / 2) P m + sqrt(eps) n with M = I - (eps / 2) P is linear and
Gaussian, so from z_0 ~ N(mu_0, S_0) the law of z_K is known exactly: mu_{k+1} = M mu_k + (eps/2) P m,
S_{k+1} = M S_k M^T + eps I. Its fixed point is the mean m (no bias) and the covariance
P^{-1} (I - eps P / 4)^{-1} (not P^{-1}: ULA's O(eps) bias), which the test checks too. The
empirical moments of many independent chains are compared with that exact law, within a few
standard errors, so the tolerance is purely statistical (and tight).
"""

import math

import pytest
import torch
from torch import nn

from gentoolkit.gan.latent import latent_energy, latent_langevin, latent_langevin_samples
from tests.conftest import DEVICES

A = [[1.5, 0.5], [-0.3, 1.0]]
B = [0.2, -0.1]
C = [1.0, 2.0]
S = 0.8
N_SE = 5.0  # tolerance in standard errors (the run is seeded, so the outcome is deterministic)
# independent chains in 2D: 16,000 x 2 = 32,000 numbers stay under torch's OpenMP grain size (32,768),
# so each op runs on one thread (on 2 shared cores, spinning OpenMP threads cost more than they save)
N_CHAINS = 16_000


def linear_G(dtype=torch.float64, device="cpu", A=A, b=B):
    G = nn.Linear(2, 2).to(device=device, dtype=dtype)
    with torch.no_grad():
        G.weight.copy_(torch.tensor(A, dtype=dtype))
        G.bias.copy_(torch.tensor(b, dtype=dtype))
    return G


class QuadraticCritic(nn.Module):
    """d(x) = -||x - c||^2 / (2 s^2), returned with shape (n, 1) (or (n,) with flat=True)."""

    def __init__(self, c=C, s=S, flat=False):
        super().__init__()
        self.register_buffer("c", torch.tensor(c, dtype=torch.float64))
        self.s, self.flat = s, flat

    def forward(self, x):
        d = -((x - self.c.to(x.dtype)) ** 2).sum(dim=1) / (2 * self.s**2)
        return d if self.flat else d[:, None]


def exact_ula_law(P, m, eps, n_steps, mu0, S0):
    """Mean and covariance of z_K for z' = M z + (eps/2) P m + sqrt(eps) n, M = I - eps P / 2."""
    M = torch.eye(len(m), dtype=torch.float64) - eps / 2 * P
    mu, Sig = mu0.clone(), S0.clone()
    for _ in range(n_steps):
        mu = M @ mu + eps / 2 * P @ m
        Sig = M @ Sig @ M.T + eps * torch.eye(len(m), dtype=torch.float64)
    return mu, Sig


def moment_errors(z, mu, Sig):
    """|mean error| and |covariance error| in units of their standard errors (n independent draws)."""
    n = z.shape[0]
    z = z.double().cpu()
    mean_se = (Sig.diagonal() / n).sqrt()
    d = Sig.diagonal()
    cov_se = ((d[:, None] * d[None, :] + Sig**2) / n).sqrt()
    return (z.mean(0) - mu).abs() / mean_se, (torch.cov(z.T) - Sig).abs() / cov_se


# --------------------------------------------------------------------------- the stationary law
@pytest.mark.parametrize("temperature, flat", [(1.0, False), (2.5, True)])
def test_linear_generator_quadratic_critic_matches_exact_ula_law(temperature, flat):
    n, eps, n_steps = N_CHAINS, 0.1, 200
    At, b, c = torch.tensor(A, dtype=torch.float64), torch.tensor(B, dtype=torch.float64), torch.tensor(C).double()
    P = torch.eye(2, dtype=torch.float64) + At.T @ At / (S**2 * temperature)
    m = torch.linalg.solve(P, At.T @ (c - b) / (S**2 * temperature))
    mu_K, Sig_K = exact_ula_law(P, m, eps, n_steps, torch.zeros(2, dtype=torch.float64), torch.eye(2).double())
    # the K-step law has reached ULA's stationary law: mean m, covariance P^-1 (I - eps P / 4)^-1
    Sig_eps = torch.linalg.inv(P) @ torch.linalg.inv(torch.eye(2, dtype=torch.float64) - eps / 4 * P)
    torch.testing.assert_close(mu_K, m, rtol=0, atol=1e-6)
    torch.testing.assert_close(Sig_K, Sig_eps, rtol=0, atol=1e-9)

    z0 = torch.randn(n, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    G, critic = linear_G(), QuadraticCritic(flat=flat)
    z = latent_langevin(G, critic, z0, eps=eps, n_steps=n_steps, seed=1, temperature=temperature, progress=False)
    mean_err, cov_err = moment_errors(z, mu_K, Sig_K)
    assert mean_err.max() < N_SE, f"mean off by {mean_err.tolist()} standard errors"
    assert cov_err.max() < N_SE, f"covariance off by {cov_err.tolist()} standard errors"


def test_constant_critic_samples_the_prior_with_ulas_exact_bias():
    # E(z) = ||z||^2 / 2: precision I, so ULA's stationary covariance is I / (1 - eps / 4)
    n, eps, n_steps = N_CHAINS, 0.4, 100
    z0 = 3.0 + torch.zeros(n, 2, dtype=torch.float64)  # far from the target: the chain must move there

    def critic(x):
        return torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)

    z = latent_langevin(lambda v: 2 * v, critic, z0, eps=eps, n_steps=n_steps, seed=2)
    mu_K, Sig_K = exact_ula_law(
        torch.eye(2).double(), torch.zeros(2).double(), eps, n_steps, z0[0], torch.zeros(2, 2).double()
    )
    torch.testing.assert_close(Sig_K, torch.eye(2).double() / (1 - eps / 4), rtol=0, atol=1e-9)
    mean_err, cov_err = moment_errors(z, mu_K, Sig_K)
    assert mean_err.max() < N_SE and cov_err.max() < N_SE, (mean_err, cov_err)
    # and the bias is real: the continuous-time covariance I is many standard errors away
    _, cov_err_exact_target = moment_errors(z, mu_K, torch.eye(2).double())
    assert cov_err_exact_target.diagonal().min() > N_SE


# --------------------------------------------------------------------------- the energy
def test_latent_energy_hand_example():
    # A z + b = (2.7, 1.6) at z = (1, 2); x - c = (1.7, -0.4), ||x - c||^2 = 3.05; ||z||^2 / 2 = 2.5
    z = torch.tensor([[1.0, 2.0], [0.0, 0.0]], dtype=torch.float64)
    G, critic = linear_G(), QuadraticCritic(s=1.0)
    # at z = 0: x = b, x - c = (-0.8, -2.1), ||x - c||^2 = 0.64 + 4.41 = 5.05
    torch.testing.assert_close(latent_energy(G, critic, z), torch.tensor([2.5 + 1.525, 2.525], dtype=torch.float64))
    torch.testing.assert_close(
        latent_energy(G, critic, z, temperature=2.0), torch.tensor([2.5 + 0.7625, 1.2625], dtype=torch.float64)
    )


def test_latent_energy_is_differentiable():
    z = torch.tensor([[1.0, 2.0]], dtype=torch.float64, requires_grad=True)
    G, critic = linear_G(), QuadraticCritic(s=1.0)
    (g,) = torch.autograd.grad(latent_energy(G, critic, z).sum(), z)
    At, b, c = torch.tensor(A).double(), torch.tensor(B).double(), torch.tensor(C).double()
    torch.testing.assert_close(g[0], z[0].detach() + At.T @ (At @ z[0].detach() + b - c))


# --------------------------------------------------------------------------- the chain's contract
def _run(seed=0, **kw):
    z0 = torch.randn(64, 2, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    return latent_langevin(linear_G(), QuadraticCritic(), z0, eps=0.05, n_steps=20, seed=seed, **kw)


def test_seed_reproducibility():
    torch.testing.assert_close(_run(seed=3), _run(seed=3), rtol=0, atol=0)
    assert not torch.allclose(_run(seed=3), _run(seed=4))
    gen = torch.Generator().manual_seed(3)
    z0 = torch.randn(64, 2, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    z = latent_langevin(linear_G(), QuadraticCritic(), z0, eps=0.05, n_steps=20, generator=gen)
    torch.testing.assert_close(z, _run(seed=3), rtol=0, atol=0)


def test_callback_and_keep_chain():
    z0 = torch.randn(8, 2, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    z0_copy = z0.clone()
    seen = []
    z, chain = latent_langevin(
        linear_G(),
        QuadraticCritic(),
        z0,
        eps=0.05,
        n_steps=7,
        seed=0,
        keep_chain=True,
        callback=lambda k, zk: seen.append((k, zk.clone())),
    )
    assert chain.shape == (8, 8, 2)
    assert [k for k, _ in seen] == list(range(7))
    torch.testing.assert_close(torch.stack([zk for _, zk in seen]), chain[1:], rtol=0, atol=0)
    torch.testing.assert_close(chain[0], z0_copy, rtol=0, atol=0)
    torch.testing.assert_close(chain[-1], z, rtol=0, atol=0)
    torch.testing.assert_close(z0, z0_copy, rtol=0, atol=0)  # the input is not modified
    torch.testing.assert_close(z, latent_langevin(linear_G(), QuadraticCritic(), z0, eps=0.05, n_steps=7, seed=0))


def test_one_step_is_eq_4():
    z0 = torch.tensor([[1.0, 2.0], [-0.5, 0.3]], dtype=torch.float64)
    eps = 0.3
    z1 = latent_langevin(linear_G(), QuadraticCritic(s=1.0), z0, eps=eps, n_steps=1, seed=5)
    n = torch.randn(2, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    At, b, c = torch.tensor(A).double(), torch.tensor(B).double(), torch.tensor(C).double()
    grad = z0 + (z0 @ At.T + b - c) @ At
    torch.testing.assert_close(z1, z0 - eps / 2 * grad + math.sqrt(eps) * n)


def test_no_parameter_grads_and_modes_restored():
    G = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.5), nn.Tanh(), nn.Linear(8, 2))
    critic = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 1))
    critic[1].eval()  # mixed modes: each submodule gets its own mode back
    G.train(), critic.train(False), critic[2].train()
    before = [m.training for m in (*G.modules(), *critic.modules())]
    modes_seen = []
    critic.register_forward_hook(
        lambda mod, i, o: modes_seen.append(any(m.training for m in (*G.modules(), *mod.modules())))
    )
    z0 = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    z1 = latent_langevin(G, critic, z0, eps=0.01, n_steps=5, seed=0)
    z2 = latent_langevin(G, critic, z0, eps=0.01, n_steps=5, seed=0)
    torch.testing.assert_close(z1, z2, rtol=0, atol=0)  # dropout off: the energy is deterministic
    assert modes_seen == [False] * 10
    assert [m.training for m in (*G.modules(), *critic.modules())] == before
    assert all(p.grad is None for p in (*G.parameters(), *critic.parameters()))
    assert all(p.requires_grad for p in (*G.parameters(), *critic.parameters()))
    assert not z1.requires_grad


def test_works_under_no_grad_and_inside_grad():
    ref = _run(seed=7)
    with torch.no_grad():
        torch.testing.assert_close(_run(seed=7), ref, rtol=0, atol=0)
    z0 = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    out = latent_langevin(linear_G(), QuadraticCritic(), z0, eps=0.05, n_steps=2, seed=0)
    assert not out.requires_grad and z0.grad is None


def test_samples_are_G_of_the_final_latents():
    G = linear_G()
    G.train()
    z0 = torch.randn(32, 2, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    x = latent_langevin_samples(G, QuadraticCritic(), z0, eps=0.05, n_steps=10, seed=1)
    z = latent_langevin(G, QuadraticCritic(), z0, eps=0.05, n_steps=10, seed=1)
    torch.testing.assert_close(x, G(z).detach())
    assert G.training and not x.requires_grad


# --------------------------------------------------------------------------- failures
def test_non_finite_energy_raises_with_the_step():
    calls = {"n": 0}
    critic = QuadraticCritic(flat=True)
    critic.train()

    def bad_critic(x):
        calls["n"] += 1
        d = critic(x)
        return d + float("inf") if calls["n"] == 4 else d  # the 4th energy evaluation: step 3

    z0 = torch.zeros(5, 2, dtype=torch.float64)
    with pytest.raises(FloatingPointError, match=r"step 3 of 10.*smaller eps"):
        latent_langevin(linear_G(), bad_critic, z0, eps=0.05, n_steps=10, seed=0)

    class Wrapped(nn.Module):  # the module's mode is restored after the error too
        def forward(self, x):
            return bad_critic(x)

    w = Wrapped().train()
    calls["n"] = 0
    with pytest.raises(FloatingPointError, match="step 3"):
        latent_langevin(linear_G(), w, z0, eps=0.05, n_steps=10, seed=0)
    assert w.training


def test_diverging_chain_raises():
    # precision 1 + 200 and eps = 1: |1 - eps P / 2| = 99.5 > 1, the chain blows up
    critic = QuadraticCritic(s=0.1)
    with pytest.raises(FloatingPointError, match=r"step \d+ .*smaller eps"):
        latent_langevin(lambda z: z, critic, torch.ones(3, 2), eps=1.0, n_steps=500, seed=0)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"eps": 0.0}, ValueError, "eps"),
        ({"eps": -0.1}, ValueError, "eps"),
        ({"eps": float("inf")}, ValueError, "eps"),
        ({"eps": float("nan")}, ValueError, "eps"),
        ({"eps": "0.1"}, TypeError, "eps"),
        ({"n_steps": 0}, ValueError, "n_steps"),
        ({"n_steps": 2.5}, TypeError, "n_steps"),
        ({"n_steps": True}, TypeError, "n_steps"),
        ({"temperature": 0.0}, ValueError, "temperature"),
        ({"z": torch.zeros(4)}, ValueError, "z must have shape"),
        ({"z": torch.zeros(4, 2, dtype=torch.long)}, TypeError, "z must be a floating"),
        ({"z": [[0.0, 0.0]]}, TypeError, "z must be a torch.Tensor"),
        ({"z": torch.full((2, 2), float("nan"))}, ValueError, "z must be finite"),
        ({"G": 3}, TypeError, "G must be callable"),
        ({"critic": None}, TypeError, "critic must be callable"),
        ({"callback": 1}, TypeError, "callback"),
        ({"generator": nn.Linear(2, 2)}, TypeError, "first argument, G"),
        ({"generator": torch.Generator(), "seed": 1}, ValueError, "either generator= or seed="),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    args = {"G": linear_G(), "critic": QuadraticCritic(), "z": torch.zeros(4, 2, dtype=torch.float64)}
    args.update({k: kwargs.pop(k) for k in list(kwargs) if k in args})
    kw = {"eps": 0.1, "n_steps": 3, **kwargs}
    with pytest.raises(exc, match=match):
        latent_langevin(args["G"], args["critic"], args["z"], **kw)


@pytest.mark.parametrize(
    "critic, match",
    [
        (lambda x: torch.zeros(x.shape[0], 2, dtype=x.dtype), r"\(4, 2\)"),
        (lambda x: torch.zeros(x.shape[0] - 1, dtype=x.dtype), "one logit per latent code"),
        (lambda x: torch.zeros(x.shape[0], 1, 1, dtype=x.dtype), r"\(4, 1, 1\)"),
    ],
)
def test_bad_critic_output_shape(critic, match):
    z = torch.zeros(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=match):
        latent_langevin(linear_G(), critic, z, eps=0.1, n_steps=2)
    with pytest.raises(ValueError, match=match):
        latent_energy(linear_G(), critic, z)


# --------------------------------------------------------------------------- devices and dtypes
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_devices_and_dtypes(device, dtype):
    z0 = torch.randn(32, 2, generator=torch.Generator().manual_seed(0)).to(device=device, dtype=dtype)
    G, critic = linear_G(dtype, device), QuadraticCritic().to(device)
    z, chain = latent_langevin(G, critic, z0, eps=0.05, n_steps=10, seed=0, keep_chain=True)
    assert z.dtype == dtype and z.device.type == device and chain.dtype == dtype and chain.shape == (11, 32, 2)
    assert torch.isfinite(z).all()
    x = latent_langevin_samples(G, critic, z0, eps=0.05, n_steps=10, seed=0)
    assert x.dtype == dtype and x.device.type == device
    # a CPU seed draws the same noise on every device: the chain matches the CPU one (same dtype:
    # torch draws float32 and float64 normals differently)
    z_cpu = latent_langevin(linear_G(dtype), QuadraticCritic(), z0.cpu(), eps=0.05, n_steps=10, seed=0)
    tol = {torch.float32: 1e-4, torch.float64: 1e-10, torch.bfloat16: 0.1}[dtype]
    torch.testing.assert_close(z.double().cpu(), z_cpu.double(), rtol=0, atol=tol)


@pytest.mark.parametrize("device", DEVICES)
def test_generator_on_the_device(device):
    z0 = torch.zeros(8, 2, device=device)
    G, critic = linear_G(torch.float32, device), QuadraticCritic().to(device)
    a = latent_langevin(G, critic, z0, eps=0.05, n_steps=5, generator=torch.Generator(device).manual_seed(1))
    b = latent_langevin(G, critic, z0, eps=0.05, n_steps=5, generator=torch.Generator(device).manual_seed(1))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
