"""The exact MILP over a cover of the input box, as a portfolio member (for `--confirm`).

For a property of one network over one input box, the MILP of the whole box can be far
harder than the MILPs of its parts: big-M constants come from bounds over the box, and a
smaller box gives tighter bounds and fewer unstable neurons (ACAS Xu properties 1 and 2 time
out as one MILP). This member solves the box's MILP with a short limit; one that does not
decide in it is split in two along the input whose width (relative to the box) is largest,
and each half is lowered again (its own bounds) and solved the same way, depth first.
`infeasible` only when every box of the cover is proved infeasible by the exact backend.

It shares the importer and the MILP encoder with the ordinary exact backend, and nothing with
input branch and bound's relaxation-based proof (`InputBranchAndBound`), whose verdicts it
is there to confirm. Its bounds are interval and LP ones (`BoundBudget("lp")` without the
linear relaxation), so that a wrong relaxation bound could not make both methods wrong alike.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from ...core.options import SolveOptions
from ...core.results import FEASIBLE, INFEASIBLE, OPTIMAL, UNKNOWN
from ..worker import BackendJob, WorkerRun
from .base import Outcome, Strategy, remaining
from .exact import decode

BOX_SECONDS = 8.0     # a box whose MILP is undecided after this is split
MAX_BOXES = 4096


class SplitMilp(Strategy):
    name = "milp-split"

    def __init__(self, backend: str = "highs", box_seconds: float = BOX_SECONDS, bound_seconds: float = 5.0,
                 relaxation: bool = False):
        self.backend = backend
        self.box_seconds = box_seconds
        self.bound_seconds = bound_seconds
        self.relaxation = relaxation

    def solve_box(self, model, lo, hi, limit: float, seed: int):
        """The exact backend on one box's model (a RawResult), in a worker."""
        options = SolveOptions(timeout=limit, seed=int(seed))
        return WorkerRun(BackendJob(self.backend, model, "solve", options), limit, self.backend).result()

    def applies(self, problem) -> bool:
        prop = problem.net_property
        return prop is not None and len(prop.regions) == 1

    def run(self, problem, deadline: float, events, seed: int = 0) -> Outcome:
        from ...compiler.lower import lower
        from ...compiler.nn.encode import BoundBudget

        prop = problem.net_property
        info = problem.checked.vars[prop.x_name]
        lo0 = np.asarray(info.lb, np.float64).reshape(-1)
        hi0 = np.asarray(info.ub, np.float64).reshape(-1)
        width0 = np.where(hi0 > lo0, hi0 - lo0, 1.0)
        stack = [(lo0, hi0)]
        proved = 0
        started = time.perf_counter()
        while stack:
            if events.should_stop() or remaining(deadline) <= 0.5:
                return Outcome(UNKNOWN, member=self.name,
                               message=f"{proved} boxes proved infeasible, {len(stack)} open at the time limit")
            if proved + len(stack) > MAX_BOXES:
                return Outcome(UNKNOWN, member=self.name, message=f"more than {MAX_BOXES} boxes")
            lo, hi = stack.pop()
            sub_info = dataclasses.replace(info, lb=lo.reshape(info.lb.shape), ub=hi.reshape(info.ub.shape))
            sub = dataclasses.replace(problem.checked, vars={**problem.checked.vars, prop.x_name: sub_info})
            budget = BoundBudget("lp" if self.bound_seconds > 0 else "interval",
                                 seconds=min(self.bound_seconds, remaining(deadline)), relaxation=self.relaxation)
            lowered = lower(sub, budget=budget)
            raw = self.solve_box(lowered.model, lo, hi, max(1.0, min(self.box_seconds, remaining(deadline))), seed)
            if raw.termination == INFEASIBLE:
                proved += 1
                continue
            if raw.termination in (OPTIMAL, FEASIBLE) and raw.values is not None:
                return Outcome(FEASIBLE, values=decode(lowered.var_base, problem.checked, raw.values),
                               member=self.name, message=f"found in box {proved + 1}")
            splittable = hi - lo > 1e-9 * width0
            if not splittable.any():
                return Outcome(UNKNOWN, member=self.name, message=f"a box cannot be split further ({raw.message})")
            axis = int(np.argmax(np.where(splittable, (hi - lo) / width0, -1.0)))
            mid = 0.5 * (lo[axis] + hi[axis])
            left_hi, right_lo = hi.copy(), lo.copy()
            left_hi[axis], right_lo[axis] = mid, mid
            stack += [(right_lo, hi), (lo, left_hi)]
        return Outcome(INFEASIBLE, member=self.name, stats={"boxes": proved},
                       message=f"the exact MILP of each of {proved} boxes covering the input box is infeasible "
                       f"({time.perf_counter() - started:.1f} s)")
