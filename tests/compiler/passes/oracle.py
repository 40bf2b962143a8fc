"""Brute force over tiny IR models: the oracle the pass tests compare against.

Boolean and integer variables take every value in their box; a real variable takes a few
candidate values the test names (for models whose real constraints are closed one-variable
bounds, the box ends and the thresholds are enough: a nonempty intersection of closed
intervals contains its largest lower end).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from pgen.compiler import ir

TOL = 1e-9


def model_of(variables, constraints=(), objective=None) -> ir.Model:
    """variables: [(name, kind, lb, ub)]; objective: (sense, {index: coef}, const) or None (satisfy)."""
    m = ir.Model()
    for name, kind, lb, ub in variables:
        m.add_var(name, kind, lb, ub, f"test:{name}")
    m.constraints = list(constraints)
    sense, terms, const = objective if objective is not None else (None, {}, 0.0)
    m.objective = ir.Objective(sense, ir.Lin.of(terms, const))
    return m


def lin(terms: dict, const: float = 0.0) -> ir.Lin:
    return ir.Lin.of(terms, const)


def _compare(value: float, sense: str, rhs: float, tol: float) -> bool:
    if sense == ir.LE:
        return value <= rhs + tol
    if sense == ir.GE:
        return value >= rhs - tol
    return abs(value - rhs) <= tol


def holds(con, x: np.ndarray, tol: float = TOL) -> bool:
    value = con.expr.value(x)
    if isinstance(con, ir.LinearCon):
        return _compare(value, con.sense, con.rhs, tol)
    if isinstance(con, ir.ReifiedCon):
        return (round(x[con.b]) == 1) == _compare(value, con.sense, con.rhs, tol)
    return round(x[con.b]) != con.value or _compare(value, con.sense, con.rhs, tol)


def feasible(model: ir.Model, x, tol: float = 1e-6) -> bool:
    x = np.asarray(x, dtype=np.float64)
    if len(x) != len(model.vars):
        return False
    for v, value in zip(model.vars, x):
        if not (v.lb - tol <= value <= v.ub + tol):
            return False
        if v.kind != ir.REAL and abs(value - round(value)) > tol:
            return False
    return all(holds(c, x, tol) for c in model.constraints)


def points(model: ir.Model, reals: dict | None = None):
    """Every candidate point: Booleans and integers over their boxes, reals over `reals[i]`."""
    axes = []
    for i, v in enumerate(model.vars):
        if v.kind == ir.REAL:
            axes.append(list((reals or {})[i]))
        else:
            axes.append(range(math.ceil(v.lb), math.floor(v.ub) + 1))
    for p in itertools.product(*axes):
        yield np.array(p, dtype=np.float64)


def solutions(model: ir.Model, reals: dict | None = None) -> list:
    return [p for p in points(model, reals) if feasible(model, p, TOL)]


def objective(model: ir.Model, x) -> float:
    return model.objective.expr.value(np.asarray(x, dtype=np.float64))


def optimum(model: ir.Model, reals: dict | None = None):
    """The best objective over the candidate points (0.0 for satisfy), None when none is feasible."""
    found = solutions(model, reals)
    if not found:
        return None
    if model.objective.sense is None:
        return 0.0
    values = [objective(model, p) for p in found]
    return min(values) if model.objective.sense == "min" else max(values)


def discrete_key(model: ir.Model, x) -> tuple:
    """A solution's Boolean and integer values: what no-good cuts tell apart."""
    return tuple(int(round(x[i])) for i, v in enumerate(model.vars) if v.kind != ir.REAL)
