"""One batch task in a worker process: load the spec (with the task's param values), solve it
with one thread, let the runtime verify the answer, and return the row of the run index and
the files of the task's folder (as bytes: the parent writes them, so a remote worker needs
no shared disk and a killed worker leaves nothing half-written).

`run_task` never raises for the task's own trouble (a bad spec, a solver error): that is a
`failed` row with the message. A crash of the process itself is the engine's to see.
"""
from __future__ import annotations

import json
import os
import socket
import time
import traceback
from pathlib import Path

import numpy as np

from ..core.errors import PgenError

PROBLEM_CACHE_SIZE = 8      # specs kept checked (and lowered) per worker, by content and params
DESIGN_MAX_ENTRIES = 2000   # larger solutions stay in the task folder only, not in the index
_problems: dict = {}


class TaskJob:
    """A task as a job for runtime.worker.ServedWorker (the local pool): `run()` in the worker."""

    def __init__(self, payload: dict):
        self.payload = payload

    def run(self) -> dict:
        return run_task(self.payload, self.payload["root"])


def run_task(payload: dict, root: str | Path) -> dict:
    """{"row": the index row (without position/attempts/overhead), "files": {name: bytes}}."""
    start = time.perf_counter()
    _injected_crash(payload["key"])
    options = payload["options"]
    row = {"key": payload["key"], "run": payload["run"], "spec": payload["spec"],
           "spec_hash": payload["spec_hash"], "options": options, "folder": f"tasks/{payload['key']}",
           "worker": f"{socket.gethostname()}:{os.getpid()}", "verified": 0}
    log: list = []
    try:
        problem = _problem(Path(root) / payload["spec_rel"], payload["spec_hash"], options.get("params") or {})
        if problem.checked.grids:
            files = _images(problem, options, row, log)
        else:
            files = _design(problem, options, row, log)
    except PgenError as e:  # located in the batch's copy of the spec's tree: name it as the plan does
        files = {}
        row.update(status="failed", termination="error", message=str(e).replace(f"{Path(root)}/", ""))
    except Exception as e:  # a bug, not the user's input: the row keeps the traceback's end
        files = {}
        row.update(status="failed", termination="error",
                   message=f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}")
    row["task_seconds"] = round(time.perf_counter() - start, 4)
    import datetime

    row["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    if row.get("message"):
        log.append(row["message"])
    files["log.txt"] = ("\n".join(log) + "\n").encode()
    return {"row": row, "files": files}  # the parent adds task.json, the row as it records it


def _problem(spec_path: Path, spec_hash: str, params: dict):
    from ..api import load

    key = (spec_hash, json.dumps(params, sort_keys=True))
    if key not in _problems:
        if len(_problems) >= PROBLEM_CACHE_SIZE:
            _problems.pop(next(iter(_problems)))
        _problems[key] = load(spec_path, params=params)
    return _problems[key]


def _images(problem, options: dict, row: dict, log: list) -> dict:
    """A porous spec: `count` verified images, the run folder of `pgenc solve --out`."""
    from ..runtime.cell_output import cell_files, cells_for_output
    from ..runtime.sample import DEFAULT_DRAW_TIMEOUT

    opts = problem.options
    timeout = float(options.get("timeout") or opts.get("timeout", DEFAULT_DRAW_TIMEOUT))
    count = int(options.get("count") or 1)
    run = problem.sample(count, seed=int(options["seed"]), timeout=timeout,
                         backend=options.get("backend") or "auto", jobs=1)
    log.append(f"made {run.made} of {run.asked} images in {run.wall:.2f} s ({run.draws} draws: "
               f"{run.infeasible} proved infeasible, {run.timed_out} timed out, {run.failed} failed)")
    log.extend(run.messages)
    terms = [s for c in run.cells for s in c.record.get("surrogate", [])]
    if run.complete:
        status, termination = "verified", "feasible"
    elif run.made == 0 and run.exhausted:  # proved: no image meets the spec at all
        status, termination = "infeasible", "infeasible"
    elif run.made == 0 and run.draws and run.infeasible == run.draws:
        # each random draw (seeds, DAG, s) was proved infeasible: not the spec itself
        status, termination = "unknown", "draws infeasible"
    else:
        status, termination = "unknown", "timeout" if run.timed_out else "incomplete"
    row.update(status=status, termination=termination, solve_seconds=round(run.wall, 4),
               verified=int(bool(run.cells) and all(c.record.get("verified") for c in run.cells)),
               surrogate=[round(s["value"], 6) for s in terms] or None,
               true_value=[round(s["true"], 6) for s in terms] or None,
               error=round(float(np.mean([s["error"] for s in terms])), 6) if terms else None,
               interval=list(terms[0]["interval"]) if terms else _interval(problem),
               images=[f"{row['folder']}/{k:04d}.png" for k in range(1, run.made + 1)],
               message=None if status == "verified" else "; ".join([log[0]] + run.messages[:3]))
    if not run.cells:
        return {}
    summary = {**run.summary(), "spec": row["spec"], "seed": int(options["seed"]), "timeout_per_draw": timeout}
    return cell_files(cells_for_output(run), summary, sheet=run.made > 1)


def _interval(problem):
    """The first surrogate interval a porous spec bounds (for the gallery's filter), or None."""
    from ..compiler.consts import evaluate
    from ..runtime.terms import surrogate_terms

    terms = surrogate_terms(problem.checked)
    if not terms:
        return None
    interval = terms[0][4]
    return [float(evaluate(interval.lo, problem.checked)), float(evaluate(interval.hi, problem.checked))]


def _design(problem, options: dict, row: dict, log: list) -> dict:
    """Any other spec: one verified solve on one core, the run folder of `pgenc solve --out`, and a plot
    of the network's output beside its target when the spec is `minimize norm1(net(x) - t)`."""
    from ..core.results import Termination
    from ..runtime.output import run_files

    result = problem.solve(backend=options.get("backend") or None, timeout=options.get("timeout"),
                           seed=int(options["seed"]), cores=1)
    log.append(result.summary())
    log.extend(f"note: {n}" for n in result.stats.get("notes", []))
    if result.has_solution:
        status = "verified"
    elif result.termination == Termination.INFEASIBLE:
        status = "infeasible"
    else:
        status = "unknown"
    row.update(status=status, termination=str(result.termination), objective=result.objective,
               bound=result.bound, gap=result.gap, solve_seconds=round(result.wall, 4),
               verified=int(result.has_solution),
               message=None if status in ("verified", "infeasible") else (result.message or str(result.termination)))
    if not result.has_solution:
        return {}
    values = {k: np.asarray(v) for k, v in result.values.items()}
    if sum(v.size for v in values.values()) <= DESIGN_MAX_ENTRIES:
        row["design"] = {k: v.tolist() for k, v in values.items()}
    files = run_files(problem, result, extra={"spec": row["spec"], "params": options.get("params") or {}})
    plot = _output_plot(problem, values)
    if plot is not None:
        files["output.png"] = plot
        row["plot"] = f"{row['folder']}/output.png"
        row["error"] = result.objective  # the distance the spec minimises
    return files


def _output_plot(problem, values: dict):
    """PNG bytes: net(x) beside the target t of `minimize norm1(net(x) - t)`, or None."""
    obj = problem.net_objective
    if obj is None:
        return None
    from ..compiler.nn.forward import forward
    from .design_plot import design_plot

    out = np.asarray(forward(obj.layers, obj.x_of(values)[None, :]))[0]
    target = np.broadcast_to(np.asarray(obj.target, np.float64).reshape(-1), out.shape)
    return design_plot({"network output": out.tolist(), "target": target.tolist()},
                       title=Path(problem.path or "").stem, xlabel="output index")


def _injected_crash(key: str) -> None:
    """Fault injection for the tests of crash handling (never set in normal use):
    PGEN_TEST_CRASH_KEY names a task whose worker process kills itself with SIGKILL, at most
    PGEN_TEST_CRASH_TIMES times (default 1; counted in files under PGEN_TEST_CRASH_DIR)."""
    if os.environ.get("PGEN_TEST_CRASH_KEY") != key:
        return
    folder = Path(os.environ["PGEN_TEST_CRASH_DIR"])
    times = int(os.environ.get("PGEN_TEST_CRASH_TIMES", "1"))
    done = len(list(folder.glob(f"{key}.*")))
    if done < times:
        (folder / f"{key}.{done}").write_text("crashed\n")
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
