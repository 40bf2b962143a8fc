"""Solve a compiled problem: pick a strategy, run it isolated, decode, verify.

The solve step is a choice among strategies (DESIGN.md "Strategies"); today
the one member is `BackendStrategy` (MILP / pseudo-Boolean / SMT on the IR).
Whatever produced the answer, it is decoded to the spec's names and checked
by `runtime.verify` before anyone sees it.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..compiler import ir
from ..compiler.backends import check_backend, choose_backend
from ..core.errors import PgenError
from ..core.options import DEFAULT_TOLERANCE, SolveOptions
from ..core.results import ERROR, FEASIBLE, INFEASIBLE, OPTIMAL, RawResult, Result, Solution, SolutionStatus
from .verify import verify
from .worker import WorkerRun, run_in_worker


def decode(var_base: dict, checked, values: np.ndarray) -> dict:
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


class BackendStrategy:
    name = "backend"

    def run(self, model: ir.Model, backend: str, options: SolveOptions) -> RawResult:
        return run_in_worker(backend, model, "solve", options)


def solve(problem, backend: str = "auto", timeout: float = 60.0, seed: int = 0,
          tolerance: float = DEFAULT_TOLERANCE, verbose: bool = False, progress: bool = False) -> Result:
    """`progress`: report long searches on stderr (the VNNLIB portfolio's branch and bound,
    once it has run PROGRESS_AFTER seconds)."""
    if not timeout > 0:
        raise PgenError("E018", f"timeout must be positive, not {timeout}", hint="give a timeout in seconds, e.g. 60")
    if getattr(problem, "vnnlib", None) is not None and backend == "auto":
        return _vnnlib_portfolio(problem, timeout, seed, tolerance, verbose, progress)
    model, name = _exact_model(problem, backend)
    options = SolveOptions(timeout=float(timeout), seed=int(seed), verbose=verbose)
    raw = BackendStrategy().run(model, name, options)
    return _decoded(problem, model, name, raw, seed, tolerance)


def _exact_model(problem, backend: str):
    """(model, backend name) for an exact backend."""
    model = problem.model
    name = choose_backend(model) if backend == "auto" else backend
    check_backend(name, model)
    return model, name


def _vnnlib_portfolio(problem, timeout: float, seed: int, tolerance: float, verbose: bool,
                      progress: bool = False) -> Result:
    """Sampling and gradient descent first (a few seconds), then input branch and bound.
    Branch and bound runs alone for a short slice (most cases end there, before the exact
    model is even built: lowering ACAS Xu with LP bounds takes 6 s); after it, the exact
    backend starts in its worker beside the same search, with all the remaining time, and
    lowers the problem there (in this process the lowering stalled the search: 3_3 property
    2 took 50 s, 37 s with it in the worker). The first to decide wins; the other is stopped."""
    import time

    start = time.perf_counter()
    found = _falsify(problem, tolerance, seed, min(5.0, timeout / 4))
    if found is not None:
        return found
    alone_until = time.perf_counter() + max(2.0, BAB_ALONE_SHARE * timeout)
    exact = {}  # run: once the exact backend has started (it lowers the problem itself)

    def start_exact() -> None:
        remaining = max(1.0, timeout - (time.perf_counter() - start))
        exact["run"] = WorkerRun.vnnlib(problem.path, problem.vnnlib[1],
                                        SolveOptions(timeout=remaining, seed=int(seed), verbose=verbose))

    def exact_decided() -> bool:  # polled by the search between batches of boxes
        if "run" not in exact:
            if time.perf_counter() < alone_until:
                return False
            start_exact()
        out = exact["run"].peek()
        return isinstance(out, tuple) and out[0].termination in (OPTIMAL, FEASIBLE, INFEASIBLE)

    try:
        decided = _input_bab(problem, tolerance, seed, max(0.0, timeout - (time.perf_counter() - start)),
                             stop=exact_decided, progress=_BabProgress() if progress else None)
    except BaseException:
        if "run" in exact:
            exact["run"].cancel()
        raise
    if decided is not None:
        if "run" in exact:
            exact["run"].cancel()
        decided.wall = time.perf_counter() - start
        return decided
    if "run" not in exact:  # the search does not apply (or ended early): the exact backend alone
        start_exact()
    out = exact["run"].result()
    if not isinstance(out, tuple):  # the worker failed before it could lower or solve
        return Result(out.termination, wall=time.perf_counter() - start, backend=out.backend,
                      message=out.message, seed=int(seed), tolerance=tolerance)
    raw, model, name, problem.var_base = out
    res = _decoded(problem, model, name, raw, seed, tolerance)
    res.wall = time.perf_counter() - start
    return res


def _decoded(problem, model, name, raw: RawResult, seed: int, tolerance: float) -> Result:
    """A backend's raw answer as a Result: decoded to the spec's names and verified."""
    res = Result(raw.termination, wall=raw.wall, backend=name, message=raw.message,
                 bound=raw.bound, seed=int(seed), tolerance=tolerance, stats=model.stats())
    if raw.values is None:
        if raw.termination in (OPTIMAL, FEASIBLE):
            res.termination = ERROR
            res.message = "the backend reported a solution but returned no values"
        return res
    values = decode(problem.var_base, problem.checked, raw.values)
    report = verify(problem.checked, values, raw.objective if model.objective.sense else None, tolerance)
    res.verified = report.ok
    res.failures = report.failures
    if not report.ok:
        res.termination = ERROR
        res.message = "the solution failed independent verification: " + "; ".join(str(f) for f in report.failures)
        return res
    # the objective reported is the spec's own value on the decoded solution
    objective = report.objective if report.objective is not None else raw.objective
    res.solutions = [Solution(values, objective, name)]
    res.status = SolutionStatus.OPTIMAL if raw.termination == OPTIMAL else SolutionStatus.FEASIBLE
    if res.objective is not None and res.bound is not None and model.objective.sense:
        denom = max(abs(res.objective), 1e-9)
        res.gap = abs(res.objective - res.bound) / denom if raw.termination != OPTIMAL else 0.0
    return res


GRADIENT_SECONDS = 1.5
BAB_ALONE_SHARE = 0.05  # of the time limit, before the exact backend starts beside it


def _falsify(problem, tolerance: float, seed: int, budget: float) -> Optional[Result]:
    """Sampling member for VNNLIB problems: a verified witness, or None (which proves nothing)."""
    import time

    from ..dsl.vnnlib import split_box
    from .falsify import gradient_counterexample, sample_counterexample
    from .input_bab import plain_relu_layers

    prop, net_path = problem.vnnlib
    start = time.perf_counter()
    lo, hi, rest = split_box(prop)
    layers = plain_relu_layers(problem.checked.nets["net"])
    hit = sample_counterexample(prop, net_path, lo, hi, rest, seed=seed, budget=budget / 2, layers=layers)
    member = "sampling"
    x = None if hit is None else hit[0]
    if x is None and layers is not None:
        # short: every unsat case pays it (ACAS Xu 5_3 property 2 needs 0.7 s)
        x = gradient_counterexample(prop, layers, lo, hi, rest, seed=seed,
                                    budget=min(GRADIENT_SECONDS, max(0.0, budget - (time.perf_counter() - start))))
        member = "gradient"
    if x is None:
        return None
    values = _verified_witness(problem, x, tolerance)
    if values is None:
        return None
    return Result(FEASIBLE, SolutionStatus.FEASIBLE, [Solution(values, None, member)], wall=time.perf_counter() - start, backend=member,
                  strategy="falsify", verified=True, tolerance=tolerance, seed=int(seed),
                  message=f"a point in the unsafe set found by {member}, confirmed by the verifier")


MAX_BAB_INPUTS = 16  # input splitting pays off for low-dimensional boxes (ACAS Xu: 5)


PROGRESS_AFTER = 2.0  # seconds of branch and bound before progress is shown (most cases end sooner)


class _BabProgress:
    """The branch and bound's proved share of the input box on stderr, from PROGRESS_AFTER s on."""

    def __init__(self):
        import time

        self.start = time.perf_counter()
        self.bar = None

    def __call__(self, boxes: int, proved: float) -> None:
        import time

        from ..progress import Progress

        if self.bar is None:
            if time.perf_counter() - self.start < PROGRESS_AFTER:
                return
            self.bar = Progress(1, "branch and bound: input box proved safe", fraction=True)
            self.bar.start = self.start  # elapsed time counts from the start of the search
        self.bar.set_fraction(proved, f"({boxes:,} boxes)")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _input_bab(problem, tolerance: float, seed: int, timeout: float, stop=None, progress=None) -> Optional[Result]:
    """Input-space branch and bound for plain ReLU networks: unsat, a verified witness, or None."""
    import time

    from ..dsl.vnnlib import split_box
    from .input_bab import input_branch_and_bound, plain_relu_layers

    prop, _ = problem.vnnlib
    layers = plain_relu_layers(problem.checked.nets["net"])
    if layers is None or prop.n_x > MAX_BAB_INPUTS:
        return None
    start = time.perf_counter()
    lo, hi, rest = split_box(prop)
    try:
        verdict, x, boxes = input_branch_and_bound(prop, layers, lo, hi, rest, timeout, stop=stop, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    wall = time.perf_counter() - start
    common = dict(wall=wall, backend="input-bab", strategy="input-bab", tolerance=tolerance, seed=int(seed),
                  stats={"boxes": boxes})
    if verdict == "unsat":
        return Result(INFEASIBLE, message=f"every one of {boxes} input boxes proved safe", **common)
    if verdict == "sat":
        values = _verified_witness(problem, x, tolerance)
        if values is not None:
            return Result(FEASIBLE, SolutionStatus.FEASIBLE, [Solution(values, None, "input-bab")], verified=True,
                          message="a witness from input branch and bound, confirmed by the verifier", **common)
    return None  # undecided (or a witness the verifier rejected): the exact backends go on


def _verified_witness(problem, x: np.ndarray, tolerance: float) -> Optional[dict]:
    """The spec's values for a candidate input of a VNNLIB problem (the clause indicator set
    to the first clause that holds on onnxruntime's output), if the verifier accepts them."""
    from .falsify import _atom_values
    from ..compiler.nn.session import run_network

    prop, net_path = problem.vnnlib
    x = np.asarray(x, dtype=np.float64)
    values = {"X": x}
    if "case" in problem.checked.vars:
        y = run_network(net_path, x).astype(np.float64)[None, :]
        holds = [bool(_atom_values(c, x[None, :], y)[0]) for c in prop.disjuncts]
        if not any(holds):
            return None
        values["case"] = np.zeros(len(prop.disjuncts))
        values["case"][holds.index(True)] = 1.0
    return values if verify(problem.checked, values, None, tolerance).ok else None
