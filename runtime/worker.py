"""Run a job in a solver worker process: a hard timeout and crash isolation.

OR-Tools and python-mip's CBC cannot be loaded in one process (measured: undefined symbol
in libOsiClp), so every native backend runs in a fresh worker; the parent never imports a
solver library. A worker is a subprocess of pgen's own entry point
(`python -m pgen.runtime.worker_main`, see there for the protocol), not a multiprocessing
child: spawn children re-import the caller's main module (a script without an
`if __name__ == "__main__":` guard got `termination: error`), and a daemonic process (a
multiprocessing.Pool or Dask worker) may not start them at all.

A job is any picklable object with `run()`; its return value comes back to the parent.
`BackendJob` is one backend call; other layers define their own jobs (runtime.jobs).
"""
from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import time

from ..compiler.backends import call_backend
from ..core.options import SolveOptions
from ..core.results import ERROR, TIMEOUT, RawResult

GRACE_SECONDS = 15.0  # start-up and model building on top of the solver's own limit
EXIT_WAIT_SECONDS = 5.0  # after its reply, a worker that does not exit is killed


class BackendJob:
    """One backend call in a worker: solve the model (a RawResult) or dump it (text).
    `passes`: IR passes applied before the backend's own chain (e.g. no-good cuts)."""

    def __init__(self, backend: str, model, action: str = "solve", options: SolveOptions | None = None,
                 fmt: str = "", passes: tuple = ()):
        self.backend, self.model, self.action, self.fmt = backend, model, action, fmt
        self.options = options or SolveOptions()
        self.passes = tuple(passes)

    def run(self) -> RawResult | str:
        return call_backend(self.backend, self.model, self.action, self.options, self.fmt, passes=self.passes)


def _command(verbose: bool) -> list[str]:
    # -P: the caller's working folder must not shadow modules in the worker (a folder named
    # `pgen`, a user's `numpy.py`); the parent's sys.path follows at the end instead
    return [sys.executable, "-P", "-m", "pgen.runtime.worker_main"] + (["--verbose"] if verbose else [])


class WorkerRun:
    """A job in a worker process, started at once. `peek()` polls without blocking,
    `result()` waits (at most `timeout` plus GRACE_SECONDS, then kills), `cancel()` kills.
    Both give the job's return value, or a RawResult with ERROR or TIMEOUT when the worker
    failed (the job raised, crashed, was killed or sent an answer that cannot be read):
    never an exception. Lets the parent do other work meanwhile (the VNNLIB portfolio's
    input splitting). `backend` names the worker in those messages; `verbose` lets the
    solver's log through to stderr."""

    def __init__(self, job, timeout: float, backend: str = "solver", verbose: bool = False):
        self.backend = backend
        self._start = time.perf_counter()
        self._deadline = self._start + timeout + GRACE_SECONDS
        self._outcome = None  # the job's answer or a failure, once known
        self._reply = b""
        self._proc = None
        try:
            # the parent's sys.path travels ahead of the job: the worker adds it to its own,
            # so it can import the module that defines the job
            payload = pickle.dumps([p for p in sys.path if isinstance(p, str)]) + pickle.dumps(job)
        except Exception as e:
            self._outcome = self._failure(ERROR, f"the job could not be sent to the {backend} worker: {e}")
            return
        try:
            self._proc = subprocess.Popen(_command(verbose), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as e:
            self._outcome = self._failure(ERROR, f"the {backend} worker could not start: {e}")
            return
        # a thread, as a large job fills the pipe until the worker has started and reads it
        self._reader = threading.Thread(target=self._talk, args=(payload,), daemon=True)
        self._reader.start()

    def _talk(self, payload: bytes) -> None:
        """In a thread: send the job, then read the whole reply, up to the worker closing its end."""
        try:
            with self._proc.stdin as stdin:
                stdin.write(payload)
        except OSError:
            pass  # the worker died before reading its job: its exit code tells why
        with self._proc.stdout as stdout:
            self._reply = stdout.read()

    def peek(self):
        """The answer if the worker has finished (or run past its time), else None; never blocks."""
        if self._outcome is None and (not self._reader.is_alive() or time.perf_counter() >= self._deadline):
            self._settle()
        return self._outcome

    def result(self):
        """Wait for the answer (at most until the deadline)."""
        if self._outcome is None:
            self._reader.join(max(0.0, self._deadline - time.perf_counter()))
            self._settle()
        return self._outcome

    def cancel(self) -> None:
        """Kill the worker (if it still runs); its answer becomes an ERROR result."""
        if self._outcome is None:
            self._proc.kill()
            self._reap()
            self._outcome = self._failure(ERROR, f"the {self.backend} worker was cancelled")

    def _settle(self) -> None:
        timed_out = self._reader.is_alive()  # no end of reply by the deadline
        if timed_out:
            self._proc.kill()
        self._reap()
        self._outcome = self._decoded(timed_out)

    def _reap(self) -> None:
        self._reader.join()
        try:
            self._proc.wait(timeout=EXIT_WAIT_SECONDS)
        except subprocess.TimeoutExpired:  # replied, then hung on its way out
            self._proc.kill()
            self._proc.wait()

    def _decoded(self, timed_out: bool):
        wall = time.perf_counter() - self._start
        if timed_out:
            return self._failure(TIMEOUT, f"the {self.backend} worker was stopped after {wall:.0f} s")
        if not self._reply:
            return self._failure(ERROR, f"the {self.backend} worker died (exit code {self._proc.returncode})")
        try:
            status, payload = pickle.loads(self._reply)
        except Exception as e:
            return self._failure(ERROR, f"the {self.backend} worker's answer could not be read: {e}")
        return self._failure(ERROR, payload) if status == "error" else payload

    def _failure(self, termination, message: str) -> RawResult:
        return RawResult(termination, wall=time.perf_counter() - self._start, backend=self.backend,
                         message=message)


class ServedWorker:
    """A worker process that answers jobs one after another (`worker_main --serve`): imports,
    solver libraries and caches stay loaded between jobs. `submit(job, timeout)` starts a
    job; `peek()` and `result()` answer as WorkerRun's do (a failure is a RawResult with
    ERROR or TIMEOUT, never an exception). A job past its time kills the process; the next
    `submit` starts a fresh one. `close()` ends the process. `new_session`: the process gets
    its own session, so a Ctrl-C at the terminal reaches only the parent, which stops it."""

    def __init__(self, backend: str = "solver", verbose: bool = False, new_session: bool = False):
        self.backend, self.verbose, self.new_session = backend, verbose, new_session
        self.died = False
        self._proc = None
        self._job = None      # (reader thread, deadline, start, box) of the running job
        self._outcome = None

    def _start(self) -> None:
        self._proc = subprocess.Popen(_command(self.verbose) + ["--serve"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, start_new_session=self.new_session)
        self._proc.stdin.write(pickle.dumps([p for p in sys.path if isinstance(p, str)]))
        self._proc.stdin.flush()

    @property
    def busy(self) -> bool:
        return self._job is not None and self._outcome is None

    def submit(self, job, timeout: float, notify: threading.Event | None = None) -> None:
        """`notify` is set when the job's answer (or the worker's end) has arrived, so that a
        caller waiting on several workers need not poll. `died` tells, once answered, whether
        the process ended without a reply (a crash) rather than answering with an error."""
        self._outcome = None
        self.died = False
        start = time.perf_counter()
        try:
            payload = pickle.dumps(job)
            if self._proc is None or self._proc.poll() is not None:
                self._start()
        except Exception as e:
            self._job = (None, 0.0, start, {})
            self._outcome = RawResult(ERROR, wall=0.0, backend=self.backend,
                                      message=f"the job could not be sent to the {self.backend} worker: {e}")
            if notify is not None:
                notify.set()
            return
        box: dict = {}
        proc = self._proc

        def talk():
            try:
                proc.stdin.write(len(payload).to_bytes(8, "little") + payload)
                proc.stdin.flush()
                head = proc.stdout.read(8)
                if len(head) == 8:
                    box["reply"] = proc.stdout.read(int.from_bytes(head, "little"))
            except (OSError, ValueError):
                pass  # the worker died: no reply
            finally:
                box["done"] = True  # before the thread ends: peek() may look at once
                if notify is not None:
                    notify.set()

        reader = threading.Thread(target=talk, daemon=True)
        reader.start()
        self._job = (reader, start + timeout + GRACE_SECONDS, start, box)

    def peek(self):
        if self._outcome is None and self._job is not None:
            reader, deadline, _, box = self._job
            if box.get("done") or not reader.is_alive() or time.perf_counter() >= deadline:
                self._settle()
        return self._outcome

    def result(self):
        if self._outcome is None and self._job is not None:
            reader, deadline, _, _ = self._job
            reader.join(max(0.0, deadline - time.perf_counter()))
            self._settle()
        return self._outcome

    def _settle(self) -> None:
        reader, _, start, box = self._job
        wall = time.perf_counter() - start
        if box.get("done"):
            reader.join()  # it has nothing left to do
        if reader.is_alive():  # past its time: the process goes, the next job gets a fresh one
            self._kill()
            reader.join()
            self._outcome = RawResult(TIMEOUT, wall=wall, backend=self.backend,
                                      message=f"the {self.backend} worker was stopped after {wall:.0f} s")
            return
        if "reply" not in box:
            code = self._kill()
            self.died = True
            self._outcome = RawResult(ERROR, wall=wall, backend=self.backend,
                                      message=f"the {self.backend} worker died (exit code {code})")
            return
        try:
            status, payload = pickle.loads(box["reply"])
        except Exception as e:
            self._kill()
            self._outcome = RawResult(ERROR, wall=wall, backend=self.backend,
                                      message=f"the {self.backend} worker's answer could not be read: {e}")
            return
        self._outcome = RawResult(ERROR, wall=wall, backend=self.backend, message=payload) \
            if status == "error" else payload

    def _kill(self):
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        proc.kill()
        proc.wait()
        return proc.returncode

    def cancel(self) -> None:
        """Kill the process now (a job still running is lost)."""
        self._kill()
        self._job, self._outcome = None, None

    def close(self) -> None:
        """End the process: standard input closes and it exits; killed if it does not."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
            proc.wait(timeout=EXIT_WAIT_SECONDS)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


def run_in_worker(backend_name: str, model, action: str = "solve", options: SolveOptions | None = None,
                  fmt: str = "") -> RawResult | str:
    """One backend call in a worker: a RawResult (failures too) for `solve`; the model text
    for `dump`, or a RuntimeError with the worker's message."""
    options = options or SolveOptions()
    job = BackendJob(backend_name, model, action, options, fmt)
    out = WorkerRun(job, options.timeout, backend_name, options.verbose).result()
    if action == "dump" and not isinstance(out, str):
        raise RuntimeError(out.message)
    return out
