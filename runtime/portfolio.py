"""Run the members of the solve portfolio side by side and turn their answer into a verified Result.

Order (DESIGN.md "Strategies"):
1. quick members (sampling, gradient descent), one after another, for a short share of the
   time; they can only find solutions;
2. the in-process search (input branch and bound) on one core while the exact backend
   runs in its worker on the other; the exact backend joins after a short slice in which
   the search runs alone (most cases end there, before the exact model is even built);
   the first member to decide wins and the other is stopped;
3. with no search member, the exact backend alone, with all the time.

Every candidate solution, from any member, goes through `runtime.verify` before it is
returned; a candidate that fails is never reported as a solution.
"""
from __future__ import annotations

import time
from typing import Optional

from ..core.results import ERROR, INFEASIBLE, OPTIMAL, Result, Solution, SolutionStatus, Termination
from .strategies.base import Events, Outcome
from .verify import verify

QUICK_SHARE = 0.25     # of the time limit, at most QUICK_SECONDS, for the quick members together
QUICK_SECONDS = 5.0
SEARCH_ALONE_SHARE = 0.05  # of the time limit (at least SEARCH_ALONE_SECONDS) before the exact backend starts
SEARCH_ALONE_SECONDS = 2.0


def run_portfolio(problem, members: list, timeout: float, seed: int, tolerance: float,
                  verbose: bool = False, progress: bool = False) -> Result:
    start = time.perf_counter()
    deadline = start + timeout
    quick = [m for m in members if m.in_process and m.quick]
    search = [m for m in members if m.in_process and not m.quick]
    background = [m for m in members if not m.in_process]
    for m in background:  # lowering errors point at the spec before anything runs
        m.prepare(problem)

    def result_of(outcome: Outcome) -> Result:
        return verified_result(problem, outcome, seed, tolerance, time.perf_counter() - start)

    quick_deadline = min(deadline, start + min(QUICK_SECONDS, QUICK_SHARE * timeout))
    for m in quick:
        out = m.run(problem, quick_deadline, Events(), seed)
        if out.values is not None:
            res = result_of(out)
            if res.has_solution:
                return res

    runs: list = []  # [(member, handle)] started background members

    def start_background() -> None:
        for m in background:
            runs.append((m, m.start(problem, deadline, seed, verbose)))

    alone_until = time.perf_counter() + (max(SEARCH_ALONE_SECONDS, SEARCH_ALONE_SHARE * timeout) if search else 0.0)
    decided: dict = {}

    def background_decided() -> bool:  # polled by the search between batches
        if not runs:
            if time.perf_counter() < alone_until:
                return False
            start_background()
        for m, run in runs:
            out = run.poll()
            if out is not None and out.termination.decided:
                decided["outcome"] = out
                return True
        return False

    last: Optional[Outcome] = None
    try:
        for m in search:
            out = m.run(problem, deadline, Events(stop=background_decided, progress=progress), seed)
            if out.termination.decided:
                res = result_of(out)
                if res.has_solution or res.termination == INFEASIBLE:
                    return res
            last = out
        if "outcome" in decided:
            return result_of(decided["outcome"])
        if not runs:
            start_background()
        for m, run in runs:  # the search did not decide: the exact backend's answer, whatever it is
            last = run.wait()
            if last.termination.decided:
                break
    finally:
        for _, run in runs:
            run.cancel()
    if last is None:
        last = Outcome(Termination.UNKNOWN, message="no member of the portfolio applies")
    return result_of(last)


def verified_result(problem, outcome: Outcome, seed: int, tolerance: float, wall: float) -> Result:
    """An Outcome as a Result: a candidate solution is checked by the independent verifier
    (every constraint, domain and selection of the spec; networks re-run with onnxruntime)
    and the objective reported is the spec's own value on it."""
    res = Result(outcome.termination, wall=wall, backend=outcome.member, strategy=_strategy(outcome.member),
                 message=outcome.message, bound=outcome.bound, seed=int(seed), tolerance=tolerance,
                 stats=outcome.stats)
    if outcome.values is None:
        return res
    sense = problem.checked.objective.sense
    has_objective = sense in ("minimize", "maximize")
    report = verify(problem.checked, outcome.values, outcome.objective if has_objective else None, tolerance)
    res.verified = report.ok
    res.failures = report.failures
    if not report.ok:
        res.termination = ERROR
        res.message = "the solution failed independent verification: " + "; ".join(str(f) for f in report.failures)
        return res
    objective = report.objective if report.objective is not None else outcome.objective
    res.solutions = [Solution(outcome.values, objective, outcome.member)]
    res.status = SolutionStatus.OPTIMAL if outcome.termination == OPTIMAL else SolutionStatus.FEASIBLE
    if has_objective and objective is not None and res.bound is not None:
        res.gap = 0.0 if outcome.termination == OPTIMAL else abs(objective - res.bound) / max(abs(objective), 1e-9)
    return res


def _strategy(member: str) -> str:
    return {"sampling": "falsify", "gradient": "falsify", "input-bab": "input-bab",
            "input-min": "input-bab", "enumeration": "enumeration"}.get(member, "backend")
