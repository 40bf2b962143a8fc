"""The neural adjoint for constrained specs as a portfolio member: descent through the whole
spec with its constraints as penalties (runtime/penalty_adjoint.py, torch, in a worker), then
each design polished exactly on the lowered model (runtime/pattern_lp.py) and checked by the
independent verifier. The first design that passes is the start the members after it
begin from (the exact backend gets an objective cutoff just above it).

Where the lowered model proves the objective cannot go lower (its interval bound: an L1
distance is never below 0) and the polished design reaches that bound within the
certification tolerance, the design is certified at once (soft robot, seed 002 Sec. 4.2: a
tip reached to 1e-6)."""
from __future__ import annotations

import time

from ...compiler.lower import lower
from ...compiler.nn.encode import BoundBudget
from ...core.results import FEASIBLE, OPTIMAL, UNKNOWN, RawResult
from ..input_min import GAP_TOL
from ..jobs import PenaltyAdjointJob
from ..pattern_lp import applies as polishable
from ..pattern_lp import objective_floor, polish
from ..penalty_adjoint import why_not
from ..verify import verify
from ..worker import WorkerRun
from .base import Outcome, Strategy, remaining
from .exact import decode
from .neural_adjoint import STARTUP_SECONDS, torch_available
from .region_vertices import RegionVertices

RESTARTS = 64
STEPS = 1500
SHARE = 0.25   # of the time left, at most, for the descent


class ConstrainedAdjoint(Strategy):
    name = "constrained-adjoint"
    gives_start = True

    def applies(self, problem) -> bool:
        # the plain neural adjoint takes `minimize norm1(net(x) - t)` over a box; region-vertices
        # answers `maximize norm1(net(x) - t)` over one exactly, in about a second
        if not problem.checked.nets or problem.net_objective is not None or RegionVertices().applies(problem):
            return False
        return why_not(problem.checked) is None

    def run(self, problem, deadline: float, events, seed: int = 0) -> Outcome:
        if not torch_available():
            return Outcome(UNKNOWN, member=self.name,
                           message="skipped: torch is not installed (pip install -e \".[train]\")")
        checked = problem.checked
        budget = SHARE * remaining(deadline)
        run = WorkerRun(PenaltyAdjointJob(checked, RESTARTS, STEPS, seed, budget), budget + STARTUP_SECONDS, self.name)
        # meanwhile the model to polish on: interval bounds are enough (the pattern fixes the binaries)
        lowered = lower(checked, budget=BoundBudget("interval"))
        model, var_base = lowered.model, lowered.var_base
        while run.peek() is None:
            if events.should_stop():
                run.cancel()
                return Outcome(UNKNOWN, member=self.name, message="stopped: another member decided")
            time.sleep(0.05)
        res = run.result()
        if isinstance(res, RawResult):
            return Outcome(UNKNOWN, member=self.name, message=f"no start: {res.message}")
        floor = objective_floor(model)
        for k, design in enumerate(res["designs"]):
            if remaining(deadline) <= 0 or events.should_stop():
                break
            candidates = []
            if polishable(model) is None:
                polished = polish(model, var_base, checked, design, min(deadline, time.perf_counter() + 10.0))
                if polished is not None:
                    candidates.append((decode(var_base, checked, polished[0]), "polished"))
            candidates.append((design, "as descended"))
            for values, how in candidates:
                report = verify(checked, values)
                if not report.ok or report.objective is None:
                    continue
                value = report.objective
                events.incumbent(self.name, values, value)
                stats = {"restarts": RESTARTS, "steps": res["steps"], "seconds": round(res["seconds"], 3),
                         "design": k, "polished": how == "polished"}
                message = (f"constrained neural adjoint: {RESTARTS} restarts, {res['steps']} steps; "
                           f"design {k + 1} {how}")
                if floor is not None and value - floor <= GAP_TOL * max(1.0, abs(value)):
                    events.bound(self.name, floor)
                    return Outcome(OPTIMAL, values, objective=value, bound=floor, member=self.name, stats=stats,
                                   message=message + f"; certified: the objective cannot be below {floor:g} "
                                                     "(interval bound of the lowered model)")
                return Outcome(FEASIBLE, values, objective=value, member=self.name, stats=stats, message=message)
        return Outcome(UNKNOWN, member=self.name, message="no design of the descent passed verification")
