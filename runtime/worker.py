"""Run one backend in its own process: a hard timeout and crash isolation.

OR-Tools and python-mip's CBC cannot be loaded in one process (measured:
undefined symbol in libOsiClp), so every native backend runs in a fresh
spawned worker; the parent never imports a solver library.
"""
from __future__ import annotations

import multiprocessing as mp
import time
import traceback

from ..core.options import SolveOptions
from ..core.results import ERROR, TIMEOUT, RawResult
from ..compiler.backends import call_backend, choose_backend
from ..core.errors import PgenError

GRACE_SECONDS = 15.0  # start-up and model building on top of the solver's own limit


def _reply(conn, work) -> None:
    """Send ("ok", work()) to the parent, or ("error", message): never a crash. A PgenError
    is a user-facing message already: it goes without a traceback."""
    try:
        conn.send(("ok", work()))
    except PgenError as e:
        conn.send(("error", str(e)))
    except Exception as e:
        conn.send(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"))
    finally:
        conn.close()


def _child(conn, backend_name: str, model, action: str, options: SolveOptions, fmt: str) -> None:
    _reply(conn, lambda: call_backend(backend_name, model, action, options, fmt))


def _child_vnnlib(conn, prop_path: str, net_path: str, options: SolveOptions) -> None:
    """Lower a VNNLIB problem and solve it with the automatic backend, all in the worker:
    lowering ACAS Xu (LP bound tightening) takes seconds that the parent's branch and bound
    would otherwise lose. Sends (raw result, model, backend, var_base)."""

    def work():
        from ..api import load_vnnlib

        start = time.perf_counter()
        problem = load_vnnlib(prop_path, net_path)
        model = problem.model
        name = choose_backend(model)
        # the parent's limit covers the lowering too
        options.timeout = max(1.0, options.timeout - (time.perf_counter() - start))
        return call_backend(name, model, "solve", options, ""), model, name, problem.var_base

    _reply(conn, work)


class WorkerRun:
    """One backend call in a spawned process, started at once; `peek()` polls without
    blocking, `result()` waits (at most the timeout plus GRACE_SECONDS), `cancel()` kills.
    Lets the parent do other work (the VNNLIB portfolio's input splitting) meanwhile.
    `WorkerRun.vnnlib` lowers a VNNLIB problem in the worker as well (see `_child_vnnlib`)."""

    def __init__(self, backend_name: str, model, action: str = "solve", options: SolveOptions | None = None,
                 fmt: str = "", _target=None, _args=None):
        self.backend_name, self.action = backend_name, action
        self.options = options or SolveOptions()
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=False)
        if _target is None:
            _target, _args = _child, (backend_name, model, action, self.options, fmt)
        self._proc = ctx.Process(target=_target, args=(child,) + tuple(_args), daemon=True)
        self._start = time.perf_counter()
        self._proc.start()
        child.close()
        self._message = None
        self._received = False

    @classmethod
    def vnnlib(cls, prop_path: str, net_path: str, options: SolveOptions) -> "WorkerRun":
        """Lower and solve in the worker; a result is (raw, model, backend, var_base), or a RawResult with ERROR/TIMEOUT when the worker failed."""
        return cls("auto", None, "vnnlib", options, _target=_child_vnnlib,
                   _args=(str(prop_path), str(net_path), options))

    def _receive(self, wait: float) -> None:
        if self._received:
            return
        if self._conn.poll(wait):
            try:
                self._message = self._conn.recv()
            except EOFError:
                self._message = None
            self._received = True
        elif not self._proc.is_alive():
            self._received = True  # died without a word

    def peek(self):
        """The result if the worker has finished, else None (never blocks)."""
        self._receive(0)
        return self._finish() if self._received else None

    def result(self):
        limit = self.options.timeout + GRACE_SECONDS
        self._receive(max(0.0, limit - (time.perf_counter() - self._start)))
        return self._finish()

    def cancel(self) -> None:
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join()

    def _finish(self):
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        wall = time.perf_counter() - self._start
        name = self.backend_name
        if self._message is None:
            if wall >= self.options.timeout + GRACE_SECONDS:
                return RawResult(TIMEOUT, wall=wall, backend=name,
                                 message=f"the {name} worker was stopped after {wall:.0f} s")
            return RawResult(ERROR, wall=wall, backend=name,
                             message=f"the {name} worker died (exit code {self._proc.exitcode})")
        status, payload = self._message
        if status == "error":
            if self.action == "dump":
                raise RuntimeError(payload)
            return RawResult(ERROR, wall=wall, backend=name, message=payload)
        return payload


def run_in_worker(backend_name: str, model, action: str = "solve", options: SolveOptions | None = None,
                  fmt: str = "") -> RawResult | str:
    return WorkerRun(backend_name, model, action, options, fmt).result()
