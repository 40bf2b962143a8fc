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
is there to confirm. Its big-M constants come from interval bounds and LP over each box's own
model, never from the linear relaxation (`BoundBudget(relaxation=False)`), so that a wrong
relaxation bound could not make both methods wrong alike. Boxes are lowered and solved in served workers, two at once.
"""
from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np

from ...core.options import SolveOptions
from ...core.results import FEASIBLE, INFEASIBLE, OPTIMAL, UNKNOWN
from ...compiler.nn.encode import BoundBudget
from ..jobs import LowerAndSolveJob
from ..worker import ServedWorker
from .base import Outcome, Strategy, remaining
from .exact import decode

# A box whose lowering and MILP take longer is split. ACAS Xu 1_1 property 1 on 2 cores: halving
# across the widest relative input, interval bounds and 1 s boxes proved 1.4 % of the input box
# in 200 s (443 boxes); LP bounds, 3 s boxes, 16 boxes to start from: 33 % in 600 s; the same
# halving across the input of largest width x first-layer weight: all of it in 18.5 s (19 boxes)
BOX_SECONDS = 3.0
MAX_BOXES = 20000


class SplitMilp(Strategy):
    name = "milp-split"

    def __init__(self, box_seconds: float = BOX_SECONDS, bounds: str = "lp", jobs: int = 2,
                 first_splits: int = 4):
        self.box_seconds = box_seconds
        self.first_splits = first_splits  # bisections before any MILP (2^k boxes to start from)
        self.bounds = bounds   # "interval" or "lp": LP over the box's own model, never the linear relaxation
        self.jobs = jobs       # boxes solved at once, each in a served worker (lowered there too)

    def applies(self, problem) -> bool:
        prop = problem.net_property
        return prop is not None and len(prop.regions) == 1

    def _box_checked(self, problem, lo, hi):
        prop = problem.net_property
        info = problem.checked.vars[prop.x_name]
        sub_info = dataclasses.replace(info, lb=lo.reshape(info.lb.shape), ub=hi.reshape(info.ub.shape))
        return dataclasses.replace(problem.checked, vars={**problem.checked.vars, prop.x_name: sub_info})

    def run(self, problem, deadline: float, events, seed: int = 0) -> Outcome:
        prop = problem.net_property
        info = problem.checked.vars[prop.x_name]
        lo0 = np.asarray(info.lb, np.float64).reshape(-1)
        hi0 = np.asarray(info.ub, np.float64).reshape(-1)
        width0 = np.where(hi0 > lo0, hi0 - lo0, 1.0)
        # how much each input moves the first layer: a box is halved across the input whose
        # width times that is largest (a plain network's first weights; else its relative width)
        first = prop.layers[0][0] if prop.layers else None
        influence = np.abs(first).sum(axis=0) if first is not None and first.shape[1] == len(lo0) else 1.0 / width0
        stack = [(lo0, hi0)]
        for _ in range(self.first_splits):
            stack = [half for lo, hi in stack for half in (_halves(lo, hi, width0, influence) or [(lo, hi)])]
        proved, share = 0, 0.0    # boxes proved infeasible, and their share of the box's volume
        started = time.perf_counter()
        answered = threading.Event()
        workers = [ServedWorker("milp-split") for _ in range(max(1, self.jobs))]
        running: dict = {}        # worker index -> (lo, hi)
        try:
            while stack or running:
                if events.should_stop() or remaining(deadline) <= 0.5:
                    return Outcome(UNKNOWN, member=self.name, message=f"{proved} boxes ({100 * share:.1f} % of the "
                                   f"input box) proved infeasible, {len(stack) + len(running)} open at the time limit")
                if proved + len(stack) + len(running) > MAX_BOXES:
                    return Outcome(UNKNOWN, member=self.name, message=f"more than {MAX_BOXES} boxes")
                for i, worker in enumerate(workers):
                    if i not in running and stack:
                        lo, hi = stack.pop()
                        limit = max(1.0, min(self.box_seconds, remaining(deadline)))
                        job = LowerAndSolveJob(self._box_checked(problem, lo, hi), SolveOptions(timeout=limit, seed=int(seed)),
                                               budget=BoundBudget(self.bounds, 2.0, relaxation=False))
                        answered.clear()
                        worker.submit(job, limit, notify=answered)
                        running[i] = (lo, hi)
                answered.wait(0.2)
                for i in [i for i in running if workers[i].peek() is not None]:
                    lo, hi = running.pop(i)
                    out = workers[i].result()
                    raw, var_base = (out[0], out[3]) if isinstance(out, tuple) else (out, None)
                    if raw.termination == INFEASIBLE:
                        proved += 1
                        share += float(np.prod(np.where(hi0 > lo0, (hi - lo) / width0, 1.0)))
                        continue
                    if raw.termination in (OPTIMAL, FEASIBLE) and raw.values is not None and var_base is not None:
                        return Outcome(FEASIBLE, values=decode(var_base, problem.checked, raw.values),
                                       member=self.name, message=f"found after {proved} boxes proved infeasible")
                    halves = _halves(lo, hi, width0, influence)
                    if not halves:
                        return Outcome(UNKNOWN, member=self.name,
                                       message=f"a box cannot be split further ({raw.message})")
                    stack += halves[::-1]   # depth first, the lower half next
        finally:
            for worker in workers:
                worker.close()
        if proved == 0 or share < 1.0 - 1e-9:  # cannot happen: the boxes proved cover the input box
            return Outcome(UNKNOWN, member=self.name, message=f"the boxes proved cover {100 * share:.6f} % of the box")
        return Outcome(INFEASIBLE, member=self.name, stats={"boxes": proved},
                       message=f"the exact MILP of each of {proved} boxes covering the input box is infeasible "
                       f"({time.perf_counter() - started:.1f} s)")


def _halves(lo, hi, width0, influence) -> list:
    """The box cut in two across the input of largest width x influence ([] if too small)."""
    splittable = hi - lo > 1e-9 * width0
    if not splittable.any():
        return []
    axis = int(np.argmax(np.where(splittable, (hi - lo) * influence, -1.0)))
    mid = 0.5 * (lo[axis] + hi[axis])
    left_hi, right_lo = hi.copy(), lo.copy()
    left_hi[axis], right_lo[axis] = mid, mid
    return [(lo, left_hi), (right_lo, hi)]
