"""Pretrained models (gentoolkit.pretrained) and the command line's ``export``: a run's sampling
network written to one small file and read back with weights_only=True, checksums of the shipped
files, and clear errors for bad input."""

import hashlib

import pytest
import torch

from gentoolkit import cli, presets, pretrained, runs
from gentoolkit.train import load_checkpoint
from tests.test_cli import mnist_root, run, train_args  # noqa: F401 (mnist_root is a fixture)


@pytest.fixture(scope="module")
def dcgan_run(mnist_root, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("runs") / "dcgan"
    assert cli.main([str(a) for a in train_args("mnist-dcgan-ns", out, mnist_root, steps=3)]) == 0
    return out


def test_export_writes_the_ema_generator_and_load_rebuilds_it(dcgan_run, tmp_path, capsys):
    """The exported file holds the EMA weights of the run's generator, bit for bit, and its config;
    load() rebuilds the network in eval mode; samples equal those of the run folder."""
    code, out, err = run(["export", "--run", dcgan_run, "--out", tmp_path / "g.pt"], capsys)
    assert code == 0, err
    import json

    info = json.loads(out)
    assert info["steps"] == 3 and info["weights"] == "ema" and info["preset"] == "mnist-dcgan-ns"
    assert info["bytes"] == (tmp_path / "g.pt").stat().st_size
    assert info["sha256"] == hashlib.sha256((tmp_path / "g.pt").read_bytes()).hexdigest()
    net, config, meta = pretrained.load(tmp_path / "g.pt", device="cpu")
    state = load_checkpoint(dcgan_run / "checkpoint.pt")
    for k, v in state["ema"].items():
        assert torch.equal(net.state_dict()[k], v), k
    assert not torch.equal(state["ema"]["net.0.weight"], state["netG"]["net.0.weight"])  # EMA, not raw
    assert config == cli.read_config(dcgan_run)["hyper"] and meta["steps"] == 3 and not net.training
    a, _ = runs.draw_samples(config, net, 8, seed=5, device="cpu")
    _, run_net, _ = cli.load_run(dcgan_run, "cpu")
    b, _ = runs.draw_samples(config, run_net, 8, seed=5, device="cpu")
    assert torch.equal(a, b)
    # a plain file: nothing but tensors and plain values
    raw = torch.load(tmp_path / "g.pt", weights_only=True)
    assert set(raw) == {"format", "preset", "kind", "hyper", "steps", "weights"}


def test_load_checks_the_sha256_of_a_shipped_name(dcgan_run, tmp_path, monkeypatch, capsys):
    assert run(["export", "--run", dcgan_run, "--out", tmp_path / "m.pt"], capsys)[0] == 0
    digest = pretrained.sha256(tmp_path / "m.pt")
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path)
    monkeypatch.setattr(pretrained, "PRETRAINED", {"m": digest})
    net, _, info = pretrained.load("m", device="cpu")
    assert info["path"] == str(tmp_path / "m.pt")
    data = bytearray((tmp_path / "m.pt").read_bytes())
    data[-100] ^= 1
    (tmp_path / "m.pt").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"has sha256 [0-9a-f]{64}, expected " + digest + ": the file is modified"):
        pretrained.load("m", device="cpu")
    (tmp_path / "m.pt").unlink()
    with pytest.raises(FileNotFoundError, match=r"^the pretrained model 'm' is missing: .*m\.pt does not exist$"):
        pretrained.load("m", device="cpu")


def test_load_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"^name_or_path='nope' is neither a pretrained model \(\[.*\]\) nor the path"):
        pretrained.load("nope", device="cpu")
    with pytest.raises(FileNotFoundError, match=r"missing\.pt does not exist$"):
        pretrained.load(tmp_path / "missing.pt", device="cpu")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"^cannot read .*junk\.pt as a pretrained model: "):
        pretrained.load(tmp_path / "junk.pt", device="cpu")
    torch.save({"format": 1, "weights": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other\.pt is not a gentoolkit pretrained model \(format 1\)$"):
        pretrained.load(tmp_path / "other.pt", device="cpu")


def test_export_errors(dcgan_run, tmp_path, capsys):
    code, _, err = run(["export", "--run", dcgan_run, "--out", tmp_path / "g.bin"], capsys)
    assert code == 2 and err.strip().endswith("g.bin must end in .pt")
    code, _, err = run(["export", "--run", tmp_path / "none", "--out", tmp_path / "g.pt"], capsys)
    assert code == 2 and "config.json does not exist" in err and not (tmp_path / "g.pt").exists()


@pytest.mark.parametrize("name", pretrained.names())
def test_shipped_models_are_small_checked_and_as_good_as_the_readme_says(name):
    """Each shipped file is at most 5 MB, matches its sha256 and holds its preset's network; its
    samples (other noise than the benchmark's) are as often digits as QUALITY records: within 4
    standard errors of the difference of two binomial fractions (GAN: 1,000 samples; score model:
    48, its sampler costs ~1 s per image on 2 cores). Noise or a broken file scores 0."""
    import math

    from gentoolkit.metrics import digit_quality, load_digit_classifier

    path = pretrained.PRETRAINED_DIR / f"{name}.pt"
    assert path.stat().st_size <= 5 * 2**20
    net, config, info = pretrained.load(name, device="cpu")
    ref = pretrained.QUALITY[name]
    assert info["preset"] == name and name in presets.names() and info["steps"] == ref["steps"]
    n = 1000 if config.kind == "gan" else 48
    x, _ = runs.draw_samples(config, net, n, seed=1, device="cpu", progress=False)
    got, p = digit_quality(x, load_digit_classifier("cpu"))["confident"], ref["confident"]
    se = math.sqrt(p * (1 - p) / n + p * (1 - p) / ref["n"])
    assert abs(got - p) <= 4 * se, (got, p, se)
