"""The independent verifier catches a broken encoding and refuses to write its answer."""
from __future__ import annotations

import numpy as np
import pytest

from pgen import netgen
from pgen.api import compile_string
from pgen.compiler import ir
from pgen.runtime.verify import verify

SPEC = 'var x : real[3] in [0, 1]\nnet f = network "f.onnx"\nrequire f(x)[0] >= {c}\nminimize sum(x)\n'


def _problem(tmp_path, c):
    netgen.write(tmp_path / "f.onnx", netgen.relu_mlp([3, 6, 2], seed=11))
    return compile_string(SPEC.format(c=c), base_dir=tmp_path, name="broken.pgen")


def _reachable_max(tmp_path) -> float:
    """The network's true maximum of output 0 over the box, from the intact encoding."""
    problem = compile_string('var x : real[3] in [0, 1]\nnet f = network "f.onnx"\nmaximize f(x)[0]\n',
                             base_dir=tmp_path)
    result = problem.solve(backend="highs", timeout=30)
    assert result.termination == "optimal"
    return result.objective


def test_dropped_relu_upper_bounds_are_caught(tmp_path):
    _problem(tmp_path, 0.0)
    c = _reachable_max(tmp_path) + 1e-3  # just beyond what the network can output
    problem = compile_string(SPEC.format(c=c), base_dir=tmp_path, name="broken.pgen")
    model = problem.model
    # break the encoding: forget "z = 1 -> y <= pre", so each ReLU may output more than it should
    model.constraints = [k for k in model.constraints if not (isinstance(k, ir.IndicatorCon) and k.value == 1)]
    result = problem.solve(backend="highs", timeout=30)
    assert result.termination == "error"
    assert result.verified is False
    assert not result.values
    assert "broken.pgen:3:1" in result.message and "require f(x)[0] >=" in result.message


def test_intact_encoding_proves_infeasible(tmp_path):
    _problem(tmp_path, 0.0)
    c = _reachable_max(tmp_path) + 1e-3
    problem = compile_string(SPEC.format(c=c), base_dir=tmp_path, name="ok.pgen")
    assert problem.solve(backend="highs", timeout=30).termination == "infeasible"


def test_wrong_objective_is_caught(tmp_path):
    problem = _problem(tmp_path, -10.0)
    problem.model.objective.expr.coef = problem.model.objective.expr.coef * 2.0  # the solver now reports 2x
    problem.model.objective.expr.const = 0.3
    result = problem.solve(backend="cbc", timeout=30)
    assert result.termination == "error"
    assert "objective" in result.message


def test_verify_checks_domains_and_selection(tmp_path):
    text = "var n : int[2] in {0, 10, ..., 30}\nvar x : real[3] in [0, 1]\nselect at most 1 of x\nsatisfy\n"
    problem = compile_string(text, base_dir=tmp_path, name="dom.pgen")
    good = verify(problem.checked, {"n": np.array([10.0, 30.0]), "x": np.array([0.0, 0.5, 0.0])})
    assert good.ok
    bad = verify(problem.checked, {"n": np.array([15.0, 30.0]), "x": np.array([0.2, 0.5, 0.0])})
    assert not bad.ok
    text = " ".join(str(f) for f in bad.failures)
    assert "not in" in text and "2 selected" in text


def test_strict_interval_is_checked_strictly(tmp_path):
    problem = compile_string("var x : real in [0, 1]\nrequire x in [0, 0.5)\nsatisfy\n", name="s.pgen")
    assert verify(problem.checked, {"x": np.asarray(0.4999999)}).ok
    assert not verify(problem.checked, {"x": np.asarray(0.5)}).ok
