"""`abs(v)` (elementwise) and `norm1(v)` (the sum of absolute values).

Pushed down (minimised, or bounded above) `abs` is its epigraph: t >= v, t >= -v. Otherwise
it needs the exact encoding: a binary per element picks the sign, with big-M from v's bounds.
An element whose sign its bounds already fix needs no variable.
"""
from __future__ import annotations

import numpy as np

from ...core.errors import PgenError
from .. import ir
from ..affine import Aff
from .base import Atom, CallSite, one_arg, t_minus


def _abs_shape(site: CallSite, shapes: list) -> tuple:
    return one_arg(site, shapes, "`abs` takes one argument")


def _norm1_shape(site: CallSite, shapes: list) -> tuple:
    one_arg(site, shapes, "`norm1` takes one argument")
    return ()


def lower_abs(ctx, site: CallSite, args: list, pol: int) -> Aff:
    v = ctx.aff(args[0])
    model, origin, where = ctx.model, ctx.origin(site.span), f"{site.span.line}:{site.span.column}"
    lo, hi = ctx.bounds(v)
    rows = []
    binaries = 0
    for k, lin in enumerate(v.lins()):
        if lo[k] >= 0:
            rows.append(lin)
            continue
        if hi[k] <= 0:
            rows.append(ir.Lin(lin.idx, -lin.coef, -lin.const))
            continue
        bound = max(-lo[k], hi[k])
        t = model.add_var(f"abs@{where}[{k}]", ir.REAL, 0.0, float(bound) if np.isfinite(bound) else np.inf, origin)
        for sign in (1.0, -1.0):  # t >= sign * lin
            model.constraints.append(ir.LinearCon(t_minus(t, lin, sign), ir.GE, sign * lin.const, origin))
        if pol != 1:
            # exact: b = 1 -> t <= lin (big-M 2|lo|) ; b = 0 -> t <= -lin (big-M 2 hi)
            if not (np.isfinite(lo[k]) and np.isfinite(hi[k])):
                raise PgenError("E016", "`abs` here needs an exact encoding, which needs finite bounds on its argument",
                                site.span, hint="give the variables inside finite domains")
            b = model.add_var(f"abs@{where}.pos[{k}]", ir.BOOL, 0, 1, origin)
            for value, sign, m in ((1, 1.0, -2.0 * float(lo[k])), (0, -1.0, 2.0 * float(hi[k]))):
                model.constraints.append(ir.IndicatorCon(b, value, t_minus(t, lin, sign), ir.LE,
                                                         sign * lin.const, origin, M=m))
            binaries += 1
        rows.append(ir.Lin(np.array([t], np.int64), np.array([1.0]), 0.0))
    if binaries:   # one note per call, not per entry (a 300-point spectrum made 300 lines)
        model.notes.append(f"{origin}: abs needs a binary here for {binaries} of {len(rows)} entries "
                           "(it is maximised or bounded below)")
    return Aff.of_lins(rows, v.shape, ctx.ncols())


def _norm1_lower(ctx, site: CallSite, args: list, pol: int) -> Aff:
    return lower_abs(ctx, site, args, pol).total()


def _abs_evaluate(site: CallSite, args: list) -> np.ndarray:
    return np.abs(np.asarray(args[0], dtype=np.float64))


def _norm1_evaluate(site: CallSite, args: list) -> np.ndarray:
    return np.asarray(np.sum(np.abs(args[0])), dtype=np.float64)


ABS = Atom("abs", _abs_shape, lower_abs, _abs_evaluate, monotone=False)
NORM1 = Atom("norm1", _norm1_shape, _norm1_lower, _norm1_evaluate, monotone=False)
