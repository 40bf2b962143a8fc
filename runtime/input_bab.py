"""Input-space branch and bound for VNNLIB properties of ReLU networks (DESIGN.md strategy 3).

Bounds on a box come from backward linear relaxation (CROWN): every unstable ReLU
is replaced by a linear lower and upper bound and the property's linear atoms
are propagated back to the input box, layer by layer, with the hidden layers'
own bounds computed the same way. A box where some atom of every clause cannot
hold (its bound misses 0 by more than MARGIN) is safe. Otherwise candidate
points (the box centre and the relaxation's minimising corner) are run through
the network; a point in the unsafe set is returned as a witness, which the
caller verifies with onnxruntime. Else the box is split in half along the input
whose width matters most to the bound. `unsat` only when every box is safe.

Float64 relaxation of the float32 network: the margin and the stated tolerance
of DESIGN.md "Conventions" apply, as for the MILP encodings.
"""
from __future__ import annotations

import time
from typing import Optional

import numpy as np

from ..compiler.nn.network import Dense, Relu

MARGIN = 1e-7


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


def _relax(l, u):
    """Lower slope, upper slope and upper intercept of relu on [l, u] (elementwise)."""
    active = l >= 0
    inactive = u <= 0
    unstable = ~(active | inactive)
    up_s = np.where(active, 1.0, 0.0)
    up_c = np.zeros_like(l)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = u / (u - l)
    up_s = np.where(unstable, s, up_s)
    up_c = np.where(unstable, -s * l, up_c)
    lo_s = np.where(active, 1.0, 0.0)
    lo_s = np.where(unstable & (u > -l), 1.0, lo_s)
    return lo_s, up_s, up_c


def _backward(C, layers, k, pre_bounds, x_lo, x_hi, C_x=None):
    """Lower bound of C @ z_k (+ C_x @ x) over the box; z_k the k-th affine output."""
    W, b = layers[k]
    const = C @ b
    lam = C @ W
    for j in range(k - 1, -1, -1):
        l, u = pre_bounds[j]
        lo_s, up_s, up_c = _relax(l, u)
        pos, neg = np.maximum(lam, 0.0), np.minimum(lam, 0.0)
        const = const + neg @ up_c
        lam_z = pos * lo_s + neg * up_s
        Wj, bj = layers[j]
        const = const + lam_z @ bj
        lam = lam_z @ Wj
    if C_x is not None:
        lam = lam + C_x
    low = const + np.maximum(lam, 0.0) @ x_lo + np.minimum(lam, 0.0) @ x_hi
    return low, lam


def layer_bounds(layers, x_lo, x_hi) -> list:
    bounds = []
    for k in range(len(layers) - 1):
        n = layers[k][0].shape[0]
        eye = np.eye(n)
        low, _ = _backward(eye, layers, k, bounds, x_lo, x_hi)
        up, _ = _backward(-eye, layers, k, bounds, x_lo, x_hi)
        bounds.append((low, -up))
    return bounds


def forward(layers, x: np.ndarray) -> np.ndarray:
    h = x
    for i, (W, b) in enumerate(layers):
        h = h @ W.T + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def _atom_rows(atoms, n_x, n_y):
    """Each atom as (c_y, c_x, const) with the atom meaning c_y.y + c_x.x + const <= 0."""
    rows = []
    for a in atoms:
        cy, cx = np.zeros(n_y), np.zeros(n_x)
        for (kind, i), c in a.terms.items():
            (cy if kind == "Y" else cx)[i] += c
        sign = 1.0 if a.op == "<=" else -1.0
        rows.append((sign * cy, sign * cx, sign * a.const))
    return rows


def input_branch_and_bound(prop, layers, x_lo, x_hi, rest, timeout: float):
    """("unsat" | "sat" | "unknown", witness or None, boxes)."""
    n_x, n_y = len(x_lo), layers[-1][0].shape[0]
    clauses = prop.disjuncts or [[]]
    rest_rows = _atom_rows(rest, n_x, n_y)
    clause_rows = [rest_rows + _atom_rows(c, n_x, n_y) for c in clauses]
    width0 = np.where(x_hi > x_lo, x_hi - x_lo, 1.0)
    stack = [(x_lo.astype(np.float64), x_hi.astype(np.float64))]
    start = time.perf_counter()
    boxes = 0
    last = len(layers) - 1
    while stack:
        if time.perf_counter() - start > timeout:
            return "unknown", None, boxes
        lo, hi = stack.pop()
        boxes += 1
        pre = layer_bounds(layers, lo, hi)
        candidates = [0.5 * (lo + hi)]
        split_score = np.zeros(n_x)
        all_safe = True
        for rows in clause_rows:
            clause_safe = False
            best = None
            for cy, cx, c0 in rows:
                low, lam = _backward(cy[None, :], layers, last, pre, lo, hi, C_x=cx[None, :])
                low = low[0] + c0
                if low > MARGIN:  # the atom (<= 0) cannot hold anywhere in the box
                    clause_safe = True
                    break
                if best is None or low > best[0]:
                    best = (low, lam[0])
            if clause_safe:
                continue
            all_safe = False
            if best is not None:
                lam = best[1]
                candidates.append(np.where(lam > 0, lo, hi))  # the relaxation's minimising corner
                split_score += np.abs(lam) * (hi - lo)
        if all_safe:
            continue
        xs = np.array(candidates)
        ys = forward(layers, xs)
        for x, y in zip(xs, ys):
            for rows in clause_rows:
                if all(cy @ y + cx @ x + c0 <= 0 for cy, cx, c0 in rows):
                    return "sat", x, boxes
        rel = (hi - lo) / width0
        # the input whose width moves the bound most, among those not yet split to nothing
        score = np.where(rel > 1e-9, split_score + 1e-12 * rel, -1.0)
        d = int(np.argmax(score))
        if score[d] < 0:
            return "unknown", None, boxes  # cannot split further: undecided, never unsat
        mid = 0.5 * (lo[d] + hi[d])
        left_hi, right_lo = hi.copy(), lo.copy()
        left_hi[d], right_lo[d] = mid, mid
        stack.append((right_lo, hi))
        stack.append((lo, left_hi))
    return "unsat", None, boxes
