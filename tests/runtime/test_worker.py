"""Worker jobs: the lowering job lowers the problem itself and failures come back as results."""
from __future__ import annotations

import pickle

from pgen import netgen
from pgen.api import load_vnnlib
from pgen.core.options import SolveOptions
from pgen.core.results import ERROR, INFEASIBLE, OPTIMAL, RawResult
from pgen.runtime.jobs import LowerAndSolveJob
from pgen.runtime.portfolio import verified_result
from pgen.runtime.strategies.exact import outcome_of
from pgen.runtime.worker import WorkerRun
from tests.runtime.test_input_bab import PROP  # a 3-input box, a two-clause disjunction


def _lower_and_solve(problem, timeout: float):
    options = SolveOptions(timeout=timeout)
    return WorkerRun(LowerAndSolveJob(problem.checked, options), timeout, "auto").result()


def test_the_lowering_job_lowers_solves_and_returns_what_decoding_needs(tmp_path):
    net = netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 6, 2], seed=4))
    for c0, c1, expected in ((-100.0, -100.0, OPTIMAL), (100.0, -100.0, INFEASIBLE)):
        (tmp_path / "p.vnnlib").write_text(PROP.format(c0=c0, c1=c1))
        problem = load_vnnlib(tmp_path / "p.vnnlib", net)
        raw, model, name, var_base = _lower_and_solve(problem, 30)
        assert raw.termination == expected and name == raw.backend
        assert problem._lowered is None  # the parent's copy was never lowered
        result = verified_result(problem, outcome_of(raw, problem.checked, var_base, name, model.stats()), 0, 1e-6, 0.0)
        if expected == OPTIMAL:  # the witness decodes in the parent and passes the verifier
            assert result.verified and result.values["X"].shape == (3,)
        else:
            assert result.termination == "infeasible"


def test_a_failing_lowering_job_reports_an_error_result(tmp_path):
    net = netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 6, 2], seed=4))
    (tmp_path / "p.vnnlib").write_text(PROP.format(c0=-100.0, c1=-100.0))
    problem = load_vnnlib(tmp_path / "p.vnnlib", net)
    problem.checked.vars.clear()  # the lowerer meets names it does not know: a PgenError
    out = _lower_and_solve(problem, 5)
    assert isinstance(out, RawResult) and out.termination == ERROR and out.backend == "auto"
    assert "unknown name" in out.message and "Traceback" not in out.message
    assert out.message.startswith(f"{problem.checked.path}:")  # located in the property's file, not `<input>`


def test_a_checked_spec_travels_to_a_worker_whole(tmp_path):
    """The lowering job carries `Checked` (the AST and the loaded networks) by pickle."""
    net = netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 6, 2], seed=4))
    (tmp_path / "p.vnnlib").write_text(PROP.format(c0=0.0, c1=0.0))
    checked = load_vnnlib(tmp_path / "p.vnnlib", net).checked
    copy = pickle.loads(pickle.dumps(checked))
    assert copy.vars.keys() == checked.vars.keys()
    layers, copied = checked.nets["net"].layers, copy.nets["net"].layers
    assert len(layers) == len(copied) and copy.spec == checked.spec


class _Pid:
    def run(self):
        import os
        return os.getpid()


class _Sleep:
    def __init__(self, seconds: float):
        self.seconds = seconds

    def run(self):
        import time
        time.sleep(self.seconds)
        return "slept"


class _Fail:
    def run(self):
        from pgen.core.errors import PgenError
        raise PgenError("E018", "a job that fails")


def test_a_served_worker_answers_jobs_in_one_process():
    from pgen.runtime.worker import ServedWorker

    worker = ServedWorker("test")
    try:
        pids = []
        for _ in range(3):
            worker.submit(_Pid(), 30)
            pids.append(worker.result())
        assert len(set(pids)) == 1 and isinstance(pids[0], int)
        worker.submit(_Fail(), 30)  # an error comes back as a result; the process stays
        out = worker.result()
        assert isinstance(out, RawResult) and out.termination == ERROR and "a job that fails" in out.message
        worker.submit(_Pid(), 30)
        assert worker.result() == pids[0]
    finally:
        worker.close()


def test_a_served_worker_past_its_time_is_replaced(monkeypatch):
    from pgen.runtime import worker as worker_module

    monkeypatch.setattr(worker_module, "GRACE_SECONDS", 0.5)
    worker = worker_module.ServedWorker("test")
    try:
        worker.submit(_Pid(), 30)
        first = worker.result()
        worker.submit(_Sleep(60), 0.5)
        out = worker.result()
        assert isinstance(out, RawResult) and out.termination == "timeout"
        worker.submit(_Pid(), 30)
        second = worker.result()
        assert isinstance(second, int) and second != first  # a fresh process took the next job
    finally:
        worker.close()
