"""Minimising input branch and bound as a portfolio member (the search is runtime/input_min.py):
`minimize norm1(net(x) - t)` over a low-dimensional input box of one plain ReLU network.
Certifies the optimum (bound within input_min.GAP_TOL x max(1, |objective|) of the
incumbent) or hands back its best point and bound at the deadline."""
from __future__ import annotations

import time

import numpy as np

from ...core.results import FEASIBLE, OPTIMAL, UNKNOWN
from ..input_min import GAP_TOL, minimise
from ..region_max import region_descent
from .base import Outcome, Strategy, remaining

MAX_INPUTS = 8  # input splitting pays off for low-dimensional boxes (seed 002: 4 inks, 4 shells)
POLISH_SECONDS = 3.0  # for the polish of the first incumbent (an LP per region it crosses; it ends early where nothing improves)


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
        # the first incumbent is polished exactly, region by region (runtime/region_max.py:
        # an LP per linear region, milliseconds each), and the search prunes with it: a
        # reachable target is then met to ~1e-7, which certifies it (an L1 distance is never
        # below 0; photonic: 54 s -> 1 s); elsewhere it is a better incumbent from the start
        state: dict = {}

        def polish(x):
            state["polished"] = region_descent(obj.layers, obj.target, obj.lo, obj.hi, x,
                                               min(deadline, time.perf_counter() + POLISH_SECONDS))
            return state["polished"]

        def certified():
            found = state.get("polished")
            return found is not None and found[1] <= GAP_TOL * max(1.0, abs(found[1]))

        res = minimise(obj.layers, obj.target, obj.lo, obj.hi, remaining(deadline),
                       stop=lambda: events.should_stop() or certified(), incumbent=incumbent, bound=bound,
                       seed=seed, given=np.array(given) if given else None, polish=polish)
        if certified():
            x, value = state["polished"]
            bound(0.0)
            return Outcome(OPTIMAL, obj.values(x), objective=value, bound=0.0, member=self.name,
                           stats={"boxes": res.boxes, "polished": True},
                           message="certified: its incumbent, polished region by region, reaches the objective's "
                                   "floor 0 (an L1 distance)")
        stats = {"boxes": res.boxes, "seconds": round(res.seconds, 3), "gap_tolerance": GAP_TOL}
        if res.status == "optimal":
            return Outcome(OPTIMAL, obj.values(res.x), objective=res.value, bound=res.bound, member=self.name,
                           stats=stats, message=f"certified by input branch and bound ({res.boxes} boxes)")
        if events.should_stop():   # another member decided: its answer stands, not this incumbent
            return Outcome(UNKNOWN, member=self.name, stats=stats, message="stopped: another member decided")
        return Outcome(FEASIBLE if res.x is not None else UNKNOWN, obj.values(res.x), objective=res.value,
                       bound=res.bound, member=self.name, stats=stats,
                       message=f"input branch and bound stopped with bound {res.bound:.6g} ({res.boxes} boxes)")

