"""The backend interface.

A backend is one small class: `available()`, `capabilities`, `passes` (the IR passes
its model goes through first, see compiler.passes), `refusal(model)`, `emit(model)`,
`dump(native, fmt)`, `solve(native, options)`. `refusal` and `emit` see the model after
the passes; `solve` answers in its variables, and compiler.backends maps the answer back.
Native libraries are imported inside the methods, so importing this package loads no
solver (OR-Tools and CBC cannot share a process; see runtime.worker).
"""
from __future__ import annotations

import importlib.util
from typing import Optional

from ...core.options import SolveOptions
from ...core.results import RawResult
from .. import ir


class Backend:
    name = ""
    module = ""             # the Python module whose presence makes it available
    capabilities: frozenset = frozenset()   # subset of {"real", "int", "bool"}
    formats: tuple = ()     # export formats for `pgenc compile`
    passes: tuple = ()      # IR passes applied, in order, before refusal and emit

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

    def add_rows(self, native, rows: list) -> bool:
        """Add linear rows (over the emitted model's variables) to a native model between two
        solves; False when this backend cannot, and the caller emits the model again."""
        return False


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


def constant_row_holds(con: "ir.LinearCon") -> bool:
    lhs = con.expr.const
    return {ir.LE: lhs <= con.rhs + 1e-12, ir.GE: lhs >= con.rhs - 1e-12,
            ir.EQ: abs(lhs - con.rhs) <= 1e-12}[con.sense]
