"""The exercise checks of notebook 07: each accepts its answer (written two ways, float32 too) and
gives each plausible wrong answer, written here as a student would write it, the hint that names
its mistake. On the inputs the check really uses (recorded by a spy that answers correctly) the
wrong answers differ pairwise, so no two mistakes can get each other's hint."""

import pytest
import torch

from gentoolkit import exercises as ex
from gentoolkit.metrics import frechet_distance, mmd
from tests.exercise_harness import harness, recorded_inputs


def frechet(mu1, s1, mu2, s2):
    return ((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum()


FRECHET_WRONG = {
    "covariance term is missing": lambda mu1, s1, mu2, s2: ((mu1 - mu2) ** 2).sum(),
    "as if they were variances": lambda mu1, s1, mu2, s2: (
        ((mu1 - mu2) ** 2).sum() + s1.sum() + s2.sum() - 2 * (s1 * s2).sqrt().sum()
    ),
    "Missing factor 2 on the cross term": lambda mu1, s1, mu2, s2: (
        ((mu1 - mu2) ** 2).sum() + (s1**2).sum() + (s2**2).sum() - (s1 * s2).sum()
    ),
    "the square root of S1 S2": lambda mu1, s1, mu2, s2: (
        ((mu1 - mu2) ** 2).sum() + (s1**2 + s2**2).sum() - 2 * (s1**2 * s2**2).sum()
    ),
    "Square the distance between the means": lambda mu1, s1, mu2, s2: (
        torch.linalg.norm(mu1 - mu2) + ((s1 - s2) ** 2).sum()
    ),
    "Wasserstein-2 distance itself": lambda mu1, s1, mu2, s2: frechet(mu1, s1, mu2, s2) ** 0.5,
    "compares the variances": lambda mu1, s1, mu2, s2: ((mu1 - mu2) ** 2).sum() + ((s1**2 - s2**2) ** 2).sum(),
}


def mmd2(kxx, kyy, kxy):
    n, m = len(kxx), len(kyy)
    off = lambda k: k.sum() - k.trace()  # noqa: E731
    return off(kxx) / (n * (n - 1)) + off(kyy) / (m * (m - 1)) - 2 * kxy.sum() / (n * m)


MMD_WRONG = {
    "biased \\(V-statistic\\)": lambda kxx, kyy, kxy: kxx.mean() + kyy.mean() - 2 * kxy.mean(),
    "but kept the diagonal": lambda kxx, kyy, kxy: (
        kxx.sum() / (len(kxx) * (len(kxx) - 1)) + kyy.sum() / (len(kyy) * (len(kyy) - 1)) - 2 * kxy.mean()
    ),
    "but divided by n\\^2": lambda kxx, kyy, kxy: (
        (kxx.sum() - kxx.trace()) / len(kxx) ** 2 + (kyy.sum() - kyy.trace()) / len(kyy) ** 2 - 2 * kxy.mean()
    ),
    "Missing factor 2 on the cross term": lambda kxx, kyy, kxy: mmd2(kxx, kyy, kxy) + kxy.mean(),
    "sign of the cross term": lambda kxx, kyy, kxy: mmd2(kxx, kyy, kxy) + 4 * kxy.mean(),
    "do not remove its diagonal": lambda kxx, kyy, kxy: (
        mmd2(kxx, kyy, kxy) + 2 * kxy.mean() - 2 * (kxy.sum() - kxy.diagonal().sum()) / kxy.numel()
    ),
    "MMD itself": lambda kxx, kyy, kxy: mmd2(kxx, kyy, kxy).sqrt(),
}

CHECKS = {
    ex.check_frechet_diagonal: (frechet, FRECHET_WRONG),
    ex.check_mmd2_unbiased: (mmd2, MMD_WRONG),
}
globals().update(harness(CHECKS))  # the five shared tests (tests/exercise_harness.py)


def test_checks_accept_other_correct_forms(capsys):
    def frechet_full(mu1, s1, mu2, s2):  # the library's general formula on diagonal covariances
        return frechet_distance(mu1, torch.diag(s1**2), mu2, torch.diag(s2**2))

    ex.check_frechet_diagonal(frechet_full)
    ex.check_frechet_diagonal(lambda mu1, s1, mu2, s2: frechet(mu1.float(), s1.float(), mu2.float(), s2.float()))

    def mmd2_masked(kxx, kyy, kxy):
        off = lambda k: k[~torch.eye(len(k), dtype=torch.bool)].mean()  # noqa: E731
        return off(kxx) + off(kyy) - 2 * kxy.mean()

    ex.check_mmd2_unbiased(mmd2_masked)
    ex.check_mmd2_unbiased(lambda kxx, kyy, kxy: mmd2(kxx.float(), kyy.float(), kxy.float()).item())
    assert capsys.readouterr().out.count("Correct!") == 4


def test_mmd_check_agrees_with_the_library():
    # the check's inputs are RBF kernel matrices: the library's unbiased mmd on the same points gives the answer
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(4, 2, generator=g, dtype=torch.float64)
    k = lambda a, b: torch.exp(-(torch.cdist(a, b) ** 2) / (2 * 0.8**2))  # noqa: E731
    assert mmd2(k(x, x), k(y, y), k(x, y)).item() == pytest.approx(mmd(x, y, bandwidth=0.8), rel=1e-9)
    assert all(len(case) == 3 for case in recorded_inputs(ex.check_mmd2_unbiased, mmd2))


def test_shape_and_unrecognised_answers():
    with pytest.raises(ex.WrongAnswer, match="must return one number; got a tensor of shape \\(3,\\)"):
        ex.check_frechet_diagonal(lambda mu1, s1, mu2, s2: (mu1 - mu2) ** 2 + (s1 - s2) ** 2)
    with pytest.raises(ex.WrongAnswer, match="Not quite"):
        ex.check_mmd2_unbiased(lambda kxx, kyy, kxy: mmd2(kxx, kyy, kxy) * 1.5 + 0.01)
    with pytest.raises(ex.WrongAnswer, match="changed its input kxx in place"):
        ex.check_mmd2_unbiased(lambda kxx, kyy, kxy: mmd2(kxx.fill_diagonal_(0), kyy, kxy))
