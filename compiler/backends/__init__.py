"""Backends, one small class each, and the one way to call them.

Importing this package loads no native solver: each backend imports its library inside its
methods, and `call_backend` is meant to run in a worker process of its own (OR-Tools and
CBC cannot share a process; see runtime.worker).
"""
from __future__ import annotations

from ...core.errors import PgenError
from ...core.options import SolveOptions
from ...core.results import RawResult
from .. import ir
from ..reductions import eliminate_threshold_reals
from .base import Backend
from .cpsat_backend import CpSatBackend
from .mip_backend import CbcBackend, HighsBackend
from .z3_backend import Z3Backend

BACKENDS = {b.name: b for b in (CbcBackend(), HighsBackend(), Z3Backend(), CpSatBackend())}


def get_backend(name: str) -> Backend:
    return BACKENDS[name]


def _prepared(backend: Backend, model: ir.Model):
    """(model the backend takes, inverse or None): a backend without real variables gets the
    model with threshold-decided reals eliminated (a binarized network over a real box)."""
    if ir.REAL in backend.capabilities:
        return model, None
    return eliminate_threshold_reals(model)


def choose_backend(model: ir.Model) -> str:
    """`auto`: CP-SAT for pure Boolean/integer models with reified rows (binarized
    networks), HiGHS for everything else; falls back to what is installed."""
    reduced, _ = eliminate_threshold_reals(model)
    kinds = reduced.kinds()
    has_reified = any(isinstance(c, ir.ReifiedCon) for c in reduced.constraints)
    order = ["cpsat", "highs", "cbc", "z3"] if (ir.REAL not in kinds and has_reified) else ["highs", "cbc", "z3", "cpsat"]
    for name in order:
        b = BACKENDS[name]
        if b.available() and b.refusal(_prepared(b, model)[0]) is None:
            return name
    raise PgenError("E030", "no installed backend can take this model")


def check_backend(name: str, model: ir.Model) -> None:
    """A located-free PgenError when backend `name` cannot take the model exactly."""
    if name not in BACKENDS:
        raise PgenError("E018", f"unknown backend `{name}`", hint="choose one of: auto, " + ", ".join(BACKENDS))
    b = BACKENDS[name]
    if not b.available():
        raise PgenError("E030", f"backend `{name}` is not installed (Python module `{b.module}` is missing)")
    why = b.refusal(_prepared(b, model)[0])
    if why:
        raise PgenError("E030", why)


def call_backend(name: str, model: ir.Model, action: str = "solve", options: SolveOptions | None = None,
                 fmt: str = "") -> RawResult | str:
    """Prepare the model for backend `name`, emit it, and solve it (values mapped back to the
    model's own variables) or dump it as text. Loads the native library: call it in a worker."""
    backend = get_backend(name)
    prepared, inverse = _prepared(backend, model)
    native = backend.emit(prepared)
    if action == "dump":
        return backend.dump(native, fmt)
    raw = backend.solve(native, options or SolveOptions())
    raw.backend = name
    if raw.values is not None and inverse is not None:
        raw.values = inverse.invert(raw.values)
    return raw


__all__ = ["Backend", "BACKENDS", "get_backend", "choose_backend", "check_backend", "call_backend"]
