"""Properties of a network as clause arrays: what the falsifiers and the input branch and
bound search for.

A clause is a tuple (cy [m, n_y], cx [m, n_x], c0 [m]) of float arrays; it holds at x iff
every row r has cy[r] . y + cx[r] . x + c0[r] <= 0 with y = net(x) (no rows: it holds
everywhere). A property is a list of clauses and holds at x (x is a witness) iff some
clause holds there. The violation of a point is the smallest, over the clauses, of the
largest row value: <= 0 exactly where the property holds.
"""
from __future__ import annotations

import numpy as np


def row_values(clause, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """[P, m]: each row's value cy.y + cx.x + c0 at the points x [P, n_x], y [P, n_y]."""
    cy, cx, c0 = clause
    return y @ cy.T + x @ cx.T + c0


def clause_violation(clause, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """[P]: the largest row value (-inf for a clause without rows); <= 0 where it holds."""
    v = row_values(clause, x, y)
    return v.max(axis=1) if v.shape[1] else np.full(len(x), -np.inf)


def violation(clauses: list, x: np.ndarray, y: np.ndarray):
    """([P] the smallest clause violation, [P] the index of that clause) at each point."""
    v = np.stack([clause_violation(c, x, y) for c in clauses], axis=1)
    best = np.argmin(v, axis=1)
    return v[np.arange(len(x)), best], best
