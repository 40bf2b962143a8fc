"""What a solve returns: termination and solution status as enums, one or more solutions.

Termination (why the search stopped) is kept apart from solution status (what we hold), as
in Pyomo's results: `timeout` with a verified incumbent is `feasible` status, never
"infeasible". Both enums are `str`-valued, so JSON and text output print their lower-case
names.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .options import DEFAULT_TOLERANCE


class Termination(str, enum.Enum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNKNOWN = "unknown"
    TIMEOUT = "timeout"
    ERROR = "error"

    __str__ = str.__str__
    __format__ = str.__format__

    @property
    def decided(self) -> bool:
        """A verdict a portfolio may stop on: a solution, a proof of optimality or infeasibility."""
        return self in (Termination.OPTIMAL, Termination.FEASIBLE, Termination.INFEASIBLE)


class SolutionStatus(str, enum.Enum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    NONE = "none"

    __str__ = str.__str__
    __format__ = str.__format__


OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN, TIMEOUT, ERROR = Termination


@dataclass
class RawResult:
    """A backend's or a strategy's answer before decoding: one value per IR variable."""
    termination: Termination
    values: Optional[np.ndarray] = None
    objective: Optional[float] = None
    bound: Optional[float] = None
    wall: float = 0.0
    message: str = ""
    log: str = ""
    backend: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Solution:
    """One decoded, verified solution: the spec's variables by name (NumPy arrays)."""
    values: dict
    objective: Optional[float] = None
    found_by: str = ""


@dataclass
class Result:
    termination: Termination
    status: SolutionStatus = SolutionStatus.NONE
    solutions: list = field(default_factory=list)   # [Solution], best first
    bound: Optional[float] = None
    gap: Optional[float] = None
    wall: float = 0.0
    backend: str = ""
    strategy: str = "backend"
    verified: Optional[bool] = None
    failures: list = field(default_factory=list)
    tolerance: float = DEFAULT_TOLERANCE
    message: str = ""
    seed: int = 0
    stats: dict = field(default_factory=dict)

    def __post_init__(self):
        self.termination = Termination(self.termination)
        self.status = SolutionStatus(self.status)

    @property
    def values(self) -> dict:
        """The best solution's values (empty when there is none)."""
        return self.solutions[0].values if self.solutions else {}

    @property
    def objective(self) -> Optional[float]:
        return self.solutions[0].objective if self.solutions else None

    @property
    def has_solution(self) -> bool:
        return self.status != SolutionStatus.NONE

    def summary(self) -> str:
        parts = [f"termination: {self.termination}", f"backend: {self.backend}"]
        if self.objective is not None:
            parts.append(f"objective: {self.objective:.9g}")
        if self.bound is not None:
            parts.append(f"bound: {self.bound:.9g}")
        if self.gap is not None:
            parts.append(f"gap: {100 * self.gap:.4g}%")
        if self.solutions and self.solutions[0].found_by not in ("", self.backend):
            parts.append(f"incumbent: {self.solutions[0].found_by}")
        if self.has_solution and self.stats.get("network_max_difference") is not None:
            parts.append(f"network vs onnxruntime: {self.stats['network_max_difference']:.2g}")
        parts.append(f"time: {self.wall:.2f}s")
        if len(self.solutions) > 1:
            parts.append(f"{len(self.solutions)} solutions")
        if self.verified is not None:
            parts.append("verified" if self.verified else "VERIFICATION FAILED")
        return ", ".join(parts)

    def to_json(self) -> dict:
        out = {
            "termination": str(self.termination), "status": str(self.status), "objective": self.objective,
            "bound": self.bound, "gap": self.gap, "wall_seconds": self.wall, "backend": self.backend,
            "strategy": self.strategy, "verified": self.verified,
            "failures": [str(f) for f in self.failures], "tolerance": self.tolerance,
            "message": self.message, "seed": self.seed,
            "values": _jsonable(self.values),
            "incumbent_source": self.solutions[0].found_by if self.solutions else None,
            "stats": self.stats,
        }
        if len(self.solutions) > 1:
            out["solutions"] = [{"values": _jsonable(s.values), "objective": s.objective, "found_by": s.found_by}
                                for s in self.solutions]
        return out


def _jsonable(values: dict) -> dict:
    return {k: np.asarray(v).tolist() for k, v in values.items()}
