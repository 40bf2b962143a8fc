"""Minimising input branch and bound as a portfolio member (the search is runtime/input_min.py):
`minimize norm1(net(x) - t)` over a low-dimensional input box of one plain ReLU network.
Certifies the optimum (bound within input_min.GAP_TOL x max(1, |objective|) of the
incumbent) or hands back its best point and bound at the deadline."""
from __future__ import annotations

import threading
import time

import numpy as np

from ...core.results import FEASIBLE, OPTIMAL, UNKNOWN
from ..input_min import GAP_TOL, minimise
from .base import Outcome, Strategy, remaining

MAX_INPUTS = 8  # input splitting pays off for low-dimensional boxes (seed 002: 4 inks, 4 shells)
POLISH_SECONDS = 3.0  # for the polish of the first incumbent (a few restricted MILPs)


class InputMinimise(Strategy):
    name = "input-min"

    def applies(self, problem) -> bool:
        obj = problem.net_objective
        return obj is not None and obj.n_x <= MAX_INPUTS

    def skipped(self, problem):
        obj = problem.net_objective
        if obj is not None and obj.n_x > MAX_INPUTS:
            return (f"{self.name} skipped: {obj.n_x} inputs; splitting the input box pays off up to "
                    f"{MAX_INPUTS}, the MILP searches instead")
        return None

    def run(self, problem, deadline: float, events, seed: int = 0) -> Outcome:
        obj = problem.net_objective

        def incumbent(x, value):
            events.incumbent(self.name, obj.values(x), value)

        def bound(value):
            events.bound(self.name, value)

        given = [obj.x_of(v) for v in events.starts]
        # the first incumbent is polished exactly on the lowered model, in a thread beside the
        # search (HiGHS releases the GIL): a reachable target is then met to ~1e-7, which the
        # objective's floor certifies (photonic, reachable: 54 s -> 5 s); elsewhere the
        # polish stalls in a local optimum and the search goes on as before
        state: dict = {}

        def polish_first(values):
            found = polished_start(problem, values, min(deadline, time.perf_counter() + POLISH_SECONDS))
            if found is not None:
                incumbent(obj.x_of(found[0]), found[1])
            state["polished"] = found

        def incumbent_or_polish(x, value):
            incumbent(x, value)
            if "thread" not in state:
                state["thread"] = threading.Thread(target=polish_first, args=(obj.values(x),), daemon=True)
                state["thread"].start()

        def certified():
            found = state.get("polished")
            return found is not None and found[2] is not None and found[1] - found[2] <= GAP_TOL * max(1.0, abs(found[1]))

        res = minimise(obj.layers, obj.target, obj.lo, obj.hi, remaining(deadline),
                       stop=lambda: events.should_stop() or certified(), incumbent=incumbent_or_polish, bound=bound,
                       seed=seed, given=np.array(given) if given else None)
        if certified():
            values, value, floor = state["polished"]
            bound(floor)
            return Outcome(OPTIMAL, values, objective=value, bound=floor, member=self.name,
                           stats={"boxes": res.boxes, "polished": True},
                           message=f"certified: its incumbent polished on the model reaches the objective's "
                                   f"floor {floor:g} (interval bound of the lowered model)")
        stats = {"boxes": res.boxes, "seconds": round(res.seconds, 3), "gap_tolerance": GAP_TOL}
        if res.status == "optimal":
            return Outcome(OPTIMAL, obj.values(res.x), objective=res.value, bound=res.bound, member=self.name,
                           stats=stats, message=f"certified by input branch and bound ({res.boxes} boxes)")
        if events.should_stop():   # another member decided: its answer stands, not this incumbent
            return Outcome(UNKNOWN, member=self.name, stats=stats, message="stopped: another member decided")
        return Outcome(FEASIBLE if res.x is not None else UNKNOWN, obj.values(res.x), objective=res.value,
                       bound=res.bound, member=self.name, stats=stats,
                       message=f"input branch and bound stopped with bound {res.bound:.6g} ({res.boxes} boxes)")


def polished_start(problem, values: dict, deadline: float):
    """(values, the spec's objective there, the model's proved floor of the objective or None)
    for a design polished on the model lowered with interval bounds (runtime/pattern_lp.py),
    verified; None when the polish does not verify or does not improve it."""
    from ...compiler.lower import lower
    from ...compiler.nn.encode import BoundBudget
    from ..pattern_lp import objective_floor, polish
    from ..verify import verify
    from .exact import decode

    before = verify(problem.checked, values)
    lowered = lower(problem.checked, budget=BoundBudget("interval"))
    out = polish(lowered.model, lowered.var_base, problem.checked, values,
                 min(deadline, time.perf_counter() + 10.0))
    if out is None:
        return None
    polished = decode(lowered.var_base, problem.checked, out[0])
    report = verify(problem.checked, polished)
    if not report.ok or report.objective is None or (before.objective is not None and report.objective >= before.objective):
        return None
    return polished, report.objective, objective_floor(lowered.model)
