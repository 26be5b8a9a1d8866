"""NFE against error for the reverse-SDE solvers (issues 3 and 11; the trend of thesis 001, Table 10.1).

Solvers: Euler-Maruyama, Gotta Go Fast (001 Alg. 6) and the samplers beyond the thesis, DDIM
(eta 0; Song et al. 2021, Eq. 12), EDM's Heun sampler (Karras et al. 2022, Alg. 1, rho 7) and
DPM-Solver++(2M) (Lu et al. 2022, Alg. 2, log-SNR grid), on the same targets:
- closed form: N(1.5, 0.5^2 I) data with its exact score under VE (sigma 0.01..20) and VP
  (beta 0.1..20), d = 2 and 64. Error = hypot(mean - 1.5, std - 0.5) of the samples pooled
  over coordinates; Euler-Maruyama's is exact (``em_gaussian_moments``: no sampling noise), and
  so are the deterministic samplers' (``deterministic_gaussian_moments``: affine maps; the same
  for every d) and the probability-flow ODE's limit (``flow_gaussian_moments``, method
  "ode_limit": the floor of every deterministic sampler, which keeps the prior's mismatch); GGF's
  is measured on n samples (its Monte-Carlo sd is printed too).
- a 2D mixture ("8gaussians") with exact score: sliced W2 to a data sample of the same size
  (20,000), averaged over 3 seeds of each sampler (its standard error "error_se"), next to the
  sliced W2 between independent data samples ("floor": mean and sd over 3 pairs). At this size
  the floor is larger than most samplers' own error: a "reach" line with "to": "floor band" gives
  the NFE at which each curve gets within 2 standard errors of the floor.

One JSON line per (target, method, setting): {"target", "sde", "d", "method", "setting",
"nfe_per_sample", "error", "mc_sd"}; NFE per sample includes the final Tweedie call. Then, per
closed-form target, one line per GGF setting with "em_nfe_at_equal_error" and
"nfe_ratio_em_over_ggf", read off EM's curve by log-log interpolation (null where GGF's error is
below every EM point measured); and per target one "reach" line: GGF's error at eps_rel 0.05
and the NFE each other method needs to reach it ("nfe_to_reach": log-log interpolation at the
curve's first crossing; its first point's NFE, marked in "at_most", when that is already below;
null when no budget reaches it, e.g. below the ODE's floor).
Run: .venv/bin/python benchmarks/solvers.py [--quick] [--n 20000] [--only gaussian|mixture]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics

import torch

from gentoolkit.data import toy2d
from gentoolkit.metrics import sliced_wasserstein
from gentoolkit.sde import (
    VESDE,
    VPSDE,
    deterministic_gaussian_moments,
    em_gaussian_moments,
    flow_gaussian_moments,
    gaussian_score,
    mixture_score,
    sample,
)

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


#: the deterministic samplers beyond the thesis: options per step count
FAST = {"ddim": {}, "edm_heun": {}, "dpmpp_2m": {}}
REACH_EPS = 0.05  # GGF's tolerance whose error the other methods are asked to reach


def nfe_to_reach(points: list[tuple[float, float]], error: float) -> tuple[float | None, bool]:
    """The NFE at which a (nfe, error) curve first gets down to ``error`` (log-log interpolation
    between the bracketing points), and whether that is only an upper bound (its first point is
    already below); (None, False) when no point reaches it."""
    pts = sorted(points)
    if not pts:
        return None, False
    if pts[0][1] <= error:
        return pts[0][0], True
    for (n0, e0), (n1, e1) in zip(pts, pts[1:]):
        if e1 <= error < e0 and e1 > 0:
            w = (math.log(error) - math.log(e0)) / (math.log(e1) - math.log(e0))
            return math.exp(math.log(n0) + w * (math.log(n1) - math.log(n0))), False
    return None, False


def reach(target: str, sde: str, d: int, curves: dict, error: float, label: str = "") -> None:
    """One line: an error (GGF's at eps_rel REACH_EPS, or the ``label``-ed one) and each method's NFE
    to reach it."""
    out = {}
    for method, pts in curves.items():
        nfe, at_most = nfe_to_reach(pts, error)
        out[method] = None if nfe is None else round(nfe, 1)
        if at_most:
            out[method + "_at_most"] = True
    setting = {"to": label} if label else {"ggf_eps_rel": REACH_EPS}
    emit(target=target, sde=sde, d=d, method="reach", setting=setting, error=error, nfe_to_reach=out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer settings and samples (a smoke run)")
    ap.add_argument("--n", type=int, default=20_000, help="samples per GGF run on the closed-form target")
    ap.add_argument("--only", choices=["gaussian", "mixture"], default=None, help="one of the two targets")
    args = ap.parse_args()
    torch.set_num_threads(2)
    em_steps = [25, 100, 400] if args.quick else [25, 50, 100, 200, 500, 1000, 2000]
    eps_rels = [0.1, 0.05, 0.02] if args.quick else [0.1, 0.05, 0.02, 0.01, 0.005, 0.002]
    fast_steps = [4, 12, 48] if args.quick else [3, 5, 8, 12, 16, 24, 32, 48, 64, 100, 200]
    n = 2000 if args.quick else args.n
    dims = [2, 64]
    for sde_name, sde in (("VE", VESDE(0.01, 20.0)), ("VP", VPSDE(0.1, 20.0))):
        for d in dims if args.only != "mixture" else []:
            em_points, curves, ggf_error = [], {}, None
            flow = flow_gaussian_moments(sde, MU, S)
            floor = math.hypot(flow[0] - MU, flow[1] - S)
            emit(
                target="gaussian",
                sde=sde_name,
                d=d,
                method="ode_limit",
                setting={},
                nfe_per_sample=None,
                error=floor,
                mc_sd=0.0,
            )
            for method, opts in FAST.items():
                curves[method] = []
                for k in fast_steps:
                    m, sd = deterministic_gaussian_moments(sde, MU, S, method, n_steps=k, **opts)
                    nfe = k * (2 if method == "edm_heun" else 1) + 1
                    err = math.hypot(m - MU, sd - S)
                    curves[method].append((nfe, err))
                    setting = {"n_steps": k, **opts}
                    emit(
                        target="gaussian",
                        sde=sde_name,
                        d=d,
                        method=method,
                        setting=setting,
                        nfe_per_sample=nfe,
                        error=err,
                        mc_sd=0.0,
                    )
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
                    if memory and eps == REACH_EPS:
                        ggf_error = err
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
            if ggf_error is not None:
                reach("gaussian", sde_name, d, {"euler_maruyama": em_points, **curves}, ggf_error)
    if args.only == "gaussian":
        return
    mix = toy2d.get("8gaussians")
    m = 2000 if args.quick else 20_000
    seeds = range(2 if args.quick else 3)  # sliced W2 at this m is noisy: each setting is averaged over seeds
    # the mixture's budgets: every sampler reaches the sampling floor by a few hundred NFE
    em_steps = [25, 100, 400] if args.quick else [10, 25, 50, 100, 250, 500]
    eps_rels = [0.1, 0.05, 0.02] if args.quick else [0.2, 0.1, 0.05, 0.02]
    fast_steps = [4, 12, 48] if args.quick else [3, 5, 8, 12, 16, 24, 48]

    def sw_to_data(x):
        return sliced_wasserstein(x, data, generator=torch.Generator().manual_seed(3))

    data = mix.sample(m, torch.Generator().manual_seed(1))
    pairs = [sw_to_data(mix.sample(m, torch.Generator().manual_seed(100 + k))) for k in seeds]
    floor = {"mean": statistics.fmean(pairs), "sd": statistics.stdev(pairs)}
    band = floor["mean"] + 2 * floor["sd"] / math.sqrt(len(pairs))  # what two data samples reach, up to 2 SE
    for sde_name, sde in (("VE", VESDE(0.01, 10.0)), ("VP", VPSDE(0.1, 20.0))):
        score = mixture_score(mix, sde)
        runs = [("euler_maruyama", {"n_steps": k}) for k in em_steps] + [("ggf", {"eps_rel": e}) for e in eps_rels]
        runs += [(method, {"n_steps": k, **opts}) for method, opts in FAST.items() for k in fast_steps]
        runs += [("ode", {"rtol": 1e-5, "atol": 1e-5})]
        curves, ggf_error = {}, None
        for method, opts in runs:
            sws, nfes = [], []
            for seed in seeds:
                gen = torch.Generator().manual_seed(seed)
                r = sample(sde, score, (m, 2), method, generator=gen, **CPU, **opts)
                nfes.append(r.stats.nfe_per_sample + 1 if r.stats is not None else r.nfe)
                sws.append(sw_to_data(r.x))
            sw, nfe = statistics.fmean(sws), statistics.fmean(nfes)
            if method == "ggf" and opts["eps_rel"] == REACH_EPS:
                ggf_error = sw
            elif method not in ("ggf", "ode"):
                curves.setdefault(method, []).append((nfe, sw))
            emit(
                target="8gaussians",
                sde=sde_name,
                d=2,
                method=method,
                setting=opts,
                nfe_per_sample=nfe,
                error=sw,
                error_se=statistics.stdev(sws) / math.sqrt(len(sws)),
                floor=floor,
            )
        if ggf_error is not None:
            reach("8gaussians", sde_name, 2, curves, ggf_error)
            reach("8gaussians", sde_name, 2, curves, band, label="floor band")


if __name__ == "__main__":
    main()
