"""gentoolkit.cli and gentoolkit.presets: `python -m gentoolkit train|sample|evaluate|presets`,
run in-process through ``main(argv)`` on a tiny generated MNIST (IDX files written in a temp
folder as tests/test_images_data.py does, loaded with ``--no-verify``), with networks shrunk
by the hyper-parameter flags so every preset trains in seconds on the CPU."""

import dataclasses
import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gentoolkit import cli, presets
from gentoolkit.data import images
from gentoolkit.train import load_checkpoint
from tests.test_images_data import write_split

ROOT = Path(__file__).resolve().parents[1]

try:
    importlib.import_module("gentoolkit.metrics.digits")
    DIGITS = True
except Exception:  # being written by another change; evaluate must then fail cleanly
    DIGITS = False

# per preset: flags that shrink the run (same code path, tiny networks and samplers)
SMALL = {
    "mnist-dcgan-ns": ["--batch-size", "8", "--width-g", "8", "--width-d", "8", "--latent-dim", "16"],
    "mnist-wgan-gp": ["--batch-size", "8", "--width-g", "8", "--width-d", "8", "--latent-dim", "16", "--n-d", "2"],
    # 4 levels 35 -> 0.02: gamma = 0.083, so CAS needs eta = eps / sigma_L^2 near 1 (eps 4e-4)
    "mnist-ncsn-cas": ["--batch-size", "8", "--width", "8", "--n-sigmas", "4", "--n-steps-each", "1", "--eps", "4e-4"],
    "mnist-vp-ggf": ["--batch-size", "8", "--width", "8", "--sampler", "em", "--em-steps", "4"],
}
# sample overrides: the VP run is trained with EM grids, sampled here with GGF (loose tolerance)
SAMPLE = {"mnist-vp-ggf": ["--sampler", "ggf", "--tol", "0.5"]}


@pytest.fixture(autouse=True)
def _fresh_cache():
    images.clear_cache()
    yield
    images.clear_cache()


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    """A tiny MNIST: 96 training and 32 test digits (random pixels), gzipped IDX files."""
    root = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    for split, n in (("train", 96), ("test", 32)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        write_split(root, x, np.arange(n, dtype=np.uint8) % 10, split=split)
    return root


def train_args(preset, out, root, *extra, steps=2):
    return [
        "train",
        preset,
        "--out",
        str(out),
        "--steps",
        str(steps),
        "--subset",
        "64",
        "--data-root",
        str(root),
        "--no-verify",
        "--device",
        "cpu",
        "--no-progress",
        "--n-grid",
        "4",
        *SMALL[preset],
        *extra,
    ]


def run(argv, capsys) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def spy_on(monkeypatch, module, name) -> dict:
    """Replace ``module.name`` by a wrapper that records its keyword arguments (in the returned dict)
    and then calls the real function."""
    seen, real = {}, getattr(module, name)

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return seen


def tensors(state, prefix=""):
    """Every tensor of a (nested) checkpoint, by dotted key."""
    if isinstance(state, torch.Tensor):
        return {prefix: state}
    if isinstance(state, dict):
        return {k: v for key, sub in state.items() for k, v in tensors(sub, f"{prefix}.{key}").items()}
    if isinstance(state, (list, tuple)):
        return {k: v for i, sub in enumerate(state) for k, v in tensors(sub, f"{prefix}.{i}").items()}
    return {}


# ------------------------------------------------------------------------------------ presets


def test_presets_command_lists_the_four_names(capsys):
    code, out, _ = run(["presets"], capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == presets.names()
    assert presets.names() == ["mnist-dcgan-ns", "mnist-wgan-gp", "mnist-ncsn-cas", "mnist-vp-ggf"]
    assert all(len(line.split(None, 1)[1]) > 20 for line in lines)  # a description each
    code, out, _ = run(["presets", "mnist-ncsn-cas"], capsys)
    assert code == 0 and json.loads(out)["hyper"]["sigma_max"] == 35.0


def test_get_names_the_presets_on_an_unknown_name():
    with pytest.raises(ValueError, match="unknown preset 'mnist'.*mnist-dcgan-ns, mnist-wgan-gp"):
        presets.get("mnist")


@pytest.mark.parametrize("name", presets.names())
def test_every_hyper_parameter_has_a_help_line_and_a_valid_value(name):
    p = presets.get(name)
    assert presets.check(p.config) is p.config
    for f in presets.fields(p.config):
        assert f.metadata["help"].strip() and "\n" not in f.metadata["help"], f.name
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.config.seed = 1


def test_preset_values():
    gan, wgan = presets.get("mnist-dcgan-ns").config, presets.get("mnist-wgan-gp").config
    assert (gan.loss, gan.setup, gan.ema, gan.batch_size, gan.lr_g, gan.lr_d, gan.beta1, gan.n_d) == (
        "ns",
        "dcgan",
        0.999,
        64,
        4e-4,
        4e-4,
        0.5,
        1,
    )
    assert (gan.regularizer, gan.reg_weight, gan.reg_every, gan.n_steps) == ("r1", 0.0, 16, 8000)  # lazy R1, gamma 1
    assert (wgan.loss, wgan.regularizer, wgan.setup, wgan.norm_d, wgan.n_d) == ("wgan", "gp", "wgan-gp", "layer", 5)
    ncsn = presets.get("mnist-ncsn-cas").config
    assert (ncsn.sampler, ncsn.ema, ncsn.sigma_max, ncsn.sigma_min, ncsn.n_sigmas) == ("cas", 0.999, 35.0, 0.02, 96)
    # the documented derivation: gamma ~ 1.082 (Technique 2) and CAS's eps range on the dilated schedule
    gamma = (ncsn.sigma_max / ncsn.sigma_min) ** (1 / (ncsn.n_sigmas - 1))
    assert gamma == pytest.approx(1.082, abs=1e-3)
    eta = ncsn.eps / ncsn.sigma_min**2
    assert eta == pytest.approx(0.1)
    assert abs(1 - eta) <= gamma ** (-1 / ncsn.n_steps_each)
    vp = presets.get("mnist-vp-ggf").config
    assert (vp.sampler, vp.tol, vp.eps_abs, vp.ema) == ("ggf", 0.02, 2 / 256, 0.999)
    # the 2-core recipe of the pretrained file (README): 966k-parameter U-Net, batches of 64, constant lr 7e-4
    assert (vp.width, vp.channel_mults, vp.batch_size, vp.lr) == (16, (1, 4, 4), 64, 7e-4)
    assert (vp.lr_decay, vp.n_steps) == (False, 4000)
    assert (vp.t_sampling, vp.precond, vp.ema_warmup, vp.precision) == ("uniform", "eps", True, "bf16")


# ------------------------------------------------------------------------------------ help


def test_train_help_lists_every_hyper_parameter_flag_with_its_help(capsys):
    code, out, _ = run(["train", "mnist-dcgan-ns", "--help"], capsys)
    assert code == 0
    flat = " ".join(out.split())
    for f in presets.fields(presets.get("mnist-dcgan-ns").config):
        flag = "--" + f.metadata.get("flag", f.name).replace("_", "-")
        assert flag in flat, flag
        assert " ".join(f.metadata["help"].split()) in flat, f.name
    for flag in ("--steps", "--lr-g", "--ema", "--width-g", "--resume", "--subset", "--data-root", "--no-verify"):
        assert flag in flat


def test_module_help_in_a_subprocess():
    out = subprocess.run(
        [sys.executable, "-m", "gentoolkit", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.returncode == 0, out.stderr
    for cmd in ("train", "sample", "evaluate", "presets"):
        assert cmd in out.stdout


# ------------------------------------------------------------------------------------ runs


@pytest.mark.slow
@pytest.mark.parametrize("name", presets.names())
def test_train_sample_evaluate(name, mnist_root, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run(train_args(name, out, mnist_root), capsys)
    assert code == 0, err
    assert json.loads(stdout)["steps"] == 2
    for f in ("config.json", "checkpoint.pt", "log.csv", "grids/step_000002.png"):
        assert (out / f).is_file(), f
    assert len((out / "log.csv").read_text().strip().splitlines()) == 3  # header + 2 steps

    # config.json round-trips to the resolved config (preset + overrides)
    cfg = cli.read_config(out)
    assert cfg["preset"] == name and cfg["data"]["subset"] == 64 and cfg["data"]["verify"] is False
    parser = cli.build_parser(name)
    args = parser.parse_args(train_args(name, out, mnist_root))
    overrides = {k[3:]: v for k, v in vars(args).items() if k.startswith("hp_")}
    assert cfg["hyper"] == dataclasses.replace(presets.get(name).config, **overrides)
    raw = json.loads((out / "config.json").read_text())
    assert presets.from_dict(raw["kind"], raw["hyper"]) == cfg["hyper"]

    state = load_checkpoint(out / "checkpoint.pt")
    assert state["step"] == 2 and "ema" in state

    png, pt = tmp_path / "s.png", tmp_path / "s.pt"
    argv = ["sample", "--run", out, "--n", 4, "--seed", 1, "--device", "cpu", "--no-progress"]
    code, stdout, err = run([*argv, "--out", png, "--save-tensor", pt, *SAMPLE.get(name, [])], capsys)
    assert code == 0, err
    info = json.loads(stdout)
    assert info["n"] == 4 and info["weights"] == "ema" and info["nfe"] >= 1 and info["seconds"] >= 0
    assert png.is_file()
    x = torch.load(pt, weights_only=True)
    assert x.shape == (4, 1, 28, 28) and torch.isfinite(x).all()
    if name == "mnist-ncsn-cas":
        assert info["nfe"] == 4 + 1  # one call per level, then the EDS
    if name != "mnist-vp-ggf":  # (GGF is the slowest here; its seeding is tested in test_gotta_go_fast.py)
        code, _, _ = run([*argv, "--out", png, "--save-tensor", tmp_path / "t.pt"], capsys)
        assert code == 0 and torch.equal(torch.load(tmp_path / "t.pt", weights_only=True), x)  # same seed, same x

    code, stdout, err = run(["evaluate", "--run", out, "--n", 4, "--device", "cpu", "--no-progress"], capsys)
    if DIGITS:
        assert code == 0, err
        res = json.loads(stdout)
        for key in ("samples", "real_test"):
            assert 0 <= res[key]["confident"] <= 1 and len(res[key]["histogram"]) == 10
            assert res[key]["n"] == 4
    else:
        assert code == 2 and "gentoolkit.metrics.digits" in err


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mnist-dcgan-ns", "mnist-ncsn-cas"])
def test_resume_gives_the_uninterrupted_run_bit_for_bit(name, mnist_root, tmp_path, capsys, monkeypatch):
    import gentoolkit.train as train_mod

    every = ["--checkpoint-every", "2", "--sample-every", "2"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert run(train_args(name, full, mnist_root, *every, steps=4), capsys)[0] == 0

    class Interrupted(Exception):
        pass

    real_save = train_mod.save_checkpoint

    def save_then_crash(path, state):
        real_save(path, state)
        if state["step"] == 2:
            raise Interrupted

    monkeypatch.setattr(train_mod, "save_checkpoint", save_then_crash)
    with pytest.raises(Interrupted):
        cli.main(train_args(name, cut, mnist_root, *every, steps=4))
    monkeypatch.setattr(train_mod, "save_checkpoint", real_save)
    assert load_checkpoint(cut / "checkpoint.pt")["step"] == 2
    capsys.readouterr()

    code, _, err = run(train_args(name, cut, mnist_root, *every, steps=4), capsys)  # without --resume
    assert code == 2 and "already holds a run" in err and "--resume" in err
    code, _, err = run([*train_args(name, cut, mnist_root, *every, steps=4), "--resume"], capsys)
    assert code == 0, err

    a, b = tensors(load_checkpoint(full / "checkpoint.pt")), tensors(load_checkpoint(cut / "checkpoint.pt"))
    assert a.keys() == b.keys() and any(".ema." in k for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert (full / "log.csv").read_text() == (cut / "log.csv").read_text()
    assert json.loads((full / "config.json").read_text()) == json.loads((cut / "config.json").read_text())


@pytest.mark.slow
def test_overrides_reach_the_trainer_and_the_config(mnist_root, tmp_path, capsys, monkeypatch):
    import gentoolkit.gan.train as gan_train

    seen = spy_on(monkeypatch, gan_train, "train_gan")
    dist = {}
    for ema in ("0.5", None):
        out = tmp_path / f"ema{ema}"
        # without warm-up: over the run's 2 steps the warm-up decays (0.1, 0.18) are both below 0.5
        extra = ["--no-ema-warmup"] + (["--ema", ema, "--lr-g", "3e-4", "--no-spectral-norm"] if ema else [])
        code, _, err = run(train_args("mnist-dcgan-ns", out, mnist_root, *extra), capsys)
        assert code == 0, err
        state = load_checkpoint(out / "checkpoint.pt")
        dist[ema] = sum(
            (state["ema"][k].float() - v.float()).norm() for k, v in state["netG"].items() if v.is_floating_point()
        )
        if ema:
            assert seen["ema"] == 0.5 and seen["lr_g"] == 3e-4 and seen["betas"] == (0.5, 0.999)
            assert seen["ema_warmup"] is False
            hyper = json.loads((out / "config.json").read_text())["hyper"]
            assert hyper["ema"] == 0.5 and hyper["lr_g"] == 3e-4 and hyper["lr_d"] == 4e-4  # lr_d: the preset's
    assert presets.get("mnist-dcgan-ns").config.ema_warmup is True  # off above, on by default
    # decay 0.5 follows the trained weights much more closely than 0.999
    assert dist["0.5"] < 0.8 * dist[None]


# ------------------------------------------------------------------------------------ errors


def _fake_run(tmp_path, preset="mnist-dcgan-ns") -> Path:
    """A run folder with a valid config.json and no checkpoint."""
    out = tmp_path / "fake"
    p = presets.get(preset)
    data = {"dataset": "mnist", "root": str(tmp_path), "subset": None, "verify": False}
    out.mkdir()
    (out / "config.json").write_text(json.dumps(cli.config_json(p.name, p.config, data, "cpu")))
    return out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "mnist-gan", "--out", "X"], "unknown preset 'mnist-gan'; expected one of: mnist-dcgan-ns"),
        (["train", "mnist-dcgan-ns", "--out", "X", "--lr-g", "-1"], "argument --lr-g: must be > 0, got -1"),
        (["train", "mnist-dcgan-ns", "--out", "X", "--lr-g", "abc"], "argument --lr-g: expected float, got 'abc'"),
        (["train", "mnist-dcgan-ns", "--out", "X", "--ema", "1"], "argument --ema: must be < 1, got 1"),
        (["train", "mnist-dcgan-ns", "--out", "X", "--steps", "0"], "argument --steps: must be >= 1, got 0"),
        (["train", "mnist-dcgan-ns", "--out", "X", "--norm-d", "group"], "argument --norm-d: must be one of batch"),
        (["train", "mnist-dcgan-ns", "--out", "X", "--sigma-max", "3"], "unrecognized arguments: --sigma-max"),
        (["train", "mnist-dcgan-ns", "--out", "X", "--loss", "nope"], "loss"),
        (["train", "mnist-ncsn-cas", "--out", "X", "--n-sigmas", "4"], "CAS's beta is undefined"),
        (
            ["train", "mnist-dcgan-ns", "--out", "X", "--regularizer", "none", "--reg-weight", "1"],
            "regularizer is none",
        ),
        (
            ["train", "mnist-dcgan-ns", "--out", "X", "--regularizer", "none"],
            "reg_every (16) applies a penalty lazily but regularizer is none: choose gp, gp-one-sided or r1, or "
            "reg_every 1 (--reg-every 1)",
        ),
        (
            ["train", "mnist-dcgan-ns", "--out", "X", "--regularizer", "clip", "--reg-every", "4"],
            "reg_every (4) applies a penalty lazily but regularizer is clip: choose gp, gp-one-sided or r1",
        ),
        (["train", "mnist-dcgan-ns", "--out", "X", "--reg-every", "0"], "argument --reg-every: must be >= 1, got 0"),
        (
            ["train", "mnist-vp-ggf", "--out", "X", "--t-sampling", "uniform", "--p-mean", "3"],
            "p_mean (3) shapes log-normal training times but t_sampling is uniform: add --t-sampling lognormal",
        ),
        (
            ["train", "mnist-vp-ggf", "--out", "X", "--t-sampling", "uniform", "--uniform-frac", "0.3"],
            "uniform_frac (0.3) shapes log-normal training times but t_sampling is uniform",
        ),
        (
            ["train", "mnist-vp-ggf", "--out", "X", "--t-sampling", "uniform", "--precond", "edm"],
            "precond edm weights the loss by 1 + sigma^2 / data_std^2 (about 10^5 at t = 1), which uniform "
            "t_sampling reaches as often as any other time: add --t-sampling lognormal",
        ),
        (["train", "mnist-dcgan-ns", "--out", "X", "--pack", "3"], "batch_size (64) must be a multiple of pack (3)"),
        (
            ["train", "mnist-dcgan-ns", "--out", "X", "--pack", "2", "--minibatch-std", "3"],
            "the critic sees 32 inputs a step (batch_size 64 / pack 2), not a multiple of minibatch_std (3)",
        ),
        (["train", "mnist-dcgan-ns"], "the following arguments are required: --out"),
        (["sample", "--run", "nowhere"], "nowhere/config.json does not exist"),
        (["sample", "--run", "X", "--n", "0"], "argument --n: must be >= 1, got 0"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(argv, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("gentoolkit") and "error:" in err and message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "X").exists()  # nothing written


def test_missing_unreadable_checkpoint_and_config(tmp_path, capsys):
    run_dir = _fake_run(tmp_path)
    code, _, err = run(["sample", "--run", run_dir, "--device", "cpu"], capsys)
    assert code == 2 and "checkpoint.pt does not exist" in err and len(err.strip().splitlines()) == 1
    (run_dir / "checkpoint.pt").write_bytes(b"not a checkpoint")
    code, _, err = run(["sample", "--run", run_dir, "--device", "cpu"], capsys)
    assert code == 2 and "cannot read checkpoint" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(["sample", "--run", run_dir, "--device", "cpu", "--tol", "0.1"], capsys)
    assert code == 2 and "--tol does not apply to a gan run" in err
    (run_dir / "config.json").write_text("{not json")
    code, _, err = run(["sample", "--run", run_dir], capsys)
    assert code == 2 and "cannot read" in err and "config.json" in err
    (run_dir / "config.json").write_text(json.dumps({"format": 1, "kind": "gan", "hyper": {"lr_g": -1}, "data": {}}))
    code, _, err = run(["sample", "--run", run_dir], capsys)
    assert code == 2 and "config.json is malformed" in err


def test_resume_into_another_presets_run_is_refused(tmp_path, capsys):
    run_dir = _fake_run(tmp_path)
    code, _, err = run(["train", "mnist-wgan-gp", "--out", run_dir, "--resume", "--device", "cpu"], capsys)
    assert code == 2 and "holds a mnist-dcgan-ns run, not mnist-wgan-gp" in err


def test_evaluate_without_the_digits_module_fails_cleanly(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "gentoolkit.metrics.digits", None)  # import raises ImportError
    code, _, err = run(["evaluate", "--run", _fake_run(tmp_path)], capsys)
    assert code == 2 and "evaluate needs gentoolkit.metrics.digits" in err and len(err.strip().splitlines()) == 1


def test_a_diverged_run_exits_1_with_one_line(mnist_root, tmp_path, capsys, monkeypatch):
    import gentoolkit.gan.train as gan_train
    from gentoolkit.train import TrainingDiverged

    def diverge(*args, **kwargs):
        raise TrainingDiverged("training diverged at step 3: the ns loss is nan. Likely fix: lower lr_d")

    monkeypatch.setattr(gan_train, "train_gan", diverge)
    code, _, err = run(train_args("mnist-dcgan-ns", tmp_path / "run", mnist_root), capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "diverged at step 3" in err and "--resume" in err


def test_minibatch_std_flag_builds_the_critic_and_resumes(mnist_root, tmp_path, capsys):
    from gentoolkit.nets import MinibatchStd
    from gentoolkit.runs import build_model

    out = tmp_path / "mbstd"
    code, _, err = run(train_args("mnist-dcgan-ns", out, mnist_root, "--minibatch-std", "4"), capsys)
    assert code == 0, err
    config = presets.from_dict("gan", json.loads((out / "config.json").read_text())["hyper"])
    critic = build_model(config)["critic"]
    assert config.minibatch_std == 4 and any(isinstance(m, MinibatchStd) for m in critic.modules())
    critic.load_state_dict(load_checkpoint(out / "checkpoint.pt")["netD"])


def test_pack_flag_builds_a_packed_critic_and_trains(mnist_root, tmp_path, capsys):
    """--pack 2 (PacGAN) gives a critic of 2 input channels that sees 32 packs per step, and the
    run's config and checkpoint record it (a pretrained file rebuilds the same networks)."""
    from gentoolkit.runs import build_model

    out = tmp_path / "pac"
    code, _, err = run(train_args("mnist-dcgan-ns", out, mnist_root, "--pack", "2"), capsys)
    assert code == 0, err
    hyper = json.loads((out / "config.json").read_text())["hyper"]
    assert hyper["pack"] == 2
    config = presets.from_dict("gan", hyper)
    critic = build_model(config)["critic"]
    assert critic(torch.zeros(3, 2, 28, 28)).shape == (3,)
    state = load_checkpoint(out / "checkpoint.pt")
    critic.load_state_dict(state["netD"])  # the trained critic has the packed input layer
    assert build_model(presets.get("mnist-dcgan-ns").config)["critic"].channels == 1
    old = {k: v for k, v in hyper.items() if k not in ("pack", "minibatch_std", "reg_every")}  # saved before these
    assert presets.from_dict("gan", old).pack == 1 and presets.from_dict("gan", old).minibatch_std == 0
    assert presets.from_dict("gan", old).reg_every == 1
    with pytest.raises(ValueError, match=r"missing hyper-parameters for a gan run: \['lr_g'\]"):
        presets.from_dict("gan", {k: v for k, v in old.items() if k != "lr_g"})


@pytest.mark.parametrize(
    ("extra", "times"),
    [
        ([], "preset"),
        (["--t-sampling", "uniform"], {}),
        (["--t-sampling", "lognormal"], {"p_mean": -1.2, "p_std": 1.2, "uniform_frac": 0.0}),  # EDM's
        (
            ["--t-sampling", "lognormal", "--p-mean", "-0.5", "--p-std", "1.5", "--uniform-frac", "0.25"],
            {"p_mean": -0.5, "p_std": 1.5, "uniform_frac": 0.25},
        ),
        (
            ["--t-sampling", "lognormal", "--precond", "edm"],
            {"p_mean": -1.2, "p_std": 1.2, "uniform_frac": 0.0, "weighting": "edm", "data_std": 0.5},
        ),
    ],
)
def test_vp_training_times_reach_the_loss(extra, times, mnist_root, tmp_path, capsys, monkeypatch):
    """--t-sampling / --p-mean / --p-std / --uniform-frac reach sde_dsm_loss (uniform passes neither), --precond edm
    builds ScaledScore(precond="edm") and passes the loss its weighting and data_std, and a config saved before
    these fields loads with uniform times and eps output, as it was trained."""
    import gentoolkit.train as train

    seen = spy_on(monkeypatch, train, "train_score")
    out = tmp_path / "vp"
    code, _, err = run(train_args("mnist-vp-ggf", out, mnist_root, *SMALL["mnist-vp-ggf"], *extra), capsys)
    assert code == 0, err
    vp = presets.get("mnist-vp-ggf").config
    if times == "preset":
        times = (
            {}
            if vp.t_sampling == "uniform"
            else {"p_mean": vp.p_mean, "p_std": vp.p_std, "uniform_frac": vp.uniform_frac}
        )
        if vp.precond == "edm":
            times.update(weighting="edm", data_std=vp.data_std)
    keywords = seen["loss"].keywords
    names = ("p_mean", "p_std", "uniform_frac", "weighting", "data_std")
    assert {k: keywords[k] for k in names if k in keywords} == times
    hyper = json.loads((out / "config.json").read_text())["hyper"]
    assert hyper["t_sampling"] == ("lognormal" if times else "uniform")
    precond = times.get("weighting", "eps")
    assert hyper["precond"] == precond
    from gentoolkit.runs import build_model

    assert build_model(presets.from_dict("vp", hyper))["model"].precond == precond
    added = ("t_sampling", "p_mean", "p_std", "uniform_frac", "precond")
    old = {k: v for k, v in hyper.items() if k not in added}  # saved before these fields
    assert presets.from_dict("vp", old).t_sampling == "uniform" and presets.from_dict("vp", old).precond == "eps"
