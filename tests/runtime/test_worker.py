"""Backend workers: the VNNLIB worker lowers the problem itself and reports failures as results."""
from __future__ import annotations

from pgen import netgen
from pgen.api import load_vnnlib
from pgen.core.options import SolveOptions
from pgen.core.results import ERROR, INFEASIBLE, OPTIMAL, RawResult
from pgen.runtime.solve import _decoded
from pgen.runtime.worker import WorkerRun
from tests.runtime.test_input_bab import PROP  # a 3-input box, a two-clause disjunction



def test_the_vnnlib_worker_lowers_solves_and_returns_what_decoding_needs(tmp_path):
    net = netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 6, 2], seed=4))
    for c0, c1, expected in ((-100.0, -100.0, OPTIMAL), (100.0, -100.0, INFEASIBLE)):
        (tmp_path / "p.vnnlib").write_text(PROP.format(c0=c0, c1=c1))
        out = WorkerRun.vnnlib(tmp_path / "p.vnnlib", net, SolveOptions(timeout=30)).result()
        raw, model, name, var_base = out
        assert raw.termination == expected and name == raw.backend
        problem = load_vnnlib(tmp_path / "p.vnnlib", net)  # the parent's copy, never lowered
        problem.var_base = var_base
        result = _decoded(problem, model, name, raw, 0, 1e-6)
        if expected == OPTIMAL:  # the witness decodes in the parent and passes the verifier
            assert result.verified and result.values["X"].shape == (3,)
        else:
            assert result.termination == "infeasible"


def test_a_failing_vnnlib_worker_reports_an_error_result(tmp_path):
    out = WorkerRun.vnnlib(tmp_path / "missing.vnnlib", tmp_path / "missing.onnx", SolveOptions(timeout=5)).result()
    assert isinstance(out, RawResult) and out.termination == ERROR and "missing" in out.message
