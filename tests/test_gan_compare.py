"""gentoolkit.gan.compare: runs differ only by their setups (same networks, seed and noise), the
statistics are mode_stats of the samples, the table shows them, and the figure draws every run."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from gentoolkit.data import toy2d  # noqa: E402
from gentoolkit.gan.compare import compare, table  # noqa: E402
from gentoolkit.metrics import mode_stats  # noqa: E402
from gentoolkit.plots import plot_gan_runs  # noqa: E402

MIX8 = toy2d.get("8gaussians")
SMALL = {"n_steps": 4, "hidden": 8, "depth": 1, "n_samples": 64, "log_every": 2}


def test_same_setup_same_run_and_setups_differ():
    runs = compare(MIX8, {"a": {"loss": "ns"}, "b": {"loss": "ns"}, "c": {"loss": "hinge"}}, **SMALL)
    assert list(runs) == ["a", "b", "c"]
    a, b, c = runs.values()
    assert torch.equal(a.samples, b.samples) and a.history == b.history  # same init, seed and noise
    assert not torch.equal(a.samples, c.samples)
    assert a.samples.shape == (64, 2) and a.history.steps == 4 and a.history.eval_steps == [2, 4]
    st = mode_stats(c.samples, MIX8)
    assert c.stats["covered"] == st["covered"] and c.stats["kl"] == st["kl"] and c.seconds == c.history.seconds > 0
    assert a.setup == {"loss": "ns"}
    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))  # compare's noise: seed + 1
    assert not c.generator.training and torch.equal(c.generator(z).detach(), c.samples)
    assert c.critic(c.samples).shape == (64,)
    other = compare(MIX8, {"x": {"loss": "ns"}}, **{**SMALL, "seed": 1})["x"]
    assert other.history != a.history  # another seed, another run


def test_bad_setups_are_named():
    with pytest.raises(TypeError, match="setups must be a non-empty dict"):
        compare(MIX8, {}, n_steps=1)
    with pytest.raises(TypeError, match=r"setups\['a'\] must be a dict"):
        compare(MIX8, {"a": "ns"}, n_steps=1)
    with pytest.raises(ValueError, match=r"setups\['a'\] sets \['n_steps', 'seed'\]: these are compare\(\)'s"):
        compare(MIX8, {"a": {"seed": 3, "n_steps": 2}}, n_steps=1)
    with pytest.raises(ValueError, match="loss='mse' is not known"):
        compare(MIX8, {"a": {"loss": "mse"}}, n_steps=1)


def test_table_and_figure_show_every_run():
    runs = compare(MIX8, {"ns": {"loss": "ns"}, "lsgan": {"loss": "lsgan"}}, **SMALL)
    extra = {"score model": ({"covered": 7, "modes": 8, "kl": float("inf"), "high_quality": 0.5}, 1.25)}
    text = table(runs, extra=extra)
    lines = text.splitlines()
    assert len(lines) == 5 and lines[0].startswith("| run | modes covered")
    st = runs["lsgan"].stats
    assert f"| lsgan | {st['covered']} / 8 | {st['kl']:.3f} |" in text or "∞" in lines[3]
    assert lines[-1] == "| score model | 7 / 8 | ∞ | 50% | 1.2 s |"
    fig = plot_gan_runs(runs, MIX8)
    axes = fig.axes
    assert (
        len(axes) == 3
        and "ns" in axes[0].get_title()
        and f"modes {runs['ns'].stats['covered']}/8" in axes[0].get_title()
    )
    assert len(axes[-1].lines) == 3  # two runs' curves and the K line
    assert len(plot_gan_runs(runs, MIX8, curve=False).axes) == 2
