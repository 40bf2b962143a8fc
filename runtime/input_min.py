"""Minimising input-space branch and bound: `min ||net(x) - t||_1` over an input box, for
plain ReLU networks with few inputs (DESIGN.md strategy 3; seed 002 Sec. 4.1 spectral
separation: 4 ink ratios).

Lower bound on a box: for any signs s in [-1, 1]^m, ||y - t||_1 >= s.(y - t), and the
right side is linear in the output, so the backward linear relaxation of
compiler/nn/relax.py (CROWN) bounds it from below over the box. Where the network is linear
on a box (every ReLU stable) the best s gives the exact minimum over the box (minimax:
the L1 norm is the max over s of s.(y - t)), so the bound closes in as boxes shrink. The s
tried per box: the signs of the residual at the box centre; the signs the output's bounds
force (+1 where y_j >= t_j on the whole box, -1 where y_j <= t_j), with the centre's sign
elsewhere, or 0 elsewhere; each under every lower-slope choice of relax.FINAL_MODES.

Incumbents: the centre of every box is evaluated, and from the best points found a few
steps of projected subgradient descent run inside the input box. The search is best first
(the boxes with the smallest lower bound, in batches), splitting the widest input (relative
to the first box). It ends `optimal` when the smallest lower bound of the open boxes is
within `gap_tol * max(1, |f|)` of the incumbent's value f (boxes that cannot beat the
incumbent by more are dropped), `unknown` at the deadline with the bound so far.

Float64 relaxation of the float32 network: the caller verifies the incumbent with
onnxruntime and states the tolerance (DESIGN.md "Conventions").
"""
from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass

import numpy as np

from ..compiler.nn.forward import forward, forward_masks, input_gradient
from ..compiler.nn.relax import FINAL_MODES, backward_bound, layer_bounds

GAP_TOL = 1e-4          # certified: bound within GAP_TOL * max(1, |objective|) of the incumbent
BATCH = 64              # boxes split per round
ASPECT = 16.0
S_STEPS = 8             # projected ascent steps on the residual signs s per box
S_DELTA = 1e-3
LP_MARGIN = 1e-7        # taken off an LP's value before it counts as a bound
LP_UNSTABLE = 60        # a box with at most this many unstable ReLUs gets the LP bound
EXACT_UNSTABLE = 3      # a box with at most this many unstable ReLUs is solved exactly (2^u LPs)
DESCENT_STARTS = 8
DESCENT_STEPS = 60


@dataclass
class MinResult:
    status: str           # "optimal" | "unknown"
    x: np.ndarray         # the best input found
    value: float          # its objective (float64 forward pass)
    bound: float          # a proved lower bound on the minimum over the box
    boxes: int
    seconds: float


def objective(layers, t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """||net(x) - t||_1 for points x [P, n_x]."""
    return np.sum(np.abs(forward(layers, x) - t), axis=1)


def descend(layers, t, x0: np.ndarray, lo, hi, steps: int = DESCENT_STEPS):
    """Projected subgradient descent from the points x0 [P, n_x] inside [lo, hi]: the best
    point of each run and its value."""
    x = np.clip(np.array(x0, np.float64), lo, hi)
    best_x, best_f = x.copy(), objective(layers, t, x)
    step = 0.05 * (hi - lo)
    for _ in range(steps):
        y, masks = forward_masks(layers, x)
        g = input_gradient(layers, masks, np.sign(y - t))
        norm = np.max(np.abs(g) / np.maximum(hi - lo, 1e-300), axis=1, keepdims=True)
        x = np.clip(x - step * g / np.maximum(norm * (hi - lo), 1e-300), lo, hi)
        f = objective(layers, t, x)
        better = f < best_f
        best_x[better], best_f[better] = x[better], f[better]
        step = step * 0.93
    return best_x, best_f


def box_lower_bounds(layers, t, lo, hi, carried=None):
    """(lower bound [B] of ||net(x) - t||_1 on each box, hidden bounds for the children)."""
    pre = layer_bounds(layers, lo, hi, carried)
    last = len(layers) - 1
    n_y = layers[-1][0].shape[0]
    centre = 0.5 * (lo + hi)
    s_centre = np.sign(forward(layers, centre) - t)
    eye = np.eye(n_y)
    out_lo = np.full((len(lo), n_y), -np.inf)
    out_hi = np.full((len(lo), n_y), np.inf)
    for mode in FINAL_MODES:
        low, _ = backward_bound(np.concatenate([eye, -eye]), layers, last, pre, lo, hi, mode=mode)
        out_lo, out_hi = np.maximum(out_lo, low[:, :n_y]), np.minimum(out_hi, -low[:, n_y:])
    forced = np.where(out_lo >= t, 1.0, np.where(out_hi <= t, -1.0, 0.0))
    interval = np.sum(np.maximum(np.maximum(out_lo - t, t - out_hi), 0.0), axis=1)
    S = np.stack([s_centre, np.where(forced != 0, forced, s_centre), forced], axis=1)   # [B, 3, n_y]
    best = interval
    score = hi - lo   # where nothing better is known: the widest input
    rows = np.arange(len(lo))
    for mode in FINAL_MODES:
        low, lam = backward_bound(S, layers, last, pre, lo, hi, mode=mode)
        val = low - np.einsum("bqm,m->bq", S, t)
        q = np.argmax(val, axis=1)
        better = val[rows, q] > best
        best = np.where(better, val[rows, q], best)
        # the input whose width costs this bound most: |coefficient| x width
        score = np.where(better[:, None], np.abs(lam[rows, q]) * (hi - lo), score)
    if S_STEPS:
        best, score = _ascend_signs(layers, t, pre, lo, hi, S, best, score)
    flat_lo = np.concatenate([l for l, _ in pre], axis=1) if pre else np.zeros((len(lo), 0))
    flat_hi = np.concatenate([u for _, u in pre], axis=1) if pre else np.zeros((len(lo), 0))
    return np.maximum(best, 0.0), flat_lo, flat_hi, score


def _ascend_signs(layers, t, pre, lo, hi, S, best, score):
    """Improve the bound s.(y - t) over s in [-1, 1]^m by projected ascent: the bound is
    piecewise linear in s, its slope along each output taken by a finite difference (one
    batched backward pass with a row per output), every s tried a valid bound."""
    last = len(layers) - 1
    B, _, m = S.shape
    rows = np.arange(B)
    low, _ = backward_bound(S, layers, last, pre, lo, hi)
    s = S[rows, np.argmax(low - np.einsum("bqm,m->bq", S, t), axis=1)]       # [B, m]
    eye = np.eye(m)
    step = 0.5
    for _ in range(S_STEPS):
        C = np.concatenate([s[:, None, :], s[:, None, :] + S_DELTA * eye[None]], axis=1)   # [B, 1 + m, m]
        low, lam = backward_bound(C, layers, last, pre, lo, hi)
        val = low - np.einsum("bqm,m->bq", C, t)
        better = val[:, 0] > best
        best = np.where(better, val[:, 0], best)
        score = np.where(better[:, None], np.abs(lam[:, 0]) * (hi - lo), score)
        g = (val[:, 1:] - val[:, :1]) / S_DELTA
        norm = np.max(np.abs(g), axis=1, keepdims=True)
        s = np.clip(s + step * g / np.maximum(norm, 1e-300), -1.0, 1.0)
        step *= 0.7
    return best, score


def _per_layer(sizes, flat_lo, flat_hi) -> list:
    cuts = np.cumsum([0] + list(sizes))
    return [(flat_lo[a:b], flat_hi[a:b]) for a, b in zip(cuts, cuts[1:])]


def exact_box_min(layers, t, lo, hi, pre):
    """The exact minimum of ||net(x) - t||_1 on one box where few ReLUs are unstable (`pre`:
    the box's hidden bounds [(l [n_k], u [n_k])]), and a point attaining it: for every
    on/off pattern of the unstable ReLUs the network is affine on the part of the box where
    the pattern holds (linear rows), and the minimum there is an LP (scipy's HiGHS).
    Returns (value, x), or (inf, None) when no pattern is feasible."""
    unstable = [np.flatnonzero((l < 0) & (u > 0)) for l, u in pre]
    n_x = len(lo)
    best = (np.inf, None)
    for bits in itertools.product((0.0, 1.0), repeat=sum(len(k) for k in unstable)):
        A, c = np.eye(n_x), np.zeros(n_x)     # the current layer's input as an affine map of x
        rows, rhs = [], []                     # pattern rows: rows @ x <= rhs
        used = 0
        for k, (W, b) in enumerate(layers[:-1]):
            Z, z0 = W @ A, W @ c + b
            gate = (pre[k][0] >= 0).astype(np.float64)
            for j in unstable[k]:
                on = bits[used]
                used += 1
                gate[j] = on
                # on: z_j >= 0 -> -z_j <= 0; off: z_j <= 0
                sign = -1.0 if on else 1.0
                rows.append(sign * Z[j])
                rhs.append(-sign * z0[j])
            A, c = gate[:, None] * Z, gate * z0
        W, b = layers[-1]
        res = _l1_lp(W @ A, W @ c + b - t, rows, rhs, list(zip(lo, hi)))
        if res.status == 0 and res.fun < best[0]:
            best = (float(res.fun), np.clip(res.x[:n_x], lo, hi))
    return best


def _l1_lp(Y, y0, rows: list, rhs: list, bounds: list):
    """min sum_j |(Y v + y0)_j| subject to rows @ v <= rhs and the bounds of v, as an LP in
    (v, e) with e >= +-(Y v + y0) (scipy's HiGHS)."""
    from scipy.optimize import linprog

    n_v, m = Y.shape[1], Y.shape[0]
    cost = np.concatenate([np.zeros(n_v), np.ones(m)])
    A_ub = np.block([[Y, -np.eye(m)], [-Y, -np.eye(m)]])
    b_ub = np.concatenate([-y0, y0])
    if rows:
        A_ub = np.vstack([A_ub, np.hstack([np.array(rows), np.zeros((len(rows), m))])])
        b_ub = np.concatenate([b_ub, np.array(rhs)])
    return linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=list(bounds) + [(0, None)] * m, method="highs")


def lp_box_bound(layers, t, lo, hi, pre):
    """A lower bound of ||net(x) - t||_1 on one box by one LP (scipy's HiGHS): stable ReLUs
    exact (the network is affine through them), each unstable one relaxed to its triangle
    (q >= 0, q >= z, q <= u (z - l) / (u - l)) with the box's hidden bounds `pre`. Exact
    when every ReLU is stable. Returns (bound, the LP's x) or (bound, None)."""
    n_x = len(lo)
    H, h0 = np.eye(n_x), np.zeros(n_x)        # post-activations as affine maps of v = (x, q...)
    rows, rhs = [], []                          # rows @ v <= rhs
    n_v = n_x
    q_lo, q_hi = [], []
    for k, (W, b) in enumerate(layers[:-1]):
        Z, z0 = W @ H, W @ h0 + b
        l, u = pre[k]
        gate = (l >= 0).astype(np.float64)
        H, h0 = gate[:, None] * Z, gate * z0
        unstable = np.flatnonzero((l < 0) & (u > 0))
        if len(unstable):
            r = len(unstable)
            Z = np.hstack([Z, np.zeros((len(Z), r))])
            rows = [np.concatenate([row, np.zeros(r)]) for row in rows]
            H = np.hstack([H, np.zeros((len(H), r))])
            for a, j in enumerate(unstable):
                qj = np.zeros(n_v + r)
                qj[n_v + a] = 1.0
                H[j] = qj
                rows.append(Z[j] - qj)                      # z - q <= 0
                rhs.append(-z0[j])
                slope = u[j] / (u[j] - l[j])
                rows.append(qj - slope * Z[j])              # q - slope (z - l) <= 0
                rhs.append(slope * (z0[j] - l[j]))
                q_lo.append(0.0)
                q_hi.append(float(u[j]))
            n_v += r
    W, b = layers[-1]
    res = _l1_lp(W @ H, W @ h0 + b - t, rows, rhs, list(zip(lo, hi)) + list(zip(q_lo, q_hi)))
    if res.status == 2:
        return np.inf, None                      # the relaxation is empty: nothing on this box
    if res.status != 0:
        return -np.inf, None
    # HiGHS's dual bound would be safer than its primal value; the LP is tiny and well
    # scaled, and a margin is taken by the caller
    return float(res.fun), np.clip(res.x[:n_x], lo, hi)


def minimise(layers, target, x_lo, x_hi, timeout: float, gap_tol: float = GAP_TOL, stop=None,
             incumbent=None, bound=None, seed: int = 0, given=None, polish=None) -> MinResult:
    """min ||net(x) - target||_1 over [x_lo, x_hi]. `incumbent(x, value)` is called when the
    best point improves, `bound(value)` when the proved lower bound rises; `stop()` true
    ends the search early. `given`: points [P, n_x] to begin from (another member's
    incumbents, e.g. the neural adjoint's): their values prune boxes from the first split.
    `polish(x) -> (x, value)`: applied once to the first incumbent; the search prunes with it."""
    start = time.perf_counter()
    t = np.asarray(target, np.float64)
    lo0, hi0 = np.asarray(x_lo, np.float64), np.asarray(x_hi, np.float64)
    width0 = np.where(hi0 > lo0, hi0 - lo0, 1.0)
    rng = np.random.default_rng(seed)
    starts = np.vstack([0.5 * (lo0 + hi0), lo0 + rng.random((4 * DESCENT_STARTS, len(lo0))) * (hi0 - lo0)])
    best_x, best_f = None, np.inf

    def offer(xs: np.ndarray, fs: np.ndarray) -> None:
        """Keep the best of the points xs [P, n_x] (values fs) if it beats the incumbent."""
        nonlocal best_x, best_f
        k = int(np.argmin(fs))
        if fs[k] < best_f:
            best_x, best_f = xs[k].copy(), float(fs[k])
            if incumbent:
                incumbent(best_x, best_f)

    if given is not None and len(given):
        starts = np.vstack([np.clip(np.atleast_2d(np.asarray(given, np.float64)), lo0, hi0), starts])
    offer(*descend(layers, t, starts, lo0, hi0))
    if polish is not None and best_x is not None:
        px, pf = polish(best_x)
        offer(np.asarray(px, np.float64)[None], np.array([pf]))
    lb0, clo, chi, sc = box_lower_bounds(layers, t, lo0[None], hi0[None])
    counter = itertools.count()
    heap = [(float(lb0[0]), next(counter), lo0, hi0, clo[0], chi[0], sc[0])]
    proved = float(lb0[0])
    if bound:   # the root box's bound, so a timeline starts with it
        bound(proved)
    boxes = 1
    sizes = [W.shape[0] for W, _ in layers[:-1]]

    def tol() -> float:
        return gap_tol * max(1.0, abs(best_f))

    while heap:
        proved_now = min(heap[0][0], best_f)   # every open box's bound is valid; the best of all times too
        if proved_now > proved:
            proved = proved_now
            if bound:
                bound(proved)
        if heap[0][0] >= best_f - tol():
            return MinResult("optimal", best_x, best_f, max(proved, heap[0][0]), boxes, time.perf_counter() - start)
        if time.perf_counter() - start > timeout or (stop is not None and stop()):
            return MinResult("unknown", best_x, best_f, proved, boxes, time.perf_counter() - start)
        take = [heapq.heappop(heap) for _ in range(min(BATCH, len(heap)))]
        lo = np.array([b[2] for b in take])
        hi = np.array([b[3] for b in take])
        carried_lo = np.array([b[4] for b in take])
        carried_hi = np.array([b[5] for b in take])
        rel = (hi - lo) / width0
        score = np.array([b[6] for b in take])
        # the input that costs the bound most, among those at most ASPECT times narrower
        # (relative to the first box) than the widest
        score = np.where((rel > 1e-12) & (rel * ASPECT >= rel.max(axis=1, keepdims=True)), score + 1e-12 * rel, -1.0)
        d = np.argmax(score, axis=1)
        rows = np.arange(len(take))
        mid = 0.5 * (lo[rows, d] + hi[rows, d])
        left_hi, right_lo = hi.copy(), lo.copy()
        left_hi[rows, d], right_lo[rows, d] = mid, mid
        c_lo, c_hi = np.concatenate([lo, right_lo]), np.concatenate([left_hi, hi])
        carried = (np.concatenate([carried_lo, carried_lo]), np.concatenate([carried_hi, carried_hi]))
        lbs, flo, fhi, scores = box_lower_bounds(layers, t, c_lo, c_hi, carried)
        boxes += len(c_lo)
        # incumbents: every child's centre, then a short descent from the best few
        centres = 0.5 * (c_lo + c_hi)
        f_c = objective(layers, t, centres)
        order = np.argsort(f_c)[:DESCENT_STARTS]
        xs, fs = descend(layers, t, centres[order], lo0, hi0, steps=DESCENT_STEPS // 3)
        offer(np.vstack([centres, xs]), np.concatenate([f_c, fs]))
        # boxes with few unstable ReLUs: their exact minimum (closed, never split again)
        n_unstable = np.sum((flo < 0) & (fhi > 0), axis=1)
        for i in np.flatnonzero((lbs < best_f - tol()) & (n_unstable <= LP_UNSTABLE)):
            # (more unstable ReLUs: CROWN's bound only, the LP would be large)
            per_layer = _per_layer(sizes, flo[i], fhi[i])
            exact = n_unstable[i] <= EXACT_UNSTABLE
            if exact:
                value, x = exact_box_min(layers, t, c_lo[i], c_hi[i], per_layer)
            else:                                # the LP relaxation: a tighter bound, and its x to try
                value, x = lp_box_bound(layers, t, c_lo[i], c_hi[i], per_layer)
            if x is not None:
                offer(x[None], objective(layers, t, x[None]))
            if not exact:
                lbs[i] = max(lbs[i], value - LP_MARGIN)
            else:                                # closed, unless the LP's optimum is below the evaluated point
                lbs[i] = value if x is not None and value < best_f - tol() else np.inf
        for i in np.flatnonzero(lbs < best_f - tol()):
            heapq.heappush(heap, (float(lbs[i]), next(counter), c_lo[i], c_hi[i], flo[i], fhi[i], scores[i]))
    return MinResult("optimal", best_x, best_f, best_f, boxes, time.perf_counter() - start)
