"""Big-M: reified and indicator constraints become plain linear rows, exactly.

For a MILP backend, which has no native implications. The M values come from the
variables' boxes (interval arithmetic over the expression), or from an indicator's own
`M` when the lowering knows a tighter one. The rows replacing constraint k are named
`c{k}_{j}` (and the linear rows kept `c{k}`), so exported LP files name rows after
the constraint they came from. No variable is added: the inverse is the identity.
"""
from __future__ import annotations

import math

import numpy as np

from ...core.errors import PgenError
from .. import ir
from .chain import IDENTITY, Identity


class BigMError(ValueError):
    """A constraint that has no exact big-M form (an unbounded side, a non-integral negation)."""


def big_m_rows(model: ir.Model, con, bounds: tuple | None = None) -> list:
    """Reified and indicator constraints as plain linear rows (exact big-M).

    Returns [(Lin, sense, rhs)] with the literal's variable in the Lin (whose constant
    is 0). `bounds` are the model's (lb, ub) arrays, when the caller has them already.
    Raises BigMError where a needed side of the expression is unbounded.
    """
    lb, ub = bounds if bounds is not None else model.bounds_arrays()
    # e + const sense rhs  ==  e sense rhs - const: the rows below carry no constant
    expr = ir.Lin(con.expr.idx, con.expr.coef, 0.0)
    rhs = con.rhs - con.expr.const
    L, U = expr.bounds(lb, ub)
    if isinstance(con, ir.ReifiedCon):
        return _reified_rows(con, expr, rhs, L, U)
    return _indicator_rows(con, expr, rhs, L, U)


def _reified_rows(con: ir.ReifiedCon, expr: ir.Lin, t: float, L: float, U: float) -> list:
    if con.sense == ir.LE:  # y <-> e <= t  ==  y <-> -e >= -t
        expr = ir.Lin(expr.idx, -expr.coef, 0.0)
        L, U, t = -U, -L, -t
    if not (np.all(expr.coef == np.round(expr.coef))):
        raise BigMError(f"reified constraint from {con.origin} is not integral; cannot negate it exactly")
    if not (math.isfinite(L) and math.isfinite(U)):
        raise BigMError(f"reified constraint from {con.origin} has an unbounded side")
    t_int = math.ceil(t - 1e-9)
    # y = 1 -> e >= t : e - (t - L) y >= L
    # y = 0 -> e <= t - 1 : e - (U - t + 1) y <= t - 1
    return [(_with(expr, con.b, -(t_int - L)), ir.GE, L),
            (_with(expr, con.b, -(U - t_int + 1)), ir.LE, t_int - 1)]


def _indicator_rows(con: ir.IndicatorCon, expr: ir.Lin, rhs: float, L: float, U: float) -> list:
    # lit -> e sense rhs, lit = b (value 1) or 1 - b (value 0)
    rows = []
    for sense in ([ir.LE, ir.GE] if con.sense == ir.EQ else [con.sense]):
        if sense == ir.LE:
            if con.M is None and not math.isfinite(U):
                raise BigMError(f"implication from {con.origin} needs a finite upper bound on its expression")
            m = con.M if con.M is not None else max(U - rhs, 0.0)
            # e <= rhs + m (1 - lit)
            if con.value == 1:
                rows.append((_with(expr, con.b, m), ir.LE, rhs + m))
            else:
                rows.append((_with(expr, con.b, -m), ir.LE, rhs))
        else:
            if con.M is None and not math.isfinite(L):
                raise BigMError(f"implication from {con.origin} needs a finite lower bound on its expression")
            m = con.M if con.M is not None else max(rhs - L, 0.0)
            # e >= rhs - m (1 - lit)
            if con.value == 1:
                rows.append((_with(expr, con.b, -m), ir.GE, rhs - m))
            else:
                rows.append((_with(expr, con.b, m), ir.GE, rhs))
    return rows


def _with(expr: ir.Lin, var: int, coef: float) -> ir.Lin:
    terms = dict(zip(expr.idx.tolist(), expr.coef.tolist()))
    terms[var] = terms.get(var, 0.0) + coef
    return ir.Lin.of(terms)


def linearize_implications(model: ir.Model) -> tuple[ir.Model, Identity]:
    """Every reified and indicator constraint as linear rows; PgenError E030 when one has
    no exact big-M form (the backend cannot take the model)."""
    if all(isinstance(c, ir.LinearCon) for c in model.constraints):
        return model, IDENTITY
    bounds = model.bounds_arrays()
    rows = []
    for k, con in enumerate(model.constraints):
        if isinstance(con, ir.LinearCon):
            rows.append(ir.LinearCon(con.expr, con.sense, con.rhs, con.origin, con.name or f"c{k}"))
            continue
        try:
            pieces = big_m_rows(model, con, bounds)
        except BigMError as e:
            raise PgenError("E030", f"cannot write a constraint as big-M rows: {e}",
                            hint="give the variables in it finite bounds, or use backend z3") from None
        rows.extend(ir.LinearCon(lin, sense, rhs, con.origin, f"c{k}_{j}") for j, (lin, sense, rhs) in enumerate(pieces))
    out = ir.Model(vars=model.vars, constraints=rows, objective=model.objective,
                   notes=list(model.notes), branch_first=list(model.branch_first),
                   branch_shuffle=model.branch_shuffle)
    return out, IDENTITY
