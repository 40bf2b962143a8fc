"""The backend interface and the raw result every backend returns.

A backend is one small class: `available()`, `capabilities`, `refusal(model)`,
`emit(model)`, `dump(native, fmt)`, `solve(native, options)`. Native
libraries are imported inside the methods, so importing this package loads
no solver (OR-Tools and CBC cannot share a process; see runtime.worker).
"""
from __future__ import annotations

import importlib.util
import math
from typing import Optional

import numpy as np

from ...core.options import SolveOptions
from ...core.results import RawResult
from .. import ir


class Backend:
    name = ""
    module = ""             # the Python module whose presence makes it available
    capabilities: frozenset = frozenset()   # subset of {"real", "int", "bool"}
    formats: tuple = ()     # export formats for `pgenc compile`

    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def refusal(self, model: ir.Model) -> Optional[str]:
        """Why this backend cannot take the model exactly, or None."""
        missing = model.kinds() - set(self.capabilities)
        if missing:
            var = next(v for v in model.vars if v.kind in missing)
            return (f"backend `{self.name}` handles {', '.join(sorted(self.capabilities))} variables only; "
                    f"`{var.name}` (from {var.origin}) is {var.kind}")
        return None

    def emit(self, model: ir.Model):
        raise NotImplementedError

    def dump(self, native, fmt: str) -> str:
        raise NotImplementedError

    def solve(self, native, options: SolveOptions) -> RawResult:
        raise NotImplementedError


def sanitize(name: str) -> str:
    """A name every export format accepts: letters, digits and underscores."""
    out = []
    for ch in name:
        out.append(ch if ch.isalnum() or ch == "_" else "_")
    text = "".join(out).strip("_") or "v"
    if text[0].isdigit():
        text = "v_" + text
    return text


def unique_names(model: ir.Model) -> list:
    seen: dict = {}
    names = []
    for v in model.vars:
        base = sanitize(v.name)
        n = seen.get(base, 0)
        seen[base] = n + 1
        names.append(base if n == 0 else f"{base}__{n}")
    return names


def big_m_rows(model: ir.Model, con) -> list:
    """Reified and indicator constraints as plain linear rows (exact big-M).

    Returns [(Lin, sense, rhs)] with the literal's variable in the Lin. The
    bounds come from the variables' boxes; an unbounded side is an error.
    """
    lb, ub = model.bounds_arrays()
    L, U = con.expr.bounds(lb, ub)
    rows = []
    if isinstance(con, ir.ReifiedCon):
        expr, t = con.expr, con.rhs
        if con.sense == ir.LE:  # y <-> e <= t  ==  y <-> -e >= -t
            expr = ir.Lin(expr.idx, -expr.coef, 0.0)
            L, U, t = -U, -L, -t
        if not (np.all(expr.coef == np.round(expr.coef))):
            raise ValueError(f"reified constraint from {con.origin} is not integral; cannot negate it exactly")
        if not (math.isfinite(L) and math.isfinite(U)):
            raise ValueError(f"reified constraint from {con.origin} has an unbounded side")
        t_int = math.ceil(t - 1e-9)
        # y = 1 -> e >= t : e - (t - L) y >= L
        rows.append((_with(expr, con.b, -(t_int - L)), ir.GE, L))
        # y = 0 -> e <= t - 1 : e - (U - t + 1) y <= t - 1
        rows.append((_with(expr, con.b, -(U - t_int + 1)), ir.LE, t_int - 1))
        return rows
    # indicator: lit -> e sense rhs, lit = b (value 1) or 1 - b (value 0)
    senses = [ir.LE, ir.GE] if con.sense == ir.EQ else [con.sense]
    for sense in senses:
        if sense == ir.LE:
            if con.M is None and not math.isfinite(U):
                raise ValueError(f"implication from {con.origin} needs a finite upper bound on its expression")
            m = con.M if con.M is not None else max(U - con.rhs, 0.0)
            # e <= rhs + m (1 - lit)
            if con.value == 1:
                rows.append((_with(con.expr, con.b, m), ir.LE, con.rhs + m))
            else:
                rows.append((_with(con.expr, con.b, -m), ir.LE, con.rhs))
        else:
            if con.M is None and not math.isfinite(L):
                raise ValueError(f"implication from {con.origin} needs a finite lower bound on its expression")
            m = con.M if con.M is not None else max(con.rhs - L, 0.0)
            # e >= rhs - m (1 - lit)
            if con.value == 1:
                rows.append((_with(con.expr, con.b, -m), ir.GE, con.rhs - m))
            else:
                rows.append((_with(con.expr, con.b, m), ir.GE, con.rhs))
    return rows


def _with(expr: ir.Lin, var: int, coef: float) -> ir.Lin:
    terms = dict(zip(expr.idx.tolist(), expr.coef.tolist()))
    terms[var] = terms.get(var, 0.0) + coef
    return ir.Lin.of(terms)


def constant_row_holds(con: "ir.LinearCon") -> bool:
    lhs = con.expr.const
    return {ir.LE: lhs <= con.rhs + 1e-12, ir.GE: lhs >= con.rhs - 1e-12,
            ir.EQ: abs(lhs - con.rhs) <= 1e-12}[con.sense]
