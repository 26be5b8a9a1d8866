"""runs.draw_samples: the network's forward passes run in the run's precision (bf16 autocast by
default for the MNIST presets), the sampler's arithmetic in float32; a bad precision is named."""

import dataclasses

import pytest
import torch

from gentoolkit import presets, runs


class Recorder(torch.nn.Module):
    """A score (or generator) that records whether it runs under bf16 autocast, and whose output
    goes through a matrix product (so autocast changes its value): 0.5 * (W x) with W = -I."""

    def __init__(self, d):
        super().__init__()
        self.lin = torch.nn.Linear(d, d, bias=False)
        with torch.no_grad():
            self.lin.weight.copy_(-torch.eye(d))
        self.seen = []

    def forward(self, x, t=None):
        self.seen.append(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        shape = x.shape
        return 0.5 * self.lin(x.reshape(shape[0], -1)).reshape(shape)


class GeneratorRecorder(Recorder):
    """The same record, as a generator of 28 x 28 images from latent codes z (the first coordinate
    of z, broadcast)."""

    def forward(self, z, t=None):
        super().forward(z)
        return z[:, :1, None, None].expand(-1, 1, 28, 28)


VP = dataclasses.replace(presets.get("mnist-vp-ggf").config, sampler="em", em_steps=3)
GAN = presets.get("mnist-dcgan-ns").config


@pytest.mark.parametrize("config", [VP, GAN], ids=["vp", "gan"])
def test_forward_passes_run_in_the_configs_precision_unless_told_otherwise(config):
    net = GeneratorRecorder(config.latent_dim) if config.kind == "gan" else Recorder(28 * 28)
    assert config.precision == "bf16"
    x_bf16, _ = runs.draw_samples(config, net, 4, seed=0, device="cpu")
    assert net.seen and all(net.seen)
    net.seen.clear()
    x_fp32, _ = runs.draw_samples(config, net, 4, seed=0, device="cpu", precision="fp32")
    assert net.seen and not any(net.seen)
    net.seen.clear()
    x_cfg, _ = runs.draw_samples(dataclasses.replace(config, precision="fp32"), net, 4, seed=0, device="cpu")
    assert not any(net.seen)
    torch.testing.assert_close(x_cfg, x_fp32, rtol=0, atol=0)
    assert x_bf16.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")  # left as found
    if config.kind != "gan":  # the score went through a bf16 matrix product: close, not equal
        assert not torch.equal(x_bf16, x_fp32)
        torch.testing.assert_close(x_bf16, x_fp32, rtol=0.05, atol=0.05)


def test_an_unknown_precision_is_named():
    with pytest.raises(ValueError, match=r"precision='fp16'.*\['fp32', 'bf16'\]"):
        runs.draw_samples(VP, Recorder(28 * 28), 2, seed=0, device="cpu", precision="fp16")
