"""NFE against error for the reverse-SDE solvers (issue 3; the trend of thesis 001, Table 10.1).

Targets:
- closed form: N(1.5, 0.5^2 I) data with its exact score under VE (sigma 0.01..20) and VP
  (beta 0.1..20), d = 2 and 64. Error = hypot(mean - 1.5, std - 0.5) of the samples pooled
  over coordinates; Euler-Maruyama's is exact (``em_gaussian_moments``: no sampling noise),
  GGF's is measured on n samples (its Monte-Carlo sd is printed too).
- a 2D mixture ("8gaussians") with exact score: sliced W2 to fresh data.

One JSON line per (target, method, setting): {"target", "sde", "d", "method", "setting",
"nfe_per_sample", "error", "mc_sd"}; then one line per GGF setting with "em_nfe_at_equal_error"
and "nfe_ratio_em_over_ggf", read off EM's curve by log-log interpolation (null where GGF's
error is below every EM point measured).
Run: .venv/bin/python benchmarks/solvers.py [--quick] [--n 20000]
"""

from __future__ import annotations

import argparse
import json
import math

import torch

from gentoolkit.data import toy2d
from gentoolkit.metrics import sliced_wasserstein
from gentoolkit.sde import VESDE, VPSDE, em_gaussian_moments, gaussian_score, mixture_score, sample

MU, S = 1.5, 0.5
CPU = {"device": "cpu", "progress": False}  # CPU numbers (sample() defaults to cuda when available), no bars


def emit(**row) -> None:
    print(json.dumps(row), flush=True)


def interp_nfe(em_points: list[tuple[float, float]], error: float):
    """EM's NFE at a given error, by log-log interpolation on its (nfe, error) curve."""
    pts = sorted(em_points)  # by NFE; error falls as NFE grows
    for (n0, e0), (n1, e1) in zip(pts, pts[1:]):
        if e1 <= error <= e0 and e0 > e1 > 0:
            w = (math.log(error) - math.log(e0)) / (math.log(e1) - math.log(e0))
            return math.exp(math.log(n0) + w * (math.log(n1) - math.log(n0)))
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer settings and samples (a smoke run)")
    ap.add_argument("--n", type=int, default=20_000, help="samples per GGF run on the closed-form target")
    args = ap.parse_args()
    torch.set_num_threads(2)
    em_steps = [25, 100, 400] if args.quick else [25, 50, 100, 200, 500, 1000, 2000]
    eps_rels = [0.1, 0.02] if args.quick else [0.1, 0.05, 0.02, 0.01, 0.005, 0.002]
    n = 2000 if args.quick else args.n
    dims = [2, 64]
    for sde_name, sde in (("VE", VESDE(0.01, 20.0)), ("VP", VPSDE(0.1, 20.0))):
        for d in dims:
            em_points = []
            for k in em_steps:
                m, sd = em_gaussian_moments(sde, MU, S, k)
                err = math.hypot(m - MU, sd - S)
                em_points.append((k + 1, err))
                emit(
                    target="gaussian",
                    sde=sde_name,
                    d=d,
                    method="euler_maruyama",
                    setting={"n_steps": k},
                    nfe_per_sample=k + 1,
                    error=err,
                    mc_sd=0.0,
                )
            mc_sd = math.sqrt(S**2 / (d * n) + S**2 / (2 * d * n))
            for memory in (True, False):
                for eps in eps_rels:
                    r = sample(
                        sde,
                        gaussian_score(sde, MU, S),
                        (n, d),
                        "ggf",
                        eps_rel=eps,
                        eps_abs=0.0078,
                        memory=memory,
                        generator=torch.Generator().manual_seed(0),
                        **CPU,
                    )
                    x = r.x.double()
                    err = math.hypot(x.mean().item() - MU, x.std().item() - S)
                    nfe = r.stats.nfe_per_sample + 1
                    emit(
                        target="gaussian",
                        sde=sde_name,
                        d=d,
                        method="ggf",
                        setting={"eps_rel": eps, "memory": memory},
                        nfe_per_sample=nfe,
                        error=err,
                        mc_sd=mc_sd,
                        accepted=r.stats.accepted,
                        rejected=r.stats.rejected,
                    )
                    if memory:
                        em_nfe = interp_nfe(em_points, max(err, 1e-12))
                        emit(
                            target="gaussian",
                            sde=sde_name,
                            d=d,
                            method="ratio",
                            setting={"eps_rel": eps},
                            em_nfe_at_equal_error=em_nfe,
                            nfe_ratio_em_over_ggf=None if em_nfe is None else em_nfe / nfe,
                        )
    mix = toy2d.get("8gaussians")
    m = 2000 if args.quick else 10_000
    data = mix.sample(m, torch.Generator().manual_seed(1))
    floor = sliced_wasserstein(
        mix.sample(m, torch.Generator().manual_seed(2)), data, generator=torch.Generator().manual_seed(3)
    )
    for sde_name, sde in (("VE", VESDE(0.01, 10.0)), ("VP", VPSDE(0.1, 20.0))):
        score = mixture_score(mix, sde)
        runs = [("euler_maruyama", {"n_steps": k}) for k in em_steps] + [("ggf", {"eps_rel": e}) for e in eps_rels]
        for method, opts in runs:
            r = sample(sde, score, (m, 2), method, generator=torch.Generator().manual_seed(0), **CPU, **opts)
            nfe = r.stats.nfe_per_sample + 1 if r.stats is not None else r.nfe
            sw = sliced_wasserstein(r.x, data, generator=torch.Generator().manual_seed(3))
            emit(
                target="8gaussians",
                sde=sde_name,
                d=2,
                method=method,
                setting=opts,
                nfe_per_sample=nfe,
                error=sw,
                floor=floor,
            )


if __name__ == "__main__":
    main()
