"""A falsification member of the solve portfolio: random points in a VNNLIB input box.

A property's unsafe set often contains whole regions; evaluating a few thousand
points of the box with onnxruntime in one batch finds a counterexample in well
under a second when it does. A point found here is a witness like any other:
it goes through the independent verifier before it is reported. Finding none
proves nothing, and the exact backends run next.
"""
from __future__ import annotations

import time
from typing import Optional

import numpy as np

from .onnx_eval import _session


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
    sess, name, shape = _session(str(net_path))
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
