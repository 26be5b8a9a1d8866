"""The loop every trainer shares (gentoolkit.train.run_loop): EMA, CSV logs, PNG sample grids, and
exact resume of all of it, for the score trainer and the GAN trainer on images."""

import csv
import math

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from gentoolkit.data import toy2d
from gentoolkit.gan import train_gan
from gentoolkit.nets import DCGANDiscriminator, DCGANGenerator, ScoreMLP
from gentoolkit.plots import image_grid, save_image_grid
from gentoolkit.train import EMA, RunLog, batch_sampler, train_score

MIX = toy2d.get("8gaussians")


# ------------------------------------------------------------------------------------------ EMA
def test_ema_is_the_closed_form_weighted_sum():
    """After weights w_1..w_k (one update each), shadow = d^k w_0 + (1 - d) sum_i d^(k - i) w_i: catches
    decay and 1 - decay swapped, an update before the step, and the shadow sharing the weights'
    storage. Integer buffers (BatchNorm's step count) are copied, float buffers averaged."""
    net = nn.Sequential(nn.Linear(1, 1, bias=False), nn.BatchNorm1d(1))
    with torch.no_grad():
        net[0].weight.fill_(2.0)
    ema, d = EMA(net, 0.75), 0.75
    ws = [3.0, -1.0, 5.0]
    for w in ws:
        with torch.no_grad():
            net[0].weight.fill_(w)
            net[1].running_mean.fill_(10 * w)
            net[1].num_batches_tracked += 1
        ema.update()
    ref = d**3 * 2.0 + (1 - d) * sum(d ** (3 - i) * w for i, w in enumerate(ws, start=1))
    assert ema.module[0].weight.item() == pytest.approx(ref, rel=1e-6)
    ref_bn = d**3 * 0.0 + (1 - d) * sum(d ** (3 - i) * 10 * w for i, w in enumerate(ws, start=1))
    assert ema.module[1].running_mean.item() == pytest.approx(ref_bn, rel=1e-6)
    assert ema.module[1].num_batches_tracked.item() == 3
    assert not ema.module.training and not any(p.requires_grad for p in ema.module.parameters())


def test_ema_warmup_follows_the_decays_min_decay_1_plus_t_over_10_plus_t():
    """With warm-up the shadow after updates t = 0..k-1 of a constant weight w is
    w + (w_0 - w) prod_t d_t, d_t = min(decay, (1 + t) / (10 + t)): 0.1 at t = 0, the ramp until
    (1 + t) / (10 + t) reaches decay (t = 8991 for .999), then decay. Catches the ramp's 1 and 10
    swapped or shifted by one, max for min, and the plain decay (prod = .999^k) used throughout."""
    ema = EMA(nn.Linear(1, 1, bias=False), 0.999, warmup=True)
    assert ema.decay_at(0) == pytest.approx(0.1)
    assert ema.decay_at(1) == pytest.approx(2 / 11)
    assert ema.decay_at(8990) == pytest.approx(8991 / 9000)
    assert ema.decay_at(8991) == 0.999 and ema.decay_at(10**6) == 0.999
    assert EMA(nn.Linear(1, 1), 0.999).decay_at(0) == 0.999
    net = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        net.weight.fill_(2.0)
    ema = EMA(net, 0.5, warmup=True)
    with torch.no_grad():
        net.weight.fill_(-1.0)
    for t in range(20):
        ema.update(t)
    prod = math.prod(min(0.5, (1 + t) / (10 + t)) for t in range(20))
    assert ema.module.weight.item() == pytest.approx(-1.0 + 3.0 * prod, rel=1e-12)
    assert prod != pytest.approx(0.5**20, rel=0.5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e.update(), r"^EMA\(warmup=True\)\.update needs t, the number of the update \(0 for the first\)$"),
        (lambda e: e.update(-1), r"^t must be an int >= 0 \(the number of the update\), got -1$"),
        (lambda e: e.update(1.0), r"^t must be an int >= 0 \(the number of the update\), got 1\.0$"),
        (lambda e: e.update(True), r"^t must be an int >= 0 \(the number of the update\), got True$"),
    ],
)
def test_ema_update_checks_t(call, message):
    with pytest.raises(ValueError, match=message):
        call(EMA(nn.Linear(1, 1), 0.9, warmup=True))


def test_ema_warmup_must_be_a_bool():
    with pytest.raises(TypeError, match=r"^warmup must be True or False, got 1$"):
        EMA(nn.Linear(1, 1), 0.9, warmup=1)


@pytest.mark.parametrize("decay", [1.0, -0.1, "0.9", True])
def test_ema_decay_must_lie_in_0_1(decay):
    with pytest.raises(ValueError, match=rf"^ema decay must be a number in \[0, 1\), got {decay!r}$"):
        EMA(nn.Linear(1, 1), decay)


# ------------------------------------------------------------------------------------------ score trainer
def _score_run(tmp_path, n_steps, *, resume=False, kill_at=None, name="run"):
    net = ScoreMLP(seed=0, hidden=16, depth=1)

    def callback(step, loss):
        if step == kill_at:
            raise KeyboardInterrupt  # killed after the checkpoint of step kill_at

    try:
        res = train_score(
            net,
            MIX,
            torch.tensor([0.5, 1.0]),
            n_steps=n_steps,
            batch_size=32,
            seed=3,
            device="cpu",
            progress=False,
            checkpoint=tmp_path / f"{name}.pt",
            checkpoint_every=4,
            resume=resume,
            callback=callback,
            ema=0.9,
            log=tmp_path / f"{name}.csv",
            log_every=2,
        )
    except KeyboardInterrupt:
        return None
    return net, res


def test_score_run_killed_after_a_checkpoint_resumes_bit_for_bit_with_its_ema_and_log(tmp_path):
    """Killed at step 5 (checkpoint at 4, log rows up to 4 written), then resumed: the weights, the EMA
    and the loss history equal the uninterrupted run's exactly, and the CSV holds each logged step
    once, with the uninterrupted run's values (the rows written after the checkpoint are dropped)."""
    net_a, res_a = _score_run(tmp_path, 10, name="a")
    assert _score_run(tmp_path, 10, kill_at=5, name="b") is None
    net_b, res_b = _score_run(tmp_path, 10, resume=True, name="b")
    for pa, pb in zip(net_a.state_dict().values(), net_b.state_dict().values()):
        assert torch.equal(pa, pb)
    for pa, pb in zip(res_a.ema.state_dict().values(), res_b.ema.state_dict().values()):
        assert torch.equal(pa, pb)
    assert not torch.equal(res_a.ema.state_dict()["net.0.weight"], net_a.state_dict()["net.0.weight"])
    assert res_a.history == res_b.history
    rows = {n: list(csv.DictReader(open(tmp_path / f"{n}.csv"))) for n in "ab"}
    assert [r["step"] for r in rows["b"]] == ["0", "2", "4", "6", "8"]
    assert rows["a"] == rows["b"]
    assert [float(r["loss"]) for r in rows["a"]] == res_a.history[::2]


def test_run_log_keeps_only_the_rows_before_the_resumed_step(tmp_path):
    log = RunLog(tmp_path / "l.csv")
    for step in range(6):
        log.write(step, {"a": step, "b": -step})
    log.close()
    log = RunLog(tmp_path / "l.csv", start=3)
    log.write(3, {"a": 30, "b": -30})
    log.close()
    rows = list(csv.DictReader(open(tmp_path / "l.csv")))
    assert [(r["step"], r["a"]) for r in rows] == [("0", "0"), ("1", "1"), ("2", "2"), ("3", "30")]


# ------------------------------------------------------------------------------------------ grids
def test_image_grid_places_image_k_at_row_k_div_nrow_and_column_k_mod_nrow():
    """Each image is a constant, so its tile is found by value: catches rows and columns swapped,
    a missing [-1, 1] -> [0, 1] map, and padding that is not white."""
    n, h, w, p = 5, 3, 4, 1
    imgs = torch.linspace(-1, 0.6, n)[:, None, None, None].expand(n, 1, h, w)
    g = image_grid(imgs, nrow=2, padding=p)
    assert g.shape == (1, 3 * (h + p) + p, 2 * (w + p) + p)
    for k in range(n):
        r, c = divmod(k, 2)
        tile = g[0, p + r * (h + p) : p + r * (h + p) + h, p + c * (w + p) : p + c * (w + p) + w]
        assert torch.allclose(tile, (imgs[k, 0] + 1) / 2)
    assert g[0, 0].eq(1).all() and g[0, :, 0].eq(1).all()
    assert g[0, p + 2 * (h + p) :, p + (w + p) :].eq(1).all()  # the empty sixth tile


def test_saved_png_reads_back_as_the_grid(tmp_path):
    x = torch.rand(6, 3, 5, 5, generator=torch.Generator().manual_seed(0)) * 2 - 1
    save_image_grid(x, tmp_path / "g.png", nrow=3)
    back = torch.from_numpy(plt.imread(tmp_path / "g.png")[..., :3]).permute(2, 0, 1)
    assert (back - image_grid(x, nrow=3)).abs().max() <= 0.5 / 255 + 1e-6
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]  # no temporary file left


@pytest.mark.parametrize(
    "images, message",
    [
        (torch.zeros(2, 5, 5), r"^images must be a tensor of shape \(n, C, H, W\), got \(2, 5, 5\)$"),
        (torch.zeros(0, 1, 5, 5), r"^images must hold at least one image, got n = 0$"),
    ],
)
def test_grid_bad_input(images, message):
    with pytest.raises(ValueError, match=message):
        image_grid(images)


# ------------------------------------------------------------------------------------------ GANs on images
def _digits(n=64):
    """Small 28x28 'digits': a bright square at a random place, in [-1, 1]."""
    g = torch.Generator().manual_seed(0)
    x = -torch.ones(n, 1, 28, 28)
    r, c = torch.randint(0, 20, (2, n), generator=g)
    for i in range(n):  # building test data, not a code path under test
        x[i, 0, r[i] : r[i] + 8, c[i] : c[i] + 8] = 1.0
    return x


def _gan_run(tmp_path, n_steps, *, resume=False, kill_at=None):
    G = DCGANGenerator(latent_dim=8, width=8, seed=1)
    D = DCGANDiscriminator(width=8, seed=2)

    def callback(step, out):
        if step == kill_at:
            raise KeyboardInterrupt

    try:
        h = train_gan(
            _digits(),
            G,
            D,
            n_steps=n_steps,
            batch_size=8,
            seed=5,
            device="cpu",
            progress=False,
            checkpoint=tmp_path / "gan.pt",
            checkpoint_every=3,
            resume=resume,
            callback=callback,
            ema=0.8,
            ema_warmup=True,  # decays depend on the step: a resume that lost it would differ
            log=tmp_path / "gan.csv",
            sample_every=3,
            sample_dir=tmp_path / "grids",
            n_grid=4,
        )
    except KeyboardInterrupt:
        return None
    return G, D, h


def test_image_gan_resumes_bit_for_bit_and_saves_grids(tmp_path):
    """A DCGAN on 28x28 images with an EMA of G: killed after the step-3 checkpoint and resumed, it ends
    with the same G, D and EMA weights, bit for bit, as an uninterrupted run; PNG grids of the EMA
    generator on fixed latents are written at steps 3 and 6 and the final step 7."""
    G_a, D_a, h_a = _gan_run(tmp_path / "a", 7)
    assert _gan_run(tmp_path / "b", 7, kill_at=4) is None
    G_b, D_b, h_b = _gan_run(tmp_path / "b", 7, resume=True)
    for ma, mb in ((G_a, G_b), (D_a, D_b), (h_a.ema, h_b.ema)):
        for pa, pb in zip(ma.state_dict().values(), mb.state_dict().values()):
            assert torch.equal(pa, pb)
    assert h_a.g_loss == h_b.g_loss
    names = sorted(p.name for p in (tmp_path / "a" / "grids").iterdir())
    assert names == ["step_000003.png", "step_000006.png", "step_000007.png"]
    png = plt.imread(tmp_path / "a" / "grids" / "step_000007.png")
    assert png.shape[:2] == (2 * 30 + 2, 2 * 30 + 2)  # 4 images of 28 + 2 padding, 2 per row
    with torch.no_grad():
        want = image_grid(h_a.ema(torch.randn(4, 8, generator=torch.Generator().manual_seed(5))))
    assert (torch.from_numpy(png[..., 0]) - want[0]).abs().max() <= 0.5 / 255 + 1e-6


def test_batch_sampler_draws_from_an_image_dataset_with_the_generator():
    class Images:
        def __init__(self):
            self.x = torch.arange(10.0)[:, None, None, None].expand(10, 1, 2, 2)

        def __len__(self):
            return 10

        def batch(self, idx, device=None):
            idx = torch.as_tensor(idx)
            return self.x[idx].to(device), idx

    draw = batch_sampler(Images(), 5, torch.device("cpu"))
    a, b = draw(torch.Generator().manual_seed(0)), draw(torch.Generator().manual_seed(0))
    idx = torch.randint(10, (5,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and torch.equal(a[:, 0, 0, 0], idx.float())


def test_gan_on_an_image_dataset_checks_the_generator_shape():
    with pytest.raises(ValueError, match=r"to samples of shape \(n, 1, 28, 28\) like the data's; got \(2, 1, 32, 32\)"):
        train_gan(_digits(8), DCGANGenerator(8, image_size=32, width=4), DCGANDiscriminator(width=4), n_steps=1)


def test_score_trainer_writes_sample_grids_from_the_ema_in_eval_mode(tmp_path):
    """sample_fn gets the model to sample from: the EMA copy when there is one, else the network, in
    eval mode; the grids land at every sample_every steps and at the end."""
    fixed = torch.linspace(-1, 1, 4 * 9).reshape(4, 1, 3, 3)
    seen = []

    def sample_fn(model):
        seen.append((model, model.training, torch.is_grad_enabled()))
        return fixed.clone()

    net = ScoreMLP(hidden=8, depth=1)
    res = train_score(
        net, MIX, 0.5, n_steps=5, batch_size=8, progress=False, device="cpu", ema=0.9,
        sample_fn=sample_fn, sample_every=2, sample_dir=tmp_path / "ema",
    )  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "ema").iterdir()) == [
        "step_000002.png",
        "step_000004.png",
        "step_000005.png",
    ]
    assert [m is res.ema for m, _, _ in seen] == [True] * 3 and not any(t or g for _, t, g in seen)
    seen.clear()
    train_score(
        net, MIX, 0.5, n_steps=2, batch_size=8, progress=False, device="cpu",
        sample_fn=sample_fn, sample_every=2, sample_dir=tmp_path / "raw",
    )  # fmt: skip
    assert [(m is net, t) for m, t, _ in seen] == [(True, False)]
    with pytest.raises(ValueError, match="^sample_dir must be a folder when sample_fn is given"):
        train_score(ScoreMLP(), MIX, 0.5, n_steps=1, progress=False, sample_fn=lambda: fixed)


def test_trainer_numbers_the_ema_updates_from_0():
    """The loop passes the step as the update's number: after a 2-step run with warm-up the EMA is
    w0 d0 d1 + w1 (1 - d0) d1 + w2 (1 - d1), d0 = 0.1, d1 = 2/11, where w_k are the weights after
    k steps (recorded by the callback). Numbering from 1 (d0 = 2/11) would differ by about 0.5."""
    net = ScoreMLP(hidden=8, depth=1, seed=4)
    ws = [net.net[0].weight.detach().clone()]
    out = train_score(
        net, MIX, 0.5, n_steps=2, batch_size=8, lr=0.5, lr_decay=False, progress=False, device="cpu",
        ema=0.999, ema_warmup=True, callback=lambda step, loss: ws.append(net.net[0].weight.detach().clone()),
    )  # fmt: skip
    res_w = ws[0] * 0.1 * (2 / 11) + ws[1] * 0.9 * (2 / 11) + ws[2] * (9 / 11)
    torch.testing.assert_close(out.ema.net[0].weight, res_w, rtol=1e-6, atol=1e-7)
    assert (ws[2] - ws[0]).abs().max() > 0.1  # the lr is large enough for a wrong d to show


@pytest.mark.parametrize("precision", ["fp16", "BF16", None])
def test_trainers_check_precision_first(precision, tmp_path):
    msg = rf"^precision={precision!r} is not known; expected one of \['fp32', 'bf16'\]$"
    with pytest.raises(ValueError, match=msg):
        train_score(ScoreMLP(), MIX, 0.5, n_steps=1, progress=False, device="cpu", precision=precision)
    G, D = DCGANGenerator(8, width=4), DCGANDiscriminator(width=4)
    with pytest.raises(ValueError, match=msg):
        train_gan(torch.zeros(4, 1, 28, 28), G, D, n_steps=1, progress=False, device="cpu", precision=precision)


def test_bf16_runs_the_forward_passes_in_bf16_and_keeps_the_weights_float32():
    """Under precision="bf16" the convolutions compute in bf16: the run differs from the float32 one
    by about bf16's rounding (relative 2^-8), not more; weights and EMA stay float32."""
    out = {}
    for precision in ("fp32", "bf16"):
        G, D = DCGANGenerator(8, width=4, seed=1), DCGANDiscriminator(width=4, seed=2)
        data = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
        h = train_gan(data, G, D, n_steps=2, batch_size=8, progress=False, device="cpu", ema=0.5, precision=precision)
        out[precision] = (G, h)
    (_, h32), (g16, h16) = out["fp32"], out["bf16"]
    assert all(p.dtype == torch.float32 for p in [*g16.parameters(), *h16.ema.parameters()])
    assert h32.d_loss != h16.d_loss
    assert h32.d_loss[0] == pytest.approx(h16.d_loss[0], rel=0.05)
