"""Fix a network's input, solve, and compare with onnxruntime on every backend.

This checks the importer and the encodings (ReLU big-M, binarized reified
cardinality with batch-norm thresholds and both tie spellings) against the
reference semantics, for random small networks.
"""
from __future__ import annotations

import numpy as np
import pytest

from pgen import netgen
from pgen.api import compile_string
from pgen.core.options import SolveOptions
from pgen.compiler.nn.session import run_network
from pgen.runtime.worker import run_in_worker

REAL_BACKENDS = ["highs", "cbc", "z3"]


def _fmt(v) -> str:
    return "[" + ", ".join(repr(float(a)) for a in np.asarray(v).reshape(-1)) + "]"


def _solver_outputs(problem, backend: str, name: str, size: int) -> np.ndarray:
    raw = run_in_worker(backend, problem.model, "solve", SolveOptions(timeout=60))
    assert raw.termination == "optimal", (backend, raw.termination, raw.message)
    base = problem.var_base[name]
    return raw.values[base: base + size]


@pytest.mark.parametrize("seed", range(6))
def test_relu_fixed_input_matches_onnxruntime(tmp_path, seed):
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(2, 6))] + [int(rng.integers(2, 7)) for _ in range(int(rng.integers(1, 3)))] + [int(rng.integers(1, 4))]
    style = ["gemm", "matmul"][seed % 2]
    path = netgen.write(tmp_path / "n.onnx", netgen.relu_mlp(sizes, seed=seed, style=style, batchnorm=seed % 3 == 0))
    x = rng.uniform(-1, 1, sizes[0])
    want = run_network(str(path), x).astype(np.float64)
    text = (f"param xv = {_fmt(x)}\nvar x : real[{sizes[0]}] in [xv, xv]\n"
            f"var y : real[{sizes[-1]}] in [-1000, 1000]\nnet f = network \"n.onnx\"\n"
            f"require y == f(x)\nsatisfy\n")
    problem = compile_string(text, base_dir=tmp_path)
    for backend in REAL_BACKENDS:
        got = _solver_outputs(problem, backend, "y", sizes[-1])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=backend)


@pytest.mark.parametrize("seed,tie", [(s, t) for s in range(4) for t in ("ge", "sign")])
def test_binarized_fixed_input_matches_onnxruntime(tmp_path, seed, tie):
    rng = np.random.default_rng(100 + seed)
    n_in = int(rng.integers(6, 14))
    hidden = [int(rng.integers(3, 9)) for _ in range(int(rng.integers(1, 4)))]
    path = netgen.write(tmp_path / "b.onnx", netgen.bnn(n_in, hidden, seed=seed, tie=tie, out_scale=10, out_bias=50))
    p = rng.integers(0, 2, n_in)
    want = float(run_network(str(path), p)[0])
    fixed = "\n".join(f"require p[{i}] == {int(v)}" for i, v in enumerate(p))
    text = f"var p : bool[{n_in}]\n{fixed}\nnet g = network \"b.onnx\"\nminimize g(p)\n"
    problem = compile_string(text, base_dir=tmp_path)
    for backend in REAL_BACKENDS + ["cpsat"]:
        raw = run_in_worker(backend, problem.model, "solve", SolveOptions(timeout=60))
        assert raw.termination == "optimal", (backend, raw.message)
        assert abs(raw.objective - want) <= 1e-4 * max(1.0, abs(want)), (backend, raw.objective, want)


def test_binarized_output_interval_matches_enumeration(tmp_path):
    """All 2^8 inputs: the solver finds an input in the interval iff onnxruntime has one."""
    path = netgen.write(tmp_path / "b.onnx", netgen.bnn(8, [6, 5], seed=5, out_scale=10, out_bias=50))
    import itertools

    outs = np.array([run_network(str(path), np.array(bits))[0] for bits in itertools.product([0, 1], repeat=8)])
    for lo, hi in [(float(np.sort(outs)[3]), float(np.sort(outs)[3]) + 1e-3), (float(outs.max()) + 0.01, 1e3)]:
        text = f"var p : bool[8]\nnet g = network \"b.onnx\"\nrequire g(p) in [{lo!r}, {hi!r}]\nsatisfy\n"
        problem = compile_string(text, base_dir=tmp_path)
        expect_sat = bool(np.any((outs >= lo) & (outs <= hi)))
        for backend in ["cpsat", "highs", "z3"]:
            result = problem.solve(backend=backend, timeout=60)
            assert (result.termination == "optimal") == expect_sat, (backend, lo, result.termination)
            assert result.termination in ("optimal", "infeasible")


def _tie_net(tmp_path, tie: str):
    """A 6-input binarized layer whose batch-norm output is exactly 0 at reachable sums."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(9)
    W = rng.choice([-1.0, 1.0], size=(6, 4)).astype(np.float32)
    inits = [numpy_helper.from_array(W, "W"),
             numpy_helper.from_array(np.ones(4, np.float32), "scale"),
             numpy_helper.from_array(np.zeros(4, np.float32), "bias"),
             numpy_helper.from_array(np.array([0, 2, -2, 4], np.float32), "mean"),
             numpy_helper.from_array(np.ones(4, np.float32), "var"),
             numpy_helper.from_array(np.array(2.0, np.float32), "two"),
             numpy_helper.from_array(np.array(1.0, np.float32), "one"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
             numpy_helper.from_array(np.array([[1.0], [2.0], [4.0], [8.0]], np.float32), "Wo")]
    nodes = [helper.make_node("Mul", ["x", "two"], ["x2"]), helper.make_node("Sub", ["x2", "one"], ["h"]),
             helper.make_node("MatMul", ["h", "W"], ["s"]),
             helper.make_node("BatchNormalization", ["s", "scale", "bias", "mean", "var"], ["bn"], epsilon=0.0)]
    if tie == "sign":
        nodes.append(helper.make_node("Sign", ["bn"], ["a"]))
    else:
        nodes += [helper.make_node("GreaterOrEqual", ["bn", "zero"], ["ge"]),
                  helper.make_node("Cast", ["ge"], ["c"], to=TensorProto.FLOAT),
                  helper.make_node("Mul", ["c", "two"], ["c2"]), helper.make_node("Sub", ["c2", "one"], ["a"])]
    nodes.append(helper.make_node("MatMul", ["a", "Wo"], ["y"]))
    from pgen.netgen import _finish

    return netgen.write(tmp_path / f"tie_{tie}.onnx", _finish(nodes, inits, "x", (1, 6), "y", (1, 1)))


@pytest.mark.parametrize("tie", ["ge", "sign"])
def test_ties_on_reachable_zeros_are_exact(tmp_path, tie):
    """Every input of a net whose batch-norm output is exactly 0 at reachable sums: the IR
    decides each neuron as onnxruntime does (GreaterOrEqual: 0 -> +1; Sign: 0 -> 0)."""
    import itertools

    from pgen.compiler import ir

    path = _tie_net(tmp_path, tie)
    problem = compile_string(f'var p : bool[6]\nnet g = network "tie_{tie}.onnx"\nminimize g(p)\n', base_dir=tmp_path)
    model = problem.model
    reified = [c for c in model.constraints if isinstance(c, ir.ReifiedCon)]
    assert reified, "the layer should not be constant"
    for bits in itertools.product([0, 1], repeat=6):
        # evaluate the IR directly: each reified row decides its Boolean
        values = np.zeros(len(model.vars))
        values[problem.var_base["p"]: problem.var_base["p"] + 6] = bits
        for c in reified:
            s = c.expr.value(values)
            values[c.b] = float(s >= c.rhs if c.sense == ir.GE else s <= c.rhs)
        want = float(run_network(str(path), np.array(bits))[0])
        assert model.objective.expr.value(values) == pytest.approx(want, abs=1e-6), bits
    # and one solve confirms a backend agrees
    result = problem.solve(backend="cpsat", timeout=30)
    assert result.verified
