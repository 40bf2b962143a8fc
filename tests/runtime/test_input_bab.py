"""Input-space branch and bound agrees with the exact MILP on random properties."""
from __future__ import annotations

import numpy as np
import pytest

from pgen import netgen
from pgen.api import load_vnnlib
from pgen.compiler.nn.forward import forward, plain_relu_layers
from pgen.compiler.nn.relax import layer_bounds
from pgen.compiler.nn.session import run_network
from pgen.runtime.falsify import gradient_counterexample, sample_counterexample
from pgen.runtime.input_bab import input_branch_and_bound

PROP = """(declare-const X_0 Real)
(declare-const X_1 Real)
(declare-const X_2 Real)
(declare-const Y_0 Real)
(declare-const Y_1 Real)
(assert (>= X_0 -1))
(assert (<= X_0 1))
(assert (>= X_1 -1))
(assert (<= X_1 1))
(assert (>= X_2 0))
(assert (<= X_2 0.5))
(assert (or (and (>= (- Y_0 Y_1) {c0})) (and (<= Y_1 {c1}))))
"""


def test_relaxation_bounds_contain_the_network(tmp_path):
    net = netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 8, 8, 2], seed=3))
    (tmp_path / "p.vnnlib").write_text(PROP.format(c0=0, c1=0))
    layers = plain_relu_layers(load_vnnlib(tmp_path / "p.vnnlib", net).checked.nets["net"])
    rng = np.random.default_rng(0)
    # a batch of boxes: the whole box and random sub-boxes, each checked on its own points
    los, his = [np.array([-1.0, -1, 0])], [np.array([1.0, 1, 0.5])]
    for _ in range(5):
        a, b = rng.uniform([-1, -1, 0], [1, 1, 0.5], (2, 3))
        los.append(np.minimum(a, b))
        his.append(np.maximum(a, b))
    bounds = layer_bounds(layers, np.array(los), np.array(his))
    for i, (lo, hi) in enumerate(zip(los, his)):
        xs = lo + (hi - lo) * rng.random((2000, 3))
        h = xs
        for k, (W, b) in enumerate(layers[:-1]):
            z = h @ W.T + b
            assert np.all(z >= bounds[k][0][i] - 1e-9) and np.all(z <= bounds[k][1][i] + 1e-9)
            h = np.maximum(z, 0)
    np.testing.assert_allclose(forward(layers, xs[:5]), [run_network(str(net), x) for x in xs[:5]], atol=1e-5)


@pytest.mark.parametrize("seed", range(8))
def test_bab_verdict_matches_milp(tmp_path, seed):
    rng = np.random.default_rng(seed)
    net = netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 8, 8, 2], seed=seed))
    xs = np.array([-1, -1, 0]) + np.array([2, 2, 0.5]) * rng.random((4000, 3))
    ys = np.array([run_network(str(net), x) for x in xs[:400]])
    # thresholds near the sampled extremes: some properties sat, some unsat
    c0 = float(np.max(ys[:, 0] - ys[:, 1]) + rng.uniform(-0.1, 0.3))
    c1 = float(np.min(ys[:, 1]) - rng.uniform(-0.1, 0.3))
    (tmp_path / "p.vnnlib").write_text(PROP.format(c0=repr(c0), c1=repr(c1)))
    problem = load_vnnlib(tmp_path / "p.vnnlib", net)
    clauses, lo, hi = _clauses(problem)
    verdict, x, _ = input_branch_and_bound(clauses, plain_relu_layers(problem.checked.nets["net"]), lo, hi, 60)
    exact = problem.solve(backend="highs", timeout=60)
    assert exact.termination in ("optimal", "infeasible")
    if verdict == "unknown":  # allowed (a sliver of unsafe set below the split limit), never wrong
        return
    assert (verdict == "sat") == (exact.termination == "optimal"), (verdict, exact.termination, c0, c1)
    if verdict == "sat":
        y = run_network(str(net), x)
        assert y[0] - y[1] >= c0 - 1e-5 or y[1] <= c1 + 1e-5


def _clauses(problem):
    """(clauses, box lo, hi) of a loaded VNNLIB problem with one input region."""
    [region] = problem.net_property.regions
    return region.clauses, region.lo, region.hi


def _identity_net(path):
    """y0 = relu(x) - relu(-x) = x, y1 = -x: a ReLU network with known outputs."""
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.array([[1.0], [-1.0]], np.float32), "W1"),
             numpy_helper.from_array(np.zeros(2, np.float32), "b1"),
             numpy_helper.from_array(np.array([[1.0, -1.0], [-1.0, 1.0]], np.float32), "W2"),
             numpy_helper.from_array(np.zeros(2, np.float32), "b2")]
    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "W2", "b2"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "id", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return netgen.write(path, model.SerializeToString())


def _identity_property(tmp_path, asserts: str):
    """(network path, clauses, plain layers, box lo, hi) for x in [-1, 1] on `_identity_net`."""
    net = _identity_net(tmp_path / "id.onnx")
    (tmp_path / "p.vnnlib").write_text("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n"
                                       "(declare-const Y_1 Real)\n(assert (>= X_0 -1))\n(assert (<= X_0 1))\n"
                                       + asserts)
    problem = load_vnnlib(tmp_path / "p.vnnlib", net)
    clauses, lo, hi = _clauses(problem)
    return net, clauses, plain_relu_layers(problem.checked.nets["net"]), lo, hi


def test_a_combination_of_atoms_proves_what_no_single_atom_can(tmp_path):
    # y0 <= -0.1 and y1 <= -0.1, i.e. x <= -0.1 and x >= 0.1: empty, but each atom alone
    # holds somewhere in [-1, 1]; their sum (y0 + y1 + 0.2 = 0.2 > 0) rules the box out at once
    _, clauses, layers, lo, hi = _identity_property(tmp_path, "(assert (<= Y_0 -0.1))\n(assert (<= Y_1 -0.1))\n")
    verdict, _, boxes = input_branch_and_bound(clauses, layers, lo, hi, 10)
    assert verdict == "unsat" and boxes == 1


def test_gradient_descent_finds_a_small_unsafe_set(tmp_path):
    # y0 >= 0.999 needs x >= 0.999: 0.05 % of the box, which 50 random points miss
    net, clauses, layers, lo, hi = _identity_property(tmp_path, "(assert (>= Y_0 0.999))\n")
    x = gradient_counterexample(clauses, layers, lo, hi, budget=5.0, points=8, pool=50)
    assert x is not None and run_network(str(net), x)[0] >= 0.999 - 1e-6


def _random_boxes(rng, n):
    los, his = [np.array([-1.0, -1, 0])], [np.array([1.0, 1, 0.5])]
    for _ in range(n):
        a, b = rng.uniform([-1, -1, 0], [1, 1, 0.5], (2, 3))
        los.append(np.minimum(a, b))
        his.append(np.maximum(a, b))
    return np.array(los), np.array(his)


def _net_layers(tmp_path, seed=3):
    net = netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 8, 8, 8, 2], seed=seed))
    (tmp_path / "p.vnnlib").write_text(PROP.format(c0=0, c1=0))
    return plain_relu_layers(load_vnnlib(tmp_path / "p.vnnlib", net).checked.nets["net"])


def test_every_slope_choice_and_the_optimised_slopes_bound_the_output_from_below(tmp_path):
    from pgen.compiler.nn.relax import FINAL_MODES, backward_bound, optimised_slope_bound, relu_relaxation

    layers = _net_layers(tmp_path)
    rng = np.random.default_rng(1)
    los, his = _random_boxes(rng, 7)
    pre = layer_bounds(layers, los, his)
    C = np.array([[1.0, -1.0], [0.0, 1.0], [-1.0, 0.5]])
    true_min = []
    for lo, hi in zip(los, his):
        xs = lo + (hi - lo) * rng.random((4000, 3))
        true_min.append((forward(layers, xs) @ C.T).min(axis=0))
    true_min = np.array(true_min)  # [boxes, rows]
    for mode in FINAL_MODES:
        low, _ = backward_bound(C, layers, len(layers) - 1, pre, los, his, mode=mode)
        assert np.all(low <= true_min + 1e-9), mode
    adaptive, _ = backward_bound(C, layers, len(layers) - 1, pre, los, his)
    gained = 0
    for r in range(len(C)):
        rows = np.repeat(C[r][None], len(los), axis=0)
        start = [relu_relaxation(l, u)[0] for l, u in pre]
        refined = optimised_slope_bound(rows, np.zeros((len(los), 3)), np.zeros(len(los)), layers, pre, los, his,
                                        start, steps=30)
        assert np.all(refined <= true_min[:, r] + 1e-9)  # still a valid bound
        assert np.all(refined >= adaptive[:, r] - 1e-12)  # and never worse than where it started
        gained += int(np.sum(refined > adaptive[:, r] + 1e-6))
    assert gained > 0  # the optimisation does tighten some bounds (else it is dead weight)


def test_bounds_carried_from_the_parent_box_stay_valid_and_never_loosen(tmp_path):
    layers = _net_layers(tmp_path, seed=5)
    lo, hi = np.array([[-1.0, -1, 0]]), np.array([[1.0, 1, 0.5]])
    parent = layer_bounds(layers, lo, hi)
    carried = (np.concatenate([l for l, _ in parent], axis=1), np.concatenate([u for _, u in parent], axis=1))
    child_lo, child_hi = np.array([[-1.0, -1, 0]]), np.array([[0.0, 1, 0.5]])
    alone = layer_bounds(layers, child_lo, child_hi)
    child = layer_bounds(layers, child_lo, child_hi, carried)
    xs = child_lo[0] + (child_hi - child_lo)[0] * np.random.default_rng(2).random((4000, 3))
    h = xs
    for k, (W, b) in enumerate(layers[:-1]):
        z = h @ W.T + b
        l, u = child[k]
        assert np.all(z >= l[0] - 1e-9) and np.all(z <= u[0] + 1e-9)
        assert np.all(l >= np.maximum(alone[k][0], parent[k][0]) - 1e-12)
        assert np.all(u <= np.minimum(alone[k][1], parent[k][1]) + 1e-12)
        h = np.maximum(z, 0)


def test_progress_reports_a_growing_proved_share_that_ends_at_one(tmp_path):
    seen_unsat_with_splits = False
    for seed in range(8):
        net = netgen.write(tmp_path / f"n{seed}.onnx", netgen.relu_mlp([3, 8, 8, 2], seed=seed))
        (tmp_path / "p.vnnlib").write_text(PROP.format(c0=1.0, c1=-1.0))
        problem = load_vnnlib(tmp_path / "p.vnnlib", net)
        clauses, lo, hi = _clauses(problem)
        reports = []
        verdict, _, boxes = input_branch_and_bound(clauses, plain_relu_layers(problem.checked.nets["net"]), lo, hi,
                                                   60, progress=lambda b, share: reports.append((b, share)))
        shares = [s for _, s in reports]
        assert shares == sorted(shares) and all(0.0 <= s <= 1.0 for s in shares)
        assert [b for b, _ in reports][-1] == boxes
        if verdict == "unsat":
            assert abs(shares[-1] - 1.0) < 1e-9  # every box proved: the whole volume
            seen_unsat_with_splits |= boxes > 1
        else:
            assert shares[-1] < 1.0
    assert seen_unsat_with_splits  # the test exercised a proof that needed splitting


def test_the_portfolio_shows_progress_on_stderr_when_asked(tmp_path, monkeypatch, capsys):
    from pgen.runtime.strategies import branch_and_bound

    monkeypatch.setattr(branch_and_bound, "PROGRESS_AFTER", 0.0)
    net = netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 8, 8, 2], seed=1))
    (tmp_path / "p.vnnlib").write_text(PROP.format(c0=5.0, c1=-5.0))
    problem = load_vnnlib(tmp_path / "p.vnnlib", net)
    result = problem.solve(timeout=30, progress=True)
    assert result.termination == "infeasible" and result.backend == "input-bab"
    err = capsys.readouterr().err
    assert "branch and bound: input box proved safe" in err and "100.0 %" in err
    problem.solve(timeout=30)  # progress is off unless asked (library use stays quiet)
    assert capsys.readouterr().err == ""


def _cone_net(path, p):
    """y = -sum_i |x_i - p_i| as a ReLU network (relu(x - p) + relu(p - x) per input)."""
    from onnx import TensorProto, helper, numpy_helper

    n = len(p)
    W1, b1 = np.concatenate([np.eye(n), -np.eye(n)]), np.concatenate([-p, p])
    W2 = -np.ones((1, 2 * n))
    inits = [numpy_helper.from_array(a.astype(np.float32), name)
             for a, name in [(W1, "W1"), (b1, "b1"), (W2, "W2"), (np.zeros(1), "b2")]]
    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "W2", "b2"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "cone", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = netgen.write(path, model.SerializeToString())
    return path, [(W1, b1), (W2, np.zeros(1))]


def test_incumbent_descent_finds_an_unsafe_set_far_smaller_than_the_box(tmp_path, monkeypatch):
    # y >= -0.02 on [0, 1]^8: an L1 ball of radius 0.02 around an interior point p (volume
    # 0.04^8 / 8! ~ 2e-16 of the box), away from the box's centre and corners (which sampling
    # and the branch and bound's candidates try first)
    from pgen.runtime import input_bab

    p = np.array([0.618034, 0.314159, 0.271828, 0.707107, 0.577216, 0.41421, 0.69315, 0.14142])
    net, layers = _cone_net(tmp_path / "cone.onnx", p)
    clauses = [(np.array([[-1.0]]), np.zeros((1, 8)), np.array([-0.02]))]  # -y - 0.02 <= 0
    lo, hi = np.zeros(8), np.ones(8)
    assert sample_counterexample(clauses, str(net), lo, hi, points=100000, budget=60, layers=layers) is None
    seen = []
    verdict, x, boxes = input_branch_and_bound(clauses, layers, lo, hi, 60, incumbent=lambda x, v: seen.append((x, v)))
    assert verdict == "sat"
    assert run_network(str(net), x)[0] >= -0.02 - 1e-6  # the witness holds in onnxruntime's float32
    values = [v for _, v in seen]
    assert values == sorted(values, reverse=True) and len(set(values)) == len(values)  # each report an improvement
    assert values[-1] <= 0 and np.array_equal(seen[-1][0], x)
    # the descent is what finds it early: without it, the boxes must shrink around p first
    monkeypatch.setattr(input_bab, "DESCENT_STEPS", 0)
    verdict_plain, _, boxes_plain = input_branch_and_bound(clauses, layers, lo, hi, 60)
    assert boxes * 10 <= boxes_plain, (boxes, boxes_plain, verdict_plain)


def test_a_vnnlib_property_becomes_clauses_that_hold_where_every_atom_holds(tmp_path):
    """The clauses the searches see (read off the lowered spec) mean what the VNNLIB atoms say."""
    from pgen.runtime.clauses import clause_violation, violation

    rng = np.random.default_rng(1)  # a seed where each clause holds at some points, not all

    def atom():
        i, j = int(rng.integers(3)), int(rng.integers(2))
        a, b, c = (float(v) for v in rng.normal(size=3))
        op = str(rng.choice(["<=", ">="]))
        return (i, j, a, b, c, op), f"({op} (+ (* {a!r} X_{i}) (* {b!r} Y_{j}) {c!r}) 0)"

    disjuncts, rest = [[atom(), atom()], [atom()]], [atom()]
    text = "".join(f"(declare-const X_{i} Real)\n(assert (>= X_{i} -5))\n(assert (<= X_{i} 5))\n" for i in range(3))
    text += "(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n"
    text += "".join(f"(assert {t})\n" for _, t in rest)
    text += "(assert (or " + " ".join("(and " + " ".join(t for _, t in d) + ")" for d in disjuncts) + "))\n"
    (tmp_path / "p.vnnlib").write_text(text)
    net = netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 4, 2], seed=0))
    [region] = load_vnnlib(tmp_path / "p.vnnlib", net).net_property.regions
    np.testing.assert_allclose(region.lo, -5)
    np.testing.assert_allclose(region.hi, 5)
    x, y = rng.normal(size=(500, 3)), rng.normal(size=(500, 2))

    def holds(spec, k):
        i, j, a, b, c, op = spec
        v = a * x[k, i] + b * y[k, j] + c
        return v <= 0 if op == "<=" else v >= 0

    for clause, (d,) in zip(region.clauses, region.choices):
        want = np.array([all(holds(a, k) for a, _ in disjuncts[d] + rest) for k in range(500)])
        assert 0 < want.sum() < 500
        np.testing.assert_array_equal(clause_violation(clause, x, y) <= 0, want)
    v, which = violation(region.clauses, x, y)
    assert np.all(clause_violation(region.clauses[0], x, y)[which == 0] == v[which == 0])
