"""Exact integer scaling, for integer-only backends (CP-SAT).

Every float64 is a dyadic rational, so one power of two per row makes its coefficients
integral, exactly; over integer variables the left side is then an integer, so the
scaled right-hand side may be rounded in the direction that keeps the same solutions.
When no power of two up to 2^MAX_SHIFT works the pass refuses the model (it never rounds
a coefficient). The objective is scaled the same way; the inverse divides objective
values and bounds by that factor. Variables are unchanged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

import numpy as np

from ...core.errors import PgenError
from .. import ir
from .chain import IDENTITY, Identity

MAX_SHIFT = 40          # at most 2^40 as a row's scale factor
MAX_MAGNITUDE = 2 ** 53  # keep every scaled number exactly representable


class ScalingError(ValueError):
    pass


def scale_coefs(coefs) -> tuple[list, int]:
    """Smallest power of two 2^k that makes every coefficient integral (exact)."""
    values = [Fraction(float(c)) for c in coefs]
    k = max((v.denominator.bit_length() - 1 for v in values), default=0)  # dyadic denominators
    if k > MAX_SHIFT:
        raise ScalingError(f"a coefficient needs a scale of 2^{k}")
    scaled = [v * (1 << k) for v in values]
    if any(abs(s) > MAX_MAGNITUDE for s in scaled):
        raise ScalingError("scaled coefficients exceed 2^53")
    return [int(s) for s in scaled], k


def _integral_rhs(r: Fraction, sense: str) -> Optional[int]:
    """The scaled rhs `r` of a row whose left side is an integer, rounded to keep the same
    solutions (ceil for >=, floor for <=); an equality with a fractional `r` has none (None)."""
    if sense == ir.GE:
        return math.ceil(r)
    if sense == ir.LE:
        return math.floor(r)
    return int(r) if r.denominator == 1 else None


@dataclass(frozen=True)
class ObjectiveScale(Identity):
    """The objective was multiplied by `factor` (a power of two: dividing is exact)."""
    factor: float

    def objective(self, value: float) -> float:
        return value / self.factor


FALSE = ir.Lin.of({})  # with `== 1`: a row no point meets


def _scaled(lin: ir.Lin, rhs: float, sense: str) -> tuple[ir.Lin, Optional[float], float]:
    """(integral Lin without constant, integral rhs or None when no integer point meets the
    row, the scale factor)."""
    c = lin.coef
    if np.all(c == np.round(c)) and np.all(np.abs(c) <= MAX_MAGNITUDE):
        k, coef = 0, c.copy()  # already integral (cardinality rows of binarized networks, grids)
    else:
        ints, k = scale_coefs(c)
        coef = np.array(ints, dtype=np.float64)  # exact: every |int| <= 2^53
    r = _integral_rhs(Fraction(float(rhs - lin.const)) * (1 << k), sense)
    return ir.Lin(lin.idx.copy(), coef, 0.0), (None if r is None else float(r)), float(1 << k)


def _scale_constraint(con):
    if isinstance(con, ir.LinearCon):
        if not len(con.expr.idx):
            return con  # a constant row: the backend decides it
        lin, r, _ = _scaled(con.expr, con.rhs, con.sense)
        if r is None:
            return ir.LinearCon(FALSE, ir.EQ, 1.0, con.origin, con.name)
        return ir.LinearCon(lin, con.sense, r, con.origin, con.name)
    lin, r, factor = _scaled(con.expr, con.rhs, con.sense)
    if isinstance(con, ir.ReifiedCon):  # b <-> e >= r: rounding r is exact both ways over integers
        return ir.ReifiedCon(con.b, lin, con.sense, r, con.origin)
    if r is None:  # the implied equality has no integer point: the literal must be false
        return ir.LinearCon(ir.Lin.of({con.b: 1.0}), ir.EQ, float(1 - con.value), con.origin)
    return ir.IndicatorCon(con.b, con.value, lin, con.sense, r, con.origin,
                           None if con.M is None else con.M * factor)


def scale_to_integers(model: ir.Model) -> tuple[ir.Model, Identity]:
    """Integral coefficients and right-hand sides everywhere; PgenError E030 when a
    coefficient has no exact integer scale. A model with real variables is passed through
    unchanged: rounding a right-hand side is exact only over integers, and a backend that
    needs this pass refuses real variables (its refusal names one)."""
    if ir.REAL in model.kinds():
        return model, IDENTITY
    try:
        constraints = [_scale_constraint(c) for c in model.constraints]
        objective, inverse = _scale_objective(model.objective)
    except ScalingError as e:
        raise PgenError("E030", f"cannot scale a coefficient to an integer exactly ({e})",
                        hint="use highs, cbc or z3, which take float coefficients") from None
    out = ir.Model(vars=model.vars, constraints=constraints, objective=objective,
                   notes=list(model.notes), branch_first=list(model.branch_first),
                   branch_shuffle=model.branch_shuffle)
    return out, inverse


def _scale_objective(obj: Optional[ir.Objective]) -> tuple[Optional[ir.Objective], Identity]:
    if obj is None or obj.sense is None or not len(obj.expr.idx):
        return obj, IDENTITY
    ints, k = scale_coefs(obj.expr.coef)
    if k == 0:  # integral already
        return obj, IDENTITY
    factor = float(1 << k)
    lin = ir.Lin(obj.expr.idx.copy(), np.array(ints, dtype=np.float64), obj.expr.const * factor)
    return ir.Objective(obj.sense, lin), ObjectiveScale(factor)
