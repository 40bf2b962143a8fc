"""Enumeration: on small integer design spaces its answer is the brute-force optimum (every
design through onnxruntime here, independently), an empty feasible set is a proof, and it
stays out of spaces too large to enumerate."""
from __future__ import annotations

import itertools

import numpy as np

import pgen
from pgen.compiler.nn.session import remembered, run_network
from pgen.runtime.strategies.enumeration import MAX_DESIGNS, Enumeration
from tests.conftest import ROOT

NANO = ROOT / "specs" / "inverse" / "nano_integer.pgen"


def test_integer_inversion_is_the_brute_force_optimum():
    problem = pgen.load(NANO)
    target = problem.checked.params["target"]
    net = str(ROOT / "specs" / "nets" / "nano_relu.onnx")
    scores = {th: float(np.sum(np.abs(run_network(net, np.array(th) / 70).astype(np.float64) - target)))
              for th in itertools.product(range(0, 71, 10), repeat=4)}
    best = min(scores.values())
    result = problem.solve(timeout=60)
    assert result.termination == "optimal" and result.backend == "enumeration" and result.verified
    assert abs(result.objective - best) <= 1e-9
    assert scores[tuple(int(v) for v in result.solutions[0].values["th"])] == best


def _spec(tmp_path, body: str):
    (tmp_path / "s.pgen").write_text(body)
    return pgen.load(tmp_path / "s.pgen")


def test_no_feasible_design_is_a_proof(tmp_path):
    problem = _spec(tmp_path, "var k : int[3] in [0, 4]\nrequire sum(k) == 13\nminimize k[0]\n")
    result = problem.solve(timeout=30)
    assert result.termination == "infeasible" and result.backend == "enumeration"
    feasible = _spec(tmp_path, "var k : int[3] in [0, 4]\nrequire sum(k) == 11\nmaximize k[0] - k[1]\n")
    result = feasible.solve(timeout=30)
    assert result.termination == "optimal" and result.objective == 4 - 3  # k = (4, 3, 4)


def test_large_spaces_are_left_to_the_backends(tmp_path):
    assert 17 ** 4 <= MAX_DESIGNS < 17 ** 5
    assert Enumeration().applies(_spec(tmp_path, "var k : int[4] in [0, 16]\nminimize sum(k)\n"))
    assert not Enumeration().applies(_spec(tmp_path, "var k : int[5] in [0, 16]\nminimize sum(k)\n"))
    assert not Enumeration().applies(_spec(tmp_path, "var k : int[2] in [0, 3]\nvar r : real in [0, 1]\n"
                                                      "minimize r\n"))


def test_remembered_outputs_are_onnxruntime_s():
    net = str(ROOT / "specs" / "nets" / "nano_relu.onnx")
    X = np.random.default_rng(0).random((7, 4))
    plain = [run_network(net, x) for x in X]
    with remembered(net, X):
        inside = [run_network(net, x) for x in X]
    np.testing.assert_allclose(np.array(inside), np.array(plain), rtol=1e-6, atol=1e-6)


def test_a_space_too_large_to_enumerate_is_refused_with_its_size_and_left_to_the_others(tmp_path):
    from pgen import netgen
    from pgen.runtime.strategies import default_members, member_notes

    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([6, 4, 1], seed=0))
    problem = pgen.compile_string('var k : int[6] in 0..9\nnet f = network "n.onnx"\n'
                                  "minimize norm1(f(k / 9) - [0.5])\n", base_dir=tmp_path)
    assert "Enumeration" not in [type(m).__name__ for m in default_members(problem)]
    [note] = member_notes(problem)
    assert "1,000,000 designs exceed the 100,000" in note
    res = problem.solve(backend="auto", timeout=60)
    assert res.termination == "optimal" and note in res.stats["notes"]
