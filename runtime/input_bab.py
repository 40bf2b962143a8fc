"""Input-space branch and bound for VNNLIB properties of ReLU networks (DESIGN.md strategy 3).

Bounds on a box come from backward linear relaxation (CROWN): every unstable ReLU
is replaced by a linear lower and upper bound and linear functions of the output
are propagated back to the input box, layer by layer, with the hidden layers'
own bounds computed the same way. A clause (a conjunction of atoms `a_i <= 0`)
cannot hold in a box when a non-negative combination `sum_i w_i a_i` has a lower
bound above MARGIN there: at every point some atom is positive. The combinations
tried are each atom alone, every pair's mean and the mean of all atoms (one
backward pass for all of them); a combination is much stronger than single atoms
where different atoms rule out different parts of the box (ACAS Xu property 2).
A box where no clause can hold is safe. Otherwise candidate points (the box
centre and the relaxation's minimising corners) are run through the network; a
point in the unsafe set is returned as a witness, which the caller verifies with
onnxruntime. Else the box is split in half along the input whose width matters
most to the bound. `unsat` only when every box is safe.

Hidden-layer bounds: forward linear bounds for every neuron, backward passes only for
the neurons those leave unstable (`layer_bounds`), each with three choices of the unstable
ReLUs' lower slopes (any slope in [0, 1] gives a valid bound: the best per neuron is kept),
intersected with the bounds of the box's parent (valid on the child too). The final bound
takes the best of four slope choices per combination, then, for boxes still open, optimises
the lower slopes of the best combination by projected gradient ascent (alpha-CROWN for the
final bound: it approaches the triangle-relaxation LP over the same hidden bounds).
Boxes are processed in batches (NumPy over a leading box axis), depth first: the
newest boxes first, so a counterexample deep in the tree is reached early and the
stack stays small.

Float64 relaxation of the float32 network: the margin and the stated tolerance
of DESIGN.md "Conventions" apply, as for the MILP encodings.
"""
from __future__ import annotations

import itertools
import time
from typing import Optional

import numpy as np

from ..compiler.nn.network import Dense, Relu

MARGIN = 1e-7
BATCH = 128
ASPECT = 64.0
# lower slopes of unstable ReLUs tried for hidden bounds and for the final bound; each is a
# valid relaxation, none dominates (measured on ACAS Xu 3_3 property 2: with all three for
# the hidden bounds and all four for the final bound, 4.9x fewer boxes at depth 25 of a
# breadth-first search than with "adaptive" alone)
HIDDEN_MODES = ("adaptive", "zero", "one")
FINAL_MODES = ("adaptive", "zero", "one", "parallel")
SLOPE_STEPS = 20  # projected gradient steps on the final bound's slopes, open boxes only


def plain_relu_layers(net) -> Optional[list]:
    """[(W, b), ...] when the network is Dense (Relu Dense)*, else None."""
    layers = list(net.layers)
    out = []
    expect_dense = True
    for layer in layers:
        if expect_dense and isinstance(layer, Dense):
            out.append((layer.W, layer.b))
            expect_dense = False
        elif not expect_dense and isinstance(layer, Relu):
            expect_dense = True
        else:
            return None
    return out if out and not expect_dense else None


def _relax(l, u, mode: str = "adaptive"):
    """Lower slope, upper slope and upper intercept of relu on [l, u] (elementwise).

    The upper bound is the chord; the lower bound of an unstable ReLU is s*z for a slope s
    in [0, 1]: "adaptive" 1 where u > -l else 0 (CROWN's choice), "zero", "one", or
    "parallel" to the chord."""
    active = l >= 0
    unstable = (l < 0) & (u > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(unstable, u / np.where(unstable, u - l, 1.0), 0.0)
    up_s = np.where(active, 1.0, s)
    up_c = np.where(unstable, -s * l, 0.0)
    if mode == "adaptive":
        lo_s = np.where(active | (unstable & (u > -l)), 1.0, 0.0)
    elif mode == "zero":
        lo_s = np.where(active, 1.0, 0.0)
    elif mode == "one":
        lo_s = np.where(active | unstable, 1.0, 0.0)
    elif mode == "parallel":
        lo_s = up_s
    else:
        raise ValueError(f"unknown slope choice {mode!r}")
    return lo_s, up_s, up_c


def _backward(C, layers, k, pre, lo, hi, C_x=None, mode: str = "adaptive"):
    """Lower bounds [B, m] of C @ z_k (+ C_x @ x) over B boxes; z_k the k-th affine output.

    C is [m, n_k] (the same rows for every box); C_x [m, n_x]. Also returns the input
    coefficients [B, m, n_x] of the bound. `mode`: the lower slopes (see `_relax`)."""
    W, b = layers[k]
    B = lo.shape[0]
    const = np.broadcast_to(C @ b, (B, C.shape[0])).copy()
    lam = np.broadcast_to(C @ W, (B, C.shape[0], W.shape[1]))
    for j in range(k - 1, -1, -1):
        lo_s, up_s, up_c = (a[:, None, :] for a in _relax(*pre[j], mode))
        pos, neg = np.maximum(lam, 0.0), np.minimum(lam, 0.0)
        const += np.sum(neg * up_c, axis=2)
        lam_z = pos * lo_s + neg * up_s
        Wj, bj = layers[j]
        const += lam_z @ bj
        lam = lam_z @ Wj
    if C_x is not None:
        lam = lam + C_x
    low = const + np.sum(np.maximum(lam, 0.0) * lo[:, None, :] + np.minimum(lam, 0.0) * hi[:, None, :], axis=2)
    return low, lam


def layer_bounds(layers, lo, hi, carried=None) -> list:
    """[(l [B, n_k], u [B, n_k])] of every hidden pre-activation over B boxes.

    `carried`: ([B, N], [B, N]) bounds of all N hidden neurons known to hold on each box
    (its parent's), intersected with the new ones before they are used.

    Forward linear bounds in the input (symbolic intervals: each neuron's bounds as linear
    functions of x, cheap for few inputs) for every neuron, then backward passes (CROWN)
    only for the neurons still unstable in some box of the batch: forward bounds alone
    are far looser in deep layers (measured on ACAS Xu: 9x wider at layer 6), backward
    passes for every neuron cost 9x the time. Layer by layer, so each layer's forward
    bounds use the tightened relaxations of the layers before it."""
    B, n_x = lo.shape
    a_lo = a_up = np.broadcast_to(np.eye(n_x), (B, n_x, n_x))
    c_lo = c_up = np.zeros((B, n_x))
    mid, rad = 0.5 * (lo + hi), 0.5 * (hi - lo)
    bounds = []
    offset = 0
    for k, (W, b) in enumerate(layers[:-1]):
        n = W.shape[0]
        Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
        z_up_a = Wp @ a_up + Wn @ a_lo
        z_up_c = c_up @ Wp.T + c_lo @ Wn.T + b
        z_lo_a = Wp @ a_lo + Wn @ a_up
        z_lo_c = c_lo @ Wp.T + c_up @ Wn.T + b
        u = np.einsum("bnk,bk->bn", z_up_a, mid) + np.einsum("bnk,bk->bn", np.abs(z_up_a), rad) + z_up_c
        l = np.einsum("bnk,bk->bn", z_lo_a, mid) - np.einsum("bnk,bk->bn", np.abs(z_lo_a), rad) + z_lo_c
        if carried is not None:
            l = np.maximum(l, carried[0][:, offset:offset + n])
            u = np.minimum(u, carried[1][:, offset:offset + n])
        if k > 0:
            rows = np.flatnonzero(np.any((l < 0) & (u > 0), axis=0))
            if len(rows):
                eye = np.eye(n)[rows]
                r = len(rows)
                for mode in HIDDEN_MODES:
                    low, _ = _backward(np.concatenate([eye, -eye]), layers, k, bounds, lo, hi, mode=mode)
                    l[:, rows] = np.maximum(l[:, rows], low[:, :r])
                    u[:, rows] = np.minimum(u[:, rows], -low[:, r:])
        bounds.append((l, u))
        offset += n
        lo_s, up_s, up_c = _relax(l, u)
        a_up, c_up = up_s[:, :, None] * z_up_a, up_s * z_up_c + up_c
        a_lo, c_lo = lo_s[:, :, None] * z_lo_a, lo_s * z_lo_c
    return bounds


def optimised_slope_bound(c_y, c_x, c0, layers, pre, lo, hi, slopes, steps: int = SLOPE_STEPS):
    """The best lower bound [B] of c_y.y + c_x.x + c0 (one row per box: c_y [B, n_y],
    c_x [B, n_x], c0 [B]) over `steps` rounds of projected gradient ascent on the unstable
    ReLUs' lower slopes, starting from `slopes` ([B, n_k] per hidden layer).

    Every slope vector in [0, 1] gives a valid bound, so the best one seen is valid. The
    bound is piecewise linear in the slopes; the gradient is taken in reverse through the
    backward pass (a supergradient where a coefficient changes sign), steps are normalised
    per box and shrink by 0.9 each round."""
    K = len(layers) - 1
    relaxed = [_relax(l, u) for l, u in pre]
    unstable = [(l < 0) & (u > 0) for l, u in pre]
    slopes = [np.where(m, s, r[0]) for s, m, r in zip(slopes, unstable, relaxed)]
    best = np.full(lo.shape[0], -np.inf)
    step = 0.5
    W_out, b_out = layers[K]
    for it in range(steps):
        const = c_y @ b_out + c0
        lam = c_y @ W_out
        seen = []
        for j in range(K - 1, -1, -1):
            _, up_s, up_c = relaxed[j]
            pos, neg = np.maximum(lam, 0.0), np.minimum(lam, 0.0)
            lam_z = pos * slopes[j] + neg * up_s
            const = const + np.sum(neg * up_c, axis=1) + lam_z @ layers[j][1]
            seen.append((j, lam))
            lam = lam_z @ layers[j][0]
        lam = lam + c_x
        best = np.maximum(best, const + np.sum(np.maximum(lam, 0.0) * lo + np.minimum(lam, 0.0) * hi, axis=1))
        if it == steps - 1:
            break
        g = np.where(lam > 0, lo, hi)  # d bound / d (input coefficients)
        grads = [None] * K
        for j, lam_j in reversed(seen):  # from the input side back towards the output
            _, up_s, up_c = relaxed[j]
            g_z = g @ layers[j][0].T + layers[j][1]  # d bound / d lam_z
            grads[j] = np.where(unstable[j], np.maximum(lam_j, 0.0) * g_z, 0.0)
            g = np.where(lam_j > 0, slopes[j], up_s) * g_z + np.where(lam_j < 0, up_c, 0.0)
        norm = np.max(np.stack([np.max(np.abs(gr), axis=1) for gr in grads]), axis=0)
        scale = (step / np.maximum(norm, 1e-300))[:, None]
        slopes = [np.where(m, np.clip(s + scale * gr, 0.0, 1.0), s) for s, m, gr in zip(slopes, unstable, grads)]
        step *= 0.9
    return best


def forward(layers, x: np.ndarray) -> np.ndarray:
    h = x
    for i, (W, b) in enumerate(layers):
        h = h @ W.T + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def _atom_rows(atoms, n_x, n_y):
    """The atoms as arrays (cy [m, n_y], cx [m, n_x], c0 [m]), each meaning cy.y + cx.x + c0 <= 0."""
    cy, cx, c0 = np.zeros((len(atoms), n_y)), np.zeros((len(atoms), n_x)), np.zeros(len(atoms))
    for r, a in enumerate(atoms):
        sign = 1.0 if a.op == "<=" else -1.0
        for (kind, i), c in a.terms.items():
            (cy if kind == "Y" else cx)[r, i] += sign * c
        c0[r] = sign * a.const
    return cy, cx, c0


def _combinations(m: int) -> np.ndarray:
    """Non-negative weights [q, m]: each atom, each pair's mean, the mean of all."""
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


def property_clauses(prop, rest, n_x, n_y) -> list:
    """One `_Clause` per disjunct, each with the atoms every disjunct shares (`rest`)."""
    rest_rows = _atom_rows(rest, n_x, n_y)
    out = []
    for atoms in (prop.disjuncts or [[]]):
        cy, cx, c0 = _atom_rows(atoms, n_x, n_y)
        out.append(_Clause(np.concatenate([rest_rows[0], cy]), np.concatenate([rest_rows[1], cx]),
                           np.concatenate([rest_rows[2], c0])))
    return out


class _Clause:
    def __init__(self, cy, cx, c0):
        self.cy, self.cx, self.c0 = cy, cx, c0
        weights = _combinations(len(c0)) if len(c0) else np.zeros((0, 0))
        self.wy, self.wx, self.w0 = weights @ cy, weights @ cx, weights @ c0

    def holds(self, x, y):
        """[P] whether every atom holds at each point."""
        if not len(self.c0):
            return np.ones(len(x), dtype=bool)
        v = y @ self.cy.T + x @ self.cx.T + self.c0
        return np.all(v <= 0, axis=1)


def input_branch_and_bound(prop, layers, x_lo, x_hi, rest, timeout: float, stop=None, progress=None):
    """("unsat" | "sat" | "unknown", witness or None, boxes); `stop()` true ends the search
    early (another member of the portfolio decided); `progress(boxes, proved)` is called
    after every batch with the share of the input box's volume proved safe so far."""
    n_x, n_y = len(x_lo), layers[-1][0].shape[0]
    clauses = property_clauses(prop, rest, n_x, n_y)
    spans = np.asarray(x_hi) > np.asarray(x_lo)
    width0 = np.where(spans, np.asarray(x_hi) - np.asarray(x_lo), 1.0)
    proved = 0.0
    n_hidden = sum(W.shape[0] for W, _ in layers[:-1])
    # each entry: a box (lo, hi) and the hidden bounds of its parent (all neurons, flat)
    stack = [(np.asarray(x_lo, np.float64), np.asarray(x_hi, np.float64),
              np.full(n_hidden, -np.inf), np.full(n_hidden, np.inf))]
    start = time.perf_counter()
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
        for cl in clauses:
            if len(cl.w0) == 0:  # an empty clause holds everywhere: any point is a witness
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
        xs = np.concatenate([c[idx] for c in candidates])
        ys = forward(layers, xs)
        for cl in clauses:
            hit = np.flatnonzero(cl.holds(xs, ys))
            if len(hit):
                return "sat", xs[hit[0]], boxes
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


def _clause_safe(cl, layers, last, pre, lo, hi):
    """[B] whether the clause cannot hold in each box, [B, n_x] the weight of each input in
    its bound (for the split) and [B, n_x] coefficients whose signs give the bound's
    minimising corner: the best combination of atoms under each slope choice, then optimised
    slopes for the boxes that are still open."""
    B = lo.shape[0]
    rows = np.arange(B)
    lows, lams = zip(*(_backward(cl.wy, layers, last, pre, lo, hi, C_x=cl.wx, mode=m) for m in FINAL_MODES))
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
        start = [np.stack([_relax(l, u, m)[0] for m in FINAL_MODES])[m_best[o], np.arange(len(o))] for l, u in sub]
        refined = optimised_slope_bound(cl.wy[best[o]], cl.wx[best[o]], cl.w0[best[o]], layers, sub,
                                        lo[o], hi[o], start)
        safe[o] = refined > MARGIN
    return safe, weight, corner_sign
