"""Small ONNX networks for specs, tests and benchmarks, built with onnx.helper.

These stand in for trained surrogates until `surrogate/` ships real ones.
Deterministic from a seed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _finish(nodes, inits, in_name, in_shape, out_name, out_shape, opset=13) -> bytes:
    from onnx import TensorProto, checker, helper

    graph = helper.make_graph(nodes, "pgen_net",
                              [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, list(in_shape))],
                              [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, list(out_shape))],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="pgen.netgen")
    model.ir_version = 8
    checker.check_model(model)
    return model.SerializeToString()


def relu_mlp(sizes, seed: int = 0, style: str = "gemm", scale: float = 1.0, batchnorm: bool = False,
             out_scale: float = 1.0) -> bytes:
    """A ReLU MLP sizes[0] -> ... -> sizes[-1]; style "gemm" (transB=1) or "matmul" (MatMul + Add)."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    cur = "x"
    for li in range(len(sizes) - 1):
        n_in, n_out = sizes[li], sizes[li + 1]
        W = (rng.standard_normal((n_out, n_in)) * scale / np.sqrt(n_in)).astype(np.float32)
        b = (rng.standard_normal(n_out) * 0.1).astype(np.float32)
        last = li == len(sizes) - 2
        if last:
            W *= np.float32(out_scale)
        if style == "gemm":
            inits += [numpy_helper.from_array(W, f"W{li}"), numpy_helper.from_array(b, f"b{li}")]
            nodes.append(helper.make_node("Gemm", [cur, f"W{li}", f"b{li}"], [f"g{li}"], transB=1))
        else:
            inits += [numpy_helper.from_array(W.T.copy(), f"W{li}"), numpy_helper.from_array(b, f"b{li}")]
            nodes.append(helper.make_node("MatMul", [cur, f"W{li}"], [f"m{li}"]))
            nodes.append(helper.make_node("Add", [f"m{li}", f"b{li}"], [f"g{li}"]))
        cur = f"g{li}"
        if batchnorm and not last:
            inits += [numpy_helper.from_array(rng.uniform(0.5, 1.5, n_out).astype(np.float32), f"bn_s{li}"),
                      numpy_helper.from_array(rng.uniform(-0.2, 0.2, n_out).astype(np.float32), f"bn_b{li}"),
                      numpy_helper.from_array(rng.uniform(-0.2, 0.2, n_out).astype(np.float32), f"bn_m{li}"),
                      numpy_helper.from_array(rng.uniform(0.5, 1.5, n_out).astype(np.float32), f"bn_v{li}")]
            nodes.append(helper.make_node("BatchNormalization", [cur, f"bn_s{li}", f"bn_b{li}", f"bn_m{li}", f"bn_v{li}"],
                                          [f"bn{li}"]))
            cur = f"bn{li}"
        if not last:
            nodes.append(helper.make_node("Relu", [cur], [f"r{li}"]))
            cur = f"r{li}"
    nodes.append(helper.make_node("Identity", [cur], ["y"]))
    return _finish(nodes, inits, "x", (1, sizes[0]), "y", (1, sizes[-1]))


def bnn(n_in: int, hidden, seed: int = 0, tie: str = "ge", out_scale: float = 1.0, out_bias: float = 0.0) -> bytes:
    """A binarized network on Boolean pixels: h = 2x - 1, blocks of +-1 MatMul, batch-norm and
    binarization (`Sign`, or `2*Cast(GreaterOrEqual(v,0))-1`), then a numeric Gemm output [1, 1]."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    inits += [numpy_helper.from_array(np.array(2.0, np.float32), "two"),
              numpy_helper.from_array(np.array(1.0, np.float32), "one"),
              numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
    nodes.append(helper.make_node("Mul", ["x", "two"], ["x2"]))
    nodes.append(helper.make_node("Sub", ["x2", "one"], ["h_in"]))
    cur, width = "h_in", n_in
    for li, n_out in enumerate(hidden):
        W = rng.choice([-1.0, 1.0], size=(width, n_out)).astype(np.float32)
        inits.append(numpy_helper.from_array(W, f"W{li}"))
        nodes.append(helper.make_node("MatMul", [cur, f"W{li}"], [f"s{li}"]))
        # batch-norm whose thresholds fall at varied places, some exactly on reachable values
        mean = rng.integers(-3, 4, n_out).astype(np.float32)
        inits += [numpy_helper.from_array(rng.choice([-1.0, 1.0], n_out).astype(np.float32) * rng.uniform(0.5, 2, n_out).astype(np.float32), f"bn_s{li}"),
                  numpy_helper.from_array(rng.uniform(-0.5, 0.5, n_out).astype(np.float32), f"bn_b{li}"),
                  numpy_helper.from_array(mean, f"bn_m{li}"),
                  numpy_helper.from_array(rng.uniform(0.5, 4, n_out).astype(np.float32), f"bn_v{li}")]
        nodes.append(helper.make_node("BatchNormalization", [f"s{li}", f"bn_s{li}", f"bn_b{li}", f"bn_m{li}", f"bn_v{li}"],
                                      [f"bn{li}"]))
        if tie == "sign":
            nodes.append(helper.make_node("Sign", [f"bn{li}"], [f"a{li}"]))
        else:
            nodes.append(helper.make_node("GreaterOrEqual", [f"bn{li}", "zero"], [f"ge{li}"]))
            nodes.append(helper.make_node("Cast", [f"ge{li}"], [f"c{li}"], to=TensorProto.FLOAT))
            nodes.append(helper.make_node("Mul", [f"c{li}", "two"], [f"c2{li}"]))
            nodes.append(helper.make_node("Sub", [f"c2{li}", "one"], [f"a{li}"]))
        cur, width = f"a{li}", n_out
    Wo = (rng.standard_normal((width, 1)) * out_scale / np.sqrt(width)).astype(np.float32)
    bo = np.array([out_bias], np.float32)
    inits += [numpy_helper.from_array(Wo, "Wo"), numpy_helper.from_array(bo, "bo")]
    nodes.append(helper.make_node("Gemm", [cur, "Wo", "bo"], ["y"]))
    return _finish(nodes, inits, "x", (1, n_in), "y", (1, 1))


def write(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
