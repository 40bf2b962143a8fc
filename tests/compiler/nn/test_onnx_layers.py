"""Every op of the importer's table, on networks exported by torch (both exporters) or made with
`onnx.helper` (older opsets, ops torch does not write): the imported layers reproduce
onnxruntime on fixed inputs, and the exact encoding's optimum over all 0/1 inputs equals the
brute-force optimum of onnxruntime's outputs on every backend that takes the model (HiGHS and
CBC; Z3 on the small ones; CP-SAT refuses real-valued models by name).
"""
from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from pgen.api import compile_string
from pgen.compiler.nn.forward import forward, plain_relu_layers
from pgen.compiler.nn.onnx_import import SUPPORTED, load_network
from pgen.compiler.nn.onnx_ops import ENCODINGS
from pgen.compiler.nn.session import run_batch
from pgen.core.errors import PgenError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning",
                                        "ignore::UserWarning")


# --- torch networks: (input shape, forward(x, m), modules)
def _torch_cases():
    torch = pytest.importorskip("torch")
    nn, F = torch.nn, torch.nn.functional
    img = (1, 1, 4, 4)
    return {
        "clip": ((1, 6), lambda x, m: m.out(torch.clamp(m.a(x), -0.3, 0.4)),
                 dict(a=nn.Linear(6, 4), out=nn.Linear(4, 2))),
        "clip_min_only": ((1, 6), lambda x, m: m.out(torch.clamp(m.a(x), min=-0.2)),
                          dict(a=nn.Linear(6, 4), out=nn.Linear(4, 2))),
        "hardtanh": ((1, 6), lambda x, m: m.out(F.hardtanh(m.a(x))), dict(a=nn.Linear(6, 4), out=nn.Linear(4, 2))),
        "leaky_relu": ((1, 6), lambda x, m: m.out(F.leaky_relu(m.a(x), 0.2)),
                       dict(a=nn.Linear(6, 4), out=nn.Linear(4, 2))),
        "prelu": ((1, 6), lambda x, m: m.out(m.p(m.a(x))),
                  dict(a=nn.Linear(6, 4), p=nn.PReLU(4, init=-0.3), out=nn.Linear(4, 2))),
        "max_min_tensors": ((1, 6), lambda x, m: m.out(torch.maximum(m.a(x), m.b(x)) - torch.minimum(m.a(x), 0.1 * m.b(x))),
                            dict(a=nn.Linear(6, 3), b=nn.Linear(6, 3), out=nn.Linear(3, 2))),
        "abs_neg_div": ((1, 6), lambda x, m: m.out(-torch.abs(m.a(x)) / 3.0), dict(a=nn.Linear(6, 4), out=nn.Linear(4, 2))),
        "residual": ((1, 6), lambda x, m: m.out(torch.relu(m.a(x)) + m.b(x)),
                     dict(a=nn.Linear(6, 4), b=nn.Linear(6, 4), out=nn.Linear(4, 2))),
        "concat_slice_split": ((1, 6), lambda x, m: m.out(torch.cat([torch.relu(m.a(x))[:, 1:4], *torch.split(m.b(x), 2, 1)[::-1]], 1)),
                               dict(a=nn.Linear(6, 5), b=nn.Linear(6, 4), out=nn.Linear(7, 2))),
        "squeeze_unsqueeze_transpose": ((1, 6), lambda x, m: m.out(torch.relu(m.a(x)).unsqueeze(2).transpose(1, 2).squeeze(1)),
                                        dict(a=nn.Linear(6, 4), out=nn.Linear(4, 2))),
        "conv_maxpool": (img, lambda x, m: m.out(torch.flatten(m.pool(torch.relu(m.c(x))), 1)),
                         dict(c=nn.Conv2d(1, 2, 3, padding=1), pool=nn.MaxPool2d(2), out=nn.Linear(8, 2))),
        "conv_stride_dilation_groups": (img, lambda x, m: m.out(torch.flatten(torch.relu(m.g(torch.relu(m.c(x)))), 1)),
                                        dict(c=nn.Conv2d(1, 4, 3, padding=2, dilation=2, bias=False),
                                             g=nn.Conv2d(4, 2, 2, stride=2, groups=2), out=nn.Linear(8, 2))),
        "maxpool_overlap_ceil": (img, lambda x, m: m.out(torch.flatten(F.max_pool2d(m.c(x), 3, stride=2, padding=1, ceil_mode=True), 1)),
                                 dict(c=nn.Conv2d(1, 1, 1), out=nn.Linear(9, 2))),
        "avgpool": (img, lambda x, m: m.out(torch.flatten(torch.relu(F.avg_pool2d(m.c(x), 3, stride=2, padding=1, count_include_pad=False)), 1)),
                    dict(c=nn.Conv2d(1, 2, 1), out=nn.Linear(8, 2))),
        "avgpool_include_pad_ceil": (img, lambda x, m: m.out(torch.flatten(torch.relu(F.avg_pool2d(m.c(x), 3, stride=2, padding=1, ceil_mode=True)), 1)),
                                     dict(c=nn.Conv2d(1, 1, 1), out=nn.Linear(9, 2))),
        "conv_transpose": (img, lambda x, m: m.out(torch.flatten(torch.relu(m.t(torch.relu(m.c(x)))), 1)),
                           dict(c=nn.Conv2d(1, 2, 2, stride=2), t=nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1, output_padding=1, groups=2),
                                out=nn.Linear(32, 2))),
        "pad_modes": (img, lambda x, m: m.out(torch.flatten(torch.relu(m.c(F.pad(F.pad(x, (1, 0, 0, 1), mode="reflect"), (1, 1, 0, 0), value=0.5))), 1)),
                      dict(c=nn.Conv2d(1, 1, 3), out=nn.Linear(15, 2))),
        "conv1d_global_pools": ((1, 2, 8), lambda x, m: m.out(torch.cat([torch.flatten(F.adaptive_max_pool1d(torch.relu(m.c(x)), 1), 1),
                                                                         torch.flatten(F.adaptive_avg_pool1d(m.c(x), 1), 1)], 1)),
                                dict(c=nn.Conv1d(2, 2, 3, stride=2), out=nn.Linear(4, 2))),
        "hardsigmoid_mean": ((1, 6), lambda x, m: m.out(F.hardsigmoid(m.a(x)).reshape(1, 2, 2).mean(2)),
                             dict(a=nn.Linear(6, 4), out=nn.Linear(2, 2))),
        "batchnorm_dropout": ((1, 6), lambda x, m: m.out(m.d(torch.relu(m.bn(m.a(x))))),
                              dict(a=nn.Linear(6, 4), bn=nn.BatchNorm1d(4), d=nn.Dropout(0.5), out=nn.Linear(4, 2))),
    }


def _export(name, tmp_path, dynamo=False, seed=0):
    torch = pytest.importorskip("torch")
    shape, fwd, modules = _torch_cases()[name]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for k, v in modules.items():
                setattr(self, k, v)

        def forward(self, x):
            return fwd(x, self)

    torch.manual_seed(seed)
    net = Net()
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, torch.nn.BatchNorm1d):
                mod.running_mean.copy_(torch.randn(mod.num_features))
                mod.running_var.copy_(torch.rand(mod.num_features) + 0.5)
    path = tmp_path / f"{name}{'_dynamo' if dynamo else ''}.onnx"
    kwargs = {} if dynamo else {"opset_version": 17}
    torch.onnx.export(net.eval(), (torch.zeros(shape),), str(path), dynamo=dynamo, **kwargs)
    return path, int(np.prod(shape))


def _check_forward(path, n_in, seed=1):
    """Imported layers (float64) vs onnxruntime on random inputs."""
    net = load_network(path)
    layers = plain_relu_layers(net)
    assert layers is not None, net.describe()
    X = np.random.default_rng(seed).uniform(-1.5, 1.5, (40, n_in)).astype(np.float32)
    want = run_batch(str(path), X).astype(np.float64)
    got = forward(layers, X.astype(np.float64))
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5 * (1 + np.abs(want).max()), (np.abs(got - want).max(), net.describe())
    return net


TORCH_CASES = ["clip", "clip_min_only", "hardtanh", "leaky_relu", "prelu", "max_min_tensors", "abs_neg_div",
               "residual", "concat_slice_split", "squeeze_unsqueeze_transpose", "conv_maxpool",
               "conv_stride_dilation_groups", "maxpool_overlap_ceil", "avgpool", "avgpool_include_pad_ceil",
               "conv_transpose", "pad_modes", "conv1d_global_pools", "hardsigmoid_mean", "batchnorm_dropout"]


@pytest.mark.parametrize("name", TORCH_CASES)
def test_torch_export_imports_exactly(tmp_path, name):
    path, n_in = _export(name, tmp_path)
    _check_forward(path, n_in)


@pytest.mark.parametrize("name", ["clip", "prelu", "max_min_tensors", "concat_slice_split", "conv_maxpool",
                                  "conv_transpose", "pad_modes", "avgpool_include_pad_ceil"])
def test_dynamo_export_imports_exactly(tmp_path, name):
    pytest.importorskip("onnxscript")
    path, n_in = _export(name, tmp_path, dynamo=True)
    _check_forward(path, n_in)


def _brute_force_max(path, n_in, c):
    X = np.array(list(itertools.product([0, 1], repeat=n_in)), np.float32)
    Y = run_batch(str(path), X).astype(np.float64)
    return float((Y @ c).max())


SOLVE_CASES = ["clip", "leaky_relu", "prelu", "max_min_tensors", "abs_neg_div", "residual", "concat_slice_split",
               "conv_maxpool", "maxpool_overlap_ceil", "avgpool", "conv_transpose", "pad_modes",
               "conv1d_global_pools", "hardsigmoid_mean"]


@pytest.mark.parametrize("name", SOLVE_CASES)
def test_exact_optimum_equals_brute_force(tmp_path, name):
    """max c . f(p) over p in {0,1}^n: each backend's verified optimum is the brute-force one, and
    onnxruntime at the decoded input gives the reported objective."""
    path, n_in = _export(name, tmp_path)
    c = np.array([1.0, -0.5])
    best = _brute_force_max(path, n_in, c)
    spec = (f"var p : bool[{n_in}]\nnet f = network \"{path.name}\"\n"
            "maximize f(p)[0] - 0.5 * f(p)[1]\n")
    problem = compile_string(spec, base_dir=tmp_path, name=f"{name}.pgen")
    answered = []
    for backend in ("highs", "cbc", "z3", "cpsat"):
        try:
            result = problem.solve(backend=backend, timeout=60)
        except PgenError as e:
            assert backend in ("z3", "cpsat") and e.code == "E030", e.render()
            continue
        assert result.termination == "optimal" and result.verified, (backend, result.termination, result.message)
        assert result.objective == pytest.approx(best, abs=1e-5), backend
        p = np.asarray(result.values["p"], np.float32)[None, :]
        at = float(run_batch(str(path), p).astype(np.float64)[0] @ c)
        assert at == pytest.approx(result.objective, abs=1e-5), backend
        assert result.bound is None or result.bound >= best - 1e-5
        answered.append(backend)
    assert {"highs", "cbc"} <= set(answered)


# --- onnx.helper networks: older opsets and ops torch does not write
def _helper_model(nodes, inits, in_shape, out_name, opset, tmp_path, name):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v, np.float32 if np.asarray(v).dtype.kind == "f" else np.int64), k)
         for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 8)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def _helper_cases():
    from onnx import helper
    rng = np.random.default_rng(3)
    W1 = rng.normal(size=(6, 4))
    W2 = rng.normal(size=(4, 2))
    mk = helper.make_node
    return {
        # opset 6: Clip's bounds and Pad's pads are attributes; Slice (opset 9) and Squeeze (11) too
        "clip_attrs_opset6": (6, (1, 6), [mk("MatMul", ["x", "W1"], ["h"]), mk("Clip", ["h"], ["c"], min=-0.2, max=0.3),
                                          mk("MatMul", ["c", "W2"], ["y"])], dict(W1=W1, W2=W2)),
        "pad_slice_attrs_opset9": (9, (1, 6), [mk("MatMul", ["x", "W1"], ["h"]), mk("Relu", ["h"], ["r"]),
                                               mk("Pad", ["r"], ["p"], pads=[0, 1, 0, 2], value=0.25),
                                               mk("Slice", ["p"], ["s"], starts=[1], ends=[6], axes=[1]),
                                               mk("MatMul", ["s", "W5"], ["y"])], dict(W1=W1, W5=rng.normal(size=(5, 2)))),
        "split_squeeze_attrs_opset11": (11, (1, 6), [mk("MatMul", ["x", "W1"], ["h"]),
                                                     mk("Split", ["h"], ["a", "b"], axis=1, split=[1, 3]),
                                                     mk("Unsqueeze", ["a"], ["a3"], axes=[0]), mk("Squeeze", ["a3"], ["a2"], axes=[0]),
                                                     mk("Max", ["a2", "b", "k"], ["m"]), mk("MatMul", ["m", "W3"], ["y"])],
                                        dict(W1=W1, k=np.float32(0.1), W3=rng.normal(size=(3, 2)))),
        "dropout_identity_sum_mean_min": (13, (1, 6), [mk("MatMul", ["x", "W1"], ["h"]), mk("Dropout", ["h"], ["d"]),
                                                       mk("Identity", ["d"], ["i"]), mk("Min", ["i", "h", "k"], ["m"]),
                                                       mk("Sum", ["m", "h"], ["s"]), mk("Mean", ["s", "k"], ["e"]),
                                                       mk("MatMul", ["e", "W2"], ["y"])],
                                          dict(W1=W1, W2=W2, k=np.full((1, 4), 0.2, np.float32))),
        "gemm_transA_bias_free": (13, (6, 1), [mk("Gemm", ["x", "W1t"], ["h"], transA=1, transB=1, alpha=0.5),
                                               mk("LeakyRelu", ["h"], ["r"], alpha=-0.4),
                                               mk("Gemm", ["r", "W2"], ["y"], beta=2.0)],
                                  dict(W1t=W1.T, W2=W2)),
        "reduce_sum_global_maxpool": (13, (1, 1, 2, 3), [mk("Relu", ["x"], ["r"]), mk("GlobalMaxPool", ["r"], ["g"]),
                                                         mk("ReduceSum", ["x", "ax"], ["s"], keepdims=1),
                                                         mk("Concat", ["g", "s"], ["c"], axis=1), mk("Flatten", ["c"], ["f"]),
                                                         mk("MatMul", ["f", "W"], ["y"])],
                                      dict(ax=np.array([2, 3], np.int64), W=rng.normal(size=(2, 2)))),
        "conv_transpose_same_upper": (13, (1, 1, 2, 3), [mk("ConvTranspose", ["x", "K"], ["t"], strides=[2, 2], auto_pad="SAME_UPPER"),
                                                         mk("Relu", ["t"], ["r"]),
                                                         mk("AveragePool", ["r"], ["a"], kernel_shape=[2, 2], strides=[2, 1], pads=[0, 1, 1, 0]),
                                                         mk("Flatten", ["a"], ["f"]), mk("MatMul", ["f", "W"], ["y"])],
                                      dict(K=rng.normal(size=(1, 2, 3, 3)), W=rng.normal(size=(24, 2)))),
        "maxpool_dilation_edge_pad": (18, (1, 1, 4, 4), [mk("Pad", ["x", "pads"], ["p"], mode="edge"),
                                                         mk("MaxPool", ["p"], ["m"], kernel_shape=[2, 2], dilations=[2, 2], strides=[1, 2]),
                                                         mk("Flatten", ["m"], ["f"]), mk("MatMul", ["f", "W"], ["y"])],
                                      dict(pads=np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64), W=rng.normal(size=(6, 2)))),
        # what tf2onnx writes for a Keras model: NHWC input, Transposes around Conv, a Reshape
        # whose target shape is computed from Shape(activation) at run time, MatMul then Add
        "tf2onnx_style_nhwc": (13, (1, 4, 4, 1), [mk("Transpose", ["x"], ["xc"], perm=[0, 3, 1, 2]),
                                                  mk("Conv", ["xc", "K2", "kb"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                                                  mk("Relu", ["c"], ["r"]), mk("Transpose", ["r"], ["rh"], perm=[0, 2, 3, 1]),
                                                  mk("Shape", ["rh"], ["shp"]),
                                                  mk("Gather", ["shp", "zero"], ["batch"], axis=0),
                                                  mk("Unsqueeze", ["batch", "zero1"], ["b1"]),
                                                  mk("Concat", ["b1", "minus1"], ["target"], axis=0),
                                                  mk("Reshape", ["rh", "target"], ["flat"]),
                                                  mk("MatMul", ["flat", "W"], ["m"]), mk("Add", ["m", "bias"], ["y"])],
                               dict(K2=rng.normal(size=(2, 1, 3, 3)), kb=rng.normal(size=2), zero=np.array(0, np.int64),
                                    zero1=np.array([0], np.int64), minus1=np.array([-1], np.int64),
                                    W=rng.normal(size=(32, 2)), bias=rng.normal(size=2))),
        # a flatten whose length comes from Size(activation): [1, Size(r)]
        "size_reshape": (13, (1, 6), [mk("MatMul", ["x", "W1"], ["h"]), mk("Relu", ["h"], ["r"]),
                                      mk("Size", ["r"], ["n"]), mk("Unsqueeze", ["n", "zero1"], ["n1"]),
                                      mk("Concat", ["one", "n1"], ["target"], axis=0),
                                      mk("Reshape", ["r", "target"], ["f"]), mk("MatMul", ["f", "W2"], ["y"])],
                         dict(W1=W1, W2=W2, zero1=np.array([0], np.int64), one=np.array([1], np.int64))),
    }


@pytest.mark.parametrize("name", ["tf2onnx_style_nhwc", "size_reshape", "clip_attrs_opset6", "pad_slice_attrs_opset9", "split_squeeze_attrs_opset11",
                                  "dropout_identity_sum_mean_min", "gemm_transA_bias_free",
                                  "reduce_sum_global_maxpool", "conv_transpose_same_upper", "maxpool_dilation_edge_pad"])
def test_helper_graphs_import_exactly_and_solve(tmp_path, name):
    opset, in_shape, nodes, inits = _helper_cases()[name]
    path = _helper_model(nodes, inits, in_shape, "y", opset, tmp_path, name)
    n_in = int(np.prod(in_shape))
    _check_forward(path, n_in)
    c = np.array([1.0, -0.5])
    best = _brute_force_max(path, n_in, c)
    problem = compile_string(f"var p : bool[{n_in}]\nnet f = network \"{path.name}\"\n"
                             "maximize f(p)[0] - 0.5 * f(p)[1]\n", base_dir=tmp_path, name=f"{name}.pgen")
    for backend in ("highs", "cbc"):
        result = problem.solve(backend=backend, timeout=60)
        assert result.termination == "optimal" and result.verified, backend
        assert result.objective == pytest.approx(best, abs=1e-5), backend


def test_carried_values_after_a_relu_cost_no_binary(tmp_path):
    """MaxPool of ReLU outputs: max(a, b) = b + relu(a - b) carries b >= 0 as one stably active unit,
    so a 2x2 pool of four values needs three unstable units (pairs), not more."""
    path, _ = _export("conv_maxpool", tmp_path)
    net = load_network(path)
    dims = [layer.W.shape[0] for layer in net.layers if hasattr(layer, "W")]
    # conv (2 x 16 units), then two pair levels: 2 x 4 windows x (2 pairs + 2 carried), 2 x 4 x (1 + 1)
    assert dims == [32, 32, 16, 2], dims


@pytest.mark.parametrize("op", ["Tanh", "Sigmoid", "Softmax"])
def test_smooth_activation_refused_with_node_file_and_hint(tmp_path, op):
    from onnx import helper
    mk = helper.make_node
    extra = {"axis": 1} if op == "Softmax" else {}
    nodes = [mk("MatMul", ["x", "W"], ["h"]), mk(op, ["h"], ["y"], name="act1", **extra)]
    path = _helper_model(nodes, {"W": np.ones((3, 2))}, (1, 3), "y", 13, tmp_path, "smooth")
    with pytest.raises(PgenError) as info:
        load_network(path, display="nets/smooth.onnx")
    text = info.value.render()
    assert info.value.code == "E021"
    assert re.search(rf"nets/smooth\.onnx \(node `act1`, op {op}\): `{op}` is a smooth activation", text), text
    assert "piecewise-linear" in text and ("logits" in text or "Hard" in text), text


def test_unknown_op_lists_the_supported_ones(tmp_path):
    from onnx import helper
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Floor", ["h"], ["y"], name="fl")]
    path = _helper_model(nodes, {"W": np.ones((3, 2))}, (1, 3), "y", 13, tmp_path, "floor")
    with pytest.raises(PgenError) as info:
        load_network(path, display="nets/floor.onnx")
    text = info.value.render()
    assert "nets/floor.onnx (node `fl`, op Floor): unsupported operation `Floor`" in text
    assert "MaxPool" in text and "ConvTranspose" in text


def test_product_of_two_activations_is_refused(tmp_path):
    from onnx import helper
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Mul", ["h", "h"], ["y"], name="sq")]
    path = _helper_model(nodes, {"W": np.ones((3, 2))}, (1, 3), "y", 13, tmp_path, "square")
    with pytest.raises(PgenError, match=r"node `sq`, op Mul\): product of two activations"):
        load_network(path)


def test_table_lists_every_supported_op():
    assert set(SUPPORTED) == set(ENCODINGS)
    for op in ["Clip", "LeakyRelu", "PRelu", "Max", "Min", "MaxPool", "AveragePool", "Conv", "ConvTranspose", "Pad",
               "Concat", "Slice", "Split", "Squeeze", "Unsqueeze", "Div", "Neg", "Dropout", "Identity"]:
        assert op in ENCODINGS, op


def test_readme_table_lists_every_supported_op():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    missing = [op for op in ENCODINGS if f"| `{op}` | {ENCODINGS[op]} |" not in readme]
    assert not missing, f"README's op table lacks {missing}"


def _helper_path(tmp_path, name, nodes, inits, in_shape, opset=13):
    return _helper_model(nodes, inits, in_shape, "y", opset, tmp_path, name)


def test_where_then_binarization_is_refused(tmp_path):
    """Where(v >= 0, 1, -1) then Sign straight away: the graph's float32 tail cannot be replayed
    (the Where's affine map would be lost), so it is refused rather than misread."""
    from onnx import helper
    mk = helper.make_node
    nodes = [mk("MatMul", ["x", "W"], ["h"]), mk("GreaterOrEqual", ["h", "z"], ["g"]),
             mk("Where", ["g", "one", "minus"], ["w"]), mk("Sign", ["w"], ["y"], name="sign2")]
    path = _helper_path(tmp_path, "where_sign", nodes, {"W": np.array([[1.0, -1.0], [1.0, 1.0]]), "z": np.float32(0),
                                                        "one": np.float32(1), "minus": np.float32(-1)}, (1, 2))
    with pytest.raises(PgenError, match=r"node `sign2`, op Sign\): a binarization must follow"):
        load_network(path)


def test_same_pooling_with_dilation_is_refused(tmp_path):
    from onnx import helper
    nodes = [helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[3, 2], dilations=[2, 1],
                              auto_pad="SAME_UPPER")]
    path = _helper_path(tmp_path, "same_dil", nodes, {}, (1, 1, 7, 6))
    with pytest.raises(PgenError, match=r"auto_pad SAME and dilation > 1"):
        load_network(path)


def test_conv_transpose_kernel_smaller_than_stride(tmp_path):
    """SAME with a kernel smaller than the stride: no negative padding (as onnxruntime); an
    output_shape beyond the full output is refused."""
    from onnx import helper
    K = np.random.default_rng(5).normal(size=(2, 3, 2, 2))
    for pad in ("SAME_UPPER", "SAME_LOWER"):
        nodes = [helper.make_node("ConvTranspose", ["x", "K"], ["y"], strides=[2, 3], auto_pad=pad)]
        _check_forward(_helper_path(tmp_path, f"ct_{pad}", nodes, {"K": K}, (1, 2, 4, 5)), 40)
    nodes = [helper.make_node("ConvTranspose", ["x", "K"], ["y"], strides=[2, 3], output_shape=[10, 16])]
    with pytest.raises(PgenError, match=r"output_shape \[10, 16\] is larger than the full output"):
        load_network(_helper_path(tmp_path, "ct_big", nodes, {"K": K}, (1, 2, 4, 5)))


def test_a_relu_output_carried_through_a_layer_needs_no_binary(tmp_path):
    """r = relu(x W1) is still needed after q = relu(r W2): it is carried as relu(r) = r, which
    the encoder sees as stably active (a sum of non-negative terms), so it adds no binary."""
    from onnx import helper
    mk = helper.make_node
    rng = np.random.default_rng(8)
    nodes = [mk("MatMul", ["x", "W1"], ["h"]), mk("Relu", ["h"], ["r"]), mk("MatMul", ["r", "W2"], ["g"]),
             mk("Relu", ["g"], ["q"]), mk("Concat", ["q", "r"], ["c"], axis=1), mk("MatMul", ["c", "W3"], ["y"])]
    path = _helper_path(tmp_path, "carry", nodes, {"W1": rng.normal(size=(3, 4)), "W2": rng.normal(size=(4, 5)),
                                                   "W3": rng.normal(size=(9, 2))}, (1, 3))
    _check_forward(path, 3)
    problem = compile_string(f'var x : real[3] in [-1, 1]\nnet f = network "{path.name}"\nmaximize f(x)[0]\n'
                             "solve bounds interval\n", base_dir=tmp_path)
    notes = [n for n in problem.model.notes if "relu3" in n]
    assert notes and "4 stably active" in notes[0], problem.model.notes


def test_binarization_after_per_channel_constants_is_refused(tmp_path):
    """Batch-norm over the channels of a 4-D activation, then Sign: its float32 tail cannot be
    replayed on flat rows, so the import refuses (it used to fail later, inside onnxruntime)."""
    from onnx import helper
    nodes = [helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["n"]),
             helper.make_node("Sign", ["n"], ["y"], name="sgn")]
    inits = {"g": np.ones(3), "b": np.zeros(3), "m": np.zeros(3), "v": np.ones(3)}  # `v`: a name the tail must not clash with
    path = _helper_path(tmp_path, "bn4d", nodes, inits, (1, 3, 2, 2))
    with pytest.raises(PgenError, match=r"node `sgn`, op Sign\): a binarization must follow"):
        load_network(path)
