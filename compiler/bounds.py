"""Bound tightening: LP bounds on pre-activations under the model built so far.

Interval arithmetic (in `affine.Aff.bounds`) is the first step; this module
is the second (DESIGN.md: interval -> LP -> MILP). For each neuron it
minimises and maximises the pre-activation over the LP relaxation of
everything already in the model: the spec's own constraints lowered so far,
the earlier layers' ReLU rows (binaries relaxed to [0, 1]) and the variable
boxes. A relaxation's optimum is a valid bound; it is widened by a small
margin for the LP solver's tolerances, so the big-M rows stay exact.

The LP solver is SciPy's bundled HiGHS (`scipy.optimize.linprog`), which
loads no python-mip or OR-Tools library into the compiling process.
"""
from __future__ import annotations

import time

import numpy as np

from . import ir

LP_MARGIN_ABS = 1e-6
LP_MARGIN_REL = 1e-6


def widened(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds computed in floating point (an LP's optimum, a linear relaxation's) widened by
    the margin that covers the solver's tolerances and float rounding."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    return lo - (LP_MARGIN_ABS + LP_MARGIN_REL * np.abs(lo)), hi + (LP_MARGIN_ABS + LP_MARGIN_REL * np.abs(hi))


def _rows(model: ir.Model):
    """The model's constraints as linear rows (indicators via big-M, reified rows relaxed)."""
    from .passes.big_m import big_m_rows

    for con in model.constraints:
        if isinstance(con, ir.LinearCon):
            if len(con.expr.idx):
                yield con.expr, con.sense, con.rhs - con.expr.const
        else:
            try:
                for lin, sense, rhs in big_m_rows(model, con):
                    yield lin, sense, rhs - lin.const
            except ValueError:
                continue  # a row with an unbounded side adds nothing to a relaxation


def lp_bounds(model: ir.Model, lins: list, lo: np.ndarray, hi: np.ndarray, which: np.ndarray,
              time_budget: float = 30.0) -> tuple[np.ndarray, np.ndarray, int]:
    """Tighten lo/hi of lins[k] for k in `which`; returns (lo, hi, number of LPs solved)."""
    from scipy.optimize import linprog

    n = len(model.vars)
    ub_rows, ub_rhs, eq_rows, eq_rhs = [], [], [], []
    for lin, sense, rhs in _rows(model):
        row = (lin.idx, lin.coef)
        if sense == ir.LE:
            ub_rows.append(row)
            ub_rhs.append(rhs)
        elif sense == ir.GE:
            ub_rows.append((lin.idx, -lin.coef))
            ub_rhs.append(-rhs)
        else:
            eq_rows.append(row)
            eq_rhs.append(rhs)

    def matrix(rows):
        if not rows:
            return None
        r = np.concatenate([np.full(len(i), k) for k, (i, _) in enumerate(rows)])
        c = np.concatenate([i for i, _ in rows])
        v = np.concatenate([c_ for _, c_ in rows])
        import scipy.sparse as sp  # lazily: `pgenc check` imports this module and never calls it

        return sp.csr_matrix((v, (r, c)), shape=(len(rows), n))

    A_ub, A_eq = matrix(ub_rows), matrix(eq_rows)
    b_ub = np.array(ub_rhs) if ub_rows else None
    b_eq = np.array(eq_rhs) if eq_rows else None
    lb, ub = model.bounds_arrays()
    bounds = np.column_stack([np.where(np.isfinite(lb), lb, -np.inf), np.where(np.isfinite(ub), ub, np.inf)])
    lo, hi = lo.copy(), hi.copy()
    start = time.perf_counter()
    solved = 0
    for k in which:
        lin = lins[k]
        for sign in (1.0, -1.0):  # min, then max
            if time.perf_counter() - start > time_budget:
                return lo, hi, solved
            c = np.zeros(n)
            c[lin.idx] = sign * lin.coef
            res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
            solved += 1
            if res.status != 0:
                continue  # not solved to optimality: keep the interval bound
            value = sign * res.fun + lin.const
            low, high = widened(value, value)
            if sign > 0:
                lo[k] = max(lo[k], float(low))
            else:
                hi[k] = min(hi[k], float(high))
    return lo, hi, solved
