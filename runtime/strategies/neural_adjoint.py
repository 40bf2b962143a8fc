"""Neural adjoint as a portfolio member (seed 002 Sec. 4.1 and Fig. 7's hybrid): batched
gradient descent through the network (surrogate/neural_adjoint.py, torch; on a GPU when one
is present, in a worker process: see runtime/jobs.NeuralAdjointJob) finds a good design fast
but proves nothing. Its verified incumbent is handed to
the members after it: input-min starts from it, and the exact backend gets an objective
cutoff just above it, so the MILP's bound measures the gap and an infeasible cutoff model
certifies the incumbent. Without torch the member is skipped and says so."""
from __future__ import annotations

import time

from ...core.results import FEASIBLE, UNKNOWN, RawResult
from ..jobs import NeuralAdjointJob
from ..worker import WorkerRun
from .base import Outcome, Strategy, remaining

RESTARTS = 50
STEPS = 2000
SHARE = 0.25   # of the time left, at most, for the descent (its steps are the budget in practice)
STARTUP_SECONDS = 20.0   # the worker's start and torch's import, beyond the descent's own budget
# Below this many inputs input-min's own descent (36 starts) lands in the optimum's basin
# (4-ink gray ramp: NA's result was 0.002 above the certified optimum on average) and the
# worker's start with torch (2-3 s) would only delay the proof.
MIN_INPUTS = 5


def torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


class NeuralAdjoint(Strategy):
    name = "neural-adjoint"
    gives_start = True

    def applies(self, problem) -> bool:
        obj = problem.net_objective
        return obj is not None and obj.n_x >= MIN_INPUTS

    def run(self, problem, deadline: float, events, seed: int = 0) -> Outcome:
        if not torch_available():
            return Outcome(UNKNOWN, member=self.name,
                           message="skipped: torch is not installed (pip install -e \".[train]\")")
        obj = problem.net_objective
        budget = SHARE * remaining(deadline)
        job = NeuralAdjointJob(obj.layers, obj.target[None], obj.lo, obj.hi, RESTARTS, STEPS, seed, budget)
        run = WorkerRun(job, budget + STARTUP_SECONDS, self.name)
        while run.peek() is None:   # a stop request (another member decided) ends the wait
            if events.should_stop():
                run.cancel()
                return Outcome(UNKNOWN, member=self.name, message="stopped: another member decided")
            time.sleep(0.05)
        res = run.result()
        if isinstance(res, RawResult):   # the worker failed: say why, the other members go on
            return Outcome(UNKNOWN, member=self.name, message=f"no start: {res.message}")
        x, value = res["x"][0], float(res["l1"][0])
        events.incumbent(self.name, obj.values(x), value)
        return Outcome(FEASIBLE, obj.values(x), objective=value, member=self.name,
                       stats={"restarts": RESTARTS, "iterations": res["iterations"],
                              "seconds": round(res["seconds"], 3), "device": res["device"]},
                       message=f"neural adjoint: {RESTARTS} restarts, {res['iterations']:.0f} iterations "
                               f"on {res['device']}")
