"""Bound tightening: LP bounds on pre-activations under the model built so far.

Interval arithmetic (in `affine.Aff.bounds`) is the first step; this module
holds the second and the third (DESIGN.md, seed 002 Algorithm 1: interval -> LP -> MILP).
For each neuron `lp_bounds` minimises and maximises the pre-activation over the LP
relaxation of everything already in the model: the spec's own constraints lowered so far,
the earlier layers' ReLU rows (binaries relaxed to [0, 1]) and the variable
boxes. A relaxation's optimum is a valid bound; it is widened by a small
margin for the LP solver's tolerances, so the big-M rows stay exact. `milp_bounds` keeps
the integers and takes each time-limited MILP's dual bound.

The LP solver is SciPy's bundled HiGHS (`scipy.optimize.linprog`), which
loads no python-mip or OR-Tools library into the compiling process.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

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


def relaxation_arrays(model: ir.Model):
    """The model as (A_ub, b_ub, A_eq, b_eq, bounds) for SciPy's HiGHS: every constraint's
    linear rows (indicators via big-M, reified rows relaxed), variable boxes as columns."""
    import scipy.sparse as sp  # lazily: `pgenc check` imports this module and never calls it

    n = len(model.vars)
    ub_rows, ub_rhs, eq_rows, eq_rhs = [], [], [], []
    for lin, sense, rhs in _rows(model):
        if sense == ir.LE:
            ub_rows.append((lin.idx, lin.coef))
            ub_rhs.append(rhs)
        elif sense == ir.GE:
            ub_rows.append((lin.idx, -lin.coef))
            ub_rhs.append(-rhs)
        else:
            eq_rows.append((lin.idx, lin.coef))
            eq_rhs.append(rhs)

    def matrix(rows):
        if not rows:
            return None
        r = np.concatenate([np.full(len(i), k) for k, (i, _) in enumerate(rows)])
        c = np.concatenate([i for i, _ in rows])
        v = np.concatenate([c_ for _, c_ in rows])
        return sp.csr_matrix((v, (r, c)), shape=(len(rows), n))

    lb, ub = model.bounds_arrays()
    bounds = np.column_stack([np.where(np.isfinite(lb), lb, -np.inf), np.where(np.isfinite(ub), ub, np.inf)])
    return (matrix(ub_rows), np.array(ub_rhs) if ub_rows else None,
            matrix(eq_rows), np.array(eq_rhs) if eq_rows else None, bounds)


def milp_arrays(model: ir.Model):
    """([scipy LinearConstraint], bounds [n, 2]): the model's rows for `scipy.optimize.milp`
    (exact with the integers kept: indicators by big-M)."""
    from scipy.optimize import LinearConstraint

    A_ub, b_ub, A_eq, b_eq, bounds = relaxation_arrays(model)
    constraints = []
    if A_ub is not None:
        constraints.append(LinearConstraint(A_ub, -np.inf, b_ub))
    if A_eq is not None:
        constraints.append(LinearConstraint(A_eq, b_eq, b_eq))
    return constraints, bounds


def lp_bounds(model: ir.Model, lins: list, lo: np.ndarray, hi: np.ndarray, which: np.ndarray,
              time_budget: float = 30.0) -> tuple[np.ndarray, np.ndarray, int]:
    """Tighten lo/hi of lins[k] for k in `which`; returns (lo, hi, number of LPs solved)."""
    from scipy.optimize import linprog

    n = len(model.vars)
    A_ub, b_ub, A_eq, b_eq, bounds = relaxation_arrays(model)
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


@contextmanager
def _native_stdout_silenced():
    """HiGHS's MIP code writes debugging lines to the C stdout even with output off; they
    would land in the middle of a user's table, so file descriptor 1 points to /dev/null
    while the bound MILPs run (Python's own prints go nowhere meanwhile: none are made)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def milp_bounds(model: ir.Model, lins: list, lo: np.ndarray, hi: np.ndarray, which: np.ndarray,
                neuron_time: float = 1.0, time_budget: float = 60.0, jobs: int = 2
                ) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """The third step of seed 002's Algorithm 1: for each k in `which`, minimise and maximise
    lins[k] over the model built so far *with its integers kept* (earlier layers' ReLU
    binaries, the spec's integer variables), each MILP stopped after `neuron_time` seconds,
    taking HiGHS's dual bound, which is valid whether or not the MILP finished. The MILPs
    run `jobs` at a time in threads (HiGHS releases the GIL). Returns (lo, hi, MILPs solved,
    complete): complete is False when `time_budget` ran out before every neuron had its turn.
    """
    from concurrent.futures import ThreadPoolExecutor

    from scipy.optimize import milp

    n = len(model.vars)
    constraints, bounds = milp_arrays(model)
    integrality = np.array([0 if v.kind == ir.REAL else 1 for v in model.vars])
    from scipy.optimize import Bounds

    box = Bounds(bounds[:, 0], bounds[:, 1])
    start = time.perf_counter()
    lo, hi = lo.copy(), hi.copy()

    def bound(task):
        k, sign = task
        left = time_budget - (time.perf_counter() - start)
        if left <= 0:
            return k, sign, None
        lin = lins[k]
        c = np.zeros(n)
        c[lin.idx] = sign * lin.coef
        res = milp(c, integrality=integrality, bounds=box, constraints=constraints,
                   options={"time_limit": min(neuron_time, left), "disp": False})
        dual = getattr(res, "mip_dual_bound", None)
        if res.status == 2:           # infeasible: no point of the model reaches this neuron
            return k, sign, np.inf
        if dual is None or not np.isfinite(dual):
            return k, sign, -np.inf    # no bound proved in time: keep what we have
        return k, sign, float(dual)

    tasks = [(int(k), s) for k in which for s in (1.0, -1.0)]
    solved, complete = 0, True
    with _native_stdout_silenced(), ThreadPoolExecutor(max(1, jobs)) as pool:
        for k, sign, value in pool.map(bound, tasks):
            if value is None:
                complete = False
                continue
            solved += 1
            if not np.isfinite(value):
                continue  # an infeasible prefix is left to the solver to prove, not to the bounds
            # min over the model of sign * lin >= value (a dual bound of a minimisation)
            low, high = widened(sign * value + lins[k].const, sign * value + lins[k].const)
            if sign > 0:
                lo[k] = max(lo[k], float(low))
            else:
                hi[k] = min(hi[k], float(high))
    return lo, hi, solved, complete
