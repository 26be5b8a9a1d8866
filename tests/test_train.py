import os
import pickle

import pytest
import torch

from gentoolkit.data import toy2d
from gentoolkit.metrics import score_error
from gentoolkit.nets import ScoreMLP
from gentoolkit.train import TrainingDiverged, load_checkpoint, save_checkpoint, train_score
from tests.conftest import DEVICES

SIGMAS = torch.logspace(-1.3, 0.5, 40)  # 0.05 .. 3.16, as notebook 01
EVAL = torch.logspace(-1, 0, 10)  # the range, sigma in [0.1, 1]


@pytest.mark.slow
def test_dsm_on_8gaussians_reaches_15_percent_score_error():
    mix = toy2d.get("8gaussians")
    net = ScoreMLP(data_std=2.0, seed=0)
    train_score(net, mix, SIGMAS, n_steps=3000, seed=0, progress=False, device="cpu")
    err = score_error(net, mix, EVAL, n=8192, seed=123)
    assert err.mean() < 0.15, err


@pytest.mark.slow
def test_ssm_training_learns_the_score():
    mix = toy2d.get("8gaussians")
    net = ScoreMLP(data_std=2.0, seed=0)
    before = score_error(net, mix, EVAL, seed=1).mean()
    train_score(net, mix, SIGMAS, loss="ssm", n_steps=1500, progress=False, device="cpu")
    after = score_error(net, mix, EVAL, seed=1).mean()
    assert before > 0.9 and after < 0.25, (before, after)


def _short(tmp_path=None, n_steps=30, **kw):
    net = ScoreMLP(hidden=32, depth=2, seed=3)
    r = train_score(
        net, toy2d.get("moons"), SIGMAS, n_steps=n_steps, batch_size=64, seed=5, progress=False, device="cpu", **kw
    )
    return net, r


def test_same_seed_same_run():
    (a, ra), (b, rb) = _short(), _short()
    assert ra.history == rb.history
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    net = ScoreMLP(hidden=32, depth=2, seed=3)
    rc = train_score(net, toy2d.get("moons"), SIGMAS, n_steps=30, batch_size=64, seed=6, progress=False, device="cpu")
    assert rc.history != ra.history


def test_resume_is_exact(tmp_path):
    ck = tmp_path / "ck.pt"
    full_net, full = _short(n_steps=40)

    # a run of 40 steps killed after step 20 (checkpoint every 10), then resumed from the file
    def kill(step, loss):
        if step == 22:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _short(n_steps=40, checkpoint=ck, checkpoint_every=10, callback=kill)
    assert load_checkpoint(ck)["step"] == 20
    net = ScoreMLP(hidden=32, depth=2, seed=99)  # different init: everything comes from the file
    r = train_score(
        net,
        toy2d.get("moons"),
        SIGMAS,
        n_steps=40,
        batch_size=64,
        seed=5,
        progress=False,
        device="cpu",
        checkpoint=ck,
        resume=True,
    )
    assert r.history == full.history
    for p, q in zip(net.parameters(), full_net.parameters()):
        assert torch.equal(p, q)


def test_tensor_data_and_ssm(tmp_path):
    data = toy2d.get("ring").sample(500, torch.Generator().manual_seed(0))
    net = ScoreMLP(hidden=16, depth=1)
    r = train_score(net, data, SIGMAS, loss="ssm", n_steps=5, batch_size=32, progress=False, device="cpu")
    assert len(r.history) == 5 and r.steps == 5


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    ck = tmp_path / "ck.pt"
    save_checkpoint(ck, {"a": torch.ones(3)})

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(ck, {"a": torch.zeros(3)})
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(ck)["a"], torch.ones(3))  # old file intact
    assert os.listdir(tmp_path) == ["ck.pt"]  # no temp file left behind


class Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_checkpoints_load_weights_only(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"x": Evil()}, bad)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_divergence_stops_with_step_and_fix():
    calls = {"n": 0}

    class Exploding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, x, sigma):
            calls["n"] += 1
            return self.w * x * (float("nan") if calls["n"] > 3 else 1.0)

    with pytest.raises(
        TrainingDiverged, match=r"training diverged at step 3: the dsm loss is nan\. Likely fix: lower lr"
    ):
        train_score(Exploding(), toy2d.get("ring"), SIGMAS, n_steps=10, batch_size=8, progress=False, device="cpu")


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_device(device):
    net = ScoreMLP(hidden=16, depth=1)
    r = train_score(net, toy2d.get("ring"), SIGMAS, n_steps=3, batch_size=16, progress=False, device=device)
    assert next(net.parameters()).device.type == device and len(r.history) == 3


def test_bad_arguments():
    net = ScoreMLP(hidden=8, depth=1)
    mix = toy2d.get("ring")
    with pytest.raises(ValueError, match="loss='mse' is not known; expected one of"):
        train_score(net, mix, SIGMAS, loss="mse")
    with pytest.raises(ValueError, match="n_steps must be a positive integer, got 0"):
        train_score(net, mix, SIGMAS, n_steps=0)
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got -0.1"):
        train_score(net, mix, SIGMAS, lr=-0.1)
    with pytest.raises(TypeError, match="data must be a dataset with .sample"):
        train_score(net, [1, 2, 3], SIGMAS)
    with pytest.raises(TypeError, match="net must be a torch.nn.Module"):
        train_score(lambda x, s: x, mix, SIGMAS)
    with pytest.raises(ValueError, match="device='tpu' is not a device"):
        train_score(net, mix, SIGMAS, device="tpu")
