"""Input-space branch and bound agrees with the exact MILP on random properties."""
from __future__ import annotations

import numpy as np
import pytest

from pgen import netgen
from pgen.api import load_vnnlib
from pgen.dsl.vnnlib import split_box
from pgen.runtime.falsify import gradient_counterexample
from pgen.runtime.input_bab import forward, input_branch_and_bound, layer_bounds, plain_relu_layers
from pgen.compiler.nn.session import run_network

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
    prop, _ = problem.vnnlib
    lo, hi, rest = split_box(prop)
    verdict, x, _ = input_branch_and_bound(prop, plain_relu_layers(problem.checked.nets["net"]), lo, hi, rest, 60)
    exact = problem.solve(backend="highs", timeout=60)
    assert exact.termination in ("optimal", "infeasible")
    if verdict == "unknown":  # allowed (a sliver of unsafe set below the split limit), never wrong
        return
    assert (verdict == "sat") == (exact.termination == "optimal"), (verdict, exact.termination, c0, c1)
    if verdict == "sat":
        y = run_network(str(net), x)
        assert y[0] - y[1] >= c0 - 1e-5 or y[1] <= c1 + 1e-5


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
    """(network path, property, plain layers, box lo, hi, rest) for x in [-1, 1] on `_identity_net`."""
    net = _identity_net(tmp_path / "id.onnx")
    (tmp_path / "p.vnnlib").write_text("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n"
                                       "(declare-const Y_1 Real)\n(assert (>= X_0 -1))\n(assert (<= X_0 1))\n"
                                       + asserts)
    problem = load_vnnlib(tmp_path / "p.vnnlib", net)
    prop, _ = problem.vnnlib
    lo, hi, rest = split_box(prop)
    return net, prop, plain_relu_layers(problem.checked.nets["net"]), lo, hi, rest


def test_a_combination_of_atoms_proves_what_no_single_atom_can(tmp_path):
    # y0 <= -0.1 and y1 <= -0.1, i.e. x <= -0.1 and x >= 0.1: empty, but each atom alone
    # holds somewhere in [-1, 1]; their sum (y0 + y1 + 0.2 = 0.2 > 0) rules the box out at once
    _, prop, layers, lo, hi, rest = _identity_property(tmp_path, "(assert (<= Y_0 -0.1))\n(assert (<= Y_1 -0.1))\n")
    verdict, _, boxes = input_branch_and_bound(prop, layers, lo, hi, rest, 10)
    assert verdict == "unsat" and boxes == 1


def test_gradient_descent_finds_a_small_unsafe_set(tmp_path):
    # y0 >= 0.999 needs x >= 0.999: 0.05 % of the box, which 50 random points miss
    net, prop, layers, lo, hi, rest = _identity_property(tmp_path, "(assert (>= Y_0 0.999))\n")
    x = gradient_counterexample(prop, layers, lo, hi, rest, budget=5.0, points=8, pool=50)
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
    from pgen.runtime.input_bab import FINAL_MODES, _backward, _relax, optimised_slope_bound

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
        low, _ = _backward(C, layers, len(layers) - 1, pre, los, his, mode=mode)
        assert np.all(low <= true_min + 1e-9), mode
    adaptive, _ = _backward(C, layers, len(layers) - 1, pre, los, his)
    gained = 0
    for r in range(len(C)):
        rows = np.repeat(C[r][None], len(los), axis=0)
        start = [_relax(l, u)[0] for l, u in pre]
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
        prop, _ = problem.vnnlib
        lo, hi, rest = split_box(prop)
        reports = []
        verdict, _, boxes = input_branch_and_bound(prop, plain_relu_layers(problem.checked.nets["net"]), lo, hi,
                                                   rest, 60, progress=lambda b, share: reports.append((b, share)))
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
    from pgen.runtime import solve as solve_module

    monkeypatch.setattr(solve_module, "PROGRESS_AFTER", 0.0)
    net = netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([3, 8, 8, 2], seed=1))
    (tmp_path / "p.vnnlib").write_text(PROP.format(c0=5.0, c1=-5.0))
    problem = load_vnnlib(tmp_path / "p.vnnlib", net)
    result = problem.solve(timeout=30, progress=True)
    assert result.termination == "infeasible" and result.backend == "input-bab"
    err = capsys.readouterr().err
    assert "branch and bound: input box proved safe" in err and "100.0 %" in err
    problem.solve(timeout=30)  # progress is off unless asked (library use stays quiet)
    assert capsys.readouterr().err == ""
