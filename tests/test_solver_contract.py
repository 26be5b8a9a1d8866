"""The fixed-grid solvers' contract beyond their numbers: defaults, which argument an error
names, progress bars, the end time's check, and that a bad predictor is refused before any
score call. Each test names the mutation of ``gentoolkit.sde.solvers`` it catches."""

from __future__ import annotations

import inspect

import pytest
import torch

from gentoolkit.sde import VESDE, VPSDE, SubVPSDE, ancestral, langevin_corrector, pc, reverse_diffusion, sample, tweedie


def score(x, t):
    return -x


def g(seed):
    return torch.Generator().manual_seed(seed)


X = torch.randn(16, 2, generator=g(0))
TIMES = torch.linspace(1.0, 0.5, 4, dtype=torch.float64)


def test_documented_defaults():
    """n_steps = 1 and snr = 0.16 (Song et al.'s LangevinCorrector) for the corrector and pc;
    1000 steps for sample's fixed grids (a mutated default, e.g. snr 1.16, fails here)."""
    assert inspect.signature(langevin_corrector).parameters["n_steps"].default == 1
    assert inspect.signature(langevin_corrector).parameters["snr"].default == 0.16
    assert inspect.signature(pc).parameters["snr"].default == 0.16
    sde = VESDE()
    for fn, kw in ((langevin_corrector, dict(t=0.5, h=0.1)), (pc, dict(times=TIMES))):
        default = fn(sde, score, X, generator=g(1), **kw)
        explicit = fn(sde, score, X, snr=0.16, generator=g(1), **kw)
        assert torch.equal(default, explicit)
    one = langevin_corrector(sde, score, X, 0.5, 0.1, generator=g(2))
    assert torch.equal(one, langevin_corrector(sde, score, X, 0.5, 0.1, n_steps=1, generator=g(2)))
    res = sample(sde, score, (4, 2), "euler_maruyama", generator=g(3), device="cpu", denoise=False)
    assert res.nfe == 1000 and len(res.times) == 1001


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: langevin_corrector(VESDE(), score, X[0], 0.5, 0.1), "x"),
        (lambda: langevin_corrector(VESDE(), score, X, 0.5, 0.1, n_steps=0), "n_steps"),
        (lambda: langevin_corrector(VESDE(), score, X, 0.5, 0.1, snr=0.0), "snr"),
        (lambda: pc(VESDE(), score, X, TIMES, n_corrector=0), "n_corrector"),
        (lambda: reverse_diffusion(VESDE(), score, X[0], TIMES), "x"),
        (lambda: sample(VESDE(), score, (4, 2), "pc", x_init=X[0], n_steps=2), "x_init"),
        (lambda: sample(VESDE(), score, (4, 2), "pc", t_eps=-0.1, n_steps=2), "t_eps"),
    ],
    ids=["corrector-x", "corrector-n_steps", "corrector-snr", "pc-n_corrector", "grid-x", "x_init", "t_eps"],
)
def test_errors_name_the_argument(call, name):
    with pytest.raises((ValueError, TypeError), match=f"^{name} must be"):
        call()


def test_tweedie_names_a_score_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"^score_fn\(x, t\) must return a tensor of x's shape"):
        tweedie(VESDE(), lambda x, t: x[:, :1], X, 0.5)


def test_the_grid_is_checked_against_the_sde():
    """A grid starting above T = 1 is refused with T named (check_grid takes T, no default)."""
    with pytest.raises(ValueError, match=r"^times must be .* in \[0, T\] = \[0, 1\]"):
        reverse_diffusion(VESDE(), score, X, torch.linspace(1.5, 1.0, 3, dtype=torch.float64))


def test_ancestral_is_refused_before_any_score_call():
    """sub-VP has no ancestral chain: pc and ancestral refuse it at the entry, not after the
    first score evaluation (SDE.ancestral_step would raise the same words, one call late)."""
    calls = []

    def counted(x, t):
        calls.append(1)
        return -x

    for run in (
        lambda: ancestral(SubVPSDE(), counted, X, TIMES),
        lambda: pc(SubVPSDE(), counted, X, TIMES, predictor="ancestral"),
    ):
        with pytest.raises(ValueError, match="^ancestral sampling is defined for VESDE and VPSDE, not SubVPSDE"):
            run()
    assert calls == []
    assert ancestral(VPSDE(), counted, X, TIMES, generator=g(5)).shape == X.shape


@pytest.mark.parametrize(
    "solver, desc", [(reverse_diffusion, "reverse diffusion"), (ancestral, "ancestral"), (pc, "PC (reverse_diffusion)")]
)
def test_progress_bar_shows_the_solvers_name(solver, desc, capsys):
    """progress=True shows a bar named after the solver even for a few steps (progress=None
    would show none below a few hundred score calls)."""
    solver(VESDE(), score, X, TIMES, generator=g(6), progress=True)
    assert desc + ":" in capsys.readouterr().err
    solver(VESDE(), score, X, TIMES, generator=g(6), progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_x_init_moves_to_the_requested_device():
    """sample(x_init=..., device=d) runs on d; without device, on x_init's own device."""
    res = sample(VESDE(), score, (16, 2), "pc", x_init=X, device="cuda", n_steps=2, generator=g(7))
    assert res.x.device.type == "cuda"
    assert sample(VESDE(), score, (16, 2), "pc", x_init=X, n_steps=2).x.device.type == "cpu"
