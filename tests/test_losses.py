import pytest
import torch

from gentoolkit.data import toy2d
from gentoolkit.metrics import score_error
from gentoolkit.score import dsm_loss, ssm_loss
from tests.conftest import DEVICES


def gaussian_score(s2):
    """Exact score of N(0, s2 I) smoothed by sigma: -x / (s2 + sigma^2), any sample shape."""

    def f(x, sigma):
        return -x / (s2 + sigma.reshape(-1, *([1] * (x.ndim - 1))) ** 2)

    return f


def mixture_score(mix, shift=(0.0, 0.0)):
    c = torch.tensor(shift, dtype=torch.float64)
    return lambda x, sigma: mix.score(x, sigma) + c.to(x)


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_dsm_matches_the_formula_with_the_same_draws():
    net = gaussian_score(0.5)
    x = torch.randn(64, 3, generator=g(1))
    sigmas = torch.tensor([0.1, 0.5, 2.0])
    per = dsm_loss(net, x, sigmas, g(2), reduction="none")
    gen = g(2)  # replay the draws: levels first, then noise
    sig = sigmas[torch.randint(3, (64,), generator=gen)]
    z = torch.randn(64, 3, generator=gen)
    ref = 0.5 * ((sig[:, None] * net(x + sig[:, None] * z, sig) + z) ** 2).sum(1)
    torch.testing.assert_close(per, ref)
    torch.testing.assert_close(dsm_loss(net, x, sigmas, g(2)), ref.mean())


@pytest.mark.parametrize("sigma", [0.2, 1.0, 3.0])
def test_dsm_of_the_exact_score_equals_closed_form(sigma):
    # data N(0, s^2 I) in d dims: E l(s*) = d/2 * s^2 / (s^2 + sigma^2)
    d, s2, n = 4, 0.7, 400_000
    x = torch.randn(n, d, generator=g(3), dtype=torch.float64) * s2**0.5
    per = dsm_loss(gaussian_score(s2), x, sigma, g(4), reduction="none")
    expected = d / 2 * s2 / (s2 + sigma**2)
    assert abs(per.mean().item() - expected) < 5 * per.std().item() / n**0.5


@pytest.mark.parametrize("sigma", [0.1, 0.5])
def test_dsm_excess_over_the_exact_score_is_half_sigma2_squared_error(sigma):
    # E l(s* + c) - E l(s*) = sigma^2 / 2 |c|^2 (the DSM minimiser is the score of p_sigma)
    mix = toy2d.get("8gaussians")
    n = 200_000
    x = mix.sample(n, g(5)).double()
    c = (0.3, -0.4)
    l0 = dsm_loss(mixture_score(mix), x, sigma, g(6), reduction="none")
    l1 = dsm_loss(mixture_score(mix, c), x, sigma, g(6), reduction="none")
    diff = l1 - l0
    expected = sigma**2 / 2 * (0.3**2 + 0.4**2)
    assert abs(diff.mean().item() - expected) < 5 * diff.std().item() / n**0.5 + 1e-12


@pytest.mark.parametrize("sigma", [0.2, 1.0])
def test_ssm_of_the_exact_score_equals_closed_form(sigma):
    # noisy data N(0, v I), v = s^2 + sigma^2, s = -x / v: E[v^T J v] = -d / v,
    # E 1/2 |s|^2 = d / (2 v), so the loss is -sigma^2 d / (2 v)
    d, s2, n = 3, 0.5, 200_000
    x = torch.randn(n, d, generator=g(7), dtype=torch.float64) * s2**0.5
    per = ssm_loss(gaussian_score(s2), x, sigma, g(8), reduction="none")
    expected = -(sigma**2) * d / (2 * (s2 + sigma**2))
    assert abs(per.mean().item() - expected) < 5 * per.std().item() / n**0.5


def test_ssm_excess_over_the_exact_score_is_half_sigma2_squared_error():
    mix = toy2d.get("ring")
    sigma, n = 0.3, 100_000
    x = mix.sample(n, g(9)).double()
    c = (0.5, 0.2)
    l0 = ssm_loss(mixture_score(mix), x, sigma, g(10), reduction="none")
    l1 = ssm_loss(mixture_score(mix, c), x, sigma, g(10), reduction="none")
    diff = l1 - l0
    expected = sigma**2 / 2 * (0.5**2 + 0.2**2)
    assert abs(diff.mean().item() - expected) < 5 * diff.std().item() / n**0.5


def test_ssm_jacobian_term_is_exact_for_linear_scores():
    # s(x) = A x: v^T J v = v^T A v, whose mean over v ~ N(0, I) is tr(A)
    A = torch.tensor([[-2.0, 0.5], [0.3, -1.0]], dtype=torch.float64)
    x = torch.zeros(50_000, 2, dtype=torch.float64)
    per = ssm_loss(lambda x, s: x @ A.T, x, 1.0, g(11), reduction="none")
    # x~ = z; 1/2 |A z|^2 has mean 1/2 tr(A^T A)
    expected = torch.trace(A) + 0.5 * torch.trace(A.T @ A)
    assert abs(per.mean().item() - expected.item()) < 5 * per.std().item() / 50_000**0.5
    more = ssm_loss(lambda x, s: x @ A.T, x, 1.0, g(11), n_projections=8, reduction="none")
    assert more.std() < per.std()  # more directions, less variance


def test_losses_backpropagate_and_work_on_image_shapes():
    net = torch.nn.Conv2d(1, 1, 3, padding=1)

    def score_net(x, sigma):
        return net(x) / sigma[:, None, None, None]

    x = torch.randn(8, 1, 6, 6, generator=g(12))
    for loss in (dsm_loss, ssm_loss):
        net.zero_grad()
        value = loss(score_net, x, [0.1, 1.0], g(13))
        value.backward()
        assert value.ndim == 0 and net.weight.grad is not None and net.weight.grad.abs().sum() > 0


def test_levels_are_drawn_uniformly():
    seen = []
    x = torch.zeros(30_000, 2)

    def spy(x, sigma):
        seen.append(sigma)
        return torch.zeros_like(x)

    dsm_loss(spy, x, [0.1, 0.2, 0.4], g(14))
    counts = torch.stack([(seen[0] == s).sum() for s in torch.tensor([0.1, 0.2, 0.4])]).double()
    assert ((counts - 10_000).abs() < 5 * (30_000 * (1 / 3) * (2 / 3)) ** 0.5).all()


@pytest.mark.parametrize("device", DEVICES)
def test_same_generator_same_loss(device):
    net = gaussian_score(1.0)
    x = torch.randn(32, 2, generator=g(15)).to(device)
    for loss in (dsm_loss, ssm_loss):
        a, b = loss(net, x, [0.5, 1.0], g(16)), loss(net, x, [0.5, 1.0], g(16))
        assert a.device.type == device and torch.equal(a, b)


def test_bad_inputs():
    net = gaussian_score(1.0)
    x = torch.zeros(4, 2)
    for loss in (dsm_loss, ssm_loss):
        with pytest.raises(ValueError, match="sigmas must all be finite and > 0"):
            loss(net, x, [0.1, -1.0])
        with pytest.raises(ValueError, match="sigmas must be a float or a non-empty 1-D tensor"):
            loss(net, x, torch.ones(2, 2))
        with pytest.raises(ValueError, match="x must be a floating-point tensor of shape"):
            loss(net, torch.zeros(4), 0.1)
        bad_shape = r"score_net\(x, sigma\) must return a tensor of x's shape \(4, 2\), got \(4, 3\)"
        with pytest.raises(ValueError, match=bad_shape):
            loss(lambda x, s: torch.zeros(4, 3), x, 0.1)
        with pytest.raises(ValueError, match="reduction must be 'mean' or 'none'"):
            loss(net, x, 0.1, reduction="sum")
    with pytest.raises(ValueError, match="n_projections must be a positive integer"):
        ssm_loss(net, x, 0.1, n_projections=0)


def test_score_error_is_zero_for_exact_and_known_for_scaled():
    mix = toy2d.get("moons")
    sig = [0.1, 0.5]
    # zero up to float32 rounding: the score evaluates x.mu_k as a float32 matmul (~3e-6 here)
    assert score_error(mix.score, mix, sig, seed=0).abs().max() < 1e-5
    # a score scaled by 1.2 has relative error exactly 0.2
    err = score_error(lambda x, s: 1.2 * mix.score(x, s), mix, sig, seed=0)
    torch.testing.assert_close(err, torch.tensor([0.2, 0.2], dtype=torch.float64), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="sigmas must be a non-empty list of levels > 0"):
        score_error(mix.score, mix, [0.0])


def test_score_error_runs_where_the_network_is_and_defaults_to_cuda_when_available():
    from gentoolkit.config import default_device, device_for
    from gentoolkit.nets import ScoreMLP

    net = ScoreMLP(hidden=8, depth=1)
    assert device_for(net) == next(net.parameters()).device  # a network stays where it is
    assert device_for(toy2d.get("moons").score) == default_device()  # a plain function: cuda if any
    assert device_for(net, "cpu") == torch.device("cpu")
    seen = []

    def spy(x, s):
        seen.append(x.device)
        return net(x, s)

    score_error(spy, toy2d.get("moons"), [0.3], n=16, seed=0, device="cpu")
    assert seen == [torch.device("cpu")]
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU is available"):
            score_error(net, toy2d.get("moons"), [0.3], device="cuda")


def test_ssm_replayed_by_hand_with_a_nonlinear_score():
    """The draws replayed (sigma index, z, then the default single v) and the Jacobian term in
    closed form for s(x~) = tanh(W x~), whose Jacobian is diag(1 - s^2) W: catches x - sigma z
    (same law, so only a replay sees it), sigma / z, s / v or g / v in the Jacobian-vector
    product, and a default of more than one projection."""
    W = torch.tensor([[0.7, -0.4], [0.9, 0.3]], dtype=torch.float64)
    x = torch.randn(32, 2, generator=g(20), dtype=torch.float64)
    sigmas = torch.tensor([0.3, 0.8], dtype=torch.float64)
    per = ssm_loss(lambda xx, s: torch.tanh(xx @ W.T), x, sigmas, g(21), reduction="none")
    gen = g(21)
    sigma = sigmas[torch.randint(2, (32,), generator=gen)]
    z = torch.randn(32, 2, generator=gen, dtype=torch.float64)
    v = torch.randn(32, 2, generator=gen, dtype=torch.float64)
    s = torch.tanh((x + sigma[:, None] * z) @ W.T)
    vjv = (v * (1 - s**2) * (v @ W.T)).sum(1)
    torch.testing.assert_close(per, sigma**2 * (vjv + 0.5 * (s**2).sum(1)))


def test_draw_sigmas_keeps_x_dtype_and_names_bad_levels():
    """The levels come back in x's dtype (a list of Python floats is not cast through float32:
    0.1 stays the float64 0.1), zero is not a level, and the errors name sigmas (the value
    error lists at most the first 8 levels)."""
    from gentoolkit.score import draw_sigmas

    x = torch.zeros(200, 2, dtype=torch.float64)
    s = draw_sigmas([0.1, 0.3], x, g(17))
    assert s.dtype == torch.float64 and set(s.tolist()) == {0.1, 0.3}
    with pytest.raises(ValueError, match=r"^sigmas must all be finite and > 0, got \[0\.0, 1\.0\]$"):
        draw_sigmas([0.0, 1.0], x)
    with pytest.raises(ValueError, match=r"^sigmas must all be finite and > 0, got \[(-1\.0, ){7}-1\.0\]$"):
        draw_sigmas([-1.0] * 10, x)
    with pytest.raises(TypeError, match="^sigmas must be a float or a 1-D tensor/list of noise levels, got str$"):
        draw_sigmas("abc", x)


@pytest.mark.parametrize("device", DEVICES)
def test_draw_sigmas_draws_on_the_generators_device(device):
    """The index draw is on the generator's device and moved to x's: a CPU generator gives the
    same levels for data on any device, and a generator on the device serves CPU data."""
    from gentoolkit.score import draw_sigmas

    levels = torch.tensor([0.1, 0.2, 0.4, 0.8])
    x = torch.zeros(64, 2)
    ref = draw_sigmas(levels, x, g(18))
    on_device = draw_sigmas(levels.tolist(), x.to(device), g(18))  # the levels move to x's device
    assert on_device.device.type == device and torch.equal(on_device.cpu(), ref)
    dg = torch.Generator(device).manual_seed(19)
    a = draw_sigmas(levels, x, dg)
    assert a.device.type == "cpu" and torch.equal(a, draw_sigmas(levels, x, dg.manual_seed(19)))
