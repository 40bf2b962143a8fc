"""The solver worker's entry point: `python -m pgen.runtime.worker_main [--verbose]`.

Protocol (runtime.worker is the other end; `--serve` answers many jobs, see `serve`): standard input carries two pickles, the
parent's sys.path and a *job* (any picklable object with `run()`); standard output carries
one pickle back, ("ok", job.run()) or ("error", message). Solver libraries print on fd 1,
so the reply goes out on a copy of the original fd 1 and fd 1 itself is pointed at stderr
(`--verbose`) or /dev/null before anything else runs.

Imports stay lean: nothing heavy here; a job's own modules load when it is unpickled.
"""
from __future__ import annotations

import os
import pickle
import sys
import traceback

from ..core.errors import PgenError


def _reply_channel(verbose: bool):
    """A private copy of fd 1 for the reply; fd 1 then goes to stderr or /dev/null."""
    reply = os.fdopen(os.dup(1), "wb")  # os.dup: not inherited by the solver's own children
    sink = os.dup(2) if verbose else os.open(os.devnull, os.O_WRONLY)
    os.dup2(sink, 1)
    os.close(sink)
    return reply


def _outcome(stream) -> tuple:
    """("ok", value) or ("error", message): never an exception. A PgenError is a
    user-facing message already: it goes without a traceback."""
    def job():
        sys.path.extend(p for p in pickle.load(stream) if p not in sys.path)  # the parent's own modules
        return pickle.load(stream)
    return _run(job)


def _run(read_job) -> tuple:
    try:
        return "ok", read_job().run()
    except PgenError as e:
        return "error", str(e)
    except Exception as e:
        return "error", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"


def serve(argv: list[str]) -> None:
    """`--serve`: answer jobs one after another until standard input ends; each job and each
    answer is an 8-byte length and a pickle. Imports, solver libraries and per-process
    caches stay loaded between jobs (a porous run's draws: about a second saved per draw)."""
    reply = _reply_channel("--verbose" in argv)
    _exit_with_parent()
    stdin = sys.stdin.buffer
    sys.path.extend(p for p in pickle.load(stdin) if p not in sys.path)
    while True:
        head = stdin.read(8)
        if len(head) < 8:
            break
        body = stdin.read(int.from_bytes(head, "little"))
        data = _encoded(_run(lambda: pickle.loads(body)))
        reply.write(len(data).to_bytes(8, "little") + data)
        reply.flush()
    reply.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _exit_with_parent(every: float = 1.0) -> None:
    """A thread that ends this process when its parent is gone (killed with SIGKILL, say):
    a served worker otherwise solves on until its job ends, its answer read by no one."""
    import threading
    import time

    parent = os.getppid()

    def watch():
        while True:
            time.sleep(every)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _encoded(outcome: tuple) -> bytes:
    try:
        return pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # the job returned something that cannot travel
        return pickle.dumps(("error", f"the worker's answer could not be sent back: {type(e).__name__}: {e}"))


def main(argv: list[str]) -> None:
    reply = _reply_channel("--verbose" in argv)
    data = _encoded(_outcome(sys.stdin.buffer))
    reply.write(data)
    reply.close()  # the parent sees the end of the reply here
    sys.stdout.flush()
    sys.stderr.flush()
    # skip interpreter shutdown: some solver libraries hang or crash in their destructors
    os._exit(0)


if __name__ == "__main__":
    (serve if "--serve" in sys.argv[1:] else main)(sys.argv[1:])
