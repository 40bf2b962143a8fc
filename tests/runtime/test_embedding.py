"""pgen embedded in other programs: solver workers are subprocesses of pgen's own entry
point, so a script without a main guard, `python -c`, standard input and daemonic pool
workers all solve; a worker that crashes, hangs or is cancelled gives a result, never an
exception."""
from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pgen.core.results import ERROR, OPTIMAL, TIMEOUT, RawResult
from pgen.runtime import worker
from pgen.runtime.worker import WorkerRun, run_in_worker

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "inverse" / "gray_ramp.pgen"  # HiGHS, a tenth of a second
# a user's script as people write them: no `if __name__ == "__main__":` guard
SCRIPT = f"""import pgen
result = pgen.load({str(SPEC)!r}).solve()
print("answer:", result.termination, result.verified)
"""


def _answer(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line.startswith("answer:")][-1]


def _python(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_a_script_without_a_main_guard_solves(tmp_path):
    (tmp_path / "user_script.py").write_text(SCRIPT)
    assert _answer(_python(["user_script.py"], tmp_path)) == "answer: optimal True"


def test_python_dash_c_solves(tmp_path):
    assert _answer(_python(["-c", SCRIPT], tmp_path)) == "answer: optimal True"


def test_a_script_on_standard_input_solves(tmp_path):
    assert _answer(_python(["-"], tmp_path, stdin=SCRIPT)) == "answer: optimal True"


def test_a_folder_named_pgen_in_the_callers_working_folder_does_not_shadow_the_worker(tmp_path):
    (tmp_path / "pgen").mkdir()
    (tmp_path / "pgen" / "__init__.py").write_text("raise ImportError('the wrong pgen')\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "user_script.py").write_text(SCRIPT)
    assert _answer(_python(["elsewhere/user_script.py"], tmp_path)) == "answer: optimal True"


def _solve_in_pool(spec: str) -> tuple:
    import pgen

    result = pgen.load(spec).solve()
    return str(result.termination), result.verified


def test_a_daemonic_spawned_pool_worker_solves():
    with mp.get_context("spawn").Pool(1) as pool:  # pool workers are daemonic processes
        # a worker that dies would leave `apply` waiting forever: a time limit makes it a failure
        assert pool.apply_async(_solve_in_pool, (str(SPEC),)).get(timeout=120) == ("optimal", True)


# A user's program that solves, then forks a pool whose daemonic worker solves too. It runs
# in a fresh interpreter: onnxruntime is not fork-safe once a process has run many sessions
# on many threads (seen here: the forked child crashed inside pytest's long-lived process,
# never in a program like this one).
FORK_SCRIPT = f"""import multiprocessing as mp
import pgen

def solve(spec):
    result = pgen.load(spec).solve()
    return str(result.termination), result.verified

if __name__ == "__main__":
    print("parent:", *solve({str(SPEC)!r}))
    with mp.get_context("fork").Pool(1) as pool:
        print("answer:", *pool.apply_async(solve, ({str(SPEC)!r},)).get(timeout=100))
"""


def test_a_forked_pool_worker_solves_after_its_parent_did(tmp_path):
    (tmp_path / "forks.py").write_text(FORK_SCRIPT)
    assert _answer(_python(["forks.py"], tmp_path)) == "answer: optimal True"


# Jobs for the worker: picklable objects with run(), importable by the worker as this module.

class ExitJob:
    def run(self):
        os._exit(3)


class RaiseJob:
    def run(self):
        raise ValueError("no such thing")


class UnpicklableAnswerJob:
    def run(self):
        return lambda: None


class NoisyJob:
    """Prints on fd 1 as solver libraries do; the reply must still arrive whole."""

    def run(self):
        print("solver log line")
        sys.stdout.flush()
        os.write(1, b"native log line\n")
        return "the answer"


class SleepJob:
    """Writes its process id, then hangs."""

    def __init__(self, pid_file: Path):
        self.pid_file = pid_file

    def run(self):
        self.pid_file.write_text(str(os.getpid()))
        time.sleep(600)


def _is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _pid_of(pid_file: Path) -> int:
    for _ in range(300):
        if pid_file.exists() and pid_file.read_text():
            return int(pid_file.read_text())
        time.sleep(0.05)
    raise AssertionError("the worker never started its job")


def test_a_crashing_worker_gives_an_error_result():
    out = WorkerRun(ExitJob(), 10, "highs").result()
    assert isinstance(out, RawResult) and out.termination == ERROR and out.backend == "highs"
    assert "died (exit code 3)" in out.message


def test_a_job_that_raises_gives_an_error_result_with_a_short_traceback():
    out = WorkerRun(RaiseJob(), 10).result()
    assert out.termination == ERROR and out.message.startswith("ValueError: no such thing")
    assert "Traceback" in out.message


def test_an_answer_that_cannot_be_pickled_gives_an_error_result():
    out = WorkerRun(UnpicklableAnswerJob(), 10).result()
    assert out.termination == ERROR and "could not be sent back" in out.message


def test_a_job_that_cannot_be_pickled_gives_an_error_result():
    out = WorkerRun(lambda: None, 10).result()
    assert out.termination == ERROR and "could not be sent" in out.message


def test_solver_output_on_fd_1_goes_to_stderr_when_verbose_and_nowhere_otherwise(capfd):
    assert WorkerRun(NoisyJob(), 10).result() == "the answer"
    quiet = capfd.readouterr()
    assert "log line" not in quiet.out + quiet.err
    assert WorkerRun(NoisyJob(), 10, verbose=True).result() == "the answer"
    loud = capfd.readouterr()
    assert "solver log line" in loud.err and "native log line" in loud.err and "log line" not in loud.out


def test_a_worker_past_its_time_is_killed_and_gives_a_timeout_result(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "GRACE_SECONDS", 0.0)
    run = WorkerRun(SleepJob(tmp_path / "pid"), 2.0)
    pid = _pid_of(tmp_path / "pid")
    start = time.perf_counter()
    out = run.result()
    assert out.termination == TIMEOUT and "stopped after" in out.message
    assert time.perf_counter() - start < 10 and _is_gone(pid)


def test_peek_does_not_block_and_cancel_kills_the_worker(tmp_path):
    run = WorkerRun(SleepJob(tmp_path / "pid"), 60)
    pid = _pid_of(tmp_path / "pid")
    start = time.perf_counter()
    assert run.peek() is None and time.perf_counter() - start < 1
    run.cancel()
    assert _is_gone(pid)
    assert run.peek().termination == ERROR and run.result().termination == ERROR


def test_a_backend_call_solves_and_a_failing_dump_raises(tmp_path):
    import pgen

    model = pgen.load(SPEC).model
    assert run_in_worker("highs", model).termination == OPTIMAL
    assert run_in_worker("highs", model, "dump", fmt="lp").startswith("\\")
    with pytest.raises(RuntimeError):
        run_in_worker("highs", model, "dump", fmt="no-such-format")
