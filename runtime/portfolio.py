"""Run the members of the solve portfolio side by side and turn their answer into a verified Result.

Order (DESIGN.md "Strategies"):
1. quick members (sampling, gradient descent), one after another, for a short share of the
   time; they can only find solutions; then members that give a start (the neural adjoint):
   their verified incumbent is where input-min begins, and the exact backend only looks
   for better solutions (an objective cutoff a tolerance above it), so an infeasible
   cutoff model certifies the incumbent and the MILP's bound gives the gap;
2. the in-process search (input branch and bound) on one core while the exact backend
   runs in its worker on the other; the exact backend joins after a short slice in which
   the search runs alone (most cases end there, before the exact model is even built);
   the first member to decide wins and the other is stopped; with `cores=1` (a batch
   task) the search is stopped when that slice ends and the exact backend runs alone;
3. with no search member, the exact backend alone, with all the time.

Every candidate solution, from any member, goes through `runtime.verify` before it is
returned; a candidate that fails is never reported as a solution.
"""
from __future__ import annotations

import time
from typing import Optional

from ..core.results import ERROR, FEASIBLE, INFEASIBLE, OPTIMAL, Result, Solution, SolutionStatus, Termination
from .input_min import GAP_TOL
from .strategies.base import Events, Outcome
from .verify import verify

QUICK_SHARE = 0.25     # of the time limit, at most QUICK_SECONDS, for the quick members together
QUICK_SECONDS = 5.0
SEARCH_ALONE_SHARE = 0.05  # of the time limit (at least SEARCH_ALONE_SECONDS) before the exact backend starts
SEARCH_ALONE_SECONDS = 2.0


def run_portfolio(problem, members: list, timeout: float, seed: int, tolerance: float,
                  verbose: bool = False, progress: bool = False, notes: list = (), cores: int = 2) -> Result:
    """`notes`: what the caller has to say in the result (members skipped, and why).
    `cores`: 1 never runs the search and the exact backend at the same time."""
    start = time.perf_counter()
    deadline = start + timeout
    quick = [m for m in members if m.in_process and m.quick]
    starters = [m for m in members if m.in_process and m.gives_start and not m.quick]
    search = [m for m in members if m.in_process and not m.quick and not m.gives_start]
    background = [m for m in members if not m.in_process]
    for m in background:  # lowering errors point at the spec before anything runs
        m.prepare(problem)
    timeline: list = []   # {"t", "member", "incumbent" | "bound"}: what `--plot` draws
    notes = list(notes)   # members skipped or empty-handed, and why (e.g. torch missing)

    def result_of(outcome: Outcome) -> Result:
        res = verified_result(problem, outcome, seed, tolerance, time.perf_counter() - start)
        # the answer joins the timeline only where it improves on what the members reported
        if res.has_solution and res.objective is not None and _improves(problem, timeline, "incumbent", res.objective):
            timeline.append({"t": round(res.wall, 4), "member": outcome.found_by or outcome.member,
                             "incumbent": res.objective})
        if res.bound is not None and _improves(problem, timeline, "bound", res.bound):
            timeline.append({"t": round(res.wall, 4), "member": outcome.member, "bound": res.bound})
        if timeline:
            res.stats = {**res.stats, "timeline": sorted(timeline, key=lambda e: e["t"])}
        if notes:
            res.stats = {**res.stats, "notes": list(notes)}
        return res

    def record(events: Events) -> None:
        shift = events.start - start
        timeline.extend({"t": round(shift + inc.at, 4), "member": inc.member, "incumbent": inc.objective}
                        for inc in events.incumbents if inc.objective is not None)
        timeline.extend({"t": round(shift + at, 4), "member": who, "bound": value} for who, value, at in events.bounds)

    quick_deadline = min(deadline, start + min(QUICK_SECONDS, QUICK_SHARE * timeout))
    for m in quick:
        out = m.run(problem, quick_deadline, Events(), seed)
        if out.values is not None:
            res = result_of(out)
            if res.has_solution:
                return res

    best_start: Optional[Result] = None  # the verified incumbent the members after the starters begin from
    for m in starters:
        events = Events()
        out = m.run(problem, deadline, events, seed)
        record(events)
        if out.values is None:
            notes.append(f"{m.name}: {out.message}")
            continue
        res = result_of(out)
        if res.has_solution and res.termination == OPTIMAL:
            return res   # the start member certified its own design (it reached a proved bound)
        if res.has_solution and (best_start is None or _better(problem, res.objective, best_start.objective)):
            best_start = res
    cutoff = certified = None
    if best_start is not None and best_start.objective is not None:
        slack = GAP_TOL * max(1.0, abs(best_start.objective))
        cutoff = best_start.objective + (slack if _minimising(problem) else -slack)
        # what an infeasible cutoff model proves of the optimum, on the right side of the
        # incumbent: nothing beats it by more than the slack
        certified = best_start.objective - (slack if _minimising(problem) else -slack)
    starts = (best_start.values,) if best_start is not None else ()

    runs: list = []  # [(member, handle)] started background members

    def start_background() -> None:
        for m in background:
            extra = {"cutoff": cutoff} if cutoff is not None else {}
            runs.append((m, m.start(problem, deadline, seed, verbose, **extra)))

    def finish(outcome: Outcome) -> Result:
        """The answer, with the start member's incumbent where nothing better came: an exact
        backend that finds the cutoff model infeasible has certified it."""
        if best_start is None:
            return result_of(outcome)

        def the_start(termination, bound, message):   # the start's design, answered by `outcome`'s member
            return result_of(Outcome(termination, best_start.values, objective=best_start.objective, bound=bound,
                                     member=outcome.member or best_start.backend, found_by=best_start.backend,
                                     stats=outcome.stats, message=message))

        if outcome.termination == INFEASIBLE and outcome.member not in {m.name for m in search}:
            return the_start(OPTIMAL, certified,
                             f"certified: no solution beats the {best_start.backend} incumbent by more than "
                             f"{GAP_TOL:g} x max(1, |objective|) (the model with that objective cutoff is infeasible)")
        res = result_of(outcome) if outcome.values is not None else None
        if res is not None and res.has_solution and _better(problem, res.objective, best_start.objective):
            return res   # strictly better than the start (an equal one is the start, found again)
        if res is not None and res.has_solution and outcome.termination == OPTIMAL:
            return the_start(OPTIMAL, outcome.bound, outcome.message)
        if outcome.bound is not None and best_start.objective is not None and \
                abs(best_start.objective - outcome.bound) <= GAP_TOL * max(1.0, abs(best_start.objective)):
            return the_start(OPTIMAL, outcome.bound, f"certified: {outcome.member}'s bound {outcome.bound:g} is within "
                                                     f"{GAP_TOL:g} x max(1, |objective|) of the incumbent")
        return the_start(FEASIBLE, outcome.bound if outcome.termination != INFEASIBLE else None, outcome.message)

    alone_until = time.perf_counter() + (max(SEARCH_ALONE_SECONDS, SEARCH_ALONE_SHARE * timeout) if search else 0.0)
    decided: dict = {}

    def background_decided() -> bool:  # polled by the search between batches
        if not runs:
            if time.perf_counter() < alone_until:
                return False
            if cores < 2:
                return True  # one core: the search stops here and the exact backend runs alone
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
            events = Events(stop=background_decided, progress=progress, starts=starts)
            out = m.run(problem, deadline, events, seed)
            record(events)
            if out.termination.decided:
                res = finish(out)
                if res.has_solution or res.termination == INFEASIBLE:
                    return res
            last = out
        if "outcome" in decided:
            return finish(decided["outcome"])
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
    return finish(last)


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
    res.solutions = [Solution(outcome.values, objective, outcome.found_by or outcome.member)]
    res.status = SolutionStatus.OPTIMAL if outcome.termination == OPTIMAL else SolutionStatus.FEASIBLE
    if has_objective and objective is not None and res.bound is not None:
        # a bound on the wrong side of the verified objective proves nothing: it is dropped,
        # never shown beside a gap (the gap is computed from the bound, or absent)
        slack = tolerance * max(1.0, abs(objective))
        wrong = res.bound < objective - slack if sense == "maximize" else res.bound > objective + slack
        if wrong:
            res.stats = {**res.stats, "notes": list(res.stats.get("notes", [])) + [
                f"{outcome.member} reported {res.bound:g} as its bound, which is not a bound on the verified "
                f"objective {objective:g}: dropped"]}
            res.bound = None
        else:
            res.gap = abs(objective - res.bound) / max(abs(objective), 1e-9)
            if res.gap <= slack / max(abs(objective), 1e-9):
                res.gap = 0.0  # equal within the verifier's tolerance
    return res


def _improves(problem, timeline: list, key: str, value: float) -> bool:
    """Whether `value` is better than every `key` entry already on the timeline (a lower
    incumbent or a higher bound when minimising; the other way round when maximising)."""
    seen = [e[key] for e in timeline if e.get(key) is not None]
    if not seen:
        return True
    lower_is_better = _minimising(problem) == (key == "incumbent")
    return value < min(seen) if lower_is_better else value > max(seen)


def _minimising(problem) -> bool:
    return problem.checked.objective.sense == "minimize"


def _better(problem, a: Optional[float], b: Optional[float]) -> bool:
    """Whether objective a is strictly better than b (None is worse than anything)."""
    if a is None:
        return False
    if b is None:
        return True
    return a < b if _minimising(problem) else a > b


def _strategy(member: str) -> str:
    return {"sampling": "falsify", "gradient": "falsify", "input-bab": "input-bab",
            "input-min": "input-bab", "enumeration": "enumeration", "neural-adjoint": "falsify",
            "constrained-adjoint": "falsify", "region-vertices": "input-bab"}.get(member, "backend")
