"""Backends, one small class each, and the one way to call them.

Every backend names the IR passes its model goes through (`Backend.passes`); this module
applies them before `refusal` and `emit` and maps the solver's answer back through their
inverses after `solve`, in one place (`_prepared`, `_inverted`), so no backend and no caller
undoes a pass by hand.

Importing this package loads no native solver: each backend imports its library inside its
methods, and `call_backend` is meant to run in a worker process of its own (OR-Tools and
CBC cannot share a process; see runtime.worker).
"""
from __future__ import annotations

import numpy as np

from ...core.errors import PgenError
from ...core.options import SolveOptions
from ...core.results import RawResult
from .. import ir
from ..passes.chain import Chain, Inverses
from ..passes.threshold import eliminate_threshold_reals
from .base import Backend
from .cpsat_backend import CpSatBackend
from .mip_backend import CbcBackend, HighsBackend
from .z3_backend import Z3Backend

BACKENDS = {b.name: b for b in (CbcBackend(), HighsBackend(), Z3Backend(), CpSatBackend())}


def get_backend(name: str) -> Backend:
    return BACKENDS[name]


def _prepared(backend: Backend, model: ir.Model, passes: tuple = ()) -> tuple[ir.Model, Inverses]:
    """(the model `backend` takes, the inverse back to `model`): the caller's `passes` (e.g.
    no-good cuts, which speak of `model`'s variables) and then the backend's own chain. A
    pass that cannot transform the model exactly raises PgenError E030, naming the backend."""
    try:
        return Chain(tuple(passes) + tuple(backend.passes)).apply(model)
    except PgenError as e:
        if e.code != "E030":
            raise
        raise PgenError("E030", f"backend `{backend.name}` {e.message}", hint=e.hint) from None


def _refusal(backend: Backend, model: ir.Model) -> str | None:
    """Why `backend` cannot take `model` (after its passes), or None."""
    try:
        prepared, _ = _prepared(backend, model)
    except PgenError as e:
        return e.message
    return backend.refusal(prepared)


def _inverted(raw: RawResult, inverse: Inverses) -> RawResult:
    """The solver's answer about the prepared model, as an answer about the original one."""
    if raw.values is not None:
        raw.values = inverse.invert(raw.values)
    if raw.objective is not None:
        raw.objective = inverse.objective(raw.objective)
    if raw.bound is not None:
        raw.bound = inverse.objective(raw.bound)
    return raw


def choose_backend(model: ir.Model) -> str:
    """`auto`: CP-SAT for pure Boolean/integer models with reified rows (binarized
    networks), HiGHS for everything else; falls back to what is installed."""
    reduced, _ = eliminate_threshold_reals(model)
    kinds = reduced.kinds()
    has_reified = any(isinstance(c, ir.ReifiedCon) for c in reduced.constraints)
    order = ["cpsat", "highs", "cbc", "z3"] if (ir.REAL not in kinds and has_reified) else ["highs", "cbc", "z3", "cpsat"]
    for name in order:
        b = BACKENDS[name]
        if b.available() and _refusal(b, model) is None:
            return name
    raise PgenError("E030", "no installed backend can take this model")


def check_backend(name: str, model: ir.Model) -> None:
    """A located-free PgenError when backend `name` cannot take the model exactly."""
    if name not in BACKENDS:
        raise PgenError("E018", f"unknown backend `{name}`", hint="choose one of: auto, " + ", ".join(BACKENDS))
    b = BACKENDS[name]
    if not b.available():
        raise PgenError("E030", f"backend `{name}` is not installed (Python module `{b.module}` is missing)")
    prepared, _ = _prepared(b, model)
    why = b.refusal(prepared)
    if why:
        raise PgenError("E030", why)


def call_backend(name: str, model: ir.Model, action: str = "solve", options: SolveOptions | None = None,
                 fmt: str = "", passes: tuple = ()) -> RawResult | str:
    """Prepare the model for backend `name` (the caller's `passes`, then the backend's own),
    emit it, and solve it (values, objective and bound mapped back to `model`'s own
    variables) or dump it as text. Loads the native library: call it in a worker."""
    backend = get_backend(name)
    prepared, inverse = _prepared(backend, model, passes)
    native = backend.emit(prepared)
    if action == "dump":
        return backend.dump(native, fmt)
    raw = backend.solve(native, options or SolveOptions())
    raw.backend = name
    return _inverted(raw, inverse)


class Session:
    """Several solves of one model with rows added between them (no-good and hole cuts): the
    model is prepared and emitted once; a backend that can add rows to its native model
    (`Backend.add_rows`) takes them there, any other is prepared and emitted again. Rows
    speak of the original model's variables; loads the native library: call it in a worker."""

    def __init__(self, name: str, model: ir.Model):
        self.name, self.model = name, model
        self.backend = get_backend(name)
        self.prepared, self.inverse = _prepared(self.backend, model)
        self.native = None
        self._pending: list = []
        # where each original variable sits in the prepared model (passes keep Var objects)
        self._where = {id(v): k for k, v in enumerate(self.prepared.vars)}

    def add(self, con: ir.LinearCon) -> None:
        self.model.constraints.append(con)
        self._pending.append(con)

    def _mapped(self, con: ir.LinearCon):
        idx = [self._where.get(id(self.model.vars[i])) for i in con.expr.idx.tolist()]
        if any(k is None for k in idx):
            return None
        return ir.LinearCon(ir.Lin(np.array(idx, dtype=np.int64), con.expr.coef, con.expr.const), con.sense,
                            con.rhs, con.origin, con.name)

    def solve(self, options: SolveOptions) -> RawResult:
        if self.native is None:
            self.native = self.backend.emit(self.prepared)
        elif self._pending:
            rows = [self._mapped(c) for c in self._pending]
            if any(r is None for r in rows) or not self.backend.add_rows(self.native, rows):
                self.prepared, self.inverse = _prepared(self.backend, self.model)
                self._where = {id(v): k for k, v in enumerate(self.prepared.vars)}
                self.native = self.backend.emit(self.prepared)
        self._pending = []
        raw = self.backend.solve(self.native, options)
        raw.backend = self.name
        return _inverted(raw, self.inverse)


__all__ = ["Backend", "Session", "BACKENDS", "get_backend", "choose_backend", "check_backend", "call_backend"]
