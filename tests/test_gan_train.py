import copy
import time

import pytest
import torch

from gentoolkit.data import toy2d
from gentoolkit.gan import losses
from gentoolkit.gan.train import CONTROLS, REGULARIZERS, SETUPS, GANTrainer, train_gan
from gentoolkit.nets import MLPDiscriminator, MLPGenerator
from gentoolkit.train import TrainingDiverged, load_checkpoint
from tests.conftest import DEVICES

MIX8 = toy2d.get("8gaussians")


def _nets(seed=0, hidden=16, depth=2, dtype=torch.float32):
    return (
        MLPGenerator(hidden=hidden, depth=depth, seed=seed).to(dtype),
        MLPDiscriminator(hidden=hidden, depth=depth, seed=seed + 1).to(dtype),
    )


def _trainer(seed=0, **kw):
    G, D = _nets(seed)
    kw = {"batch_size": 32, "n_eval": 256, "log_every": 5, "device": "cpu", "seed": seed, **kw}
    return GANTrainer(MIX8, G, D, **kw)


def _params(*modules):
    return [p.detach().clone() for m in modules for p in m.parameters()]


# ---------------------------------------------------------------------- MLPGenerator
def test_mlp_generator_shapes_seeding_and_checks():
    G = MLPGenerator(latent_dim=3, dim=2, hidden=8, depth=2, seed=4)
    z = torch.randn(5, 3)
    assert G.latent_dim == 3 and G(z).shape == (5, 2)
    assert torch.equal(G(z), MLPGenerator(latent_dim=3, hidden=8, depth=2, seed=4)(z))
    assert not torch.equal(G(z), MLPGenerator(latent_dim=3, hidden=8, depth=2, seed=5)(z))
    state = torch.random.get_rng_state()
    MLPGenerator(seed=1)
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is left alone
    assert len([m for m in G.net if isinstance(m, torch.nn.Linear)]) == 3  # depth hidden layers + output
    with pytest.raises(ValueError, match=r"z must be a tensor of shape \(n, 3\), got \(5, 2\)"):
        G(torch.randn(5, 2))
    with pytest.raises(ValueError, match="latent_dim must be a positive integer, got 0"):
        MLPGenerator(latent_dim=0)
    with pytest.raises(TypeError, match="hidden must be an int"):
        MLPGenerator(hidden=2.5)


# ---------------------------------------------------------------------- argument checks
def test_bad_arguments_name_the_argument():
    G, D = _nets()
    with pytest.raises(ValueError, match=r"loss='mse' is not known; expected one of \['minimax', 'ns'"):
        GANTrainer(MIX8, G, D, loss="mse", device="cpu")
    with pytest.raises(TypeError, match="loss must be a loss name"):
        GANTrainer(MIX8, G, D, loss=losses.get("ns"), device="cpu")
    with pytest.raises(ValueError, match=r"regularizer='sn' is not known; expected None or one of \['clip', 'gp'"):
        GANTrainer(MIX8, G, D, regularizer="sn", device="cpu")
    with pytest.raises(ValueError, match="reg_weight=5 was given but regularizer is None"):
        GANTrainer(MIX8, G, D, reg_weight=5.0, device="cpu")
    with pytest.raises(ValueError, match="reg_weight must be a finite number > 0, got -1.0"):
        GANTrainer(MIX8, G, D, regularizer="gp", reg_weight=-1.0, device="cpu")
    with pytest.raises(ValueError, match="lr_d must be a finite number > 0, got 0.0"):
        GANTrainer(MIX8, G, D, lr_d=0.0, device="cpu")
    with pytest.raises(ValueError, match="lr_g must be a finite number > 0, got nan"):
        GANTrainer(MIX8, G, D, lr_g=float("nan"), device="cpu")
    with pytest.raises(ValueError, match="n_d must be a positive integer, got 0"):
        GANTrainer(MIX8, G, D, n_d=0, device="cpu")
    with pytest.raises(ValueError, match=r"betas must both lie in \[0, 1\)"):
        GANTrainer(MIX8, G, D, betas=(0.5, 1.0), device="cpu")
    with pytest.raises(TypeError, match="betas must be a pair of numbers"):
        GANTrainer(MIX8, G, D, betas=0.5, device="cpu")
    with pytest.raises(ValueError, match=r"setup='adam' is not known; expected one of \['dcgan', 'wgan-gp'\]"):
        GANTrainer(MIX8, G, D, setup="adam", device="cpu")
    with pytest.raises(ValueError, match="unrolled_steps must be an integer >= 0, got -1"):
        GANTrainer(MIX8, G, D, unrolled_steps=-1, device="cpu")
    with pytest.raises(TypeError, match="unroll_backprop must be True or False"):
        GANTrainer(MIX8, G, D, unroll_backprop="yes", device="cpu")
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        GANTrainer(MIX8, G, D, batch_size=0, device="cpu")
    with pytest.raises(ValueError, match="device='tpu' is not a device"):
        GANTrainer(MIX8, G, D, device="tpu")
    with pytest.raises(TypeError, match="data must be a Mixture2D"):
        GANTrainer([[0.0, 1.0]], G, D, device="cpu")
    with pytest.raises(ValueError, match=r"data must be a floating-point tensor of shape \(N, d\).*got shape \(5,\)"):
        GANTrainer(torch.zeros(5), G, D, device="cpu")
    with pytest.raises(TypeError, match="critic must be a torch.nn.Module"):
        GANTrainer(MIX8, G, lambda x: x, device="cpu")
    with pytest.raises(TypeError, match="generator must have an int attribute latent_dim"):
        GANTrainer(MIX8, torch.nn.Linear(2, 2), D, device="cpu")
    with pytest.raises(ValueError, match="n_steps must be a positive integer, got 0"):
        train_gan(MIX8, G, D, n_steps=0, device="cpu")
    with pytest.raises(TypeError, match="callback must be callable"):
        train_gan(MIX8, G, D, n_steps=1, callback=3, device="cpu")


def test_shape_mismatches_are_caught_at_construction():
    G, D = _nets()
    with pytest.raises(
        ValueError, match=r"generator must map z of shape \(n, 2\) to samples of shape \(n, 2\).*\(2, 3\)"
    ):
        GANTrainer(MIX8, MLPGenerator(dim=3, hidden=8), D, device="cpu")
    with pytest.raises(ValueError, match=r"generator must map .* \(n, 3\) like the data's"):
        GANTrainer(torch.randn(10, 3), G, MLPDiscriminator(dim=3, hidden=8), device="cpu")
    wide = torch.nn.Sequential(torch.nn.Linear(2, 2))  # two outputs per point
    with pytest.raises(
        ValueError, match=r"critic must return one value per point, shape \(2,\) or \(2, 1\); got \(2, 2\)"
    ):
        GANTrainer(MIX8, G, wide, device="cpu")
    tr = _trainer()
    with pytest.raises(ValueError, match="mixture needs 2D data"):
        GANTrainer(torch.randn(10, 3), MLPGenerator(dim=3, hidden=8), MLPDiscriminator(dim=3, hidden=8), mixture=MIX8)
    with pytest.raises(ValueError, match=r"generator must map .* \(n, 3\)"):
        tr.data = torch.randn(10, 3)  # the live view's drawn points must fit the generator too
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        tr.step(0)


def test_setups_are_the_thesis_ones_and_fill_the_defaults():
    assert SETUPS["dcgan"] == {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "n_d": 1}
    assert SETUPS["wgan-gp"] == {"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9), "n_d": 5}
    tr = _trainer(setup="wgan-gp", lr_d=3e-4)
    assert (tr.lr_g, tr.lr_d, tr.betas, tr.n_d) == (1e-4, 3e-4, (0.5, 0.9), 5)  # an explicit argument wins
    assert tr.opt_d.param_groups[0]["betas"] == (0.5, 0.9)


# ---------------------------------------------------------------------- determinism and resume
def test_same_seed_same_run_and_another_seed_differs():
    runs = []
    for seed in (3, 3, 4):
        G, D = _nets(0)
        h = train_gan(
            MIX8,
            G,
            D,
            n_steps=6,
            batch_size=32,
            regularizer="gp",
            n_d=2,
            n_eval=128,
            log_every=3,
            seed=seed,
            progress=False,
            device="cpu",
        )
        runs.append((h, _params(G, D)))
    (a, pa), (b, pb), (c, pc) = runs
    assert a == b and all(torch.equal(p, q) for p, q in zip(pa, pb))
    assert a.g_loss != c.g_loss and not torch.equal(pa[0], pc[0])


@pytest.mark.parametrize(
    "extra",
    [{}, {"regularizer": "gp", "n_d": 2, "unrolled_steps": 2}, {"regularizer": "r1", "reg_every": 3}],
    ids=["plain", "gp-nd2-unrolled", "lazy-r1"],
)
def test_resume_is_exact(tmp_path, extra):
    """2k steps in one run == k steps, a checkpoint, a fresh process-like resume and k more
    steps: bit for bit in both networks and the whole history (GP interpolation, n_d critic
    steps and the unrolled critic's batches all come from the checkpointed generator)."""
    kw = {"batch_size": 32, "n_eval": 128, "log_every": 3, "seed": 7, "progress": False, "device": "cpu", **extra}
    G, D = _nets(0)
    full = train_gan(MIX8, G, D, n_steps=10, **kw)
    ck = tmp_path / "gan.pt"
    G1, D1 = _nets(0)
    half = train_gan(MIX8, G1, D1, n_steps=5, checkpoint=ck, **kw)
    assert half.steps == 5 and load_checkpoint(ck)["step"] == 5
    G2, D2 = _nets(99)  # another init: everything must come from the file
    resumed = train_gan(MIX8, G2, D2, n_steps=10, checkpoint=ck, resume=True, **kw)
    assert resumed == full and resumed.eval_steps == [3, 6, 9]
    for p, q in zip(_params(G, D), _params(G2, D2)):
        assert torch.equal(p, q)


def test_trainer_save_load_continues_exactly_and_restores_controls(tmp_path):
    a = _trainer(regularizer="r1", n_d=2)
    a.step(4)
    a.configure(lr_g=5e-4, loss="lsgan", reg_weight=0.5)
    a.save(tmp_path / "t.pt")
    b = _trainer(seed=11)  # other seed, other controls: the file decides
    b.load(tmp_path / "t.pt")
    assert b.controls == a.controls and b.steps == 4 and b.opt_g.param_groups[0]["lr"] == 5e-4
    a.step(3)
    b.step(3)
    assert a.history == b.history and torch.equal(a.samples(), b.samples())  # the same evaluation noise
    assert all(torch.equal(p, q) for p, q in zip(_params(a.generator, a.critic), _params(b.generator, b.critic)))


# ---------------------------------------------------------------------- divergence
def test_nan_critic_stops_with_step_loss_and_fix():
    class NanLater(MLPDiscriminator):
        calls = 0

        def forward(self, x):
            NanLater.calls += 1
            out = super().forward(x)
            return out * float("nan") if NanLater.calls > 7 else out

    G = MLPGenerator(hidden=8, seed=0)
    D = NanLater(hidden=8, seed=0)
    tr = GANTrainer(MIX8, G, D, batch_size=16, device="cpu")  # the probe at construction is call 1
    tr.step(2)  # calls 2-7: each step has two critic calls in the critic step and one in G's
    before = _params(G, D)
    message = (
        r"training diverged at step 2: the critic \(ns\) loss is nan\. Likely fix: "
        r"lower lr_d \(now 0\.0002\) and lr_g \(now 0\.0002\), add a gradient penalty"
    )
    with pytest.raises(TrainingDiverged, match=message):
        tr.step()
    assert all(torch.equal(p, q) for p, q in zip(before, _params(G, D)))  # the bad update was not applied
    assert tr.steps == 2


def test_nan_generator_loss_is_named():
    class NanOnGrad(MLPDiscriminator):
        def forward(self, x):  # fakes carry a graph only in the generator's step
            out = super().forward(x)
            return out * float("nan") if x.requires_grad else out

    tr = GANTrainer(MIX8, MLPGenerator(hidden=8), NanOnGrad(hidden=8), batch_size=16, regularizer="clip", device="cpu")
    with pytest.raises(
        TrainingDiverged, match=r"at step 0: the generator \(ns\) loss is nan\. .*instead of weight clip"
    ):
        tr.step()


def test_huge_learning_rate_diverges():
    G, D = _nets(0)
    with pytest.raises(
        TrainingDiverged, match=r"training diverged at step \d+: the (critic|generator) \(wgan\) loss is"
    ):
        train_gan(
            MIX8, G, D, loss="wgan", lr_g=1e30, lr_d=1e30, n_steps=50, batch_size=32, progress=False, device="cpu"
        )


# ---------------------------------------------------------------------- controls between steps
def test_controls_change_between_steps():
    tr = _trainer()
    tr.step(2)
    assert tr.controls["n_d"] == 1 and int(tr.opt_d.state[next(tr.critic.parameters())]["step"]) == 2
    tr.n_d = 3
    tr.step()
    assert int(tr.opt_d.state[next(tr.critic.parameters())]["step"]) == 5  # 3 critic steps for one G step
    tr.lr_d, tr.lr_g, tr.betas = 1e-3, 5e-4, (0.0, 0.9)
    assert tr.opt_d.param_groups[0]["lr"] == 1e-3 and tr.opt_g.param_groups[0]["lr"] == 5e-4
    assert tr.opt_d.param_groups[0]["betas"] == (0.0, 0.9) == tr.opt_g.param_groups[0]["betas"]
    tr.regularizer = "gp"
    assert tr.reg_weight == REGULARIZERS["gp"] == 10.0
    tr.reg_weight = 2.0
    tr.step()
    assert tr.history.penalty[-1] > 0 and tr.history.penalty[-2] == 0
    tr.regularizer = "r1"
    assert tr.reg_weight == REGULARIZERS["r1"]  # a new regularizer starts from its default weight
    tr.regularizer = "none"
    assert tr.regularizer is None and tr.reg_weight is None
    tr.loss = "hinge"
    tr.unrolled_steps = 1
    tr.batch_size = 8
    tr.step()
    c = tr.controls
    assert (c["loss"], c["unrolled_steps"], c["batch_size"], c["regularizer"]) == ("hinge", 1, 8, None)
    assert tr.steps == 5 and tr.history.eval_steps == [5]  # log_every = 5, on the mixture
    drawn = torch.tensor([[0.0, 0.0], [1.0, 1.0], [1.0, -1.0]])  # the live view's clicked points
    tr.data = drawn
    assert tr.mixture is None
    tr.step(5)  # no mixture, so no mode statistics at step 10
    assert tr.steps == 10 and tr.history.eval_steps == [5] and len(tr.history.g_loss) == 10
    tr.mixture = MIX8  # measured against a mixture given explicitly
    tr.step(5)
    assert tr.history.eval_steps == [5, 15]
    with pytest.raises(ValueError, match="no mixture to measure modes against"):
        GANTrainer(drawn, *_nets(), device="cpu").evaluate()


def test_configure_is_all_or_nothing():
    tr = _trainer(regularizer="gp", reg_weight=3.0)
    before = tr.controls
    with pytest.raises(ValueError, match="n_d must be a positive integer, got 0"):
        tr.configure(lr_g=1e-3, regularizer="r1", n_d=0)
    assert tr.controls == before and tr.opt_g.param_groups[0]["lr"] == before["lr_g"]
    with pytest.raises(TypeError, match=r"unknown control\(s\) \['lr'\]"):
        tr.configure(lr=1e-3)
    tr.configure(regularizer="r1", reg_weight=0.5, lr_g=1e-3)
    assert (tr.regularizer, tr.reg_weight, tr.lr_g) == ("r1", 0.5, 1e-3)
    assert set(tr.controls) == set(CONTROLS)


@pytest.mark.parametrize("name", ["minimax", "ns", "lsgan", "hinge", "wgan", "rsgan", "rasgan", "ralsgan", "f:kl"])
def test_every_loss_and_regularizer_trains(name):
    for reg in (None, *REGULARIZERS):
        tr = _trainer(loss=name, regularizer=reg)
        out = tr.step(2)
        assert out["step"] == 1 and all(torch.isfinite(torch.tensor(v)) for v in out.values())


def test_mode_statistics_are_logged_on_the_fixed_evaluation_noise():
    tr = _trainer(log_every=4)
    z = tr.eval_z.clone()
    tr.step(8)
    h = tr.history
    assert h.eval_steps == [4, 8] and len(h.covered) == len(h.kl) == len(h.high_quality) == 2
    assert torch.equal(z, tr.eval_z) and tr.samples().shape == (256, 2)
    stats = tr.evaluate()
    assert h.covered[-1] == stats["covered"] and h.kl[-1] == stats["kl"]
    assert tr.sample(10, seed=1).shape == (10, 2) and torch.equal(tr.sample(10, seed=1), tr.sample(10, seed=1))


# ---------------------------------------------------------------------- the unrolled critic
def _reference_unrolled(state, critic_after, opt_d_after, G, theta, k, batch, *, grad):
    """What the unrolled generator loss is, written with torch's own Adam on a deep copy of the
    critic: the run's random stream (from the saved ``state``) first draws the real critic step's
    real batch and noise, then k (real batch, noise) pairs for the look-ahead, then the
    generator's noise. Returns the loss at G's parameters ``theta`` (and its gradient in theta
    with the look-ahead critic held fixed, when ``grad``)."""
    g = torch.Generator()
    g.set_state(state["generator"])
    Gt = copy.deepcopy(G)
    with torch.no_grad():
        for p, t in zip(Gt.parameters(), theta):
            p.copy_(t)
    dt = theta[0].dtype
    MIX8.sample(batch, g)
    torch.randn(batch, G.latent_dim, generator=g, dtype=dt)
    Dk = copy.deepcopy(critic_after)
    opt = torch.optim.Adam(Dk.parameters())
    opt.load_state_dict(copy.deepcopy(opt_d_after.state_dict()))
    ns = losses.get("ns")
    for _ in range(k):
        real = MIX8.sample(batch, g).to(dt)
        with torch.no_grad():
            fake = Gt(torch.randn(batch, G.latent_dim, generator=g, dtype=dt))
        opt.zero_grad()
        ns.d_loss(Dk(real), Dk(fake)).backward()
        opt.step()
    value = ns.g_loss(None, Dk(Gt(torch.randn(batch, G.latent_dim, generator=g, dtype=dt))))
    if not grad:
        return value.item()
    return value.item(), torch.autograd.grad(value, list(Gt.parameters()))


@pytest.mark.parametrize("backprop", [False, True])
def test_unrolled_critic_gradient(backprop):
    """First order: the generator's gradient is that of its loss against a deep copy of the
    critic after k more torch-Adam steps. With backprop: the directional derivative matches a
    central finite difference of that loss as a function of G's parameters (the look-ahead
    re-run at each), and differs from the first-order gradient."""
    k, batch = 3, 16
    G, D = _nets(2, hidden=8, depth=1, dtype=torch.float64)
    tr = GANTrainer(
        MIX8,
        G,
        D,
        batch_size=batch,
        lr_d=1e-2,
        betas=(0.8, 0.99),  # beta1 != 1 - beta1, so that a swapped Adam coefficient shows
        unrolled_steps=k,
        unroll_backprop=backprop,
        device="cpu",
        seed=5,
    )
    tr.step(2)
    state = copy.deepcopy(tr.state_dict())
    theta = _params(G)
    critic_before = _params(D)
    out = tr.step()
    grad = [p.grad.clone() for p in G.parameters()]
    critic_after = _params(D)
    # the real critic moved by its one step only; the look-ahead left it and its optimiser alone
    assert int(tr.opt_d.state[next(D.parameters())]["step"]) == 3
    assert not all(torch.equal(p, q) for p, q in zip(critic_before, critic_after))
    value, first_order = _reference_unrolled(state, D, tr.opt_d, G, theta, k, batch, grad=True)
    assert out["g_loss"] == pytest.approx(value, rel=1e-10)
    if not backprop:
        for a, b in zip(grad, first_order):
            torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-12)
        return
    v = [torch.randn(t.shape, generator=torch.Generator().manual_seed(i), dtype=t.dtype) for i, t in enumerate(theta)]
    eps = 1e-6
    plus = _reference_unrolled(state, D, tr.opt_d, G, [t + eps * d for t, d in zip(theta, v)], k, batch, grad=False)
    minus = _reference_unrolled(state, D, tr.opt_d, G, [t - eps * d for t, d in zip(theta, v)], k, batch, grad=False)
    fd = (plus - minus) / (2 * eps)
    analytic = sum((a * d).sum() for a, d in zip(grad, v)).item()
    first = sum((a * d).sum() for a, d in zip(first_order, v)).item()
    assert analytic == pytest.approx(fd, rel=1e-4, abs=1e-8)
    assert abs(analytic - first) > 1e-3 * abs(fd)  # the second-order term is there


def test_look_ahead_leaves_the_critic_alone_with_spectral_norm():
    """functional_call runs the spectrally normalised critic on copies of its power-iteration
    buffers: after an unrolled step the critic's weights equal those of the same step without
    look-ahead (its own critic step comes first), and its buffers saw only that step's two
    forward passes (SN does one power iteration per training-mode forward, whatever the input)."""
    tr = GANTrainer(
        MIX8,
        MLPGenerator(hidden=8),
        MLPDiscriminator(hidden=8, spectral_norm=True),
        batch_size=16,
        unrolled_steps=2,
        device="cpu",
    )
    tr.step()
    ref = copy.deepcopy(tr.state_dict())
    tr.step()
    plain = GANTrainer(
        MIX8, MLPGenerator(hidden=8), MLPDiscriminator(hidden=8, spectral_norm=True), batch_size=16, device="cpu"
    )
    plain.load_state_dict(ref)
    assert plain.unrolled_steps == 2  # the controls come from the state...
    plain.unrolled_steps = 0  # ...and can be changed before the next step
    plain.step()
    for p, q in zip(tr.critic.parameters(), plain.critic.parameters()):
        assert torch.equal(p, q)
    D2 = MLPDiscriminator(hidden=8, spectral_norm=True)
    D2.load_state_dict(ref["netD"])
    D2(torch.zeros(1, 2))
    D2(torch.zeros(1, 2))
    for (n, b), (_, c) in zip(tr.critic.named_buffers(), D2.named_buffers()):
        assert torch.equal(b, c), n


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_device(device):
    G, D = _nets()
    h = train_gan(
        MIX8,
        G,
        D,
        n_steps=3,
        batch_size=16,
        regularizer="gp",
        unrolled_steps=1,
        n_eval=64,
        log_every=3,
        progress=False,
        device=device,
    )
    assert next(G.parameters()).device.type == device and h.steps == 3 and h.eval_steps == [3]


# ---------------------------------------------------------------------- the experiments
@pytest.mark.slow
def test_ns_with_r1_covers_all_8_modes_in_under_2_minutes():
    """ns + R1 (gamma = 1) on "8gaussians", 3 x 128 MLPs, batch 256, lr_g 3e-4 / lr_d 1e-3,
    betas (.5, .999), 600 steps. Measured (seeds 0, 1, 2, 1,000 steps): 8/8 modes from step 100
    on, KL of the mode histogram <= 0.002, high-quality fraction 0.94. This test took 12 s on
    one thread of a 2-core machine busy with other jobs (load ~5), so < 2 min with a wide margin."""
    torch.set_num_threads(1)  # small MLPs: one thread is fastest (two are ~3x slower on a busy 2-core machine)
    G, D = MLPGenerator(seed=0), MLPDiscriminator(seed=100)
    t0 = time.perf_counter()
    h = train_gan(
        MIX8,
        G,
        D,
        loss="ns",
        regularizer="r1",
        lr_g=3e-4,
        lr_d=1e-3,
        n_steps=600,
        log_every=100,
        seed=0,
        progress=False,
        device="cpu",
    )
    seconds = time.perf_counter() - t0
    assert h.covered[-1] == 8 and h.covered[-2] == 8, h.covered
    assert h.kl[-1] < 0.05 and h.high_quality[-1] > 0.8, (h.kl, h.high_quality)
    assert seconds < 120, seconds


@pytest.mark.slow
def test_mode_collapse_on_25gaussians_and_its_absence():
    """The same ns GAN (3 x 128 MLPs, latent 2, batch 256, 2,000 steps) on "25gaussians":

    - Adam's defaults (lr 1e-3 for both networks, betas (.9, .999)), no regularizer: the
      generator collapses onto a few modes; measured at seeds 0, 1, 2: 2, 4, 1 modes covered
      at step 2,000 (at most 5 at any logged step).
    - The DCGAN momentum of 001, Sec. 4.6.1 (betas (.5, .999)), a critic faster than the
      generator (lr_d 1e-3, lr_g 3e-4) and R1 (gamma = 1): 22, 22, 22 modes at step 2,000
      (24, 24, 22 counted on 10,000 samples).

    Asserted with margins: <= 8 and >= 19 modes, and a KL at least 3x larger for the collapsed
    run. Both runs together took 63 s on one thread of a busy 2-core machine.
    """
    torch.set_num_threads(1)
    mix = toy2d.get("25gaussians")
    common = {"loss": "ns", "n_steps": 2000, "log_every": 500, "seed": 0, "progress": False, "device": "cpu"}
    G, D = MLPGenerator(seed=0), MLPDiscriminator(seed=100)
    collapsed = train_gan(mix, G, D, lr_g=1e-3, lr_d=1e-3, betas=(0.9, 0.999), **common)
    G, D = MLPGenerator(seed=0), MLPDiscriminator(seed=100)
    covered = train_gan(mix, G, D, lr_g=3e-4, lr_d=1e-3, betas=(0.5, 0.999), regularizer="r1", **common)
    assert collapsed.covered[-1] <= 8 and covered.covered[-1] >= 19, (collapsed.covered, covered.covered)
    assert collapsed.kl[-1] > 3 * covered.kl[-1], (collapsed.kl, covered.kl)


# ---------------------------------------------------------------------- PacGAN
def test_pack_feeds_the_critic_packs_and_computes_losses_and_penalties_on_them():
    """PacGAN (Lin et al. 2018; 001, Sec. 3): with pack=2 the critic sees (n / 2, 2d) rows
    [x_2i, x_2i+1]; the critic loss is the loss of those packs' outputs and the gradient
    penalty interpolates whole packs (one eps per pack) and takes the gradient per pack."""
    from gentoolkit.gan import regularizers

    G = MLPGenerator(hidden=16, depth=2, seed=0)
    D = MLPDiscriminator(dim=4, hidden=16, depth=2, seed=1)
    seen = []
    D.register_forward_hook(lambda m, inp, out: seen.append(tuple(inp[0].shape)))
    tr = GANTrainer(MIX8, G, D, pack=2, batch_size=32, regularizer="gp", n_eval=64, device="cpu", seed=3)
    seen.clear()
    tr.step()
    assert set(seen) == {(16, 4)}  # every critic call: 16 packs of two 2D points
    real, fake = torch.randn(8, 2, generator=torch.Generator().manual_seed(0)), torch.randn(8, 2)
    rng_state = tr.rng.get_state()
    d, pen = tr._critic_loss(D, real, fake)
    pr, pf = regularizers.pack(real, 2), regularizers.pack(fake, 2)
    assert torch.equal(pr[1], torch.cat([real[2], real[3]]))
    assert torch.allclose(d, losses.get("ns").d_loss(D(pr), D(pf)))
    g = torch.Generator().set_state(rng_state)
    want = tr.reg_weight * regularizers.gradient_penalty(D, pr, pf, generator=g)
    assert torch.allclose(pen, want)
    # R1 on a whole real pack: gamma / 2 * E_packs ||grad_pack D||^2
    tr2 = GANTrainer(MIX8, G, D, pack=2, batch_size=32, regularizer="r1", reg_weight=3.0, n_eval=64, device="cpu")
    _, pen = tr2._critic_loss(D, real, fake)
    x = pr.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x)
    assert torch.allclose(pen, 1.5 * (grad**2).sum(dim=1).mean())


def test_pack_trains_resumes_exactly_and_names_bad_values(tmp_path):
    kw = {"batch_size": 32, "n_eval": 64, "log_every": 4, "seed": 2, "progress": False, "device": "cpu", "pack": 4}
    G, D = MLPGenerator(hidden=16, seed=0), MLPDiscriminator(dim=8, hidden=16, seed=1)
    full = train_gan(MIX8, G, D, n_steps=6, **kw)
    ck = tmp_path / "pac.pt"
    train_gan(MIX8, MLPGenerator(hidden=16, seed=0), MLPDiscriminator(dim=8, hidden=16, seed=1), n_steps=3,
              checkpoint=ck, **kw)  # fmt: skip
    G2, D2 = MLPGenerator(hidden=16, seed=5), MLPDiscriminator(dim=8, hidden=16, seed=6)
    assert train_gan(MIX8, G2, D2, n_steps=6, checkpoint=ck, resume=True, **kw) == full
    assert all(torch.equal(p, q) for p, q in zip(_params(G, D), _params(G2, D2)))
    G, D = _nets()
    with pytest.raises(ValueError, match="pack must be a positive integer, got 0"):
        GANTrainer(MIX8, G, D, pack=0, device="cpu")
    with pytest.raises(ValueError, match=r"batch_size=30 must be a multiple of pack=4"):
        GANTrainer(MIX8, G, MLPDiscriminator(dim=8, hidden=16), pack=4, batch_size=30, device="cpu")
    with pytest.raises(ValueError, match=r"critic must take packs of 2 samples, shape \(4,\); it failed"):
        GANTrainer(MIX8, G, D, pack=2, device="cpu")  # D takes 2D points, not packs of two
    tr = GANTrainer(MIX8, G, MLPDiscriminator(dim=4, hidden=16), pack=2, batch_size=32, device="cpu")
    with pytest.raises(ValueError, match=r"batch_size=33 must be a multiple of pack=2"):
        tr.batch_size = 33
    assert tr.batch_size == 32


@pytest.mark.parametrize("regularizer, weight", [("r1", 3.0), ("gp", 2.0)])
def test_lazy_regularization_is_the_penalty_every_kth_step_times_k(regularizer, weight):
    """reg_every = k (Karras et al. 2020, Sec. 3.1): the run equals, bit for bit, a run whose
    regularizer is switched off in the steps that are not multiples of k and set to k times the
    weight in those that are; the history's penalty is 0 in between. k = 1 is the plain run."""
    k, n = 3, 7
    lazy = _trainer(regularizer=regularizer, reg_weight=weight, reg_every=k, n_d=2)
    by_hand = _trainer(regularizer=regularizer, reg_weight=weight, n_d=2)
    for step in range(n):
        if step % k == 0:
            by_hand.configure(regularizer=regularizer, reg_weight=k * weight)
        else:
            by_hand.configure(regularizer=None)
        lazy.step()
        by_hand.step()
    assert lazy.history.penalty == by_hand.history.penalty
    assert [p != 0 for p in lazy.history.penalty] == [s % k == 0 for s in range(n)]
    for p, q in zip(_params(lazy.generator, lazy.critic), _params(by_hand.generator, by_hand.critic)):
        assert torch.equal(p, q)
    plain, every = (
        _trainer(regularizer=regularizer, reg_weight=weight),
        _trainer(regularizer=regularizer, reg_weight=weight, reg_every=1),
    )
    plain.step(3)
    every.step(3)
    assert plain.history.penalty == every.history.penalty


def test_lazy_regularization_needs_a_penalty():
    with pytest.raises(ValueError, match=r"^reg_every must be a positive integer, got 0"):
        _trainer(regularizer="r1", reg_every=0)
    for reg in (None, "clip"):
        with pytest.raises(
            ValueError, match=rf"^reg_every=4 applies a penalty every 4 steps, but regularizer is {reg!r}"
        ):
            _trainer(regularizer=reg, reg_every=4)
    with pytest.raises(ValueError, match=r"^reg_every=2 .* regularizer is None; choose a penalty"):
        train_gan(MIX8, *_nets(), n_steps=1, reg_every=2, progress=False, device="cpu")
