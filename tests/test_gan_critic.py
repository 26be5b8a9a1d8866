"""A critic trained for a fixed generator (gentoolkit.gan.train_critic, GANTrainer.critic_steps: what DRS
and latent Langevin need for a pretrained generator) and the preset trainer gentoolkit.runs.train_gan_config."""

import dataclasses

import pytest
import torch
from torch import nn

from gentoolkit import presets
from gentoolkit.gan import GANTrainer, train_critic
from gentoolkit.runs import train_gan_config


class Shift(nn.Module):
    """G(z) = z + mu0, with a batch norm whose running statistics would move in training mode."""

    def __init__(self, mu0):
        super().__init__()
        self.latent_dim = 2
        self.mu0 = nn.Parameter(torch.as_tensor(mu0, dtype=torch.float32))
        self.bn = nn.BatchNorm1d(2, affine=False)

    def forward(self, z):
        return self.bn(z) * 0 + z + self.mu0  # the batch norm only exposes its buffers' updates


def _linear_critic():
    torch.manual_seed(0)
    return nn.Linear(2, 1)


MU0, MU1 = torch.tensor([-1.0, 0.5]), torch.tensor([1.0, 1.5])


def _real(n=20000):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(5)) + MU1


def test_linear_critic_learns_the_log_density_ratio():
    # p = N(mu1, I), q = N(mu0, I): log p / q = (mu1 - mu0) . x - (|mu1|^2 - |mu0|^2) / 2, linear, so a
    # logistic-regression critic can reach the optimum of the ns critic loss exactly
    critic = _linear_critic()
    out = train_critic(Shift(MU0), critic, _real(), n_steps=600, lr=0.05, batch_size=512, device="cpu")
    w, b = critic.weight.detach().flatten(), critic.bias.detach().item()
    assert torch.allclose(w, MU1 - MU0, atol=0.15), w
    assert b == pytest.approx(-(MU1.square().sum() - MU0.square().sum()).item() / 2, abs=0.2)
    assert len(out["d_loss"]) == len(out["penalty"]) == 600 and out["seconds"] > 0
    assert not critic.training


def test_generator_is_untouched_and_keeps_its_mode():
    G = Shift(MU0)
    G.train()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    train_critic(G, _linear_critic(), _real(), n_steps=5, device="cpu")
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())  # params and BN buffers
    assert G.training and G.bn.training
    G.eval()
    train_critic(G, _linear_critic(), _real(), n_steps=2, device="cpu")
    assert not G.training and not G.bn.training


def test_same_seed_same_critic_another_seed_differs():
    def run(seed):
        c = _linear_critic()
        train_critic(Shift(MU0), c, _real(), n_steps=20, lr=0.01, seed=seed, device="cpu")
        return torch.cat([p.detach().flatten() for p in c.parameters()])

    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))


def test_critic_steps_do_not_move_the_generator_step_or_history():
    trainer = GANTrainer(_real(), Shift(MU0), _linear_critic(), lr_d=0.01, batch_size=64, device="cpu")
    out = trainer.critic_steps(3)
    assert trainer.steps == 0 and trainer.history.steps == 0 and len(out["d_loss"]) == 3
    trainer.step()
    assert trainer.steps == 1


def test_train_critic_with_r1_reports_the_penalty():
    out = train_critic(Shift(MU0), _linear_critic(), _real(), n_steps=3, regularizer="r1", reg_weight=2.0, device="cpu")
    # R1 = gamma / 2 * |w|^2 for a linear critic: positive
    assert all(p > 0 for p in out["penalty"])


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="n_steps"):
        train_critic(Shift(MU0), _linear_critic(), _real(), n_steps=0)
    with pytest.raises(TypeError, match="G must be a torch.nn.Module"):
        train_critic(lambda z: z, _linear_critic(), _real(), n_steps=1)
    with pytest.raises(ValueError, match="loss='nope'"):
        train_critic(Shift(MU0), _linear_critic(), _real(), n_steps=1, loss="nope")
    with pytest.raises(ValueError, match="^lr must"):
        train_critic(Shift(MU0), _linear_critic(), _real(), n_steps=1, lr=-1.0)
    with pytest.raises(ValueError, match="k must"):
        GANTrainer(_real(), Shift(MU0), _linear_critic(), device="cpu").critic_steps(0)


def _tiny_config(**kw):
    base = presets.get("mnist-dcgan-ns").config
    return dataclasses.replace(
        base, latent_dim=4, width_g=4, width_d=4, batch_size=8, precision="fp32", n_steps=3, **kw
    )


def test_train_gan_config_follows_the_config():
    data = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    run = train_gan_config(_tiny_config(), data, device="cpu")
    h = run["history"]
    # the preset's lazy R1 (every 16 steps): a penalty in step 0 only
    assert h.steps == 3 and h.seconds > 0 and h.penalty[0] > 0 and h.penalty[1:] == [0.0, 0.0]
    assert h.ema is run["generator"] and not run["generator"].training and not run["critic"].training
    x = run["generator"](torch.zeros(2, 4))
    assert x.shape == (2, 1, 28, 28)
    every = _tiny_config(regularizer="r1", reg_weight=3.0, reg_every=1, norm_d="layer")
    r1 = train_gan_config(every, data, n_steps=2)
    assert r1["history"].steps == 2 and all(p > 0 for p in r1["history"].penalty)
    same = train_gan_config(every, data, n_steps=2)
    assert r1["history"].d_loss == same["history"].d_loss  # the config's seed: the same run


def test_train_gan_config_checks_its_config():
    with pytest.raises(TypeError, match="config must be a gentoolkit.presets.GANConfig"):
        train_gan_config({"loss": "ns"}, torch.zeros(4, 1, 28, 28))
    with pytest.raises(ValueError, match="lr_g"):
        train_gan_config(_tiny_config(lr_g=-1.0), torch.zeros(4, 1, 28, 28))
