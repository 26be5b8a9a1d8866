"""The command line: ``python -m gentoolkit train|sample|evaluate|presets``.

::

    python -m gentoolkit presets                      # the presets, one line each
    python -m gentoolkit presets mnist-ncsn-cas       # one preset's values, as JSON
    python -m gentoolkit train mnist-dcgan-ns --out runs/dcgan [--steps N] [--lr-g 1e-4] ...
    python -m gentoolkit train mnist-dcgan-ns --out runs/dcgan --steps 20000 --resume
    python -m gentoolkit sample --run runs/dcgan --n 64 --out samples.png
    python -m gentoolkit evaluate --run runs/dcgan --n 1000
    python -m gentoolkit export --run runs/dcgan --out dcgan.pt  # a small pretrained file

``train PRESET --out DIR`` composes the package's pieces (:func:`gentoolkit.gan.train.train_gan`
or :func:`gentoolkit.train.train_score`, :class:`gentoolkit.data.images.MNIST`, the nets of
:mod:`gentoolkit.nets`) and writes into DIR: ``config.json`` (the resolved settings: preset,
every hyper-parameter, data), ``checkpoint.pt`` (atomic, every ``checkpoint_every`` steps and at
the end), ``log.csv`` (the losses of every step) and ``grids/step_XXXXXX.png`` (samples of the
EMA weights). Every hyper-parameter of the preset has its own flag (``train PRESET --help``
lists them with their help and the preset's value); ``--steps`` is ``n_steps``.

A DIR that already holds a run is only continued with ``--resume``: the saved config.json is
the base (its preset must be PRESET), flags given on the command line change it (e.g.
``--steps`` to train longer), and training continues from checkpoint.pt exactly where it
stopped: same arguments, same weights as an uninterrupted run, bit for bit on CPU. Without a
checkpoint ``--resume`` starts the run from step 0.

Data: ``--data-root`` (default :func:`gentoolkit.data.images.find_root`), ``--subset N`` (the
first N training images) and ``--no-verify`` (skip the MD5 check of the IDX files, for a
deliberately different file in MNIST's format such as a test copy; the format is always
checked). They are saved in config.json, and ``evaluate`` reads the test split from the same
root.

``sample --run DIR`` rebuilds the networks from config.json, loads the EMA weights from
checkpoint.pt (``weights_only=True``) and draws samples: a GAN's EMA generator on fresh z, an
NCSN with CAS or ALS (001, Alg. 5 / 4), a VP model with Gotta Go Fast (001, Alg. 6) or
Euler-Maruyama (``--sampler em``). Sampler settings default to the run's config and can be
overridden (``--sampler``, ``--steps``, ``--eps``, ``--tol``, ``--eps-abs``, ``--no-denoise``);
a flag that does not apply to the run's model is an error. It prints JSON (n, seconds, nfe).

``export --run DIR --out FILE.pt`` writes the run's sampling network (its EMA weights), preset
and hyper-parameters to one small file (:func:`gentoolkit.pretrained.export`, atomic) that
:func:`gentoolkit.pretrained.load` reads; the shipped pretrained models are made this way.

``evaluate --run DIR`` samples the same way and prints JSON with
:func:`gentoolkit.metrics.digits.digit_quality` of the samples and of as many real test
images, for reference.

Errors of usage (an unknown preset, a bad value such as ``--lr-g -1``, a missing or unreadable
config or checkpoint) exit with status 2 and one line on stderr,
``gentoolkit <command>: error: ...``, without a traceback; a diverged training run (NaN/inf
loss) exits with 1 and one line naming the step and a likely fix, Ctrl-C with 130 (the last
checkpoint stays, ``--resume`` continues from it). :func:`main` takes the argument list and
returns the exit status, so tests call it in-process.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from gentoolkit import presets
from gentoolkit.runs import build_model, draw_samples, gan_train_kwargs
from gentoolkit.runs import sde_of as _sde
from gentoolkit.runs import sigmas_of as _sigmas

__all__ = ["CLIError", "RunFailed", "build_parser", "config_json", "draw_samples", "load_run", "main", "read_config"]

PROG = "gentoolkit"
CONFIG_FORMAT = 1


class CLIError(Exception):
    """A usage error: :func:`main` prints it as one line and returns ``code`` (2)."""

    code = 2


class RunFailed(CLIError):
    """A run that failed on its own (training diverged): one line, exit status 1."""

    code = 1


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors that :func:`main` turns into exit status 2."""

    def error(self, message):
        raise CLIError(f"{self.prog}: error: {message}")


# ------------------------------------------------------------------------------------ flags


def _flag(f: dataclasses.Field) -> str:
    return "--" + f.metadata.get("flag", f.name).replace("_", "-")


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "''"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _converter(f: dataclasses.Field):
    """An argparse ``type``: the text -> the field's type, checked (bounds, choices)."""
    default = f.default

    def convert(text: str):
        try:
            if isinstance(default, tuple):
                parts = [p.strip() for p in text.split(",") if p.strip()]
                value = tuple(int(p) for p in parts)
            elif isinstance(default, int):
                value = int(text)
            elif isinstance(default, float):
                value = float(text)
            else:
                value = text
        except ValueError:
            kind = "comma-separated integers" if isinstance(default, tuple) else type(default).__name__
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        try:
            return presets.check_value(f, value)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = type(default).__name__  # argparse's "invalid <name> value" messages
    return convert


def _add_hyper_flags(parser: argparse.ArgumentParser, preset: presets.Preset) -> None:
    """One flag per hyper-parameter of ``preset``, dest ``hp_<field>``, absent unless given."""
    group = parser.add_argument_group(
        f"hyper-parameters of {preset.name}", "each defaults to the preset's value (or, with --resume, the saved one)"
    )
    for f in presets.fields(preset.config):
        value = getattr(preset.config, f.name)
        help_ = f"{f.metadata['help']} (preset: {_fmt(value)})".replace("%", "%%")
        kw = {"dest": f"hp_{f.name}", "default": argparse.SUPPRESS, "help": help_}
        if isinstance(value, bool):
            group.add_argument(_flag(f), action=argparse.BooleanOptionalAction, **kw)
        else:
            choices = f.metadata.get("choices")
            metavar = "{" + ",".join(choices) + "}" if choices else f.name.upper()
            group.add_argument(_flag(f), type=_converter(f), metavar=metavar, **kw)


def _preset_name(text: str) -> str:
    if text not in presets.PRESETS:
        raise argparse.ArgumentTypeError(f"unknown preset {text!r}; expected one of: {', '.join(presets.names())}")
    return text


def _integer(low: int):
    """An argparse type: an int >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


_positive_int, _seed = _integer(1), _integer(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def build_parser(preset: str | None = None) -> argparse.ArgumentParser:
    """The parser; ``train`` gets the hyper-parameter flags of ``preset`` when it is known."""
    parser = _Parser(
        prog=PROG,
        description="Train, sample and evaluate the gentoolkit MNIST presets (GANs and score models).",
    )
    sub = parser.add_subparsers(dest="command", metavar="{train,sample,evaluate,export,presets}", parser_class=_Parser)
    sub.required = True

    t = sub.add_parser(
        "train",
        help="train a preset into --out DIR",
        description="Train a preset on MNIST into --out DIR (config.json, checkpoint.pt, log.csv, grids/). "
        "`train PRESET --help` lists the preset's hyper-parameter flags.",
    )
    t.add_argument("preset", type=_preset_name, metavar="PRESET", help=f"one of: {', '.join(presets.names())}")
    t.add_argument("--out", required=True, metavar="DIR", help="the run's folder (created)")
    t.add_argument("--resume", action="store_true", help="continue the run in DIR from its checkpoint")
    t.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    t.add_argument(
        "--data-root", default=None, metavar="PATH", help="folder with MNIST's IDX files (default: find_root)"
    )
    t.add_argument("--subset", type=_positive_int, default=None, metavar="N", help="train on the first N images")
    t.add_argument(
        "--no-verify",
        dest="verify",
        action="store_const",
        const=False,
        default=None,
        help="skip the MD5 check of the IDX files (a non-canonical file in MNIST's format)",
    )
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    if preset in presets.PRESETS:
        _add_hyper_flags(t, presets.get(preset))

    for name, help_ in (
        ("sample", "draw samples from a trained run, save a PNG grid, print JSON"),
        ("evaluate", "digit quality of samples of a run (and of real test digits), as JSON"),
    ):
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--run", required=True, metavar="DIR", help="a folder written by `train`")
        p.add_argument("--n", type=_positive_int, default=64 if name == "sample" else 1000, help="number of samples")
        p.add_argument("--seed", type=_seed, default=0, help="seed of the sampler's noise")
        p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
        p.add_argument("--batch-size", type=_positive_int, default=500, help="samples drawn at once")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        if name == "sample":
            p.add_argument("--out", default=None, metavar="FILE.png", help="the PNG grid (default: DIR/samples.png)")
            p.add_argument(
                "--save-tensor", default=None, metavar="FILE.pt", help="also save the samples (n, 1, 28, 28)"
            )
        else:
            p.add_argument("--data-root", default=None, metavar="PATH", help="MNIST folder (default: the run's)")
        s = p.add_argument_group("sampler overrides (default: the run's config)")
        s.add_argument("--sampler", default=None, help="ncsn: cas or als; vp: ggf or em")
        s.add_argument("--steps", type=_positive_int, default=None, help="ncsn: updates per level; vp: EM steps")
        s.add_argument("--eps", type=_positive_float, default=None, help="ncsn: step size eps")
        s.add_argument("--tol", type=_positive_float, default=None, help="vp: GGF relative tolerance eps_rel")
        s.add_argument("--eps-abs", type=_positive_float, default=None, help="vp: GGF absolute tolerance")
        s.add_argument(
            "--no-denoise",
            dest="denoise",
            action="store_const",
            const=False,
            default=None,
            help="ncsn, vp: skip the final denoising step (EDS / Tweedie)",
        )

    p = sub.add_parser(
        "export",
        help="write a run's sampling network as a small pretrained file",
        description="Write the EMA weights of a run's sampling network (a GAN's generator, the score model), "
        "its preset and hyper-parameters to one small file that gentoolkit.pretrained.load reads; prints JSON "
        "with its size and sha256.",
    )
    p.add_argument("--run", required=True, metavar="DIR", help="a folder written by `train`")
    p.add_argument("--out", required=True, metavar="FILE.pt", help="the file to write (atomically)")

    p = sub.add_parser("presets", help="list the presets", description="List the presets, or show one's values.")
    p.add_argument("name", nargs="?", type=_preset_name, help="print this preset's hyper-parameters as JSON")
    return parser


def _peek_preset(argv: list[str]) -> str | None:
    """The preset named in a ``train`` command line (its first token that is a preset name)."""
    if not argv or argv[0] != "train":
        return None
    return next((a for a in argv[1:] if a in presets.PRESETS), None)


# ------------------------------------------------------------------------------------ runs


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_config(run: Path) -> dict:
    """The run's config.json, checked: ``{"preset", "kind", "hyper": <config>, "data": {...}}``
    with ``hyper`` a checked preset config. CLIError when missing or malformed."""
    path = Path(run) / "config.json"
    if not path.is_file():
        raise CLIError(f"{path} does not exist: --run must be a folder written by `gentoolkit train`")
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CLIError(f"cannot read {path}: {e}") from None
    try:
        if not isinstance(raw, dict) or raw.get("format") != CONFIG_FORMAT:
            raise ValueError(f"not a gentoolkit run config (format {CONFIG_FORMAT})")
        data = raw["data"]
        if not isinstance(data, dict) or not {"root", "subset", "verify"} <= set(data):
            raise ValueError("'data' must hold root, subset and verify")
        hyper = presets.from_dict(raw["kind"], raw["hyper"])
    except (KeyError, TypeError, ValueError) as e:
        what = f"missing key {e}" if isinstance(e, KeyError) else str(e)
        raise CLIError(f"{path} is malformed: {what}") from None
    return {**raw, "hyper": hyper}


def config_json(preset: str, config, data: dict, device: str) -> dict:
    hyper = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}
    return {
        "format": CONFIG_FORMAT,
        "preset": preset,
        "kind": config.kind,
        "hyper": hyper,
        "data": data,
        "device": device,
    }


def _device(name):
    from gentoolkit.config import resolve_device

    try:
        return resolve_device(name)
    except ValueError as e:
        raise CLIError(str(e)) from None


def _mnist(root, split: str, verify: bool, subset: int | None = None):
    from gentoolkit.data.images import MNIST

    try:
        data = MNIST(root, split=split, verify=verify)
    except (FileNotFoundError, ValueError, OSError) as e:
        lines = str(e).splitlines()
        more = f" ({lines[-1]})" if len(lines) > 1 else ""
        raise CLIError(lines[0] + more) from None
    if subset is not None:
        if subset > len(data):
            raise CLIError(f"--subset {subset} is more than the {len(data)} images of {data.root}")
        data.data, data.targets = data.data[:subset], data.targets[:subset]
    return data


def validate(config) -> None:
    """The checks that need the package: the GAN loss exists, CAS's step size fits the schedule,
    the networks can be built. CLIError naming the problem."""
    try:
        if config.kind == "gan":
            from gentoolkit.gan import losses

            losses.get(config.loss)
        if config.kind == "ncsn" and config.sampler == "cas":
            from gentoolkit.sampling import cas_betas, dilate_sigmas

            cas_betas(dilate_sigmas(_sigmas(config), config.n_steps_each), config.eps)
        build_model(config)
    except (ValueError, TypeError) as e:
        raise CLIError(str(e).splitlines()[0]) from None


def _load_state(run: Path, device) -> dict:
    from gentoolkit.train import load_checkpoint

    path = Path(run) / "checkpoint.pt"
    if not path.is_file():
        raise CLIError(f"{path} does not exist: train the run first (or finish it with --resume)")
    try:
        return load_checkpoint(path, map_location=device)
    except Exception as e:  # torch.load raises many types on a corrupt file
        first = (str(e).splitlines() or [""])[0]
        raise CLIError(f"cannot read checkpoint {path}: {type(e).__name__}: {first}") from None


def load_run(run, device, config=None) -> tuple[dict, torch.nn.Module, str]:
    """``(config_json, model, weights)``: the run's config (``config`` overrides its hyper-parameters),
    its sampling network with the EMA weights (``weights == "ema"``; the raw ones, ``"raw"``,
    for a checkpoint without an EMA) loaded with ``weights_only=True``."""
    cfg = read_config(Path(run))
    config = cfg["hyper"] if config is None else config
    model = build_model(config)
    net = model["generator"] if config.kind == "gan" else model["model"]
    state = _load_state(Path(run), device)
    key = "ema" if "ema" in state else ("netG" if config.kind == "gan" else "model")
    if key not in state:
        raise CLIError(f"{Path(run) / 'checkpoint.pt'} holds no {key!r} weights (keys: {sorted(state)})")
    try:
        net.load_state_dict(state[key])
    except RuntimeError as e:
        raise CLIError(
            f"the weights in {Path(run) / 'checkpoint.pt'} do not fit the networks of config.json: "
            f"{str(e).splitlines()[0]}"
        ) from None
    return cfg, net.to(device).eval(), "ema" if key == "ema" else "raw"


# ------------------------------------------------------------------------------------ commands


def _train(args) -> dict:
    preset = presets.get(args.preset)
    out = Path(args.out)
    cfg_path, ckpt = out / "config.json", out / "checkpoint.pt"
    overrides = {k[3:]: v for k, v in vars(args).items() if k.startswith("hp_")}
    data = {"dataset": "mnist", "root": None, "subset": None, "verify": True}
    if args.resume and cfg_path.is_file():
        saved = read_config(out)
        if saved["preset"] != preset.name:
            raise CLIError(f"{out} holds a {saved['preset']} run, not {preset.name}: resume it with that preset")
        base, data = saved["hyper"], dict(saved["data"])
    elif not args.resume and (cfg_path.exists() or ckpt.exists()):
        raise CLIError(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
    else:
        base = preset.config
    try:
        config = presets.check(dataclasses.replace(base, **overrides))
    except ValueError as e:
        raise CLIError(str(e)) from None
    validate(config)
    for key, value in (("root", args.data_root), ("subset", args.subset), ("verify", args.verify)):
        if value is not None:
            data[key] = value
    dev = _device(args.device)
    mnist = _mnist(data["root"], "train", data["verify"], data["subset"])
    data["root"] = str(Path(mnist.root).resolve())
    _write_json(cfg_path, config_json(preset.name, config, data, str(dev)))

    model = build_model(config)
    c, common = (
        config,
        {
            "n_steps": config.n_steps,
            "batch_size": config.batch_size,
            "seed": config.seed,
            "device": dev,
            "progress": not args.no_progress,
            "checkpoint": ckpt,
            "checkpoint_every": config.checkpoint_every,
            "resume": args.resume,
            "ema": config.ema,
            "ema_warmup": config.ema_warmup,
            "precision": config.precision,
            "log": out / "log.csv",
            "sample_every": config.sample_every,
            "sample_dir": out / "grids",
        },
    )
    from gentoolkit.train import TrainingDiverged

    try:
        if c.kind == "gan":
            from gentoolkit.gan.train import train_gan

            h = train_gan(mnist, model["generator"], model["critic"], **gan_train_kwargs(c), **common)
            last, seconds = {"d_loss": h.d_loss[-1], "g_loss": h.g_loss[-1], "penalty": h.penalty[-1]}, h.seconds
        else:
            from gentoolkit.train import train_score

            net = model["model"]
            if c.kind == "ncsn":
                sigmas, loss = _sigmas(c), "dsm"
            else:
                from gentoolkit.sde import sde_dsm_loss

                options = {}  # the loss's defaults: uniform times, eps weighting
                if c.t_sampling == "lognormal":
                    options = {"p_mean": c.p_mean, "p_std": c.p_std, "uniform_frac": c.uniform_frac}
                if c.precond == "edm":
                    options.update(weighting="edm", data_std=c.data_std)
                sigmas, loss = None, functools.partial(sde_dsm_loss, sde=_sde(c), t_eps=c.t_eps, **options)
            res = train_score(
                net,
                mnist,
                sigmas,
                loss=loss,
                lr=c.lr,
                lr_decay=c.lr_decay,
                sample_fn=lambda model: draw_samples(c, model, c.n_grid, seed=c.seed, device=dev, progress=False)[0],
                **common,
            )
            last, seconds = {"loss": res.history[-1]}, res.seconds
    except TrainingDiverged as e:
        raise RunFailed(f"{e} (the last checkpoint is in {ckpt}; --resume continues from it)") from None
    return {
        "run": str(out),
        "preset": preset.name,
        "steps": config.n_steps,
        "seconds": round(seconds, 3),
        "last": last,
        "checkpoint": str(ckpt),
    }


def _sampler_config(config, args):
    """The run's config with the sample/evaluate command's sampler overrides; CLIError for a
    flag that does not apply to the run's kind or a bad value."""
    mapping = {
        "gan": {},
        "ncsn": {"sampler": "sampler", "steps": "n_steps_each", "eps": "eps", "denoise": "denoise"},
        "vp": {"sampler": "sampler", "steps": "em_steps", "tol": "tol", "eps_abs": "eps_abs", "denoise": "denoise"},
    }[config.kind]
    given = {k: getattr(args, k) for k in ("sampler", "steps", "eps", "tol", "eps_abs", "denoise")}
    given = {k: v for k, v in given.items() if v is not None}
    flag = {"denoise": "--no-denoise"}
    for k in given:
        if k not in mapping:
            takes = ", ".join(flag.get(m, "--" + m.replace("_", "-")) for m in mapping) or "no sampler flags"
            raise CLIError(
                f"{flag.get(k, '--' + k.replace('_', '-'))} does not apply to a {config.kind} run (it takes {takes})"
            )
    try:
        config = presets.check(dataclasses.replace(config, **{mapping[k]: v for k, v in given.items()}))
    except ValueError as e:
        raise CLIError(str(e)) from None
    validate(config)
    return config


def _draw_for(args) -> tuple[dict, object, torch.Tensor, dict]:
    dev = _device(args.device)
    cfg = read_config(Path(args.run))
    config = _sampler_config(cfg["hyper"], args)
    cfg, net, weights = load_run(args.run, dev, config)
    t0 = time.perf_counter()
    x, nfe = draw_samples(
        config,
        net,
        args.n,
        seed=args.seed,
        device=dev,
        batch_size=args.batch_size,
        progress=False if args.no_progress else None,
    )
    info = {
        "run": str(args.run),
        "preset": cfg["preset"],
        "n": args.n,
        "seed": args.seed,
        "weights": weights,
        "sampler": {"gan": "generator"}.get(config.kind, getattr(config, "sampler", None)),
        "seconds": round(time.perf_counter() - t0, 3),
        "nfe": nfe,
    }
    return cfg, config, x, info


def _sample(args) -> dict:
    from gentoolkit.plots import save_image_grid

    _, _, x, info = _draw_for(args)
    png = Path(args.out) if args.out else Path(args.run) / "samples.png"
    save_image_grid(x[:256].clamp(-1, 1), png)
    info["out"] = str(png)
    if args.save_tensor:
        path = Path(args.save_tensor)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(x, path)
        info["tensor"] = str(path)
    return info


def _jsonable(d: dict) -> dict:
    return {k: v.tolist() if isinstance(v, torch.Tensor) else v for k, v in d.items()}


def _evaluate(args) -> dict:
    try:
        from gentoolkit.metrics.digits import digit_quality, load_digit_classifier
    except Exception as e:  # the module is optional and may be broken or absent
        raise CLIError(
            f"evaluate needs gentoolkit.metrics.digits, which cannot be imported: {type(e).__name__}: {e}"
        ) from None
    dev = _device(args.device)
    try:
        classifier = load_digit_classifier(dev)
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e).splitlines()[0]) from None
    cfg, _, x, info = _draw_for(args)
    info["samples"] = _jsonable(digit_quality(x, classifier))
    data = cfg["data"]
    test = _mnist(args.data_root or data["root"], "test", data["verify"])
    n = min(args.n, len(test))
    real = test.batch(torch.arange(n))[0]
    info["real_test"] = _jsonable(digit_quality(real, classifier))
    return info


def _export(args) -> dict:
    from gentoolkit import pretrained

    out = Path(args.out)
    if out.suffix != ".pt":
        raise CLIError(f"--out {out} must end in .pt")
    cfg, net, weights = load_run(args.run, "cpu")  # checks that the weights fit the config's networks
    steps = int(_load_state(Path(args.run), "cpu")["step"])
    info = pretrained.export(cfg["preset"], cfg["hyper"], net.state_dict(), steps, out)
    return {**info, "preset": cfg["preset"], "steps": steps, "weights": weights}


def _presets(args) -> str:
    if args.name:
        p = presets.get(args.name)
        hyper = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(p.config).items()}
        return json.dumps({"preset": p.name, "kind": p.kind, "description": p.description, "hyper": hyper}, indent=2)
    width = max(map(len, presets.names()))
    return "\n".join(f"{p.name:<{width}}  {p.description}" for p in presets.PRESETS.values())


def main(argv=None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_peek_preset(argv))
    try:
        args = parser.parse_args(argv)
    except CLIError as e:
        print(e, file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    try:
        if args.command == "presets":
            print(_presets(args))
        else:
            commands = {"train": _train, "sample": _sample, "evaluate": _evaluate, "export": _export}
            result = commands[args.command](args)
            print(json.dumps(result, indent=2))
    except CLIError as e:
        print(f"{PROG} {args.command}: error: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        where = " (train --resume continues from the last checkpoint)" if args.command == "train" else ""
        print(f"{PROG} {args.command}: interrupted{where}", file=sys.stderr)
        return 130
    return 0
