"""Trained surrogates to ONNX, built node by node with onnx.helper (no torch needed), in
the forms the compiler imports.

The porous I/O convention (every porous surrogate): input `cell`, float32 [1, 256],
row-major 16x16, pixel 1.0 = solid, 0.0 = void; output `d`, float32 [1, 1], the
coefficient in quantised units (100 x D_xx, 40..100). A network that wants +-1 inputs
computes them inside the graph (2x - 1).

- binarized: h = 2x - 1; three blocks MatMul(W in {-1, +1}) -> BatchNormalization ->
  Sign; output MatMul(W in {-1, +1}) -> Mul(scale) -> Add(bias).
- ReLU: Gemm(transB=1) -> Relu blocks; output Gemm. With batch norm: Gemm ->
  BatchNormalization -> Relu blocks (the importer folds each into its Gemm's affine map).
"""
from __future__ import annotations

import numpy as np

CONVENTION = ("input `cell` float32 [1, 256], row-major 16x16, 1.0 = solid, 0.0 = void; "
              "output `d` float32 [1, 1] = 100 x D_xx (quantised units 40..100)")


def _model(nodes, inits, n_in: int, doc: str, n_out: int = 1, names=("cell", "d"),
           graph_name: str = "pgen_porous_surrogate", convention: str = CONVENTION) -> bytes:
    from onnx import TensorProto, checker, helper

    graph = helper.make_graph(nodes, graph_name,
                              [helper.make_tensor_value_info(names[0], TensorProto.FLOAT, [1, n_in])],
                              [helper.make_tensor_value_info(names[1], TensorProto.FLOAT, [1, n_out])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="pgen.surrogate", doc_string=doc)
    model.ir_version = 8
    helper.set_model_props(model, {"convention": convention})
    checker.check_model(model)
    return model.SerializeToString()


def bnn_onnx(blocks, w_out, scale: float, bias: float, n_in: int, doc: str = "") -> bytes:
    """blocks: [(W [in, out] in {-1, +1}, gamma, beta, mean, var, eps)]; w_out [width, 1]."""
    from onnx import helper, numpy_helper

    f32 = lambda a, name: numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)  # noqa: E731
    inits = [f32(2.0, "two"), f32(1.0, "one")]
    nodes = [helper.make_node("Mul", ["cell", "two"], ["cell2"]),
             helper.make_node("Sub", ["cell2", "one"], ["h0"])]
    cur = "h0"
    for k, (W, gamma, beta, mean, var, eps) in enumerate(blocks):
        _check_pm1(W, f"block {k}")
        inits += [f32(W, f"W{k}"), f32(gamma, f"bn{k}_scale"), f32(beta, f"bn{k}_bias"),
                  f32(mean, f"bn{k}_mean"), f32(var, f"bn{k}_var")]
        nodes += [helper.make_node("MatMul", [cur, f"W{k}"], [f"a{k}"]),
                  helper.make_node("BatchNormalization",
                                   [f"a{k}", f"bn{k}_scale", f"bn{k}_bias", f"bn{k}_mean", f"bn{k}_var"],
                                   [f"z{k}"], epsilon=float(eps)),
                  helper.make_node("Sign", [f"z{k}"], [f"h{k + 1}"])]
        cur = f"h{k + 1}"
    _check_pm1(w_out, "output")
    inits += [f32(w_out, "W_out"), f32(scale, "out_scale"), f32(bias, "out_bias")]
    nodes += [helper.make_node("MatMul", [cur, "W_out"], ["s"]),
              helper.make_node("Mul", ["s", "out_scale"], ["s_scaled"]),
              helper.make_node("Add", ["s_scaled", "out_bias"], ["d"])]
    return _model(nodes, inits, n_in, doc)


def relu_onnx(weights, biases, n_in: int, doc: str = "", names=("cell", "d"), convention: str = CONVENTION,
              batchnorm=None) -> bytes:
    """weights: [W [out, in]], biases: [b [out]]; ReLU after every layer but the last.
    batchnorm: None, or one (gamma, beta, mean, var, eps) per hidden layer, applied between
    its Gemm and its Relu (inference form: running statistics)."""
    from onnx import helper, numpy_helper

    nodes, inits, cur = [], [], names[0]
    for k, (W, b) in enumerate(zip(weights, biases)):
        inits += [numpy_helper.from_array(np.asarray(W, np.float32), f"W{k}"),
                  numpy_helper.from_array(np.asarray(b, np.float32), f"b{k}")]
        last = k == len(weights) - 1
        out = names[1] if last else f"g{k}"
        # named nodes, alpha and beta written out, as torch writes them (OMLT's importer requires them)
        nodes.append(helper.make_node("Gemm", [cur, f"W{k}", f"b{k}"], [out], name=f"gemm{k}", alpha=1.0, beta=1.0,
                                      transB=1))
        if not last and batchnorm is not None:
            gamma, beta, mean, var, eps = batchnorm[k]
            bn = [f"bn{k}_scale", f"bn{k}_bias", f"bn{k}_mean", f"bn{k}_var"]
            inits += [numpy_helper.from_array(np.asarray(v, np.float32), n)
                      for v, n in zip((gamma, beta, mean, var), bn)]
            nodes.append(helper.make_node("BatchNormalization", [out, *bn], [f"n{k}"], name=f"bn{k}",
                                          epsilon=float(eps)))
            out = f"n{k}"
        if not last:
            nodes.append(helper.make_node("Relu", [out], [f"r{k}"], name=f"relu{k}"))
            cur = f"r{k}"
    return _model(nodes, inits, n_in, doc, n_out=int(np.asarray(weights[-1]).shape[0]), names=names,
                  graph_name="pgen_surrogate" if names != ("cell", "d") else "pgen_porous_surrogate",
                  convention=convention)


def _check_pm1(W, where: str):
    W = np.asarray(W)
    if not np.all((W == 1) | (W == -1)):
        raise ValueError(f"binarized {where} weights must be exactly +-1")


def matmul_weights(onnx_path) -> dict:
    """name -> array of every MatMul/Gemm weight initializer of an ONNX file."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    out = {}
    for node in model.graph.node:
        if node.op_type in ("MatMul", "Gemm"):
            for name in node.input[1:2]:
                if name in inits:
                    out[name] = inits[name]
    return out
