"""Input-space branch and bound for properties of plain ReLU networks (DESIGN.md strategy 3).

The property is a list of clauses (runtime/clauses.py): arrays of rows `a_i <= 0` over the
network's output and input; a witness is a point where every row of some clause holds.
Bounds on a box come from the backward linear relaxations of compiler/nn/relax.py (CROWN).
A clause cannot hold in a box when a non-negative combination `sum_i w_i a_i` has a lower
bound above MARGIN there: at every point some row is positive. The combinations tried are
each row alone, every pair's mean and the mean of all rows (one backward pass for all of
them); a combination is much stronger than single rows where different rows rule out
different parts of the box (ACAS Xu property 2). A box where no clause can hold is safe.
Otherwise the box is split in half along the input whose width matters most to the bound.
`unsat` only when every box is safe.

Incumbents: in every open box, candidate points (the box centre and the relaxation's
minimising corners) are run through the network, and from the most promising of them a few
projected signed-gradient steps inside the box descend on each clause's worst row, so that
an unsafe set far smaller than the box, away from its centre and corners, is still reached
as the boxes around it shrink. The best point seen (the smallest violation, the largest row
of its best clause) is reported to `incumbent(x, violation)` when it improves; a point where
a clause holds is returned as a witness, which the caller verifies with onnxruntime.

Hidden-layer bounds (`layer_bounds`) are intersected with those of the box's parent (valid
on the child too). The final bound takes the best of four slope choices per combination,
then, for boxes still open, optimises the lower slopes of the best combination
(`optimised_slope_bound`). Boxes are processed in batches (NumPy over a leading box axis),
depth first: the newest boxes first, so a counterexample deep in the tree is reached early
and the stack stays small.

Float64 relaxation of the float32 network: the margin and the stated tolerance
of DESIGN.md "Conventions" apply, as for the MILP encodings.
"""
from __future__ import annotations

import itertools
import time

import numpy as np

from ..compiler.nn.forward import forward
from ..compiler.nn.relax import FINAL_MODES, SLOPE_STEPS, backward_bound, layer_bounds, optimised_slope_bound, \
    relu_relaxation
from .clauses import violation
from .falsify import descend

MARGIN = 1e-7
BATCH = 128
ASPECT = 64.0
# incumbent descent per batch of boxes: from at most DESCENT_STARTS open boxes (those whose
# candidates come closest to the clause), DESCENT_STEPS steps from 1/4 down to 1/100 of the
# box's width (ACAS Xu: a few % of the search's time)
DESCENT_STARTS = 32
DESCENT_STEPS = 8
# ... and no more than this share of the search's time: on a property with no witness the
# descent is pure overhead (ACAS Xu 3_3 property 2, unsat: 45.3 s without it, 52.9 s with
# a descent in every batch)
DESCENT_SHARE = 0.05
DESCENT_FIRST, DESCENT_LAST = 0.25, 0.001


def _combinations(m: int) -> np.ndarray:
    """Non-negative weights [q, m]: each row, each pair's mean, the mean of all."""
    rows = [np.eye(m)]
    if m > 1:
        pairs = list(itertools.combinations(range(m), 2))
        pw = np.zeros((len(pairs), m))
        for r, (i, j) in enumerate(pairs):
            pw[r, [i, j]] = 0.5
        rows.append(pw)
    if m > 2:
        rows.append(np.full((1, m), 1.0 / m))
    return np.concatenate(rows)


class _Clause:
    """A clause's arrays and the combinations of its rows that the bounds try."""

    def __init__(self, clause):
        self.rows = tuple(np.asarray(a, np.float64) for a in clause)
        cy, cx, c0 = self.rows
        weights = _combinations(len(c0)) if len(c0) else np.zeros((0, 0))
        self.wy, self.wx, self.w0 = weights @ cy, weights @ cx, weights @ c0

    @property
    def empty(self) -> bool:
        return not len(self.rows[2])


class _Incumbent:
    """The best point seen so far and its violation; reports improvements to `report`."""

    def __init__(self, clauses: list, report=None):
        self.clauses = clauses
        self.report = report
        self.x = None
        self.value = np.inf

    def offer(self, xs: np.ndarray, values: np.ndarray) -> bool:
        """Take the best of the points xs (with their violations); whether a clause holds there."""
        if not len(xs):
            return False
        i = int(np.argmin(values))
        if values[i] < self.value:
            self.x, self.value = xs[i].copy(), float(values[i])
            if self.report is not None:
                self.report(self.x.copy(), self.value)
        return self.value <= 0


def input_branch_and_bound(clauses: list, layers, x_lo, x_hi, timeout: float, stop=None, progress=None,
                           incumbent=None):
    """("unsat" | "sat" | "unknown", witness or None, boxes) for the property `clauses` (a list
    of (cy, cx, c0) arrays, runtime/clauses.py) of the plain ReLU network `layers` on the
    input box [x_lo, x_hi]. `stop()` true ends the search early (another member of the
    portfolio decided); `progress(boxes, proved)` is called after every batch with the share
    of the input box's volume proved safe so far; `incumbent(x, violation)` each time the
    best point seen improves (violation <= 0: a witness)."""
    n_x = len(x_lo)
    if not clauses:
        return "unsat", None, 0  # an empty disjunction holds nowhere
    cls = [_Clause(c) for c in clauses]
    best = _Incumbent([c.rows for c in cls], incumbent)
    x_lo, x_hi = np.asarray(x_lo, np.float64), np.asarray(x_hi, np.float64)
    spans = x_hi > x_lo
    width0 = np.where(spans, x_hi - x_lo, 1.0)
    proved = 0.0
    n_hidden = sum(W.shape[0] for W, _ in layers[:-1])
    # each entry: a box (lo, hi) and the hidden bounds of its parent (all neurons, flat)
    stack = [(x_lo, x_hi, np.full(n_hidden, -np.inf), np.full(n_hidden, np.inf))]
    start = time.perf_counter()
    descent_time = 0.0
    boxes = 0
    last = len(layers) - 1
    while stack:
        if time.perf_counter() - start > timeout or (stop is not None and stop()):
            return "unknown", None, boxes
        take = min(BATCH, len(stack))
        lo, hi, carried_lo, carried_hi = (np.array(a) for a in zip(*stack[-take:]))
        del stack[-take:]
        B = take
        boxes += B
        pre = layer_bounds(layers, lo, hi, (carried_lo, carried_hi))
        open_box = np.zeros(B, dtype=bool)
        split_score = np.zeros((B, n_x))
        candidates = [0.5 * (lo + hi)]
        for cl in cls:
            if cl.empty:  # a clause without rows holds everywhere: any point is a witness
                open_box[:] = True
                continue
            safe, weight, corner_sign = _clause_safe(cl, layers, last, pre, lo, hi)
            open_box |= ~safe
            split_score += np.where(safe[:, None], 0.0, weight * (hi - lo))
            candidates.append(np.where(corner_sign > 0, lo, hi))  # the relaxation's minimising corner
        if progress is not None:
            share = np.prod(np.where(spans, (hi - lo) / width0, 1.0), axis=1)
            proved += float(share[~open_box].sum())
            progress(boxes, min(proved, 1.0))
        if not open_box.any():
            continue
        idx = np.flatnonzero(open_box)
        t = time.perf_counter()
        descent = descent_time <= DESCENT_SHARE * (t - start)
        if _search_incumbents(cls, layers, best, [c[idx] for c in candidates], lo[idx], hi[idx], descent):
            return "sat", best.x, boxes
        if descent:
            descent_time += time.perf_counter() - t
        lo, hi, split_score = lo[idx], hi[idx], split_score[idx]
        bounds_lo = np.concatenate([l[idx] for l, _ in pre], axis=1)
        bounds_hi = np.concatenate([u[idx] for _, u in pre], axis=1)
        rel = (hi - lo) / width0
        # the input whose width moves the bound most, among those not yet split to nothing
        # ... among inputs at most ASPECT times narrower (relative to the first box) than the
        # widest: the bound's gradient does not see the relaxation error of unstable neurons,
        # and without this limit the inputs it favours are split to nothing while the one
        # that matters stays wide (ACAS Xu 1_9 property 2: unknown after 100 s, decided in
        # 0.8 s with the limit; 8 and 16 were worse than 64 on 1_1/1_9 property 2)
        score = np.where((rel > 1e-9) & (rel * ASPECT >= rel.max(axis=1, keepdims=True)),
                         split_score + 1e-12 * rel, -1.0)
        d = np.argmax(score, axis=1)
        rows = np.arange(len(idx))
        if np.any(score[rows, d] < 0):
            return "unknown", None, boxes  # cannot split further: undecided, never unsat
        mid = 0.5 * (lo[rows, d] + hi[rows, d])
        left_hi, right_lo = hi.copy(), lo.copy()
        left_hi[rows, d] = mid
        right_lo[rows, d] = mid
        for r in rows[::-1]:
            stack.append((right_lo[r], hi[r], bounds_lo[r], bounds_hi[r]))
            stack.append((lo[r], left_hi[r], bounds_lo[r], bounds_hi[r]))
    return "unsat", None, boxes


def _search_incumbents(cls: list, layers, best: _Incumbent, candidates: list, lo, hi, descent: bool = True) -> bool:
    """Offer the open boxes' candidate points ([B, n_x] each), then (if `descent`) descend
    from the best candidate of each of the DESCENT_STARTS most promising boxes, per clause,
    inside its box. Whether a clause holds at the best point."""
    B = len(lo)
    xs = np.concatenate(candidates)
    ys = forward(layers, xs)
    if best.offer(xs, violation(best.clauses, xs, ys)[0]):
        return True
    if not descent:
        return False
    for cl in cls:
        if cl.empty:
            continue
        v = np.max(ys @ cl.rows[0].T + xs @ cl.rows[1].T + cl.rows[2], axis=1).reshape(len(candidates), B)
        pick = np.argmin(v, axis=0)  # each box's candidate closest to the clause
        v_box = v[pick, np.arange(B)]
        boxes = np.argsort(v_box)[:DESCENT_STARTS]
        x0 = np.stack(candidates)[pick[boxes], boxes]
        x, _ = descend(cl.rows, layers, x0, lo[boxes], hi[boxes], DESCENT_STEPS, DESCENT_FIRST, DESCENT_LAST)
        if best.offer(x, violation(best.clauses, x, forward(layers, x))[0]):
            return True
    return False


def _clause_safe(cl, layers, last, pre, lo, hi):
    """[B] whether the clause cannot hold in each box, [B, n_x] the weight of each input in
    its bound (for the split) and [B, n_x] coefficients whose signs give the bound's
    minimising corner: the best combination of rows under each slope choice, then optimised
    slopes for the boxes that are still open."""
    B = lo.shape[0]
    rows = np.arange(B)
    lows, lams = zip(*(backward_bound(cl.wy, layers, last, pre, lo, hi, C_x=cl.wx, mode=m) for m in FINAL_MODES))
    lows = np.stack(lows) + cl.w0  # [modes, B, combinations]
    mode_best = np.argmax(lows, axis=0)  # [B, combinations]
    low = np.max(lows, axis=0)
    best = np.argmax(low, axis=1)
    m_best = mode_best[rows, best]
    safe = low[rows, best] > MARGIN
    # the split heuristic weighs each input by the mean size of its coefficient under the slope
    # choices (boxes on ACAS Xu 1_1 / 1_9 property 2: 207 / 317; with the winning choice's
    # coefficients 955 / 7037, with the adaptive choice's 2641 / 425); the adaptive choice's
    # signs pick the candidate corner
    weight = np.mean([np.abs(lam[rows, best]) for lam in lams], axis=0)  # [B, n_x]
    corner_sign = lams[0][rows, best]
    if SLOPE_STEPS and not safe.all():
        o = np.flatnonzero(~safe)
        sub = [(l[o], u[o]) for l, u in pre]
        # start each box from the lower slopes of its best choice so far
        start = [np.stack([relu_relaxation(l, u, m)[0] for m in FINAL_MODES])[m_best[o], np.arange(len(o))]
                 for l, u in sub]
        refined = optimised_slope_bound(cl.wy[best[o]], cl.wx[best[o]], cl.w0[best[o]], layers, sub,
                                        lo[o], hi[o], start)
        safe[o] = refined > MARGIN
    return safe, weight, corner_sign
