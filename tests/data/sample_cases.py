"""The cases of tests/test_sde_reference.py: every method of ``gentoolkit.sde.sample`` on
points and images, for fixed generators, with what each run returns (samples, NFE, time grid,
callback path, GGF's statistics). Only elementwise exact scores are used (no matmul), so the
numbers do not depend on BLAS.

``python tests/data/sample_cases.py OUT.pt`` saves every case's output from the ``gentoolkit``
first on ``sys.path``: the test runs it on the solvers as they were before the rewrite of
issue 10 (commit 26c6c24, taken from git) and compares with the current solvers, bit for bit,
on the same machine. (Bits depend on the machine: torch's SIMD kernels sum in another order
on other CPUs, and GGF's adaptive step carries the last bit along, so a reference recorded on
one machine does not hold on another; the old and the new code agree on each.)"""

import os
import sys

import torch

from gentoolkit.sde import VESDE, VPSDE, SubVPSDE, gaussian_score, sample

SDES = {"VE": VESDE(0.01, 10.0), "VP": VPSDE(0.1, 20.0), "subVP": SubVPSDE(0.1, 20.0)}
SHAPES = {"points": (64, 2), "images": (6, 1, 4, 4)}


def cases():
    for sde_name in SDES:
        for shape_name in SHAPES:
            yield sde_name, shape_name, "euler_maruyama", {"n_steps": 20}
            yield sde_name, shape_name, "reverse_diffusion", {"n_steps": 20}
            if sde_name != "subVP":
                yield sde_name, shape_name, "ancestral", {"n_steps": 20}
            for pred in ("reverse_diffusion", "euler_maruyama") + (("ancestral",) if sde_name != "subVP" else ()):
                yield sde_name, shape_name, "pc", {"n_steps": 10, "n_corrector": 2, "snr": 0.2, "predictor": pred}
            yield sde_name, shape_name, "ode", {"rtol": 1e-3, "atol": 1e-3}
            yield sde_name, shape_name, "ggf", {"eps_rel": 0.05, "memory": True}
            yield sde_name, shape_name, "ggf", {"eps_rel": 0.05, "memory": False}
            yield sde_name, shape_name, "ggf", {"eps_rel": 0.05, "norm": "linf"}


def key(sde_name, shape_name, method, options, denoise):
    opts = ",".join(f"{k}={v}" for k, v in sorted(options.items()))
    return f"{sde_name}/{shape_name}/{method}/{opts}/denoise={denoise}"


def run(sde_name, shape_name, method, options, denoise):
    sde = SDES[sde_name]
    score = gaussian_score(sde, 0.3, 0.5)
    path = []
    res = sample(
        sde,
        score,
        SHAPES[shape_name],
        method,
        generator=torch.Generator().manual_seed(123),
        denoise=denoise,
        device="cpu",  # the reference is CPU output (sample's default is cuda when available)
        callback=lambda i, t, x: path.append(x[:2].clone()),
        **options,
    )
    out = {"x": res.x, "nfe": torch.tensor(res.nfe), "times": res.times}
    if path:
        out["path"] = torch.stack(path)
    if res.stats is not None:
        st = res.stats
        out.update(
            accepted=torch.tensor(st.accepted),
            rejected=torch.tensor(st.rejected),
            stats_nfe=torch.tensor(st.nfe),
            max_memory=torch.tensor(st.max_memory),
            steps_t=st.steps_t,
            steps_h=st.steps_h,
        )
    return out


def main(out: str) -> None:
    """Save every case's output, from whichever ``gentoolkit`` is first on the path."""
    torch.set_num_threads(int(os.environ.get("GENTOOLKIT_TEST_THREADS", "1")))
    torch.save({key(*c, d): run(*c, d) for c in cases() for d in (True, False)}, out)
    print(sys.modules["gentoolkit"].__file__)  # the test checks that the old code ran


if __name__ == "__main__":
    main(sys.argv[1])
