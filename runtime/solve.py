"""Solve a compiled problem: choose the members of the portfolio and run them.

`--backend auto` runs every member that applies (runtime.strategies.default_members);
a named backend runs that exact backend alone. Whatever member answers, the portfolio
verifies its candidate independently before anyone sees it (runtime.portfolio).
"""
from __future__ import annotations

from ..core.errors import PgenError
from ..core.options import DEFAULT_TOLERANCE
from ..core.results import Result
from .portfolio import run_portfolio
from .strategies import ExactBackend, default_members, member_notes


def solve(problem, backend: str = "auto", timeout: float = 60.0, seed: int = 0,
          tolerance: float = DEFAULT_TOLERANCE, verbose: bool = False, progress: bool = False,
          cores: int = 2) -> Result:
    """`progress`: report long searches on stderr (the branch and bound's proved share).
    `cores`: 2 runs the in-process search beside the exact backend; 1 runs them one after
    the other (a batch, where J tasks share J cores)."""
    if not timeout > 0:
        raise PgenError("E018", f"timeout must be positive, not {timeout}", hint="give a timeout in seconds, e.g. 60")
    if backend == "auto":
        members, notes = default_members(problem), member_notes(problem)
    else:
        members, notes = [ExactBackend(backend)], []
    return run_portfolio(problem, members, float(timeout), int(seed), tolerance, verbose, progress, notes=notes,
                         cores=cores)
