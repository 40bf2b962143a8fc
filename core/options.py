"""Solve options and the numeric defaults every layer agrees on."""
from __future__ import annotations

from dataclasses import dataclass

# The verifier's absolute tolerance on non-strict real constraints: tol * max(1, |bound|).
DEFAULT_TOLERANCE = 1e-6
# A strict `<` on a real is encoded as `<= b - delta * max(1, |b|)`.
DEFAULT_STRICT_DELTA = 1e-6


@dataclass
class SolveOptions:
    timeout: float = 60.0
    seed: int = 0
    threads: int = 1
    verbose: bool = False
    # a deterministic work limit (CP-SAT's deterministic time; backends without one ignore it):
    # a search stopped by it answers `unknown` the same way on every machine
    work_limit: float | None = None
