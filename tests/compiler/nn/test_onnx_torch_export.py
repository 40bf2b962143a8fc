"""BNNs as users write and export them from PyTorch import exactly.

A module that binarizes real weights in `forward` exports `Sign`/`Transpose` (or
`GreaterOrEqual`/`Where`) on initializers, `Mul`/`Sub` for the input `2x - 1`, batch-norm, a
binarizing activation in one of several spellings and a real final `Linear`. For each
spelling and exporter, on random binary cells: the imported layers evaluated in NumPy and the
exact encoding (its IR evaluated directly) reproduce onnxruntime, and CP-SAT's minimum over all
2^16 cells equals the brute-force minimum over onnxruntime's outputs.
"""
from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from pgen.api import compile_string
from pgen.compiler import ir
from pgen.compiler.nn.network import Dense, ScaledStep, Step
from pgen.compiler.nn.onnx_import import load_network
from pgen.compiler.nn.session import run_batch
from pgen.core.errors import PgenError

N_IN = 16
# the legacy exporter warns that it is deprecated; it is the one users of older torch have
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ALL_CELLS = np.array(list(itertools.product([0, 1], repeat=N_IN)), np.float32)


def _torch_bnn(spelling: str, seed: int):
    """16 -> 8 -> 6 binarized (weights binarized in forward), batch-norm, then a real Linear(6, 1)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class SignSTE(torch.autograd.Function):  # straight-through estimator: sign forward, identity backward
        @staticmethod
        def forward(ctx, v):
            return torch.sign(v)

        @staticmethod
        def backward(ctx, grad):
            return grad

    binarize = {"sign": torch.sign,
                "ste": SignSTE.apply,
                "where": lambda v: torch.where(v >= 0, 1.0, -1.0)}[spelling]

    class BinLinear(nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(n_out, n_in))

        def forward(self, h):
            return nn.functional.linear(h, binarize(self.weight))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.bn1 = BinLinear(N_IN, 8), nn.BatchNorm1d(8)
            self.l2, self.bn2 = BinLinear(8, 6), nn.BatchNorm1d(6)
            self.out = nn.Linear(6, 1)

        def forward(self, x):
            h = 2 * x - 1
            a = binarize(self.bn1(self.l1(h)))
            a = binarize(self.bn2(self.l2(a)))
            return self.out(a)

    torch.manual_seed(seed)
    net = Net()
    with torch.no_grad():
        for bn in (net.bn1, net.bn2):  # thresholds anywhere, some neurons decreasing (scale < 0)
            n = bn.num_features
            bn.weight.copy_(torch.randn(n))
            bn.bias.copy_(torch.randn(n))
            bn.running_mean.copy_(3 * torch.randn(n))
            bn.running_var.copy_(torch.rand(n) + 0.5)
    return torch, net.eval()


def _export(spelling: str, exporter: str, path, seed: int = 0):
    torch, net = _torch_bnn(spelling, seed)
    # a free batch dimension lets onnxruntime run all 2^16 cells at once
    if exporter == "dynamo":
        pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript, which is not installed")
        torch.onnx.export(net, (torch.zeros(2, N_IN),), str(path), dynamo=True, verbose=False,
                          input_names=["x"], output_names=["y"],
                          dynamic_shapes=({0: torch.export.Dim("batch")},))
    else:
        torch.onnx.export(net, (torch.zeros(1, N_IN),), str(path), dynamo=False,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}})
    return path


def _layers_forward(net, X: np.ndarray) -> np.ndarray:
    """The imported layers in float64 NumPy; binarized layers decide through their own `decide`."""
    from pgen.compiler.nn.net_check import evaluate_layers

    return evaluate_layers(net, X)


def _encoding_outputs(problem, cells: np.ndarray) -> np.ndarray:
    """The objective of the encoded model with `p` fixed to each cell, every binarized neuron
    decided by its reified row (the whole model is those rows: checked below)."""
    model = problem.model
    assert all(isinstance(c, ir.ReifiedCon) for c in model.constraints)
    base = problem.var_base["p"]
    out = []
    for bits in cells:
        values = np.zeros(len(model.vars))
        values[base: base + N_IN] = bits
        for c in model.constraints:  # in layer order
            s = c.expr.value(values)
            values[c.b] = float(s >= c.rhs if c.sense == ir.GE else s <= c.rhs)
        out.append(model.objective.expr.value(values))
    return np.array(out)


def _check_network(path, tmp_path, step_type):
    net = load_network(path)
    assert [type(layer) for layer in net.layers] == [step_type, step_type, Dense], net.describe()
    rng = np.random.default_rng(7)
    cells = rng.integers(0, 2, (40, N_IN)).astype(np.float32)
    want = run_batch(str(path), cells)[:, 0].astype(np.float64)
    np.testing.assert_allclose(_layers_forward(net, cells)[:, 0], want, rtol=1e-5, atol=1e-5)

    problem = compile_string(f'var p : bool[{N_IN}]\nnet g = network "{path.name}"\nminimize g(p)\n',
                             base_dir=tmp_path)
    np.testing.assert_allclose(_encoding_outputs(problem, cells), want, rtol=1e-5, atol=1e-5)

    # CP-SAT's optimum over all 2^16 cells is the brute-force minimum of onnxruntime's outputs
    brute = run_batch(str(path), ALL_CELLS)[:, 0]
    result = problem.solve(backend="cpsat", timeout=60)
    assert result.termination == "optimal" and result.verified, result.summary()
    assert abs(result.objective - float(brute.min())) <= 1e-5 * max(1.0, abs(float(brute.min())))


@pytest.mark.parametrize("exporter", ["legacy", "dynamo"])
@pytest.mark.parametrize("spelling", ["sign", "ste", "where"])
def test_torch_export_matches_onnxruntime(tmp_path, spelling, exporter):
    path = _export(spelling, exporter, tmp_path / f"{spelling}.onnx", seed=["sign", "ste", "where"].index(spelling))
    # the legacy exporter keeps batch-norm apart (the +-1 sum is exact); the dynamo exporter
    # folds it into the weights (real multiples of +-1, decided with a rounding bound)
    _check_network(path, tmp_path, Step if exporter == "legacy" else ScaledStep)


def _folded_graph(path, scales, bias, seed=0):
    """What the dynamo exporter writes: `2x - 1`, then Gemm(h, scale_k * sign(W_k), bias), Sign,
    and a real output Gemm; built here so that it needs no onnxscript."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    n_hidden = len(scales)
    W = (np.asarray(scales, np.float32)[:, None] * rng.choice([-1.0, 1.0], (n_hidden, N_IN))).astype(np.float32)
    inits = [numpy_helper.from_array(np.array(2.0, np.float32), "two"),
             numpy_helper.from_array(np.array(1.0, np.float32), "one"),
             numpy_helper.from_array(W, "w1"), numpy_helper.from_array(np.asarray(bias, np.float32), "b1"),
             numpy_helper.from_array(rng.normal(size=(1, n_hidden)).astype(np.float32), "wo"),
             numpy_helper.from_array(np.array([0.25], np.float32), "bo")]
    nodes = [helper.make_node("Mul", ["x", "two"], ["mul"]), helper.make_node("Sub", ["mul", "one"], ["h"]),
             helper.make_node("Gemm", ["h", "w1", "b1"], ["s"], transB=1, name="gemm1"),
             helper.make_node("Sign", ["s"], ["a"], name="sign1"),
             helper.make_node("Gemm", ["a", "wo", "bo"], ["y"], transB=1, name="out")]
    graph = helper.make_graph(nodes, "folded", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, N_IN])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    return path


def test_folded_batch_norm_matches_onnxruntime(tmp_path):
    rng = np.random.default_rng(3)
    path = _folded_graph(tmp_path / "folded.onnx", rng.uniform(0.1, 2.0, 8), rng.normal(scale=3.0, size=8))
    net = load_network(path)
    assert isinstance(net.layers[0], ScaledStep)
    cells = rng.integers(0, 2, (40, N_IN)).astype(np.float32)
    want = run_batch(str(path), cells)[:, 0].astype(np.float64)
    np.testing.assert_allclose(_layers_forward(net, cells)[:, 0], want, rtol=1e-5, atol=1e-5)
    problem = compile_string(f'var p : bool[{N_IN}]\nnet g = network "folded.onnx"\nminimize g(p)\n',
                             base_dir=tmp_path)
    np.testing.assert_allclose(_encoding_outputs(problem, cells), want, rtol=1e-5, atol=1e-5)


def test_folded_threshold_within_rounding_is_refused(tmp_path):
    """Scale 0.1 and bias 0: the sum of eight +0.1 and eight -0.1 is 0 only up to float32
    rounding, in an order only onnxruntime knows; the encoder refuses rather than guess."""
    path = _folded_graph(tmp_path / "tie.onnx", [0.1] * 8, [0.0] * 8)
    problem = compile_string(f'var p : bool[{N_IN}]\nnet g = network "tie.onnx"\nminimize g(p)\n',
                             base_dir=tmp_path)
    with pytest.raises(PgenError, match=r"tie\.onnx \(node `sign1`\).*summation order") as info:
        problem.model
    assert info.value.code == "E021"


def test_refused_graph_names_node_and_file(tmp_path):
    """The straight-through trick `v + (sign(v) - v).detach()` is not a chain (and in float32
    not exactly sign(v)): refused at the binarization, naming the node and the file."""
    torch = pytest.importorskip("torch")

    class DetachSTE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l = torch.nn.Linear(4, 3)

        def forward(self, x):
            w = self.l.weight
            v = torch.nn.functional.linear(2 * x - 1, w + (torch.sign(w) - w).detach())
            return v + (torch.sign(v) - v).detach()

    path = tmp_path / "detach.onnx"
    torch.onnx.export(DetachSTE().eval(), (torch.zeros(1, 4),), str(path), dynamo=False)
    with pytest.raises(PgenError) as info:
        load_network(path, display="nets/detach.onnx")
    err = info.value
    assert err.code == "E021"
    assert re.search(r"nets/detach\.onnx \(node `/Sign_\d+`, op Sign\): a binarized layer inside a branching graph",
                     str(err)), str(err)


def test_weights_in_an_external_data_file(tmp_path):
    """The dynamo exporter keeps weights in `NAME.onnx.data` beside the model: they are read from
    there (not from the working directory), and a missing one is named."""
    import onnx

    rng = np.random.default_rng(5)
    built = _folded_graph(tmp_path / "built.onnx", rng.uniform(0.5, 1.5, 4), rng.normal(size=4))
    path = tmp_path / "ext.onnx"
    onnx.save(onnx.load(str(built)), str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.onnx.data", size_threshold=0)
    net = load_network(path)
    cells = rng.integers(0, 2, (20, N_IN)).astype(np.float32)
    np.testing.assert_allclose(_layers_forward(net, cells)[:, 0], run_batch(str(path), cells)[:, 0],
                               rtol=1e-5, atol=1e-5)
    (tmp_path / "ext.onnx.data").unlink()
    missing = r"error\[E020\]: nets/ext\.onnx: the weights file `ext\.onnx\.data` it refers to is missing"
    with pytest.raises(PgenError, match=missing):
        load_network(path, display="nets/ext.onnx")
