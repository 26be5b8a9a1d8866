"""Write tests/data/sample_reference.pt: the output of every method of
``gentoolkit.sde.sample`` for fixed generators, made with the solvers as they were before
the rewrite of issue 10 (commit 26c6c24), so that tests/test_sde_reference.py can show the
rewrite bit-identical. Run from the repository root: ``python tests/data/make_sample_reference.py``.
Only elementwise exact scores are used (no matmul), so the numbers do not depend on BLAS.

They do depend on the SIMD kernels torch dispatches to (its CPU capability: a batch reduction
sums in another order with wider vectors, and GGF's adaptive step carries the last bit along).
sample_reference.pt was recorded with AVX2 kernels; for another capability the script writes
only the cases that differ, to sample_reference_<capability>.pt. To record one, run the old
solvers with this script and force the kernels, e.g.
``git worktree add /tmp/old 26c6c24 && ATEN_CPU_CAPABILITY=avx512 PYTHONPATH=/tmp/old python
tests/data/make_sample_reference.py``."""

from pathlib import Path

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


BASE_CAPABILITY = "AVX2"


def reference_path(capability: str) -> Path:
    name = "sample_reference.pt" if capability == BASE_CAPABILITY else f"sample_reference_{capability}.pt"
    return Path(__file__).with_name(name)


def load_reference(capability: str) -> tuple[dict, bool]:
    """The reference for one CPU capability, and whether one was recorded for it."""
    ref = torch.load(reference_path(BASE_CAPABILITY), weights_only=True)
    path = reference_path(capability)
    if capability != BASE_CAPABILITY and path.exists():
        ref.update(torch.load(path, weights_only=True))
    return ref, capability == BASE_CAPABILITY or path.exists()


def main():
    ref = {}
    for c in cases():
        for denoise in (True, False):
            ref[key(*c, denoise)] = run(*c, denoise)
    capability = torch.backends.cpu.get_cpu_capability()
    if capability != BASE_CAPABILITY:
        base = torch.load(reference_path(BASE_CAPABILITY), weights_only=True)
        ref = {k: v for k, v in ref.items() if any(not torch.equal(v[n], base[k][n]) for n in v)}
    path = reference_path(capability)
    torch.save(ref, path)
    print(f"{len(ref)} cases written to {path} ({capability} kernels)")


if __name__ == "__main__":
    main()
