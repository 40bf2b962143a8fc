"""The interface every member of the solve portfolio implements (DESIGN.md "Strategies").

A strategy says whether it applies to a compiled problem, then runs to a deadline and
answers with an `Outcome`: a verdict and, where it found one, a candidate solution in the
spec's own names. Nothing a strategy returns is trusted: the portfolio verifies every
candidate independently before it becomes a result. While it runs, a member may report
incumbents and bounds through `Events`, and must stop soon after `events.should_stop()`
turns true (another member decided).

Members that search in this process (`in_process = True`) implement `run`; members that
need a worker process of their own (the exact backends: native solver libraries) implement
`start`, which returns at once with a handle the portfolio polls.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from ...core.results import Termination


@dataclass
class Outcome:
    """A member's answer before verification."""
    termination: Termination
    values: Optional[dict] = None      # spec variable -> NumPy array (decoded), or None
    objective: Optional[float] = None  # the member's value of the objective (the verifier checks it)
    bound: Optional[float] = None      # a proved bound on the objective
    member: str = ""
    message: str = ""
    stats: dict = field(default_factory=dict)
    found_by: str = ""                 # the member whose candidate this is, when not `member`


@dataclass
class Incumbent:
    member: str
    values: dict
    objective: Optional[float]
    at: float  # seconds since the portfolio started


class Events:
    """The channel between a running member and the portfolio."""

    def __init__(self, stop: Optional[Callable[[], bool]] = None, progress=None, starts: tuple = ()):
        self._stop = stop or (lambda: False)
        self.progress = progress  # whether a long search shows its progress on stderr
        self.starts = tuple(starts)  # verified solutions (spec names) of earlier members to begin from
        self.start = time.perf_counter()
        self.incumbents: list = []
        self.bounds: list = []    # (member, value, seconds)

    def should_stop(self) -> bool:
        return bool(self._stop())

    def incumbent(self, member: str, values: dict, objective: Optional[float] = None) -> None:
        self.incumbents.append(Incumbent(member, values, objective, time.perf_counter() - self.start))

    def bound(self, member: str, value: float) -> None:
        self.bounds.append((member, float(value), time.perf_counter() - self.start))


class Strategy:
    name = ""
    in_process = True   # False: `start` launches a worker process
    quick = False       # a short first try that can only find solutions (never proves anything)
    gives_start = False  # finds an incumbent (never proves anything) that the members after it start from

    def applies(self, problem) -> bool:
        raise NotImplementedError

    def skipped(self, problem) -> Optional[str]:
        """Why this member does not take a problem a user might expect it to (said in the
        result's notes), or None."""
        return None

    def run(self, problem, deadline: float, events: Events, seed: int = 0) -> Outcome:
        """Search in this process until `deadline` (time.perf_counter()) or a stop request."""
        raise NotImplementedError

    def start(self, problem, deadline: float, seed: int = 0, verbose: bool = False):
        """Launch in a worker; returns a handle with `poll()` (Outcome or None), `wait()` and `cancel()`."""
        raise NotImplementedError


def remaining(deadline: float) -> float:
    return max(0.0, deadline - time.perf_counter())
