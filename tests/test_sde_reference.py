"""Every method of ``sample`` gives bit-identical output to the solvers before the rewrite of
issue 10 (the reference was written at commit 26c6c24 by tests/data/make_sample_reference.py):
samples, NFE, time grid, callback path and GGF's statistics, for fixed generators."""

import importlib.util
from pathlib import Path

import pytest
import torch

DATA = Path(__file__).parent / "data"
_spec = importlib.util.spec_from_file_location("make_sample_reference", DATA / "make_sample_reference.py")
ref_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref_mod)
REFERENCE = torch.load(DATA / "sample_reference.pt", weights_only=True)
CASES = [(c, d) for c in ref_mod.cases() for d in (True, False)]


def test_the_reference_covers_every_method():
    from gentoolkit.sde import METHODS

    methods = {c[2] for c, _ in CASES}
    assert methods == set(METHODS)
    assert len(CASES) == len(REFERENCE)


@pytest.mark.parametrize("case", CASES, ids=[ref_mod.key(*c, d) for c, d in CASES])
def test_sample_is_bit_identical_to_the_reference(case):
    c, denoise = case
    want = REFERENCE[ref_mod.key(*c, denoise)]
    got = ref_mod.run(*c, denoise)
    assert set(got) == set(want)
    for name, value in want.items():
        assert got[name].dtype == value.dtype and got[name].shape == value.shape, name
        assert torch.equal(got[name], value), f"{name} differs"
