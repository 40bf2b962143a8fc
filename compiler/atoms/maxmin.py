"""`max`/`min`: of the elements of one array, or of several scalars (and `max(body for ...)`).

min(a, b) = -max(-a, -b). Pushed down, max is its epigraph t >= a_i; otherwise a one-hot
binary picks the argument that t equals (big-M from the arguments' bounds). An argument
whose lower bound beats every other upper bound is the max, with no variable.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from ...core.errors import PgenError
from .. import ir
from ..affine import Aff
from .base import Atom, CallSite, needs_args, t_minus


def _shape(f: str, site: CallSite, shapes: list) -> tuple:
    needs_args(site, shapes)
    if len(shapes) > 1 and any(s not in ((), (1,)) for s in shapes):
        raise PgenError("E012", f"`{f}` of several arguments takes scalars", site.span,
                        hint=f"use `{f}(v)` for the largest element of an array")
    return ()


def lower_maxmin(f: str, ctx, site: CallSite, args: list, pol: int):
    """`f` ("max" or "min") of the arguments; the variables it adds are named after the call."""
    parts = args
    if len(parts) == 1:  # over the elements of one array
        p = ctx.aff(parts[0])
        parts = [p.take(np.array(i)) for i in range(p.size)]
    sign = 1.0 if f == "max" else -1.0
    lins = [ctx.aff(p).scale(sign).lins()[0] for p in parts]
    eff_pol = pol if f == "max" else -pol
    model, origin, where = ctx.model, ctx.origin(site.span), f"{site.func}@{site.span.line}:{site.span.column}"
    lb, ub = model.bounds_arrays()
    ranges = [lin.bounds(lb, ub) for lin in lins]
    top = max(r[1] for r in ranges)
    for i, (lo_i, _) in enumerate(ranges):
        if all(lo_i >= ranges[j][1] for j in range(len(ranges)) if j != i):
            return Aff.of_lins([lins[i]], (), ctx.ncols()).scale(sign)
    t = model.add_var(where, ir.REAL, max(r[0] for r in ranges), top, origin)
    for lin in lins:  # t >= a_i
        model.constraints.append(ir.LinearCon(t_minus(t, lin), ir.GE, lin.const, origin))
    if eff_pol != 1:
        if not all(np.isfinite(r[0]) and np.isfinite(r[1]) for r in ranges):
            raise PgenError("E016", f"`{f}` here needs an exact encoding, which needs finite bounds",
                            site.span, hint="give the variables inside finite domains")
        bs = [model.add_var(f"{where}.arg[{i}]", ir.BOOL, 0, 1, origin) for i in range(len(lins))]
        model.constraints.append(ir.LinearCon(ir.Lin.of({b: 1.0 for b in bs}), ir.EQ, 1.0, origin))
        for b, lin, (lo_i, _) in zip(bs, lins, ranges):  # b_i = 1 -> t <= a_i (big-M top - lo_i)
            model.constraints.append(ir.IndicatorCon(b, 1, t_minus(t, lin), ir.LE, lin.const, origin,
                                                     M=float(top - lo_i)))
    return Aff.of_vars(t, (), ctx.ncols()).scale(sign)


def _evaluate(f: str, site: CallSite, args: list) -> np.ndarray:
    pick = np.max if f == "max" else np.min
    if len(args) == 1:
        return np.asarray(pick(args[0]), dtype=np.float64)
    return np.asarray(pick([float(np.asarray(a).reshape(-1)[0]) for a in args]), dtype=np.float64)


def _atom(f: str) -> Atom:
    rules = partial(_shape, f), partial(lower_maxmin, f), partial(_evaluate, f)
    over = Atom(f, *rules)  # `max(body for ...)` is max of the bodies
    return Atom(f, *rules, reduction=over)


MAX, MIN = _atom("max"), _atom("min")
