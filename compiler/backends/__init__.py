"""Backends, one small class each. Importing this package loads no native solver."""
from .base import Backend, RawResult, SolveOptions
from .cpsat_backend import CpSatBackend
from .mip_backend import CbcBackend, HighsBackend
from .z3_backend import Z3Backend

BACKENDS = {b.name: b for b in (CbcBackend(), HighsBackend(), Z3Backend(), CpSatBackend())}


def get_backend(name: str) -> Backend:
    return BACKENDS[name]


__all__ = ["Backend", "RawResult", "SolveOptions", "BACKENDS", "get_backend"]
