"""The classic chains' contract beyond their laws: the seed replays the documented update,
per-chain acceptance, callbacks, keep_chain, progress bars and which argument an error names.
Each test names the mutation of ``gentoolkit.sampling.classic`` it catches."""

from __future__ import annotations

import pytest
import torch

from gentoolkit.sampling import mala, metropolis_hastings, ula


def log_prob(x):
    return -0.5 * x.pow(2).sum(1)


def score(x):
    return -x


def g(seed):
    return torch.Generator().manual_seed(seed)


X0 = torch.randn(64, 2, generator=g(0), dtype=torch.float64)


def test_mh_replays_its_update_from_the_seed():
    """Two MH steps equal x' = x + std z, accepted when log u < log p(x') - log p(x), with z
    then u drawn from the generator in that order (x - std z, the same law, differs)."""
    std, gen = 0.8, g(1)
    x = X0.clone()
    for _ in range(2):
        prop = x + std * torch.randn(x.shape, generator=gen, dtype=x.dtype)
        accept = torch.log(torch.rand(x.shape[0], generator=gen, dtype=x.dtype)) < log_prob(prop) - log_prob(x)
        x = torch.where(accept[:, None], prop, x)
    res = metropolis_hastings(log_prob, X0, std, 2, generator=g(1))
    assert torch.equal(res.x, x)


def test_per_chain_acceptance_is_a_fraction_of_the_steps():
    res = metropolis_hastings(log_prob, X0, 1.0, 20, generator=g(2))
    assert res.accepted.shape == (64,) and bool(((res.accepted >= 0) & (res.accepted <= 1)).all())
    assert abs(res.accepted.mean().item() - res.acceptance_rate) < 1e-12
    assert torch.allclose(res.accepted * 20, (res.accepted * 20).round())  # whole numbers of accepted steps


@pytest.mark.parametrize("run", [metropolis_hastings, mala, ula], ids=["mh", "mala", "ula"])
def test_chain_default_and_callback(run):
    """keep_chain defaults to False (no chain); the callback gets (k, x_k) with x_k the state
    after step k, the last one equal to the result."""
    fn = score if run is ula else log_prob
    seen = []
    res = run(fn, X0, 0.3, 3, generator=g(3), callback=lambda k, x: seen.append((k, x.clone())))
    assert res.chain is None
    assert [k for k, _ in seen] == [0, 1, 2] and torch.equal(seen[-1][1], res.x)
    kept = run(fn, X0, 0.3, 3, generator=g(3), keep_chain=True)
    assert torch.equal(kept.chain[1:], torch.stack([x for _, x in seen]))


def test_a_bar_only_above_a_few_hundred_steps(capsys):
    """progress=None: one score call per step, so 200 steps show no bar (300 is the limit)."""
    ula(score, X0, 0.1, 200, generator=g(4))
    assert capsys.readouterr().err == ""
    ula(score, X0, 0.1, 301, generator=g(4))
    assert "ULA" in capsys.readouterr().err


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: metropolis_hastings(log_prob, X0, 0.0, 2), "^proposal_std must be"),
        (lambda: metropolis_hastings(lambda x: [0.0], X0, 1.0, 2), r"got list$"),
        (lambda: metropolis_hastings(lambda x: x, X0, 1.0, 2), r"shape \(64,\), got \(64, 2\)$"),
        (lambda: ula(lambda x: x.tolist(), X0, 0.1, 2), r"got list$"),
        (lambda: ula(lambda x: x[:, :1], X0, 0.1, 2), r"shape \(64, 2\), got \(64, 1\)$"),
    ],
    ids=["proposal_std", "logp-type", "logp-shape", "score-type", "score-shape"],
)
def test_errors_say_what_was_given(call, message):
    with pytest.raises(ValueError, match=message):
        call()
