"""Falsification members of the solve portfolio: random points of an input box, and
projected gradient descent from the best of them.

A property's unsafe set often contains whole regions; evaluating a few thousand
points of the box in one batch finds a counterexample in well under a second when it
does. For plain ReLU networks, projected gradient descent from the best sampled points
then reaches unsafe sets too small to sample (ACAS Xu 5_3 property 2: none in 200,000
samples, found by descent in 0.7 s). A point found here is a witness like any other:
it goes through the independent verifier before it is reported. Finding none proves
nothing, and the exact backends run next.

Properties are clause arrays (runtime/clauses.py): the point sought makes some clause hold.
"""
from __future__ import annotations

import time
from typing import Optional

import numpy as np

from ..compiler.nn.forward import forward, forward_masks, input_gradient
from ..compiler.nn.session import run_batch, takes_batches
from .clauses import row_values, violation

FIRST_STEP, LAST_STEP = 0.02, 1e-4  # of the box's width per input: descent steps shrink geometrically


def sample_counterexample(clauses: list, net_path: str, lo: np.ndarray, hi: np.ndarray,
                          points: int = 20000, seed: int = 0, budget: float = 5.0,
                          layers: Optional[list] = None) -> Optional[tuple]:
    """(x, index of a clause that holds there) for a sampled point of the box, or None.

    `layers` (plain ReLU [(W, b), ...]) screens points in float64 NumPy, much faster than
    onnxruntime on graphs with a fixed batch of 1; the caller verifies any hit with onnxruntime."""
    if not clauses:
        return None
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    n = len(lo)
    batch = 2000
    done = 0
    while done < points and time.perf_counter() - start < budget:
        x = lo + (hi - lo) * rng.random((batch, n))
        if done == 0:  # the box's centre and corners first
            k = min(batch - 1, 2 ** min(n, 10))
            corners = (np.arange(k)[:, None] >> np.minimum(np.arange(n), 62)[None, :]) & 1
            x[:k] = np.where(corners == 1, hi, lo)
            x[k] = 0.5 * (lo + hi)
        if layers is not None:
            y = forward(layers, x)
        else:
            if not takes_batches(net_path):  # evaluated point by point: a few only
                x = x[:200]
            y = run_batch(net_path, x).astype(np.float64)
        v, which = violation(clauses, x, y)
        hit = np.flatnonzero(v <= 0)
        if len(hit):
            return x[hit[0]], int(which[hit[0]])
        done += batch
    return None


def descend(clause, layers, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, steps: int,
            first: float = FIRST_STEP, last: float = LAST_STEP):
    """Projected signed-gradient descent on the clause's worst row (the largest row value),
    from each point x [P, n_x] inside its box lo, hi ([P, n_x] or [n_x]); steps shrink from
    `first` to `last` of the box's width. Returns (x [P, n_x], violation [P]): the best point
    seen from each start and its clause violation. Ends early once some point makes the
    clause hold (violation <= 0)."""
    cy, cx, _ = clause
    width = hi - lo
    best_x, best_v = x, np.full(len(x), np.inf)
    rows = np.arange(len(x))
    for t in range(steps):
        y, masks = forward_masks(layers, x)
        v = row_values(clause, x, y)  # [P, m]
        worst = np.argmax(v, axis=1)
        v_max = v[rows, worst]
        better = v_max < best_v
        best_x, best_v = np.where(better[:, None], x, best_x), np.where(better, v_max, best_v)
        if np.any(v_max <= 0) or t == steps - 1:
            break
        g = input_gradient(layers, masks, cy[worst]) + cx[worst]
        step = width * (first * (last / first) ** (t / max(steps - 1, 1)))
        x = np.clip(x - step * np.sign(g), lo, hi)
    return best_x, best_v


def gradient_counterexample(clauses: list, layers, x_lo, x_hi, seed: int = 0, budget: float = 5.0,
                            points: int = 256, steps: int = 100, pool: int = 20000) -> Optional[np.ndarray]:
    """A point where some clause holds, by `descend` (`steps` steps from 2 % down to 0.01 %
    of the box's width) from the best `points` of `pool` random points of the box, in rounds
    until the budget ends; or None.

    `layers` is a plain ReLU network [(W, b), ...] in float64; the caller verifies a hit
    with onnxruntime."""
    clauses = [c for c in clauses if len(c[2])]  # a clause without rows: sampling's centre finds it
    if not clauses:
        return None
    rng = np.random.default_rng(seed)
    x_lo, x_hi = np.asarray(x_lo, np.float64), np.asarray(x_hi, np.float64)
    n_x = len(x_lo)
    start = time.perf_counter()
    while time.perf_counter() - start < budget:
        for cl in clauses:
            cand = x_lo + (x_hi - x_lo) * rng.random((pool, n_x))
            v = row_values(cl, cand, forward(layers, cand))
            x, v = descend(cl, layers, cand[np.argsort(v.max(axis=1))[:points]], x_lo, x_hi, steps)
            hit = np.flatnonzero(v <= 0)
            if len(hit):
                return x[hit[0]]
    return None
