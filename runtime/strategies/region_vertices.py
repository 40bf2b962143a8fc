"""The exact maximum of `norm1(net(x) - t)` over a small input box (seed 002 Sec. 3.5's
design robustness) by walking the network's linear regions and their vertices
(runtime/region_max.py) as a portfolio member. Takes the problem when few neurons can change
side over the box; else it says so and the MILP answers."""
from __future__ import annotations

from ...core.results import FEASIBLE, OPTIMAL, UNKNOWN
from ..region_max import region_maximum, unstable_masks
from .base import Outcome, Strategy

MAX_INPUTS = 12      # Qhull's halfspace intersection grows fast with the dimension
MAX_UNSTABLE = 80    # neurons that may change side (interval bounds): beyond, regions multiply


class RegionVertices(Strategy):
    name = "region-vertices"

    def applies(self, problem) -> bool:
        obj = problem.net_maximum
        return obj is not None and obj.n_x <= MAX_INPUTS

    def run(self, problem, deadline: float, events, seed: int = 0) -> Outcome:
        obj = problem.net_maximum
        masks = unstable_masks(obj.layers, obj.lo, obj.hi)
        count = int(sum(m.sum() for m in masks))
        if count > MAX_UNSTABLE:
            return Outcome(UNKNOWN, member=self.name,
                           message=f"{count} neurons may change side over the box (more than {MAX_UNSTABLE}): "
                                   "too many regions to walk; the MILP answers")
        res = region_maximum(obj.layers, obj.target, obj.lo, obj.hi, deadline, unstable=masks,
                             stop=events.should_stop)
        stats = {"regions": res.regions, "unstable": count, "seconds": round(res.seconds, 3)}
        events.incumbent(self.name, obj.values(res.x), res.value)
        if res.status == "optimal":
            events.bound(self.name, res.value)
            return Outcome(OPTIMAL, obj.values(res.x), objective=res.value, bound=res.value, member=self.name,
                           stats=stats, message=f"certified: the largest value at the vertices of all {res.regions} "
                                                f"linear regions of the box ({count} neurons may change side)")
        if events.should_stop():
            return Outcome(UNKNOWN, member=self.name, stats=stats, message="stopped: another member decided")
        return Outcome(FEASIBLE, obj.values(res.x), objective=res.value, member=self.name, stats=stats,
                       message=f"stopped after {res.regions} regions: the best vertex so far")
