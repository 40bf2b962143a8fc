"""The exact backends as a portfolio member: MILP / pseudo-Boolean / SMT on the lowered IR,
each solve in a worker process of its own (hard timeout, crash isolation).

The model is lowered in this process (errors point at the spec before anything runs), or,
when an in-process search runs beside it, in the worker: lowering with LP bound tightening
takes seconds that would otherwise stall the search (ACAS Xu 3_3 property 2: 50 s -> 37 s).
"""
from __future__ import annotations

import numpy as np

from ...compiler.backends import check_backend, choose_backend
from ...compiler.passes.cutoff import objective_cutoff
from ...core.options import SolveOptions
from ...core.results import ERROR, FEASIBLE, OPTIMAL, RawResult
from ..jobs import LowerAndSolveJob
from ..worker import BackendJob, WorkerRun
from .base import Outcome, Strategy, remaining


def decode(var_base: dict, checked, values: np.ndarray) -> dict:
    """A solution vector of the IR as the spec's variables (NumPy arrays of their shapes)."""
    out = {}
    for name, info in checked.vars.items():
        n = int(np.prod(info.shape)) if info.shape else 1
        x = values[var_base[name]: var_base[name] + n].copy()
        if info.kind in ("int", "bool"):
            x = np.round(x)
        else:  # solvers may step outside a bound by their feasibility tolerance
            x = np.clip(x, info.lb.reshape(-1), info.ub.reshape(-1))
        x = x + 0.0  # no negative zeros
        out[name] = x.reshape(info.shape) if info.shape else np.asarray(float(x[0]))
    return out


def network_difference(model, values: np.ndarray):
    """The largest |solver's network output - onnxruntime's| over the model's encoded network
    applications, both at the solver's own input values (None without networks)."""
    from ...compiler.nn.session import run_network

    worst = None
    for rec in getattr(model, "net_records", []):
        x = np.array([lin.coef @ values[lin.idx] + lin.const for lin in rec.inputs])
        y = np.array([lin.coef @ values[lin.idx] + lin.const for lin in rec.outputs])
        ref = run_network(rec.path, x).astype(np.float64).reshape(-1)
        if ref.shape == y.shape and len(y):
            d = float(np.abs(y - ref).max())
            worst = d if worst is None else max(worst, d)
    return worst


def outcome_of(raw: RawResult, checked, var_base: dict, name: str, stats: dict, model=None) -> Outcome:
    out = Outcome(raw.termination, objective=raw.objective, bound=raw.bound, member=name,
                  message=raw.message, stats=stats)
    if raw.values is not None:
        out.values = decode(var_base, checked, raw.values)
        diff = network_difference(model, raw.values) if model is not None else None
        if diff is not None:  # users ask for this figure: how far the encoding is from onnxruntime
            out.stats = {**stats, "network_max_difference": diff}
    elif raw.termination in (OPTIMAL, FEASIBLE):
        out.termination = ERROR
        out.message = "the backend reported a solution but returned no values"
    return out


class ExactBackend(Strategy):
    in_process = False

    def __init__(self, backend: str = "auto", lower_in_worker: bool = False):
        self.backend = backend
        self.lower_in_worker = lower_in_worker and backend == "auto"
        self.name = backend
        self._prepared = False

    def applies(self, problem) -> bool:
        return True

    def prepare(self, problem) -> None:
        """Lower here and check the backend can take the model (a located PgenError if not),
        unless the lowering is the worker's."""
        if not self.lower_in_worker and not self._prepared:
            model = problem.model
            self.name = choose_backend(model) if self.backend == "auto" else self.backend
            check_backend(self.name, model)
            self._prepared = True

    def start(self, problem, deadline: float, seed: int = 0, verbose: bool = False,
              cutoff: float | None = None) -> "ExactRun":
        """`cutoff`: ask only for solutions with an objective at least this good (a verified
        incumbent's, widened by the certification tolerance; compiler/passes/cutoff.py)."""
        options = SolveOptions(timeout=max(1.0, remaining(deadline)), seed=int(seed), verbose=verbose)
        passes = () if cutoff is None else (objective_cutoff(cutoff),)
        if self.lower_in_worker:
            return ExactRun(WorkerRun(LowerAndSolveJob(problem.checked, options, passes), options.timeout,
                                      self.backend, verbose), problem, None, self.backend)
        self.prepare(problem)
        job = BackendJob(self.name, problem.model, "solve", options, "", passes=passes)
        return ExactRun(WorkerRun(job, options.timeout, self.name, verbose), problem, problem.model, self.name)


class ExactRun:
    """A running exact solve: `poll()` never blocks, `wait()` does, `cancel()` kills."""

    def __init__(self, run: WorkerRun, problem, model, name: str):
        self.run, self.problem, self.model, self.name = run, problem, model, name
        self._done = None  # the Outcome, once the worker has answered (decoded once)

    def poll(self):
        if self._done is None:
            out = self.run.peek()
            self._done = None if out is None else self._outcome(out)
        return self._done

    def wait(self) -> Outcome:
        if self._done is None:
            self._done = self._outcome(self.run.result())
        return self._done

    def cancel(self) -> None:
        self.run.cancel()

    def _outcome(self, out) -> Outcome:
        if isinstance(out, RawResult):  # solved in the worker from a model lowered here, or failed
            if self.model is None:      # the lowering worker failed before it could answer
                return Outcome(out.termination, member=out.backend or self.name, message=out.message)
            return outcome_of(out, self.problem.checked, self.problem.var_base, self.name, self.model.stats(),
                              self.model)
        raw, model, name, var_base = out  # lowered and solved in the worker
        return outcome_of(raw, self.problem.checked, var_base, name, model.stats(), model)
