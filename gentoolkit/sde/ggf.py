"""Gotta Go Fast (thesis 001, Ch. 10, Alg. 6): an adaptive solver for the reverse-time SDE.

Each attempt from time t with step h (per sample) computes, with one Brownian increment dW
shared by both,

    x'  = x - h f(x, t) + h g(t)^2 s(x, t) + g(t) dW                      (Euler-Maruyama)
    x~  = x - h f(x', t-h) + h g(t-h)^2 s(x', t-h) + g(t-h) dW
    x'' = (x' + x~) / 2                                                   (stochastic Improved Euler)

the mixed tolerance delta = max(eps_abs, eps_rel max(|x'|, |x'_prev|)) (Eq. 10.5), the scaled
error E = ||(x' - x'') / delta||_2 / sqrt(n) (Sec. 10.4.1.3; ``norm="linf"`` for the max),
accepts x'' (extrapolation) when E <= 1, and after every attempt sets
h <- min(t - t_eps, theta h E^(-r)) (Eq. 10.6). Every sample has its own t and h and stops
when it reaches t_eps (Sec. 10.4.1.5).

Brownian memory (on by default; ``memory=False`` gives Alg. 6 as printed). Drawing a fresh z
after a rejection makes the accepted increments a selected, biased set of noise draws (on
exact-score 2D Gaussians the naive solver's std is off by tens of percent on VE). With memory
(rejection sampling with memory, Rackauckas and Nie 2017) the solver keeps, per sample, the
Brownian path W it has already drawn beyond its current point as a sorted list of points
(s_j, W(s_j)), s = T - t the elapsed reverse time. A proposal to s' reads W(s') from that
path: between two stored points it is drawn from the Brownian bridge
N(W_a + (s' - a)/(b - a) (W_b - W_a), (s' - a)(b - s')/(b - a)), beyond the last one as a fresh
increment, and the new point is stored. On acceptance the points up to s' are consumed; on
rejection every point stays, so later proposals are conditioned on every value that a decision
has already seen. The list grows as needed.

Layout, for speed at small batches (each tensor operation costs microseconds of overhead, so
the loop is written to issue few of them): all samples step together with masks (a finished
sample takes steps of size 0 that change nothing); the batch is compacted to the live samples
whenever half of it has finished; samples are kept event-major, (E, n) with E the flattened
sample size, so that per-sample scalars (step sizes, SDE coefficients, accept masks) broadcast
along rows (for 2D points that is 4x cheaper than along a last axis of size 2; ``score_fn``
still receives (n, ...) views); and the stored Brownian points are found with one batched
``searchsorted``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gentoolkit._checks import call_score, positive_float, positive_int
from gentoolkit.sde.sdes import SDE


@dataclass
class GGFStats:
    """Accepted and rejected attempts (summed over samples), the batched score calls, the
    mean evaluations per sample, the deepest Brownian memory reached, and the accepted
    (t, h) pairs of every sample (for the step-size plots)."""

    accepted: int
    rejected: int
    nfe: int
    nfe_per_sample: float
    max_memory: int
    steps_t: torch.Tensor
    steps_h: torch.Tensor


class _BrownianPath:
    """Per sample, the Brownian path drawn so far from the current point on, as a stack:
    slot ``top`` holds the current point (s_0, W(s_0)), slots top-1, ..., 0 the stored later
    points in increasing s (slot 0 the farthest); slots above ``top`` are scratch. ``key``:
    (n, D) float64, -s per slot, so that a batched ``searchsorted`` finds a proposal's place
    (scratch slots hold points already passed, whose keys all exceed any new proposal's);
    ``w``: (E, n * D), event-major, W of sample i's slot j in column i * D + j. Accepting a
    step moves ``top`` down and writes one slot; a rejection right after the current point
    writes two; only a rejection beyond a stored point moves slots, and only for those samples."""

    def __init__(self, n: int, size: int, dtype, device, generator):
        self.key = torch.zeros((n, 4), dtype=torch.float64, device=device)
        self.w = torch.zeros((size, n * 4), dtype=dtype, device=device)
        self.top = torch.zeros(n, dtype=torch.long, device=device)
        self.gen, self.dtype, self.device = generator, dtype, device
        self._base = torch.arange(n, device=device) * 4  # column of each sample's slot 0
        self._cols = torch.arange(4, device=device)
        self.max_top = 0  # the most stored later points of any sample, after the last update

    def _resize(self, idx: torch.Tensor, d: int) -> None:
        """Keep samples ``idx`` with ``d`` slots each (new slots: key inf)."""
        n, d0 = self.key.shape
        key = torch.full((len(idx), d), math.inf, dtype=torch.float64, device=self.device)
        key[:, :d0] = self.key[idx]
        w = torch.zeros((self.w.shape[0], len(idx), d), dtype=self.dtype, device=self.device)
        w[:, :, :d0] = self.w.reshape(-1, n, d0)[:, idx]
        self.key, self.w, self.top = key, w.flatten(1), self.top[idx]
        self._base = torch.arange(len(idx), device=self.device) * d
        self._cols = torch.arange(d, device=self.device)

    def keep(self, idx: torch.Tensor) -> None:
        self._resize(idx, self.key.shape[1])

    def propose(self, s_new: torch.Tensor):
        """W(s_new) per sample (stored, bridged or fresh) and W at the current point, (E, n)
        each; the slot ``k`` of the stored point just before s_new (the current one unless
        s_new passes stored points); and s_new, snapped to a stored point that it lands on
        within ``tol`` (the clamped last step, tried again), whose W it then takes."""
        tol = 1e-12  # s lies in [0, T]; points closer than this are the same point
        top, n = self.top, len(self.top)
        # slots 0..k-1 hold points at or after s_new (within tol), slots k..top points before it
        k = torch.searchsorted(self.key, torch.rsub(s_new, tol)[:, None], right=True)[:, 0].minimum(top)
        flat = self._base + torch.stack([top, k, (k - 1).clamp_min(0)])  # (3, n) flat slot indices
        a, b = -self.key.view(-1).index_select(0, flat[1:].reshape(-1)).view(2, n)
        w0, wa, wb = self.w.index_select(1, flat.reshape(-1)).view(-1, 3, n).unbind(1)
        b = torch.where(k > 0, b, math.inf)  # no stored point after s_new: a fresh increment
        gap = s_new - a
        frac = gap / (b - a)  # 0 when b = inf; b - a >= tol > 0 by the choice of k
        var = (gap * torch.rsub(frac, 1)).clamp_min(0)  # (s' - a)(b - s')/(b - a), or s' - a
        dev = self.gen.device if self.gen is not None else self.device
        z = torch.randn(wa.shape, generator=self.gen, dtype=self.dtype, device=dev).to(self.device)
        w_new = torch.lerp(wa, wb, frac.to(self.dtype)).addcmul_(var.sqrt().to(self.dtype), z)
        hit = (b - s_new) <= tol  # keeps the stored keys sorted: a near-duplicate is a duplicate
        return torch.where(hit, wb, w_new), w0, k, torch.where(hit, b, s_new)

    def update(self, s_cur, s_new, w_new, w0, k, move: torch.Tensor) -> None:
        """Where ``move``, make the proposed point the current one (stored points before it are
        dropped); elsewhere store it at slot k (the current point was at s_cur)."""
        n, d = self.key.shape
        if self.max_top + 2 > d:  # room for one more point per sample: grow
            self._resize(torch.arange(n, device=self.device), 2 * d)
        top, key = self.top, self.key.view(-1)  # key and w share the flat slot index i * D + j
        deep = ~move & (k < top)
        if bool(deep.any()):  # slots k..top-1 move up one to make room at slot k
            p = torch.nonzero(deep)[:, 0]
            cols, base = self._cols, self._base[p, None]
            src = (torch.where((cols > k[p, None]) & (cols <= top[p, None]), cols - 1, cols) + base).reshape(-1)
            dst = (cols + base).reshape(-1)
            key.index_copy_(0, dst, key.index_select(0, src))
            self.w.index_copy_(1, dst, self.w.index_select(1, src))
        # the current point also goes one slot up (slots above top are scratch otherwise), and
        # the proposed point goes to slot k
        cur, new = self._base + (top + 1), self._base + k
        key.index_copy_(0, cur, s_cur.neg())
        self.w.index_copy_(1, cur, w0)
        key.index_copy_(0, new, s_new.neg())
        self.w.index_copy_(1, new, w_new)
        self.top = torch.where(move, k, top + 1)
        self.max_top = int(self.top.max())


@torch.no_grad()
def ggf(
    sde: SDE,
    score_fn,
    x: torch.Tensor,
    t_eps: float,
    *,
    eps_rel: float = 0.02,
    eps_abs: float | None = None,
    data_range: float = 2.0,
    h_init: float = 0.01,
    theta: float = 0.9,
    r: float = 0.9,
    norm: str = "l2",
    memory: bool = True,
    generator: torch.Generator | None = None,
    max_iters: int = 100_000,
) -> tuple[torch.Tensor, GGFStats]:
    """Run Alg. 6 from t = T down to ``t_eps`` for every sample of ``x``; see the module
    docstring. ``eps_abs`` defaults to ``data_range / 256`` (001, Sec. 10.4.1.2: one 8-bit
    colour level; 0.0078 for data in [-1, 1])."""
    eps_rel = positive_float("eps_rel", eps_rel)
    eps_abs = positive_float("eps_abs", data_range / 256 if eps_abs is None else eps_abs)
    h_init, theta, r = positive_float("h_init", h_init), positive_float("theta", theta), positive_float("r", r)
    max_iters = positive_int("max_iters", max_iters)
    if norm not in ("l2", "linf"):
        raise ValueError(f"norm must be 'l2' (scaled, 001 Sec. 10.4.1.3) or 'linf', got {norm!r}")
    out = x.clone()  # never the caller's tensor
    with torch.inference_mode():  # less overhead per operation than no_grad; results are copied out
        n, dt, event = x.shape[0], x.dtype, x.shape[1:]
        T, s_end = sde.T, sde.T - t_eps
        ids = torch.arange(n, device=x.device)  # the samples in the working batch
        x = x.reshape(n, -1).T.contiguous()  # event-major (E, n), see the module docstring
        x_prev_abs = x.abs()  # |x'| of the last accepted step, for the tolerance (Eq. 10.5)
        s = torch.zeros(n, dtype=torch.float64, device=x.device)  # elapsed reverse time, t = T - s
        h = torch.full((n,), min(h_init, s_end), dtype=torch.float64, device=x.device)
        live = torch.ones(n, dtype=torch.bool, device=x.device)
        path = _BrownianPath(n, x.shape[0], dt, x.device, generator) if memory else None
        calls = evals = max_depth = 0
        n_live, records = n, []

        def score(xe, tt):  # (E, m) in and out; score_fn sees an (m, *event) view
            xv = xe.T.unflatten(1, event)
            return call_score(score_fn, xv, tt, cond="t").reshape(xe.shape[1], -1).T

        def drift_step(x_at, tt, hd, dw):  # h (-f + g^2 s) + g dW at (x_at, t), f = a x (linear drift)
            a, g = sde.coefficients(tt)
            return ((hd * g * g) * score(x_at, tt)).addcmul_(hd * a, x_at, value=-1).addcmul_(g, dw)

        for _ in range(max_iters):
            if n_live == 0:
                break
            if n_live <= len(ids) // 2:  # compact to the live samples
                out[ids] = x.T.unflatten(1, event)
                keep = torch.nonzero(live)[:, 0]
                ids, x, x_prev_abs = ids[keep], x[:, keep], x_prev_abs[:, keep]
                s, h, live = s[keep], h[keep], live[keep]
                if path is not None:
                    path.keep(keep)
            s_new = s + h  # h = 0 for finished samples
            hd = h.to(dt)
            if path is not None:
                w_new, w0, k, s_new = path.propose(s_new)
                dw = w_new - w0
            else:
                dev = generator.device if generator is not None else x.device
                dw = hd.sqrt() * torch.randn(x.shape, generator=generator, dtype=dt, device=dev).to(x.device)
            x1 = x + drift_step(x, torch.rsub(s, T).to(dt), hd, dw)  # Euler-Maruyama
            x2 = 0.5 * (x1 + x + drift_step(x1, torch.rsub(s_new, T).to(dt), hd, dw))  # stochastic Improved Euler
            calls, evals = calls + 2, evals + 2 * n_live
            x1_abs = x1.abs()
            delta = (eps_rel * torch.maximum(x1_abs, x_prev_abs)).clamp_min(eps_abs)
            scaled = (x1 - x2) / delta
            # E, or E^2 for the scaled l2 norm (the same test E <= 1 without a square root)
            if norm == "linf":
                err, power, floor = scaled.abs().amax(0), -r, 1e-10
            else:
                err, power, floor = scaled.square().mean(0), -r / 2, 1e-20
            ok = (err <= 1) & live
            records.append((s, h, ok, live))
            x, x_prev_abs = torch.where(ok, x2, x), torch.where(ok, x1_abs, x_prev_abs)
            if path is not None:
                path.update(s, s_new, w_new, w0, k, ok | ~live)
                max_depth = max(max_depth, path.max_top)
            s = torch.where(ok, s_new, s)
            rem = torch.rsub(s, s_end)
            live = rem > t_eps * 1e-9
            h_new = theta * h * err.clamp_min(floor) ** power  # theta h E^(-r)
            h = torch.where(live, torch.minimum(h_new, rem).clamp_min(1e-12), 0.0)
            n_live = int(live.sum())
        else:
            raise RuntimeError(f"GGF did not reach t_eps in max_iters={max_iters} attempts; raise eps_rel or eps_abs")
        out[ids] = x.T.unflatten(1, event)
        ss, hs, oks, lives = (torch.cat(v) for v in zip(*records))
        accepted = int(oks.sum())
        steps_t, steps_h = T - ss[oks], hs[oks]
        rejected = int(lives.sum()) - accepted
    stats = GGFStats(
        accepted=accepted,
        rejected=rejected,
        nfe=calls,
        nfe_per_sample=evals / n,
        max_memory=max_depth,
        steps_t=steps_t.clone(),
        steps_h=steps_h.clone(),
    )
    return out, stats
