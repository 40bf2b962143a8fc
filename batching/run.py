"""Drive a batch: claim the run folder for the plan, adopt what a crash left, run what is not
recorded yet on an engine, and for each finished task write its folder (atomically) and then
its row. Rerunning the same plan into the same folder resumes: recorded tasks are not run
again (`redo` names statuses to run again, e.g. ("unknown", "failed")).

Layout of OUT: index.sqlite (batching/index.py), tasks/KEY/ (the task's run folder as
`pgenc solve --out` writes it, plus task.json = its row and log.txt), index.html (the gallery).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import PgenError
from ..core.files import atomic_folder
from .index import STATUSES, RunIndex
from .plan import Plan, materialise


@dataclass
class BatchReport:
    out: Path
    planned: int
    skipped: int                    # recorded before this run (resumed)
    adopted: int                    # folders a crash left without a row, recorded now
    counts: dict = field(default_factory=lambda: {s: 0 for s in STATUSES})  # this run's tasks
    wall: float = 0.0
    interrupted: bool = False

    @property
    def ran(self) -> int:
        return sum(self.counts.values())

    def line(self) -> str:
        done = ", ".join(f"{n} {s}" for s, n in self.counts.items())
        head = "stopped" if self.interrupted else "done"
        return (f"{head}: {self.ran} tasks run in {self.wall:.1f} s ({done})"
                + (f"; {self.skipped} already recorded" if self.skipped else "")
                + (f"; {self.adopted} adopted from their folders" if self.adopted else ""))


def spec_roots(plan: Plan) -> dict:
    """spec digest -> the spec's tree rebuilt from its hashed contents (plan.materialise), once
    per distinct spec: what the local pool's tasks and the precheck read."""
    roots: dict = {}
    for t in plan.tasks:
        f = t.spec_files
        if f.digest not in roots:
            roots[f.digest] = materialise(f.digest, f.files, f.contents)
    return roots


def payloads(plan: Plan, roots: dict) -> list:
    """Each task as plain data for a worker (local or remote); `root` is its spec's tree
    (`spec_roots`). The contents stay in the plan: `plan_contents(plan)` gives them to an
    engine that ships them."""
    digest = plan.digest
    return [{"key": t.key, "position": t.position, "run": t.run, "spec": t.spec,
             "spec_rel": t.spec_files.spec, "spec_hash": t.spec_files.digest, "files": t.spec_files.files,
             "root": str(roots[t.spec_files.digest]), "options": t.options, "plan_hash": digest,
             "spec_timeout": t.spec_files.timeout, "images": t.spec_files.images} for t in plan.tasks]


def precheck(plan: Plan, roots: dict) -> None:
    """Check each run's spec once, with its first task's param values, before anything
    starts: a spec error is one located error, not a failed row per task."""
    from ..api import load

    seen = set()
    for t in plan.tasks:
        if t.run not in seen:
            seen.add(t.run)
            f = t.spec_files
            root = roots[f.digest]
            try:
                load(root / f.spec, params=t.options.get("params") or {})
            except PgenError as e:  # name the user's file, not the copy
                if e.filename == str(root / f.spec):
                    e.filename = str(f.root / f.spec)
                raise


def plan_contents(plan: Plan) -> dict:
    """sha256 -> bytes of every file the plan's specs read, as they were hashed."""
    out: dict = {}
    for t in plan.tasks:
        out.update(t.spec_files.contents)
    return out


def run_batch(plan: Plan, out: str | Path, engine, redo: tuple = (), progress: bool = True,
              on_row=None) -> BatchReport:
    from ..core.version import VERSION
    from ..core.progress import Progress

    start = time.perf_counter()
    out = Path(out)
    for s in redo:
        if s not in STATUSES:
            raise PgenError("E050", f"--redo takes statuses ({', '.join(STATUSES)}), not `{s}`")
    roots = spec_roots(plan)
    precheck(plan, roots)
    lock = _lock(out)
    index = RunIndex(out)
    try:
        index.claim(plan.digest, plan.source, VERSION)
        before = set(index.statuses())
        adopted = _adopt(plan, out, index)
        recorded = index.statuses()
        todo = [p for p in payloads(plan, roots) if p["key"] not in recorded or recorded[p["key"]] in redo]
        report = BatchReport(out, len(plan.tasks), len(before - {p["key"] for p in todo}), adopted)
        bar = Progress(len(todo), "tasks", enabled=progress and bool(todo))

        def on_result(payload, reply, started):
            received = time.perf_counter()
            row = dict(reply["row"], position=payload["position"])
            with _no_interrupt():  # a Ctrl-C waits until the folder and its row are both written
                try:
                    _write_folder(out, payload["key"], reply["files"], row)
                except PgenError as e:  # a full disk: what is recorded stays, the rest waits
                    e.hint = "free disk space, then rerun the same command: it resumes where this stopped"
                    raise
                row["overhead_seconds"] = _overhead(row, started, received)
                index.record(row)
            report.counts[row["status"]] = report.counts.get(row["status"], 0) + 1
            if on_row is not None:
                on_row(row)
            bar.update(1, " · ".join(f"{n} {s}" for s, n in report.counts.items() if n))

        if todo:
            try:
                engine.run(todo, on_result, plan_contents(plan))
            except KeyboardInterrupt:
                engine.close()
                report.interrupted = True
            except BaseException:
                engine.close()
                raise
        bar.close()
        report.wall = time.perf_counter() - start
        return report
    finally:
        index.close()
        lock.close()


def _lock(out: Path):
    """OUT/.lock held (flock) for the batch: a second `pgenc batch` into the same folder is
    refused instead of running every task again beside the first."""
    import fcntl

    try:
        out.mkdir(parents=True, exist_ok=True)
        f = open(out / ".lock", "a+")
    except OSError as e:
        raise PgenError("E040", f"cannot write the run folder `{out}`: {e.strerror}",
                        hint="choose a folder you can write to with --out") from None
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        raise PgenError("E050", f"another batch is writing into `{out}` ({holder})", filename=str(out / ".lock"),
                        hint="wait for it to end (or stop it), then rerun: the two would run the same tasks") from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()}\n")
    f.flush()
    return f


def batch(plan, out: str | Path | None = None, client=None, jobs: int | None = None,
          redo: tuple = (), progress: bool = False) -> "list[dict]":
    """Run a batch plan (a TOML file's path, or a batching.plan.Plan) into the run folder `out`
    (default: runs/ and the plan file's name) on a Dask `client`, or on a local pool of `jobs`
    worker processes (default: the CPU count). Resumes a folder made by the same plan. Returns
    the run index's rows in plan order (dicts; `pandas.DataFrame(rows)` makes a frame)."""
    from .engines import DaskEngine, LocalPool
    from .plan import read_plan

    if not isinstance(plan, Plan):
        plan_path = Path(plan)
        plan = read_plan(plan_path)
        out = out if out is not None else Path("runs") / plan_path.stem
    if out is None:
        raise PgenError("E050", "give `out`, the run folder", hint='pgen.batch(plan, out="runs/lib")')
    if client is not None and jobs is not None:
        raise PgenError("E050", "`jobs` sizes the local pool; with a Dask client its workers decide")
    engine = DaskEngine(client=client) if client is not None else LocalPool(jobs if jobs is not None else os.cpu_count() or 1)
    report = run_batch(plan, out, engine, redo=tuple(redo), progress=progress)
    if report.interrupted:
        raise KeyboardInterrupt
    index = RunIndex(out, create=False)
    try:
        return index.rows()
    finally:
        index.close()


@contextmanager
def _no_interrupt():
    """A Ctrl-C during the block is held back and raised at its end (main thread only: the
    only one Python delivers signals to; blocking the signal there would let the kernel
    hand it to another thread, and Python would still raise it here at once)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _overhead(row: dict, started, received: float) -> float:
    """What a task cost beyond its solve: in the worker (load, check, encode, verify, files:
    task_seconds - solve_seconds), the parent's folder and row, and for the local pool the
    dispatch and transfer (`started` is None on Dask, where a task's wait in the scheduler's
    queue is not the task's cost)."""
    now = time.perf_counter()
    task = row.get("task_seconds") or 0.0
    cost = max(task - (row.get("solve_seconds") or 0.0), 0.0) + (now - received)
    if started is not None:
        cost += max(received - started - task, 0.0)
    return round(cost, 4)


def _write_folder(out: Path, key: str, files: dict, row: dict) -> None:
    """tasks/KEY/ with the task's files and task.json (its row), in one rename."""
    files = dict(files)
    files["task.json"] = (json.dumps(row, indent=2, default=str) + "\n").encode()
    with atomic_folder(out / "tasks" / key, "task folder") as tmp:
        for name, data in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)


def _adopt(plan: Plan, out: Path, index: RunIndex) -> int:
    """Bring the index and the folders into step after a crash: a folder replaced by --redo
    whose rename was cut short is put back; half-made temporary folders go; a finished
    folder without a row, or newer than its row, is recorded from its task.json (the row it
    was written with), after checking that it is this plan's task (same spec files and
    options). Returns how many rows were adopted."""
    tasks = out / "tasks"
    if not tasks.is_dir():
        return 0
    plan_tasks = {t.key: t for t in plan.tasks}
    rows = {r["key"]: r for r in index.rows()}
    for folder in sorted(tasks.iterdir()):  # atomic_folder's leftovers: `.KEY.old.*/previous`, `.KEY.*`
        if folder.name.startswith(".") and ".old." in folder.name:
            key = folder.name[1:].rsplit(".old.", 1)[0]
            if not (tasks / key).exists() and (folder / "previous").is_dir():
                os.replace(folder / "previous", tasks / key)
    adopted = 0
    for folder in sorted(tasks.iterdir()):
        if folder.name.startswith("."):  # a temporary whose rename never happened
            shutil.rmtree(folder, ignore_errors=True)
            continue
        task = plan_tasks.get(folder.name)
        if task is None:
            continue
        try:
            row = json.loads((folder / "task.json").read_text())
        except (OSError, ValueError):
            if folder.name not in rows:
                shutil.rmtree(folder, ignore_errors=True)  # not a finished task's folder: run it again
            continue
        old = rows.get(folder.name)
        if old is not None and (old.get("finished"), old.get("worker")) == (row.get("finished"), row.get("worker")):
            continue
        if (row.get("spec_hash"), row.get("options")) != (task.spec_files.digest, task.options):
            raise PgenError("E050", f"`{folder}` holds the result of another spec or other options than this "
                            f"plan's task `{task.key}` (left from an earlier plan?)",
                            hint="move the folder aside, or give this plan its own --out folder",
                            filename=str(folder / "task.json"))
        index.record(row)
        adopted += 1
    return adopted
