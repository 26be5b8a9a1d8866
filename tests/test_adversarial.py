import pytest
import torch

from gentoolkit.data import toy2d
from gentoolkit.metrics import mode_stats
from gentoolkit.nets import MLPDiscriminator, ScoreMLP
from gentoolkit.score import dsm_loss
from gentoolkit.score.adversarial import adversarial_dsm_losses
from gentoolkit.train import load_checkpoint, train_adversarial_score

SIGMAS = torch.logspace(-1.3, 0.5, 40)


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_losses_match_eq_8_4_and_8_5_by_hand():
    net, disc = ScoreMLP(hidden=16, depth=1), MLPDiscriminator(hidden=16, depth=1)
    x = toy2d.get("ring").sample(64, g(1))
    out = adversarial_dsm_losses(net, disc, x, SIGMAS, g(2), lam=2.5)
    gen = g(2)  # replay: level, then noise
    sig = SIGMAS[torch.randint(len(SIGMAS), (64,), generator=gen)]
    z = torch.randn(64, 2, generator=gen)
    xt = x + sig[:, None] * z
    s = net(xt, sig)
    h = xt + sig[:, None] ** 2 * s  # EDS, Eq. 8.3
    dsm = 0.5 * ((sig[:, None] * s + z) ** 2).sum(1).mean()
    torch.testing.assert_close(out["eds"], h)
    torch.testing.assert_close(out["dsm"], dsm)
    torch.testing.assert_close(out["dsm"], dsm_loss(net, x, SIGMAS, g(2)))  # the same DSM term
    torch.testing.assert_close(out["disc"], ((disc(x) - 1) ** 2).mean() + ((disc(h) + 1) ** 2).mean())
    torch.testing.assert_close(out["score"], ((disc(h) - 1) ** 2).mean() + 2.5 * dsm)
    # lambda defaults to 1, the value App. C.2 found best
    torch.testing.assert_close(
        adversarial_dsm_losses(net, disc, x, SIGMAS, g(2))["score"], ((disc(h) - 1) ** 2).mean() + dsm
    )


def test_bad_x_and_a_bad_score_net_are_named():
    """A batch that is not (n, ...) floating point names x, and a score net that returns the
    wrong shape is named score_net (not the generic score_fn)."""
    net, disc = ScoreMLP(hidden=16, depth=1), MLPDiscriminator(hidden=16, depth=1)
    with pytest.raises(ValueError, match="^x must be a floating-point tensor"):
        adversarial_dsm_losses(net, disc, torch.zeros(4), SIGMAS)
    with pytest.raises(ValueError, match=r"^score_net\(x, sigma\) must return a tensor of x's shape"):
        adversarial_dsm_losses(lambda x, s: x[:, :1], disc, torch.zeros(4, 2), SIGMAS)


def test_discriminator_loss_does_not_reach_the_score_network():
    net, disc = ScoreMLP(hidden=16, depth=1), MLPDiscriminator(hidden=16, depth=1)
    out = adversarial_dsm_losses(net, disc, toy2d.get("ring").sample(32, g(3)), SIGMAS, g(4))
    out["disc"].backward()
    assert all(p.grad is None for p in net.parameters())
    assert all(p.grad is not None for p in disc.parameters())


def test_lam_zero_and_huge_gan_free_limit():
    net, disc = ScoreMLP(hidden=16, depth=1), MLPDiscriminator(hidden=16, depth=1)
    x = toy2d.get("ring").sample(32, g(5))
    a = adversarial_dsm_losses(net, disc, x, SIGMAS, g(6), lam=0.0)
    torch.testing.assert_close(a["score"], ((disc(a["eds"]) - 1) ** 2).mean())
    with pytest.raises(ValueError, match="lam must be a finite number >= 0"):
        adversarial_dsm_losses(net, disc, x, SIGMAS, lam=-1.0)


def _short(**kw):
    net, disc = ScoreMLP(hidden=16, depth=1, seed=1), MLPDiscriminator(hidden=16, depth=1, seed=2)
    r = train_adversarial_score(
        net,
        disc,
        toy2d.get("8gaussians"),
        SIGMAS,
        n_steps=30,
        batch_size=64,
        seed=3,
        progress=False,
        device="cpu",
        **kw,
    )
    return net, disc, r


def test_training_is_seeded_and_resumes_exactly(tmp_path):
    (n1, d1, r1), (n2, d2, r2) = _short(), _short()
    assert r1.dsm == r2.dsm and r1.disc == r2.disc and len(r1.score) == 30
    for a, b in zip(list(n1.parameters()) + list(d1.parameters()), list(n2.parameters()) + list(d2.parameters())):
        assert torch.equal(a, b)
    ck = tmp_path / "adv.pt"

    def kill(step, losses):
        if step == 12:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _short(checkpoint=ck, checkpoint_every=10, callback=kill)
    assert load_checkpoint(ck)["step"] == 10
    n3, d3, r3 = _short(checkpoint=ck, resume=True)
    assert r3.dsm == r1.dsm and r3.disc == r1.disc
    for a, b in zip(list(n3.parameters()) + list(d3.parameters()), list(n1.parameters()) + list(d1.parameters())):
        assert torch.equal(a, b)


def test_parts_compute_only_their_player_with_the_same_draws():
    net, disc = ScoreMLP(hidden=16, depth=1), MLPDiscriminator(hidden=16, depth=1)
    x = toy2d.get("ring").sample(32, g(7))
    both = adversarial_dsm_losses(net, disc, x, SIGMAS, g(8))
    d, s = (adversarial_dsm_losses(net, disc, x, SIGMAS, g(8), part=p) for p in ("disc", "score"))
    assert set(d) == {"disc", "dsm", "eds"} and set(s) == {"score", "dsm", "eds"}
    torch.testing.assert_close(d["disc"], both["disc"])
    torch.testing.assert_close(s["score"], both["score"])
    with pytest.raises(ValueError, match="part must be 'both', 'disc' or 'score', got 'critic'"):
        adversarial_dsm_losses(net, disc, x, SIGMAS, part="critic")


class CountingDisc(MLPDiscriminator):
    calls = 0

    def forward(self, x):
        type(self).calls += 1
        return super().forward(x)


def test_training_logs_the_critics_own_loss_and_wastes_no_forward_pass(monkeypatch):
    # The logged critic loss is the loss of the discriminator's last step (on its own batch),
    # not one recomputed on the score step's batch; and each step costs 2 critic passes per
    # discriminator step (data and EDS) + 1 for the score step, no more.
    import gentoolkit.train as train

    seen = []

    def spy(*args, **kwargs):
        out = adversarial_dsm_losses(*args, **kwargs)
        if kwargs.get("part") == "disc":
            seen.append(out["disc"].item())
        return out

    monkeypatch.setattr(train, "adversarial_dsm_losses", spy)
    CountingDisc.calls = 0
    net, disc = ScoreMLP(hidden=16, depth=1, seed=1), CountingDisc(hidden=16, depth=1, seed=2)
    r = train_adversarial_score(
        net, disc, toy2d.get("8gaussians"), SIGMAS, n_steps=6, n_disc=2, batch_size=32, progress=False, device="cpu"
    )
    assert r.disc == seen[1::2]  # the second (last) critic step of each of the 6 steps
    assert CountingDisc.calls == 6 * (2 * 2 + 1)


def test_training_reduces_the_dsm_term_and_checks_arguments():
    net, disc, r = _short()
    assert sum(r.dsm[-5:]) / 5 < sum(r.dsm[:5]) / 5
    with pytest.raises(ValueError, match="n_disc must be a positive integer, got 0"):
        _short(n_disc=0)
    with pytest.raises(TypeError, match="disc must be a torch.nn.Module"):
        train_adversarial_score(net, lambda x: x, toy2d.get("ring"), SIGMAS, n_steps=1)


def test_mode_stats():
    mix = toy2d.get("8gaussians")
    perfect = mode_stats(mix.sample(8000, g(7)), mix)
    assert perfect["covered"] == 8 and perfect["high_quality"] > 0.99 and perfect["kl"] < 0.01
    one_mode = mix.means[0] + 0.1 * torch.randn(1000, 2, generator=g(8), dtype=torch.float64)
    collapsed = mode_stats(one_mode, mix)
    assert collapsed["covered"] == 1 and collapsed["kl"] == pytest.approx(torch.log(torch.tensor(8.0)).item())
    noise = 5 * torch.randn(1000, 2, generator=g(9))
    assert mode_stats(noise, mix)["high_quality"] < 0.1
