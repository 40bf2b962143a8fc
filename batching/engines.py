"""Two ways to run a batch's tasks, one interface: `engine.run(payloads, on_result, contents)`
calls `on_result(payload, reply, started)` in the caller's thread as each task finishes
(`reply`: run_task's {"row", "files"}; `started`: time.perf_counter() when it was handed to an
idle worker, None where that is not known) and returns when all are done (`contents`: sha256
-> bytes of the spec files, for an engine that ships them); `close()` stops what still runs.

- `LocalPool(jobs)`: `jobs` worker processes (runtime.worker.ServedWorker, `python -m
  pgen.runtime.worker_main --serve`) that stay up between tasks, so imports, checked specs
  and lowered networks are reused. A worker that dies mid-task is restarted and the task
  tried once more; a second death marks it failed with the exit code.
- `DaskEngine(address or client)`: the tasks as Dask futures. Spec files travel once per
  content hash (`client.scatter`) and are rebuilt on each worker under a folder named by the
  spec's hash; the client's cached neuron bounds (`pgenc bounds`) go with them. Each task runs
  in a solver process of its Dask worker thread, started with subprocess (which a daemonic
  Dask worker may do) and kept between tasks; a crash there is retried once as on the local
  pool. A Dask worker that itself dies (a lost machine) is the scheduler's to handle: its
  tasks are rescheduled up to `distributed.scheduler.allowed-failures`, then failed
  (KilledWorker). Start workers with one thread (`dask worker ADDRESS --nthreads 1
  --nworkers J`), and give the scheduler
  `distributed.scheduler.worker-saturation: 1.0` so that a dying worker holds only the task
  it runs (with more queued there, they count as suspects too).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path

from ..core.errors import PgenError
from ..core.files import atomic_write_bytes

WAKE_SECONDS = 1.0  # the local pool's longest sleep between looks at its workers
CONNECT_SECONDS = 6.0  # the client gives up on an unreachable scheduler after this (the whole command: ~8 s)
HARD_LIMIT_FACTOR = 2.0  # a task's worker is stopped after this many times its time limit (+2 min)
DEFAULT_TIMEOUT = 60.0   # seconds, for a spec that names none (as `pgenc solve`)


def hard_limit(payload: dict) -> float:
    """Seconds after which a task's worker is stopped: the solvers keep their own time limits
    (a porous task: up to 3 x count + 10 draws of `timeout` each, as runtime.sample does; any
    other: one solve), this only catches a hang."""
    options = payload["options"]
    timeout = float(options.get("timeout") or payload.get("spec_timeout") or DEFAULT_TIMEOUT)
    if payload.get("images"):
        return HARD_LIMIT_FACTOR * (3 * max(int(options.get("count") or 1), 1) + 10) * timeout + 120.0
    return HARD_LIMIT_FACTOR * timeout + 120.0


def failed_reply(payload: dict, message: str, status: str = "failed") -> dict:
    row = {"key": payload["key"], "run": payload["run"], "spec": payload["spec"],
           "spec_hash": payload["spec_hash"], "options": payload["options"], "status": status,
           "termination": "error" if status == "failed" else "timeout", "message": message,
           "folder": f"tasks/{payload['key']}", "verified": 0}
    return {"row": row, "files": {}}


def reply_of(payload: dict, out, attempt: int, died: bool):
    """The reply of a task whose worker process answered `out` on try `attempt` (1 or 2), or
    None when the process died (`died`: no answer) on the first try and the task should run
    once more."""
    from ..core.results import TIMEOUT, RawResult

    if isinstance(out, RawResult):  # the worker process failed, not the task
        if out.termination == TIMEOUT:
            reply = failed_reply(payload, f"stopped after {hard_limit(payload):.0f} s: {out.message}", "unknown")
        elif not died:  # it answered, with an error about the job itself: trying again changes nothing
            reply = failed_reply(payload, out.message)
        elif attempt == 1:
            return None
        else:
            reply = failed_reply(payload, f"the worker died twice on this task: {out.message}")
    else:
        reply = out
    reply["row"]["attempts"] = attempt
    return reply


class LocalPool:
    name = "local"

    def __init__(self, jobs: int = 1):
        if jobs < 1:
            raise PgenError("E050", f"--jobs must be at least 1, not {jobs}")
        self.jobs = jobs
        self._workers: list = []

    def describe(self) -> str:
        return f"local pool, {self.jobs} worker process{'es' if self.jobs != 1 else ''}"

    def run(self, payloads: list, on_result, contents: dict | None = None) -> None:
        from ..runtime.worker import ServedWorker
        from .task import TaskJob

        queue = deque(payloads)
        self._workers = [ServedWorker("batch", new_session=True) for _ in range(min(self.jobs, len(payloads)))]
        answered = threading.Event()  # set by a worker's reader thread when its answer is in
        running: dict = {}  # worker index -> (payload, attempt, started)
        while queue or running:
            for i, worker in enumerate(self._workers):
                if i not in running and queue:
                    p = queue.popleft()
                    worker.submit(TaskJob(p), hard_limit(p), notify=answered)
                    running[i] = (p, 1, time.perf_counter())
            answered.wait(WAKE_SECONDS)  # a hung worker is found by peek() at its deadline
            answered.clear()
            for i, (p, attempt, started) in list(running.items()):
                out = self._workers[i].peek()
                if out is None:
                    continue
                del running[i]
                reply = reply_of(p, out, attempt, self._workers[i].died)
                if reply is None:  # the worker died: once more, on a fresh process
                    self._workers[i].submit(TaskJob(p), hard_limit(p), notify=answered)
                    running[i] = (p, attempt + 1, started)
                    continue
                on_result(p, reply, started)
        self.close()

    def close(self) -> None:
        for w in self._workers:
            if w.busy:
                w.cancel()
            else:
                w.close()
        self._workers = []


class DaskEngine:
    name = "dask"

    def __init__(self, address: str | None = None, client=None):
        try:
            from distributed import Client
        except ImportError:
            raise PgenError("E050", "--dask needs Dask distributed, which is not installed",
                            hint='pip install "pgen[cluster]" (or: pip install "dask[distributed]")') from None
        self._own = client is None
        if client is None:
            try:
                client = Client(address, timeout=f"{CONNECT_SECONDS:.0f}s", set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise PgenError("E050", f"cannot reach the Dask scheduler at `{address}` within "
                                f"{CONNECT_SECONDS:.0f} s ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no answer'}); "
                                "no task was started", filename="--dask",
                                hint="start one with `dask scheduler` and `dask worker ADDRESS`, or check the address") from None
            except ValueError as e:
                raise PgenError("E050", f"`{address}` is not a Dask scheduler address: {e}",
                                hint="write it as tcp://HOST:8786") from None
        self.client = client
        self._futures: list = []

    def describe(self) -> str:
        info = self.client.scheduler_info()
        workers = info.get("workers", {})
        threads = sum(w.get("nthreads", 1) for w in workers.values())
        return f"Dask at {self.client.scheduler.address}, {len(workers)} workers, {threads} threads"

    def run(self, payloads: list, on_result, contents: dict | None = None) -> None:
        import uuid

        from distributed import as_completed
        from distributed.client import FutureCancelledError

        token = uuid.uuid4().hex[:8]  # keys of this call only: another client's batch may share the scheduler

        contents = contents or {}
        blobs = {sha: contents[sha] if sha in contents else (Path(p["root"]) / rel).read_bytes()
                 for p in payloads for rel, sha in p["files"].items()}
        # a copy on every worker: data scattered to one worker dies with it, and its tasks with it
        shared = dict(zip(blobs, self.client.scatter(list(blobs.values()), hash=False, broadcast=True))) \
            if blobs else {}
        bounds = bound_entries()
        bounds_future = self.client.scatter(bounds, hash=False, broadcast=True) if bounds else None
        by_future = {}
        for p in payloads:
            mine = {sha: shared[sha] for sha in p["files"].values()}
            remote = {k: v for k, v in p.items() if k != "root"}
            fut = self.client.submit(dask_task, remote, mine, bounds_future,
                                     key=f"pgen-{p['plan_hash'][:12]}-{token}-{p['key']}", pure=False)
            by_future[fut.key] = p
            self._futures.append(fut)
        for fut in as_completed(self._futures):
            p = by_future[fut.key]
            try:
                reply = fut.result()  # its attempts are set on the worker
            except (FutureCancelledError, OSError, TimeoutError) as e:  # the cluster, not the task
                raise PgenError("E050", f"lost the Dask scheduler while the batch ran ({type(e).__name__}: {e})",
                                hint="rerun the same command when the cluster is back: it resumes") from None
            except Exception as e:  # KilledWorker: the Dask workers themselves died on it
                reply = failed_reply(p, f"{type(e).__name__}: {e}")
                reply["row"]["attempts"] = None
            fut.release()
            on_result(p, reply, None)  # its time in the scheduler's queue is not its cost
        self._futures = []
        self.close()

    def close(self) -> None:
        if self._futures:
            self.client.cancel(self._futures)
            self._futures = []
        if self._own:
            self.client.close()


_local = threading.local()
BOUNDS_SHIPPED_MAX = 64 * 2**20  # bytes of cached neuron bounds sent to a cluster's workers


def bound_entries() -> dict:
    """The client's cached neuron bounds (compiler/bound_cache.py: content-addressed .npz
    files), name -> bytes, up to BOUNDS_SHIPPED_MAX: what `pgenc bounds` computed here is
    read on every worker instead of being computed again."""
    from ..compiler.bound_cache import cache_dir

    out, total = {}, 0
    folder = cache_dir()
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
        size = path.stat().st_size
        if total + size > BOUNDS_SHIPPED_MAX:
            break
        out[path.name] = path.read_bytes()
        total += size
    return out


def _install_bounds(bounds: dict) -> None:
    """Write the shipped bound entries this machine's cache lacks (same name = same content)."""
    from ..compiler.bound_cache import cache_dir

    if getattr(_local, "bounds_done", False):
        return
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in bounds.items():
        if not (folder / name).exists():
            atomic_write_bytes(folder / name, data)
    _local.bounds_done = True


def dask_task(payload: dict, blobs: dict, bounds: dict | None = None) -> dict:
    """On a Dask worker: rebuild the spec's files under a folder named by the spec's hash
    (once per machine) and the client's cached neuron bounds, then run the task in a solver
    process of this worker thread (kept between tasks), as the local pool does: a crash takes
    that process, not the Dask worker and the other tasks it holds, and the task is tried
    once more."""
    from ..runtime.worker import ServedWorker
    from .plan import materialise
    from .task import TaskJob

    if bounds:
        _install_bounds(bounds)
    root = materialise(payload["spec_hash"], payload["files"], blobs)
    if getattr(_local, "worker", None) is None:
        _local.worker = ServedWorker("batch")
    local = dict(payload, root=str(root))
    for attempt in (1, 2):
        _local.worker.submit(TaskJob(local), hard_limit(payload))
        reply = reply_of(payload, _local.worker.result(), attempt, _local.worker.died)
        if reply is not None:
            return reply
