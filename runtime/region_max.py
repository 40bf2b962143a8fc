"""The exact maximum of `norm1(net(x) - t)` over a small input box, region by region.

A plain ReLU network is affine on each region of inputs where every neuron keeps its side;
there `norm1(net(x) - t)` is convex, so its maximum over the region (a polytope) is at one of
the region's vertices. Over a small box (seed 002 Sec. 3.5: a design moved by eps = 1e-3)
only a few neurons change side, so there are few regions: this search walks them from the
one at the box's centre, across each facet where a neuron changes side, computes each
region's vertices (Qhull's halfspace intersection, in coordinates scaled to [-1, 1]^n) and
evaluates the network at them. The largest value found is the maximum: every region of the
box is reached (they tile the box, and neighbours share a facet), and each is searched
exactly. The MILP needs a binary per output for the same question (300 on the metasurface
network) and takes minutes.

Floating point: vertices are computed to ~1e-12 of the scaled box; the values at them are
the network's own (float64). A region with no interior (lower-dimensional) is skipped: its
points lie in the closure of full regions, whose vertices cover it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..compiler.nn.forward import forward

FACET_TOL = 1e-7      # a vertex lies on a halfspace's plane within this (scaled coordinates)
STEP_OUT = 1e-6       # how far past a facet's centre the neighbouring region's pattern is read


@dataclass
class RegionMax:
    status: str               # "optimal" (every region searched) | "stopped" (time or region limit)
    x: np.ndarray             # the best vertex found (the maximiser when optimal)
    value: float
    regions: int
    seconds: float


def _affine_rows(layers, mid, half, pattern):
    """For a pattern of sides (dict: (layer, neuron) -> bool active), every hidden
    pre-activation as rows A u + c over u in [-1, 1]^n, and the output's rows."""
    P, q = np.diag(half), mid.astype(np.float64)
    rows = []
    for li, (W, b) in enumerate(layers):
        A, c = W @ P, W @ q + b
        if li == len(layers) - 1:
            return rows, (A, c)
        active = pattern[li]
        rows.append((A, c))
        P, q = A * active[:, None], c * active


def _pattern_at(layers, x):
    """[bool active per neuron] for each hidden layer at the point x."""
    out, h = [], x
    for W, b in layers[:-1]:
        z = W @ h + b
        out.append(z > 0)
        h = np.maximum(z, 0.0)
    return out


def region_maximum(layers, target, lo, hi, deadline: float, max_regions: int = 5000,
                   unstable: Optional[list] = None, stop=None) -> RegionMax:
    """max over lo <= x <= hi of sum |net(x) - target|. `unstable`: per hidden layer, a mask
    of the neurons that may change side over the box (others add redundant rows only).
    `stop()`: polled once per region; true ends the search ("stopped")."""
    from scipy.optimize import linprog
    from scipy.spatial import HalfspaceIntersection

    start = time.perf_counter()
    layers = [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in layers]
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    mid, half = (lo + hi) / 2, np.maximum((hi - lo) / 2, 1e-300)
    n = len(lo)
    target = np.asarray(target, np.float64)
    if unstable is None:
        unstable = [np.ones(len(b), dtype=bool) for _, b in layers[:-1]]
    box = np.hstack([np.vstack([np.eye(n), -np.eye(n)]), -np.ones((2 * n, 1))])   # A u - 1 <= 0

    def key(pattern):
        return b"".join(np.packbits(p[m]).tobytes() for p, m in zip(pattern, unstable))

    best_x, best_v = mid.copy(), float(np.abs(forward(layers, mid[None])[0] - target).sum())
    first = _pattern_at(layers, mid)
    queue, seen, regions = [first], {key(first)}, 0
    while queue:
        if time.perf_counter() > deadline or regions >= max_regions or (stop is not None and stop()):
            return RegionMax("stopped", best_x, best_v, regions, time.perf_counter() - start)
        pattern = queue.pop()
        rows, _ = _affine_rows(layers, mid, half, pattern)
        # each unstable neuron keeps its side: active z >= 0 -> -z <= 0; inactive z <= 0
        cons = [box]
        for (A, c), side, m in zip(rows, pattern, unstable):
            if m.any():
                s = np.where(side[m], -1.0, 1.0)
                cons.append(np.hstack([A[m] * s[:, None], (c[m] * s)[:, None]]))
        H = np.vstack(cons)
        norms = np.linalg.norm(H[:, :-1], axis=1)
        H = H[norms > 0] / norms[norms > 0, None]   # unit normals: distances in scaled units
        # Chebyshev centre: an interior point, or none (an empty or flat region)
        res = linprog(np.r_[np.zeros(n), -1.0], A_ub=np.hstack([H[:, :-1], np.ones((len(H), 1))]),
                      b_ub=-H[:, -1], bounds=[(-1, 1)] * n + [(0, 1)], method="highs")
        regions += 1
        if res.status != 0 or res.x[-1] <= 1e-9:
            continue
        try:
            verts = HalfspaceIntersection(H, res.x[:-1]).intersections
        except Exception:   # noqa: BLE001 - Qhull refuses a degenerate region: it has no interior worth searching
            continue
        X = mid + half * verts
        values = np.abs(forward(layers, X) - target).sum(axis=1)
        k = int(np.argmax(values))
        if values[k] > best_v:
            best_x, best_v = X[k].copy(), float(values[k])
        # neighbours: across every facet that is not the box's, read the pattern just past it
        on = np.abs(verts @ H[:, :-1].T + H[:, -1]) <= FACET_TOL        # [vertices, halfspaces]
        for j in range(2 * n, len(H)):
            if on[:, j].sum() < n:
                continue   # not a facet (a lower-dimensional face or a redundant row)
            centre = verts[on[:, j]].mean(axis=0) + STEP_OUT * H[j, :-1]
            if np.any(np.abs(centre) > 1):
                continue
            nb = _pattern_at(layers, mid + half * centre)
            k2 = key(nb)
            if k2 not in seen:
                seen.add(k2)
                queue.append(nb)
    return RegionMax("optimal", best_x, best_v, regions, time.perf_counter() - start)


def unstable_masks(layers, lo, hi) -> list:
    """Per hidden layer, the neurons whose pre-activation may take both signs over the box
    (interval arithmetic: a superset of those that do)."""
    l, u = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    out = []
    for W, b in layers[:-1]:
        W = np.asarray(W, np.float64)
        Wp, Wn = np.maximum(W, 0), np.minimum(W, 0)
        zl, zu = Wp @ l + Wn @ u + b, Wp @ u + Wn @ l + b
        out.append((zl < 0) & (zu > 0))
        l, u = np.maximum(zl, 0), np.maximum(zu, 0)
    return out


def region_descent(layers, target, lo, hi, x0, deadline: float, rounds: int = 30):
    """(x, value): a local minimum of sum |net(x) - t| over the box reached from x0 exactly,
    region by region: in the linear region of the current point the problem is an LP (the
    pattern's sides as rows); its optimum stops on the region's border, where the neurons at 0
    are flipped and the next region's LP solved, while the value improves. Milliseconds a
    step for a 4 x 100 network (no lowering: the rows come from the weights)."""
    from scipy.optimize import linprog

    layers = [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in layers]
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    target = np.asarray(target, np.float64)
    n, m = len(lo), len(target)
    mid, half = (lo + hi) / 2, np.maximum((hi - lo) / 2, 1e-300)
    x = np.clip(np.asarray(x0, np.float64), lo, hi)
    value = float(np.abs(forward(layers, x[None])[0] - target).sum())
    pattern = _pattern_at(layers, x)
    for _ in range(rounds):
        if time.perf_counter() > deadline:
            break
        rows, (A_out, c_out) = _affine_rows(layers, mid, half, pattern)
        # variables (u in [-1, 1]^n, e in R^m_+): min sum e, e >= +-(A_out u + c_out - t), sides kept
        side_rows = [np.hstack([A * np.where(s, -1.0, 1.0)[:, None], np.zeros((len(A), m))]) for (A, _), s in zip(rows, pattern)]
        side_rhs = [c * np.where(s, 1.0, -1.0) for (_, c), s in zip(rows, pattern)]
        A_ub = np.vstack(side_rows + [np.hstack([A_out, -np.eye(m)]), np.hstack([-A_out, -np.eye(m)])])
        b_ub = np.concatenate(side_rhs + [target - c_out, c_out - target])
        res = linprog(np.r_[np.zeros(n), np.ones(m)], A_ub=A_ub, b_ub=b_ub,
                      bounds=[(-1, 1)] * n + [(0, None)] * m, method="highs")
        if res.status != 0:
            break
        x1 = np.clip(mid + half * res.x[:n], lo, hi)
        v1 = float(np.abs(forward(layers, x1[None])[0] - target).sum())
        if v1 >= value - 1e-12 * max(1.0, value) and _ > 0:
            break
        if v1 < value:
            x, value = x1, v1
        # the next region: past the border the LP stopped on (neurons at 0 change side)
        z_pattern, h = [], x1
        for (W, b), s in zip(layers[:-1], pattern):
            z = W @ h + b
            at_border = np.abs(z) <= 1e-9 * max(1.0, float(np.abs(z).max()))
            side = np.where(at_border, ~s, z > 0)
            z_pattern.append(side)
            h = np.where(side, np.maximum(z, 0.0), 0.0)
        if all(np.array_equal(a, b) for a, b in zip(z_pattern, pattern)):
            break
        pattern = z_pattern
    return x, value
