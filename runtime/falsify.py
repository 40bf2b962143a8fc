"""A falsification member of the solve portfolio: random points in a VNNLIB input box.

A property's unsafe set often contains whole regions; evaluating a few thousand
points of the box with onnxruntime in one batch finds a counterexample in well
under a second when it does. For plain ReLU networks, projected gradient descent
from the best sampled points then reaches unsafe sets too small to sample (ACAS Xu
5_3 property 2: none in 200,000 samples, found by descent in 0.7 s). A point found here is a witness like any other:
it goes through the independent verifier before it is reported. Finding none
proves nothing, and the exact backends run next.
"""
from __future__ import annotations

import time
from typing import Optional

import numpy as np

from ..compiler.nn.session import session


def _atom_values(atoms, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For each point, whether every atom holds (atoms over X columns and Y columns)."""
    ok = np.ones(len(x), dtype=bool)
    for a in atoms:
        v = np.full(len(x), a.const)
        for (kind, i), c in a.terms.items():
            v = v + c * (x[:, i] if kind == "X" else y[:, i])
        ok &= (v <= 0) if a.op == "<=" else (v >= 0)
    return ok


def sample_counterexample(prop, net_path: str, lo: np.ndarray, hi: np.ndarray, rest: list,
                          points: int = 20000, seed: int = 0, budget: float = 5.0,
                          layers: Optional[list] = None) -> Optional[tuple]:
    """(x, disjunct index or None) for a sampled point in the unsafe set, or None.

    `layers` (plain ReLU [(W, b), ...]) screens points in float64 NumPy, much faster than
    onnxruntime on graphs with a fixed batch of 1; the caller verifies any hit with onnxruntime."""
    rng = np.random.default_rng(seed)
    sess, name, shape = session(str(net_path))
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
            from .input_bab import forward

            y = forward(layers, x)
        else:
            try:
                y = sess.run(None, {name: x.astype(np.float32).reshape((batch,) + tuple(shape[1:]))})[0]
            except Exception:  # a graph with a fixed batch of 1: evaluate point by point
                y = np.stack([sess.run(None, {name: xi.astype(np.float32).reshape(shape)})[0].reshape(-1)
                              for xi in x[:200]])  # point by point: a few only
                x = x[:200]
        y = np.asarray(y, dtype=np.float64).reshape(len(x), -1)
        ok = _atom_values(rest, x, y)
        if prop.disjuncts:
            for d, clause in enumerate(prop.disjuncts):
                hit = np.flatnonzero(ok & _atom_values(clause, x, y))
                if len(hit):
                    return x[hit[0]], d
        else:
            hit = np.flatnonzero(ok)
            if len(hit):
                return x[hit[0]], None
        done += batch
    return None


def gradient_counterexample(prop, layers, x_lo, x_hi, rest, seed: int = 0, budget: float = 5.0,
                            points: int = 256, steps: int = 100, pool: int = 20000) -> Optional[np.ndarray]:
    """A point where some clause holds, by projected signed-gradient descent on
    max_i a_i(x) (the clause's atoms hold where it is <= 0), started from the best of
    `pool` random points of the box, in rounds until the budget ends; or None.

    `layers` is a plain ReLU network [(W, b), ...] in float64; the caller verifies a hit
    with onnxruntime."""
    from .input_bab import forward, property_clauses

    n_x, n_y = len(x_lo), layers[-1][0].shape[0]
    clauses = [c for c in property_clauses(prop, rest, n_x, n_y) if len(c.c0)]
    if not clauses:
        return None
    rng = np.random.default_rng(seed)
    width = x_hi - x_lo
    start = time.perf_counter()
    while time.perf_counter() - start < budget:
        for cl in clauses:
            cand = x_lo + width * rng.random((pool, n_x))
            v = forward(layers, cand) @ cl.cy.T + cand @ cl.cx.T + cl.c0
            x = cand[np.argsort(v.max(axis=1))[:points]]
            for t in range(steps):
                h, masks = x, []
                for i, (W, b) in enumerate(layers):
                    h = h @ W.T + b
                    if i < len(layers) - 1:
                        masks.append(h > 0)
                        h = np.maximum(h, 0.0)
                v = h @ cl.cy.T + x @ cl.cx.T + cl.c0  # [P, m]
                ok = np.all(v <= 0, axis=1)
                if ok.any():
                    return x[np.flatnonzero(ok)[0]]
                worst = np.argmax(v, axis=1)
                g = cl.cy[worst]  # gradient of the worst atom through the active ReLUs
                for i in range(len(layers) - 1, -1, -1):
                    g = g @ layers[i][0]
                    if i > 0:
                        g = g * masks[i - 1]
                g = g + cl.cx[worst]
                step = width * (0.02 * (0.005 ** (t / max(steps - 1, 1))))  # 2 % down to 0.01 %
                x = np.clip(x - step * np.sign(g), x_lo, x_hi)
    return None
