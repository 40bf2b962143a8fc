"""ONNX -> Network. Piecewise-linear graphs only; any other op is an error naming the node.

Every node whose inputs are all initializers or constants (e.g. `Sign` and `Transpose`
applied to real weights by a module that binarizes them in `forward`) is evaluated once by
onnxruntime and becomes a constant. The rest is walked in graph order by `onnx_ops.Walker`
(one method per op; branches, residuals and multi-input ops included), which writes the
network as Dense / Relu / binarized layers.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ...core.errors import PgenError
from .network import Network
from .onnx_ops import ENCODINGS, Walker, attr
from .session import evaluate_model

SUPPORTED = sorted(ENCODINGS)  # and Cast / Where right after GreaterOrEqual

# Ops whose value is not a function of their inputs: never folded.
_NOT_FOLDABLE = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                 "Multinomial", "Bernoulli"}


class _Err:
    def __init__(self, path: str):
        self.path = path

    def __call__(self, code: str, msg: str, node=None, hint=None) -> PgenError:
        where = f" (node `{node.name or node.op_type}`, op {node.op_type})" if node is not None else ""
        return PgenError(code, f"{self.path}{where}: {msg}", hint=hint)


def load_network(path: str | Path, display: str | None = None) -> Network:
    """Import the ONNX file at `path`; errors name it as `display` (the path the user wrote)."""
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    err = _Err(display or str(path))
    if not path.exists():
        raise err("E020", "network file not found", hint="check the path; it is relative to the spec file")
    data = path.read_bytes()
    try:
        model = onnx.load_model_from_string(data)
        graph = model.graph
        if not graph.node:
            raise ValueError("the graph has no nodes")
    except Exception as e:  # protobuf raises several kinds on a damaged file
        raise err("E020", f"not a readable ONNX model ({type(e).__name__}: {e})",
                  hint="the file may be truncated or not ONNX; re-export it") from None
    digest = hashlib.sha256(data)
    # weights kept in files beside the model (the dynamo exporter writes `NAME.onnx.data`)
    locations = sorted({entry.value for t in model.graph.initializer
                        if onnx.external_data_helper.uses_external_data(t)
                        for entry in t.external_data if entry.key == "location"})
    for location in locations:
        ext = path.parent / location
        if not ext.is_file():
            raise err("E020", f"the weights file `{location}` it refers to is missing",
                      hint="keep the .data file that the exporter wrote beside the .onnx file")
        digest.update(ext.read_bytes())
    if locations:
        try:
            onnx.external_data_helper.load_external_data_for_model(model, str(path.parent))
        except Exception as e:  # onnx raises its own error types on a damaged data file
            raise err("E020", f"cannot read its external weights ({type(e).__name__}: {e})") from None
    sha = digest.hexdigest()

    consts: dict = {}
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        consts[init.name] = arr
    folded = _fold_constants(model, consts, err)
    inputs = [i for i in graph.input if i.name not in consts]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise err("E020", f"expected one input and one output, found {len(inputs)} and {len(graph.output)}")
    inp = inputs[0]
    in_shape = tuple(_dim(d) for d in inp.type.tensor_type.shape.dim)
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=13)
    out_name = graph.output[0].name
    last_use = {}
    for i, node in enumerate(graph.node):
        for name in node.input:
            if name:  # "" is an optional input left out
                last_use[name] = i
    last_use[out_name] = len(graph.node)

    def evaluate(node):
        return _evaluate_nodes([node], [o for o in node.output if o], consts, model, err)

    walker = Walker(err, consts, inp.name, in_shape, last_use, opset, evaluate)
    last = None
    for i, node in enumerate(graph.node):
        if i not in folded:
            walker.visit(node, i)
            last = node
    out_shape = walker.finish(out_name, last)
    return Network(str(path), sha, inp.name, in_shape, out_name,
                   tuple(out_shape), walker.layers, display=display or str(path))


def _fold_constants(model, consts: dict, err) -> set:
    """Evaluate every node that depends only on initializers and constants; their outputs
    join `consts`. Returns the indices of the folded nodes.

    `Constant` nodes holding a tensor are copied as they are; any other such node is run by
    onnxruntime (one small model of just those nodes), so the constants are the float32
    numbers the graph itself computes."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    known = set(consts)
    folded: dict = {}  # index -> node
    to_run = []
    for i, node in enumerate(graph.node):
        has_graph = any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute)
        if node.op_type in _NOT_FOLDABLE or has_graph or node.domain not in ("", "ai.onnx"):
            continue
        if not all(name == "" or name in known for name in node.input):
            continue
        folded[i] = node
        known.update(o for o in node.output if o)
        value = attr(node, "value", None) if node.op_type == "Constant" else None
        if value is not None:
            consts[node.output[0]] = numpy_helper.to_array(value)
        else:
            to_run.append(node)
    if not to_run:
        return set(folded)
    produced = {o for n in to_run for o in n.output if o}
    used_later = {name for i, n in enumerate(graph.node) if i not in folded for name in n.input}
    used_later |= {o.name for o in graph.output}
    wanted = sorted(produced & used_later)
    if not wanted:
        return set(folded)
    consts.update(zip(wanted, _evaluate_nodes(to_run, wanted, consts, model, err)))
    return set(folded)


def _evaluate_nodes(to_run, wanted, consts, model, err) -> list:
    """The values of `wanted`, computed by onnxruntime from the nodes `to_run` on constants."""
    import onnx
    from onnx import helper, numpy_helper

    produced = {o for n in to_run for o in n.output if o}
    needed = {name for n in to_run for name in n.input if name and name not in produced}
    inits = [numpy_helper.from_array(np.asarray(consts[name]), name) for name in sorted(needed)]
    # declare the outputs with their inferred types (onnxruntime wants typed graph outputs)
    probe = helper.make_graph(to_run, "fold", [], [helper.make_empty_tensor_value_info(n) for n in wanted], inits)
    probe_model = helper.make_model(probe, opset_imports=model.opset_import, ir_version=model.ir_version)
    where = ", ".join(f"`{n.name or n.op_type}` ({n.op_type})" for n in to_run[:4])
    where += " ..." if len(to_run) > 4 else ""
    try:
        inferred = onnx.shape_inference.infer_shapes(probe_model, strict_mode=True)
        types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
        outs = [helper.make_tensor_value_info(n, types.get(n, 0), None) for n in wanted]
        fold = helper.make_model(helper.make_graph(to_run, "fold", [], outs, inits),
                                 opset_imports=model.opset_import, ir_version=model.ir_version)
        return evaluate_model(fold.SerializeToString(), wanted)
    except Exception as e:  # onnx and onnxruntime raise their own error types
        raise err("E021", f"cannot evaluate the constant nodes {where} ({type(e).__name__}: {str(e).strip()[:300]})",
                  to_run[0], hint="these nodes depend only on the weights; simplify them away before export") from None


def _dim(d) -> int:
    if d.HasField("dim_value") and d.dim_value > 0:
        return int(d.dim_value)
    return 1  # a symbolic batch dimension


