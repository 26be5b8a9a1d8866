"""Gotta Go Fast (thesis 001, Ch. 10, Alg. 6): an adaptive solver for the reverse-time SDE.

Each attempt from time t with step h (per sample; :func:`ggf_attempt`) computes, with one Brownian increment dW
shared by both,

    x'  = x - h f(x, t) + h g(t)^2 s(x, t) + g(t) dW                      (Euler-Maruyama)
    x~  = x - h f(x', t-h) + h g(t-h)^2 s(x', t-h) + g(t-h) dW
    x'' = (x' + x~) / 2                                                   (stochastic Improved Euler)

the mixed tolerance delta = max(eps_abs, eps_rel max(|x'|, |x'_prev|)) (Eq. 10.5), the scaled
error E = ||(x' - x'') / delta||_2 / sqrt(n) (Sec. 10.4.1.3; ``norm="linf"`` for the max),
accepts x'' (extrapolation) when E <= 1, and after every attempt sets
h <- min(t - t_eps, theta h E^(-r)) (Eq. 10.6; :func:`next_step_size`). Every sample has its own t and h and stops
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

from gentoolkit._checks import batch, call_score, noise_levels, positive_float, positive_int, randn
from gentoolkit._progress import TimeBar
from gentoolkit.sde.sdes import SDE, adaptive_ends, check_sde, check_times


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
        z = randn(wa.shape, self.gen, like=wa)
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


def _event_major(x: torch.Tensor) -> torch.Tensor:
    """(n, ...) -> (E, n), E the flattened sample size (see the module docstring)."""
    return x.reshape(x.shape[0], -1).T.contiguous()


def _event_major_score(score_fn, event: torch.Size):
    """``score_fn`` on event-major (E, m) tensors; it sees (m, *event) views."""

    def score(xe: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        xv = xe.T.unflatten(1, event)
        return call_score(score_fn, xv, t, cond="t").reshape(xe.shape[1], -1).T

    return score


def _drift_step(sde: SDE, score, x, t, h, dw):
    """h (-f + g^2 s) + g dW at (x, t), with f = a x (every drift here is linear); h, t and the
    coefficients are per sample and broadcast along the rows of the event-major x."""
    a, g = sde.coefficients(t)
    return ((h * g * g) * score(x, t)).addcmul_(h * a, x, value=-1).addcmul_(g, dw)


MAX_ITERS = 100_000  # ggf's cap on loop iterations: a run that needs more has a tolerance too tight to finish


@dataclass(frozen=True)
class _Control:
    """The error control of Alg. 6: the mixed tolerance (Eq. 10.5) and scaled error in
    ``norm`` (Sec. 10.4.1.3), and the step-size rule h <- theta h E^(-r) (Eq. 10.6)."""

    eps_rel: float
    eps_abs: float
    norm: str
    theta: float = 0.9
    r: float = 0.9

    @staticmethod
    def checked(eps_rel, eps_abs, norm, theta=0.9, r=0.9) -> _Control:
        if norm not in ("l2", "linf"):
            raise ValueError(f"norm must be 'l2' (scaled, 001 Sec. 10.4.1.3) or 'linf', got {norm!r}")
        eps_rel, eps_abs = positive_float("eps_rel", eps_rel), positive_float("eps_abs", eps_abs)
        return _Control(eps_rel, eps_abs, norm, positive_float("theta", theta), positive_float("r", r))

    def error(self, x1, x2, x1_abs, x_prev_abs):
        """E^2 for "l2" (the same test E <= 1 without a square root), E for "linf"; per sample."""
        delta = (self.eps_rel * torch.maximum(x1_abs, x_prev_abs)).clamp_min(self.eps_abs)
        scaled = (x1 - x2) / delta
        return scaled.abs().amax(0) if self.norm == "linf" else scaled.square().mean(0)

    def next_h(self, h, err, remaining, live):
        """min(remaining, theta h E^(-r)), floored at 1e-12; 0 for finished samples."""
        power, floor = (-self.r, 1e-10) if self.norm == "linf" else (-self.r / 2, 1e-20)
        h_new = self.theta * h * err.clamp_min(floor) ** power  # theta h E^(-r)
        return torch.where(live, torch.minimum(h_new, remaining).clamp_min(1e-12), 0.0)


def _attempt(sde, score, x, t, t_next, h, dw, x_prev_abs, control: _Control):
    """One attempt on event-major tensors: the Euler-Maruyama proposal x', the stochastic
    Improved Euler x'', |x'| and the scaled error (``_Control.error``)."""
    x1 = x + _drift_step(sde, score, x, t, h, dw)  # Euler-Maruyama
    x2 = 0.5 * (x1 + x + _drift_step(sde, score, x1, t_next, h, dw))  # stochastic Improved Euler
    x1_abs = x1.abs()
    return x1, x2, x1_abs, control.error(x1, x2, x1_abs, x_prev_abs)


@torch.no_grad()
def ggf_attempt(sde: SDE, score_fn, x, t, h, dw, x_prev, *, eps_rel=0.02, eps_abs=2.0 / 256, norm="l2"):
    """One GGF attempt (001, Alg. 6) for every sample of ``x`` (n, ...), exactly as
    :func:`ggf` makes it: from time ``t`` with step ``h`` (floats or one per sample), Brownian
    increments ``dw`` (x's shape, N(0, h) per coordinate), and ``x_prev`` the last accepted
    Euler-Maruyama proposal (x itself at the start), whose size enters the tolerance
    (Eq. 10.5). Returns (x_em, x_improved, err): the proposal x', the stochastic Improved
    Euler x'' (the sample ggf accepts when err <= 1) and the scaled error E (Sec. 10.4.1.3)."""
    check_sde(sde)
    control = _Control.checked(eps_rel, eps_abs, norm)
    x = batch("x", x)
    for name, v in (("dw", dw), ("x_prev", x_prev)):
        if not isinstance(v, torch.Tensor) or v.shape != x.shape:
            got = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
            raise ValueError(f"{name} must be a tensor of x's shape {tuple(x.shape)}, got {got}")
    t, h = check_times(t, x), noise_levels("h", h, x, allow_zero=False)
    if bool((h > t).any()):
        raise ValueError(f"h must be <= t (the step goes from t down to t - h >= 0), got h up to {h.max().item():g}")
    score, xe, dwe = _event_major_score(score_fn, x.shape[1:]), _event_major(x), _event_major(dw)
    x1, x2, _, err = _attempt(sde, score, xe, t, t - h, h, dwe, _event_major(x_prev).abs(), control)
    return x1.T.reshape(x.shape), x2.T.reshape(x.shape), err if norm == "linf" else err.sqrt()


class _Batch:
    """The working batch, event-major: sample ids, x (E, m), |x'| of the last accepted step,
    elapsed reverse time s (t = t_start - s), step h (0 once finished) and the live mask."""

    def __init__(self, x: torch.Tensor, h0: float):
        n = x.shape[0]
        self.ids = torch.arange(n, device=x.device)
        self.x = _event_major(x)
        self.x_prev_abs = self.x.abs()  # |x'| of the last accepted step, for the tolerance (Eq. 10.5)
        self.s = torch.zeros(n, dtype=torch.float64, device=x.device)
        self.h = torch.full((n,), h0, dtype=torch.float64, device=x.device)
        self.live = torch.ones(n, dtype=torch.bool, device=x.device)

    def compact(self, out: torch.Tensor, path) -> None:
        """Write every sample back to ``out`` (n, ...) and keep only the live ones."""
        out[self.ids] = self.x.T.unflatten(1, out.shape[1:])
        keep = torch.nonzero(self.live)[:, 0]
        self.ids, self.x, self.x_prev_abs = self.ids[keep], self.x[:, keep], self.x_prev_abs[:, keep]
        self.s, self.h, self.live = self.s[keep], self.h[keep], self.live[keep]
        if path is not None:
            path.keep(keep)


def _increment(path, b: _Batch, hd: torch.Tensor, generator):
    """The Brownian increment dW of each sample's step from s to s + h (``hd``: h in x's
    dtype), the step's end s' (snapped onto a stored point it lands on), and the path's
    proposal (None without memory: a fresh draw)."""
    s_new = b.s + b.h
    if path is None:
        return hd.sqrt() * randn(b.x.shape, generator, like=b.x), s_new, None
    w_new, w0, k, s_new = path.propose(s_new)
    return w_new - w0, s_new, (w_new, w0, k)


def _stats(records, t_start: float, calls: int, evals: int, n: int, max_depth: int) -> GGFStats:
    ss, hs, oks, lives = (torch.cat(v) for v in zip(*records))
    accepted = int(oks.sum())
    return GGFStats(
        accepted=accepted,
        rejected=int(lives.sum()) - accepted,
        nfe=calls,
        nfe_per_sample=evals / n,
        max_memory=max_depth,
        steps_t=(t_start - ss[oks]).clone(),
        steps_h=hs[oks].clone(),
    )


@torch.no_grad()
def ggf(
    sde: SDE,
    score_fn,
    x: torch.Tensor,
    times,
    *,
    generator: torch.Generator | None = None,
    callback=None,
    progress: bool | None = None,
    eps_rel: float = 0.02,
    eps_abs: float | None = None,
    data_range: float = 2.0,
    h_init: float = 0.01,
    theta: float = 0.9,
    r: float = 0.9,
    norm: str = "l2",
    memory: bool = True,
    max_iters: int = MAX_ITERS,
) -> tuple[torch.Tensor, GGFStats]:
    """Run Alg. 6 from ``times[0]`` (T) down to ``times[-1]`` (t_eps) for every sample of
    ``x`` (the solvers' shared signature, :mod:`gentoolkit.sde.solvers`); see the module
    docstring. ``eps_abs`` defaults to ``data_range / 256`` (001, Sec. 10.4.1.2: one 8-bit
    colour level; 0.0078 for data in [-1, 1]). Returns the samples and their :class:`GGFStats`."""
    control = _Control.checked(eps_rel, data_range / 256 if eps_abs is None else eps_abs, norm, theta, r)
    h_init, max_iters = positive_float("h_init", h_init), positive_int("max_iters", max_iters)
    t_start, t_end = adaptive_ends(sde, times, callback)
    x = batch("x", x)
    out = x.clone()  # never the caller's tensor
    bar = TimeBar(t_start, t_end, progress, "GGF")
    try:
        with torch.inference_mode():  # less overhead per operation than no_grad; results are copied out
            path = _BrownianPath(x.shape[0], x[0].numel(), x.dtype, x.device, generator) if memory else None
            stats = _solve(sde, score_fn, x, out, (t_start, t_end), control, h_init, path, generator, bar, max_iters)
    finally:
        bar.close()
    return out, stats


def _solve(sde, score_fn, x, out, ends, control, h_init, path, generator, bar, max_iters) -> GGFStats:
    """The loop of Alg. 6 (writes the samples into ``out``): compact the batch, draw dW,
    attempt, accept, update the Brownian memory and the step sizes."""
    (t_start, t_end), n, dt = ends, x.shape[0], x.dtype
    s_end = t_start - t_end
    b = _Batch(x, min(h_init, s_end))
    score = _event_major_score(score_fn, x.shape[1:])
    calls = evals = max_depth = 0
    n_live, records = n, []
    for _ in range(max_iters):
        if n_live == 0:
            break
        if n_live <= len(b.ids) // 2:
            b.compact(out, path)
        hd = b.h.to(dt)
        dw, s_new, proposal = _increment(path, b, hd, generator)
        t, t_next = torch.rsub(b.s, t_start).to(dt), torch.rsub(s_new, t_start).to(dt)
        x1, x2, x1_abs, err = _attempt(sde, score, b.x, t, t_next, hd, dw, b.x_prev_abs, control)
        calls, evals = calls + 2, evals + 2 * n_live
        ok = (err <= 1) & b.live
        records.append((b.s, b.h, ok, b.live))
        b.x, b.x_prev_abs = torch.where(ok, x2, b.x), torch.where(ok, x1_abs, b.x_prev_abs)
        if path is not None:
            path.update(b.s, s_new, *proposal, ok | ~b.live)
            max_depth = max(max_depth, path.max_top)
        b.s = torch.where(ok, s_new, b.s)
        rem = torch.rsub(b.s, s_end)
        b.live = rem > t_end * 1e-9
        b.h = control.next_h(b.h, err, rem, b.live)
        n_live = int(b.live.sum())
        if bar.wanted(calls):
            bar.update(t_start - b.s.min().item(), calls)
    else:
        raise RuntimeError(f"GGF did not reach t_eps in max_iters={max_iters} attempts; raise eps_rel or eps_abs")
    out[b.ids] = b.x.T.unflatten(1, x.shape[1:])
    return _stats(records, t_start, calls, evals, n, max_depth)
