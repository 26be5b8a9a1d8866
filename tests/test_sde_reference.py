"""Every method of ``sample`` gives bit-identical output to the solvers before the rewrite of
issue 10 (the reference was written at commit 26c6c24 by tests/data/make_sample_reference.py):
samples, NFE, time grid, callback path and GGF's statistics, for fixed generators.

Bit identity holds for one set of SIMD kernels: the references were recorded by the old
solvers with torch's AVX2 kernels and, for the cases that differ, its AVX512 and DEFAULT
(no SIMD) ones (tests/data/make_sample_reference.py). On an AVX512 machine the new code
equals the old code in all 112 cases. On a capability with no recording (e.g. ARM's) the test
falls back to equal shapes, NFE and counts and values within 1e-3; between AVX2 and AVX512 a
GGF step size moves by at most 1.1e-4 and a sample by 7.4e-5, but where the kernels flip an
accept/reject decision (as DEFAULT's do in 20 cases) the fallback fails, and the fix is to
record that capability."""

import importlib.util
from pathlib import Path

import pytest
import torch

DATA = Path(__file__).parent / "data"
_spec = importlib.util.spec_from_file_location("make_sample_reference", DATA / "make_sample_reference.py")
ref_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref_mod)
CASES = [(c, d) for c in ref_mod.cases() for d in (True, False)]
CAPABILITY = torch.backends.cpu.get_cpu_capability()
REFERENCE, RECORDED = ref_mod.load_reference(CAPABILITY)


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
        if RECORDED or not value.is_floating_point():
            assert torch.equal(got[name], value), f"{name} differs"
        else:  # kernels with no recording: the same path up to rounding (module docstring)
            torch.testing.assert_close(
                got[name], value, rtol=0, atol=1e-3, msg=f"{name} differs with {CAPABILITY} kernels"
            )
