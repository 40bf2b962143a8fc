"""The VNNLIB front end: parsing, the translation to a spec, and located errors."""
from __future__ import annotations

import numpy as np
import pytest

from pgen import netgen
from pgen.api import load_vnnlib
from pgen.core.errors import PgenError
from pgen.dsl.vnnlib import read_vnnlib, split_box
from pgen.compiler.nn.session import run_network

PROP = """; a comment
(declare-const X_0 Real)
(declare-const X_1 Real)
(declare-const Y_0 Real)
(declare-const Y_1 Real)
(assert (<= X_0 0.5))
(assert (>= X_0 -5e-1))
(assert (<= X_1 1))
(assert (>= X_1 .25))
(assert (or
    (and (>= Y_0 Y_1) (<= Y_0 2.0E+0))
    (and (<= (+ Y_1 (* -2 Y_0)) -0.1))
))
"""


def test_reads_box_and_disjunction():
    prop = read_vnnlib(PROP, "p.vnnlib")
    assert (prop.n_x, prop.n_y) == (2, 2)
    lo, hi, rest = split_box(prop)
    assert lo.tolist() == [-0.5, 0.25] and hi.tolist() == [0.5, 1.0] and rest == []
    assert [len(d) for d in prop.disjuncts] == [2, 1]
    atom = prop.disjuncts[1][0]
    assert atom.terms == {("Y", 1): 1.0, ("Y", 0): -2.0} and atom.const == pytest.approx(0.1) and atom.op == "<="


@pytest.mark.parametrize("text,code,where,needle", [
    ("(declare-const X_0 Real)\n(assert (<= X_1 1))\n", "E010", (2, 13), "`X_1` is used but not declared"),
    ("(declare-const X_0 Real)\n(assert (<= X_0 1)\n", "E002", (2, 1), "unclosed"),
    ("(declare-const X_0 Real)\n(assert (=> X_0 1))\n", "E001", (2, 10), "expected a comparison"),
    ("(declare-const X_0 Int)\n", "E014", (1, 20), "sort `Int`"),
    ("(declare-const X_0 Real)\n(assert (<= (* X_0 X_0) 1))\n", "E015", (2, 14), "not linear"),
])
def test_errors_have_line_and_column(text, code, where, needle):
    with pytest.raises(PgenError) as info:
        read_vnnlib(text, "bad.vnnlib")
    e = info.value
    assert e.code == code and (e.span.line, e.span.column) == where and needle in e.message
    assert e.render().startswith(f"bad.vnnlib:{where[0]}:{where[1]}: error[{code}]")


def test_output_index_beyond_network(tmp_path):
    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([2, 3, 2], seed=1))
    (tmp_path / "p.vnnlib").write_text(PROP.replace("(<= Y_0 2.0E+0)", "(<= Y_5 2.0E+0)").replace(
        "(declare-const Y_1 Real)", "(declare-const Y_1 Real)\n(declare-const Y_5 Real)"))
    with pytest.raises(PgenError) as info:
        load_vnnlib(tmp_path / "p.vnnlib", tmp_path / "n.onnx").model
    assert info.value.code == "E013" and "beyond the network's 2 outputs" in info.value.message
    assert info.value.span.line == 12  # the atom that names Y_5


def test_verdicts_match_sampling_and_witness_violates(tmp_path):
    """sat comes with a witness onnxruntime confirms; unsat agrees with dense sampling."""
    net = netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([2, 6, 2], seed=4))
    grid = np.stack(np.meshgrid(np.linspace(-0.5, 0.5, 41), np.linspace(0.25, 1, 41)), -1).reshape(-1, 2)
    ys = np.array([run_network(str(net), g) for g in grid])
    for c in [float(np.max(ys[:, 0] - ys[:, 1])) - 0.05, float(np.max(ys[:, 0] - ys[:, 1])) + 0.5]:
        text = PROP.replace("(and (>= Y_0 Y_1) (<= Y_0 2.0E+0))", f"(and (>= (- Y_0 Y_1) {c!r}))").replace(
            "(and (<= (+ Y_1 (* -2 Y_0)) -0.1))", "(and (>= Y_0 1000))")
        (tmp_path / "p.vnnlib").write_text(text)
        result = load_vnnlib(tmp_path / "p.vnnlib", net).solve(backend="highs", timeout=60)
        sampled_sat = bool(np.any(ys[:, 0] - ys[:, 1] >= c))
        if sampled_sat:
            assert result.termination == "optimal" and result.verified
            x = result.values["X"]
            y = run_network(str(net), x)
            assert y[0] - y[1] >= c - 1e-5 and -0.5 <= x[0] <= 0.5
        else:
            assert result.termination == "infeasible"  # the margin of 0.5 is far beyond sampling error


def test_cli_verify_and_compile(tmp_path, capsys):
    from pgen.cli import main

    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([2, 6, 2], seed=4))
    (tmp_path / "p.vnnlib").write_text(PROP)
    code = main(["verify", str(tmp_path / "n.onnx"), str(tmp_path / "p.vnnlib"), "--timeout", "30"])
    out = capsys.readouterr().out
    assert code == 0 and out.splitlines()[0] in ("sat", "unsat")
    code = main(["compile", str(tmp_path / "p.vnnlib"), "--net", str(tmp_path / "n.onnx"), "-o", str(tmp_path / "p.lp")])
    assert code == 0 and "case" in (tmp_path / "p.lp").read_text()


def test_pgen_spec_imports_a_property():
    """`require vnnlib ... on f(x)`: the box narrows x, the disjunction holds on onnxruntime's outputs."""
    import pgen
    from tests.conftest import ROOT

    spec = ROOT / "specs" / "verify" / "toy_property.pgen"
    problem = pgen.load(spec)
    assert problem.checked.vars["x"].lb.tolist() == [-0.5, 0.0, -1.0]
    objectives = []
    for backend in ("highs", "cbc", "z3"):
        result = problem.solve(backend=backend, timeout=60)
        assert result.termination == "optimal" and result.verified
        x = result.values["x"]
        y = run_network(str(ROOT / "specs" / "nets" / "toy_3_6_2.onnx"), x)
        assert (y[0] - y[1] >= 0.1 - 1e-6) or (y[1] <= -0.5 + 1e-6)
        assert -0.5 <= x[0] <= 0.5 and x.sum() <= 1.5 + 1e-9
        objectives.append(result.objective)
    assert max(objectives) - min(objectives) <= 1e-6


def test_import_needs_a_matching_vector(tmp_path):
    from pgen.api import compile_string

    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([2, 3, 2], seed=1))
    (tmp_path / "p.vnnlib").write_text(PROP)
    text = 'var x : real[3] in [0, 1]\nnet f = network "n.onnx"\nrequire vnnlib "p.vnnlib" on f(x)\n'
    with pytest.raises(PgenError) as info:
        compile_string(text, base_dir=tmp_path, name="imp.pgen")
    assert info.value.code == "E022" and info.value.span.line == 3
    assert "must be real[2]" in info.value.message


def test_auto_tries_sampling_then_exact(tmp_path):
    """`auto` on a VNNLIB problem samples the box first: a hit is a verified witness; a miss
    proves nothing and input splitting or the exact backend decides."""
    net = netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([2, 6, 2], seed=4))
    easy = PROP.replace("(and (>= Y_0 Y_1) (<= Y_0 2.0E+0))", "(and (>= Y_0 -1000))")
    (tmp_path / "easy.vnnlib").write_text(easy)
    result = load_vnnlib(tmp_path / "easy.vnnlib", net).solve(timeout=30)
    assert result.strategy == "falsify" and result.verified and result.has_solution
    never = PROP.replace("(and (>= Y_0 Y_1) (<= Y_0 2.0E+0))", "(and (>= Y_0 1000))").replace(
        "(and (<= (+ Y_1 (* -2 Y_0)) -0.1))", "(and (<= Y_1 -1000))")
    (tmp_path / "never.vnnlib").write_text(never)
    result = load_vnnlib(tmp_path / "never.vnnlib", net).solve(timeout=30)
    assert result.strategy in ("input-bab", "backend") and result.termination == "infeasible"


# Two `or` assertions: one over input regions, one over output clauses. The network is
# y0 = relu(x0 + x1), y1 = relu(x0 - x1), so each answer is known in closed form.
TWO_ORS = """(declare-const X_0 Real)
(declare-const X_1 Real)
(declare-const Y_0 Real)
(declare-const Y_1 Real)
(assert (or (and (>= X_0 0) (<= X_0 0.2) (>= X_1 0) (<= X_1 0.2))
            (and (>= X_0 0.8) (<= X_0 1) (>= X_1 0.8) (<= X_1 1))))
(assert (or (and (>= Y_0 {a}) (<= Y_0 {b})) (and (>= Y_1 {c}))))
"""


def _sum_diff_net(path):
    import onnx
    from onnx import TensorProto, helper

    w1 = helper.make_tensor("w1", TensorProto.FLOAT, [2, 2], [1, 1, 1, -1])
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [2, 2], [1, 0, 0, 1])
    nodes = [helper.make_node("Gemm", ["x", "w1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "sum_diff", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [w1, w2])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def _grid_oracle(a, b, c):
    """Brute force on a fine grid of both regions (exact here: the extremes lie on grid points)."""
    for lo, hi in ((0.0, 0.2), (0.8, 1.0)):
        g = np.linspace(lo, hi, 201)
        x0, x1 = np.meshgrid(g, g)
        y0, y1 = np.maximum(x0 + x1, 0), np.maximum(x0 - x1, 0)
        if np.any(((y0 >= a) & (y0 <= b)) | (y1 >= c)):
            return True
    return False


def test_two_ors_are_read_as_a_conjunction_of_disjunctions():
    prop = read_vnnlib(TWO_ORS.format(a=0.8, b=1.2, c=0.5), "p.vnnlib")
    assert [len(d) for d in prop.disjunctions] == [2, 2]
    assert len(prop.disjuncts) == 4  # one clause per choice of a region and an output clause
    lo, hi, rest = split_box(prop)
    np.testing.assert_allclose(lo, [0, 0])
    np.testing.assert_allclose(hi, [1, 1])


@pytest.mark.parametrize("a, b, c, sat", [
    (0.8, 1.2, 0.5, False),   # y0 = 1 lies between the regions: only the hull has it
    (1.9, 2.5, 5.0, True),    # near (1, 1), the second region
    (0.3, 0.35, 5.0, True),   # the first region
    (5.0, 6.0, 0.15, True),   # y1 = x0 - x1 up to 0.2 in either region
    (5.0, 6.0, 0.25, False),
])
@pytest.mark.parametrize("backend", ["auto", "highs"])
def test_two_input_regions_are_decided(tmp_path, a, b, c, sat, backend):
    assert _grid_oracle(a, b, c) == sat
    net = _sum_diff_net(tmp_path / "n.onnx")
    (tmp_path / "p.vnnlib").write_text(TWO_ORS.format(a=a, b=b, c=c))
    result = load_vnnlib(tmp_path / "p.vnnlib", net).solve(backend=backend, timeout=30)
    if sat:
        assert result.has_solution and result.verified
        x = np.asarray(result.values["X"])
        assert np.all(x <= 0.2 + 1e-9) or np.all(x >= 0.8 - 1e-9)  # inside one region, not just the hull
    else:
        assert result.termination == "infeasible"
