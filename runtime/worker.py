"""Run one backend in its own process: a hard timeout and crash isolation.

OR-Tools and python-mip's CBC cannot be loaded in one process (measured:
undefined symbol in libOsiClp), so every native backend runs in a fresh
spawned worker; the parent never imports a solver library.
"""
from __future__ import annotations

import multiprocessing as mp
import time
import traceback

from ..compiler.backends.base import ERROR, TIMEOUT, RawResult, SolveOptions

GRACE_SECONDS = 15.0  # start-up and model building on top of the solver's own limit


def _child(conn, backend_name: str, model, action: str, options: SolveOptions, fmt: str) -> None:
    try:
        from ..compiler.backends import get_backend

        backend = get_backend(backend_name)
        native = backend.emit(model)
        if action == "dump":
            conn.send(("ok", backend.dump(native, fmt)))
        else:
            raw = backend.solve(native, options)
            raw.backend = backend_name
            conn.send(("ok", raw))
    except Exception as e:  # reported to the parent as a result, never a crash
        conn.send(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"))
    finally:
        conn.close()


def run_in_worker(backend_name: str, model, action: str = "solve", options: SolveOptions | None = None,
                  fmt: str = "") -> RawResult | str:
    options = options or SolveOptions()
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, backend_name, model, action, options, fmt), daemon=True)
    start = time.perf_counter()
    proc.start()
    child.close()
    limit = options.timeout + GRACE_SECONDS
    message = None
    if parent.poll(limit):
        try:
            message = parent.recv()
        except EOFError:
            message = None
    proc.join(timeout=5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    wall = time.perf_counter() - start
    if message is None:
        if wall >= limit:
            return RawResult(TIMEOUT, wall=wall, backend=backend_name,
                             message=f"the {backend_name} worker was stopped after {limit:.0f} s")
        return RawResult(ERROR, wall=wall, backend=backend_name,
                         message=f"the {backend_name} worker died (exit code {proc.exitcode})")
    status, payload = message
    if status == "error":
        if action == "dump":
            raise RuntimeError(payload)
        return RawResult(ERROR, wall=wall, backend=backend_name, message=payload)
    return payload
