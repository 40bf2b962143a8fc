"""ONNX -> Network. Piecewise-linear graphs only; any other op is an error.

Every node whose inputs are all initializers or constants (e.g. `Sign` and `Transpose`
applied to real weights by a module that binarizes them in `forward`) is evaluated once by
onnxruntime and becomes a constant. What remains must be a chain from the graph's one input
to its one output. Affine ops (Gemm, MatMul, Add, Sub, Mul, Div by constants,
BatchNormalization) are composed into one pending affine map; Relu and binarization
(`Sign`, or `GreaterOrEqual(v, 0)` followed by `Cast` or by `Where(., a, b)`) close a layer.
Shape-only ops (Flatten, Reshape, Identity, Squeeze, Unsqueeze) keep the row-major order.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ...core.errors import PgenError
from .network import Dense, Network, RealStep, Relu, ScaledStep, Step
from .session import evaluate_model

SUPPORTED = ["Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Flatten", "Reshape",
             "Identity", "Squeeze", "Unsqueeze", "BatchNormalization", "Sign",
             "GreaterOrEqual", "Cast", "Constant"]  # and Where, after GreaterOrEqual

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

    state = _Walker(err, consts, inp.name, in_shape)
    state.opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=13)
    last = None
    for i, node in enumerate(graph.node):
        if i not in folded:
            state.visit(node)
            last = node
    if state.bool_tensor is not None:
        raise err("E021", "GreaterOrEqual must be followed by Cast or Where", last)
    if state.cur != graph.output[0].name:
        raise err("E020", f"the graph's output `{graph.output[0].name}` is not reached by the chain from its input",
                  last)
    state.flush()
    return Network(str(path), sha, inp.name, in_shape, graph.output[0].name,
                   state.shape, state.layers, display=display or str(path))


def _fold_constants(model, consts: dict, err) -> set:
    """Evaluate every node that depends only on initializers and constants; their outputs
    join `consts`. Returns the indices of the folded nodes.

    `Constant` nodes holding a tensor are copied as they are; any other such node is run by
    onnxruntime (one small model of just those nodes), so the constants are the float32
    numbers the graph itself computes."""
    import onnx
    from onnx import helper, numpy_helper

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
        value = _attr(node, "value", None) if node.op_type == "Constant" else None
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
        values = evaluate_model(fold.SerializeToString(), wanted)
    except Exception as e:  # onnx and onnxruntime raise their own error types
        raise err("E021", f"cannot evaluate the constant nodes {where} ({type(e).__name__}: {str(e).strip()[:300]})",
                  to_run[0], hint="these nodes depend only on the weights; simplify them away before export") from None
    consts.update(zip(wanted, values))
    return set(folded)


def _dim(d) -> int:
    if d.HasField("dim_value") and d.dim_value > 0:
        return int(d.dim_value)
    return 1  # a symbolic batch dimension


def _attr(node, name, default):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


class _Walker:
    def __init__(self, err, consts, input_name, in_shape):
        self.err = err
        self.consts = consts
        self.cur = input_name
        self.shape = in_shape
        n = int(np.prod(in_shape))
        self.layers: list = []
        self._reset(n)
        self.bool_tensor = None  # output of GreaterOrEqual awaiting its Cast or Where

    # pending affine map from the last layer's output to the current tensor
    def _reset(self, n):
        self.W = np.eye(n)
        self.b = np.zeros(n)
        # (W, b, matrix, alpha, bias) at the last matrix op, for binarized layers: the pending map
        # before it, the numbers it multiplies by (float32 values), and a Gemm's alpha and beta*C
        self.matrix_at = None
        self.tail: list = []   # nodes after the last matrix op (float32 tail)
        self.tail_prefix: list = []  # synthetic ops that stand for a Gemm's bias

    def flush(self):
        n = self.W.shape[1]
        if not (np.array_equal(self.W, np.eye(n)) and not self.b.any()):
            self.layers.append(Dense(self.W.copy(), self.b.copy()))
        self._reset(self.W.shape[0])

    def const(self, name, node):
        if name not in self.consts:
            return None
        arr = np.asarray(self.consts[name])
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise self.err("E020", f"tensor `{name}` holds NaN or infinite values", node,
                           hint="retrain or repair the network; pgen cannot encode non-finite weights")
        return arr

    def _other(self, node):
        """For a binary op: (constant operand, act_is_first)."""
        a, b = node.input[0], node.input[1]
        if a == self.cur and b != self.cur:
            c = self.const(b, node)
            first = True
        elif b == self.cur and a != self.cur:
            c = self.const(a, node)
            first = False
        else:
            raise self.err("E021", "both operands depend on the network input; only constant operands are supported", node)
        if c is None:
            other = b if first else a
            raise self.err("E021", f"operand `{other}` is an earlier activation, not a constant: the graph "
                           "branches, and only chain-shaped graphs are supported", node,
                           hint="a straight-through estimator written as `v + (sign(v) - v).detach()` "
                           "exports such a branch; write it as an autograd Function returning sign(v)")
        return c.astype(np.float64), first

    def _bcast(self, c, node):
        try:
            full = np.broadcast_to(c, np.broadcast_shapes(c.shape, self.shape))
        except ValueError:
            raise self.err("E022", f"constant of shape {list(c.shape)} does not broadcast with {list(self.shape)}", node) from None
        if full.size != self.W.shape[0]:
            raise self.err("E022", f"constant of shape {list(c.shape)} would change the activation size", node)
        return full.reshape(-1)

    def visit(self, node):
        op = node.op_type
        if self.bool_tensor is not None:
            if op not in ("Cast", "Where") or node.input[0] != self.bool_tensor:
                raise self.err("E021", "GreaterOrEqual must be followed by Cast to float or by Where", node)
            if op == "Where":
                self._where(node)
            self.bool_tensor = None
            self.cur = node.output[0]
            return
        if op in ("Cast", "Where"):
            raise self.err("E021", f"`{op}` is supported only right after GreaterOrEqual(activation, 0)", node)
        if op not in SUPPORTED or op == "Constant":  # constant nodes were folded before the walk
            raise self.err("E021", f"unsupported operation `{op}`",
                           node, hint="supported: " + ", ".join(SUPPORTED))
        if self.cur not in node.input:
            # a node off the main chain that computes a constant (e.g. a shape)
            raise self.err("E021", "node does not act on the running activation; only chain-shaped graphs are supported", node)
        handler = getattr(self, "op_" + op)
        handler(node)
        if op != "GreaterOrEqual":
            self.cur = node.output[0]

    # --- shape-only ops
    def op_Identity(self, node):
        pass

    def op_Flatten(self, node):
        axis = _attr(node, "axis", 1)
        if axis < 0:
            axis += len(self.shape)
        self.shape = (int(np.prod(self.shape[:axis])), int(np.prod(self.shape[axis:])))

    def op_Reshape(self, node):
        target = self.const(node.input[1], node)
        if target is None:
            raise self.err("E021", "Reshape needs a constant shape", node)
        target = [int(t) for t in target]
        out = []
        for i, t in enumerate(target):
            out.append(self.shape[i] if t == 0 else t)
        if -1 in out:
            known = int(np.prod([t for t in out if t != -1]))
            out[out.index(-1)] = int(np.prod(self.shape)) // max(known, 1)
        if int(np.prod(out)) != int(np.prod(self.shape)):
            raise self.err("E022", f"cannot reshape {list(self.shape)} to {target}", node)
        self.shape = tuple(out)

    def op_Squeeze(self, node):
        self.shape = tuple(d for d in self.shape if d != 1) or (1,)

    def op_Unsqueeze(self, node):
        self.shape = (1,) + tuple(self.shape)

    # --- affine ops
    def _apply(self, M, c, node, new_shape):
        self.W = M @ self.W
        self.b = M @ self.b + c
        self.shape = new_shape
        self.tail.append(node)

    def _scale(self, s, node):
        self.W = s[:, None] * self.W
        self.b = s * self.b
        self.tail.append(node)

    def op_Add(self, node):
        c, _ = self._other(node)
        self.b = self.b + self._bcast(c, node)
        self.tail.append(node)

    def op_Sub(self, node):
        c, first = self._other(node)
        c = self._bcast(c, node)
        if first:
            self.b = self.b - c
        else:
            self.W, self.b = -self.W, c - self.b
        self.tail.append(node)

    def op_Mul(self, node):
        c, _ = self._other(node)
        self._scale(self._bcast(c, node), node)

    def op_Div(self, node):
        c, first = self._other(node)
        if not first:
            raise self.err("E021", "division by the activation is not piecewise-linear", node)
        c = self._bcast(c, node)
        if np.any(c == 0):
            raise self.err("E020", "division by zero", node)
        self._scale(1.0 / c, node)

    def op_BatchNormalization(self, node):
        scale, bias, mean, var = (self.const(n, node) for n in node.input[1:5])
        if any(t is None for t in (scale, bias, mean, var)):
            raise self.err("E021", "BatchNormalization needs constant parameters", node)
        eps = _attr(node, "epsilon", 1e-5)
        # per-channel on axis 1 of the current shape
        ch = self.shape[1] if len(self.shape) > 1 else self.shape[0]
        spatial = int(np.prod(self.shape[2:])) if len(self.shape) > 2 else 1
        k = scale.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
        shift = bias.astype(np.float64) - mean.astype(np.float64) * k
        if k.size != ch:
            raise self.err("E022", f"batch-norm has {k.size} channels, activation has {ch}", node)
        k_full = np.repeat(k, spatial)
        self.W = k_full[:, None] * self.W
        self.b = k_full * self.b + np.repeat(shift, spatial)
        self.tail.append(node)

    def _matrix(self, M, node, new_shape, alpha=1.0, bias=None):
        """A matrix op: y = alpha M h (+ bias). Remember where it sits for binarized layers."""
        bias = np.zeros(M.shape[0]) if bias is None else bias
        self.matrix_at = (self.W.copy(), self.b.copy(), M.copy(), alpha, bias)
        self.tail = []
        self.tail_prefix = []
        self.W = alpha * M @ self.W
        self.b = alpha * M @ self.b + bias
        self.shape = new_shape

    def op_MatMul(self, node):
        c, first = self._other(node)
        if first:  # act [.., n] @ C [n, m]
            if c.ndim != 2 or c.shape[0] != self.shape[-1]:
                raise self.err("E022", f"MatMul of activation {list(self.shape)} with weight {list(c.shape)}", node)
            self._matrix(c.T, node, tuple(self.shape[:-1]) + (c.shape[1],))
        else:  # C [m, n] @ act [n] or [n, k]
            if c.ndim != 2 or c.shape[1] != self.shape[0]:
                raise self.err("E022", f"MatMul of weight {list(c.shape)} with activation {list(self.shape)}", node)
            if len(self.shape) == 2 and self.shape[1] != 1:
                raise self.err("E021", "MatMul with the weight on the left needs a vector activation", node)
            self._matrix(c, node, (c.shape[0],) + tuple(self.shape[1:]))

    def op_Gemm(self, node):
        if node.input[0] != self.cur:
            raise self.err("E021", "Gemm must take the activation as its first operand", node)
        B = self.const(node.input[1], node)
        if B is None:
            raise self.err("E021", "Gemm needs a constant weight", node)
        B = B.astype(np.float64)
        C = self.const(node.input[2], node) if len(node.input) > 2 and node.input[2] else None
        alpha, beta = float(_attr(node, "alpha", 1.0)), float(_attr(node, "beta", 1.0))
        trans_a, trans_b = _attr(node, "transA", 0), _attr(node, "transB", 0)
        n = int(np.prod(self.shape))
        if trans_b:
            B = B.T
        if B.shape[0] != n:
            raise self.err("E022", f"Gemm weight {list(B.shape)} does not fit an activation of size {n}", node)
        del trans_a  # with a single row (batch 1) A and A^T hold the same numbers
        m = B.shape[1]
        bias = None if C is None else beta * np.broadcast_to(C.astype(np.float64), (1, m)).reshape(-1)
        self._matrix(B.T, node, (1, m), alpha, bias)
        if C is not None:
            self.tail_prefix = [("gemm_bias", alpha, beta, C.astype(np.float32))]
        else:
            self.tail_prefix = [("gemm_bias", alpha, beta, None)]

    # --- nonlinear ops
    def op_Relu(self, node):
        self.flush()
        self.layers.append(Relu())

    def op_Sign(self, node):
        self._step(node, "sign")
        # the layer outputs [pos; neg] Booleans; Sign's value is pos - neg (0 when both are false)
        n = self.W.shape[0]
        self.W, self.b = np.hstack([np.eye(n), -np.eye(n)]), np.zeros(n)

    def op_GreaterOrEqual(self, node):
        zero = self.const(node.input[1], node)
        if node.input[0] != self.cur or zero is None or np.any(zero != 0):
            raise self.err("E021", "only GreaterOrEqual(activation, 0) is supported (a binarization)", node)
        self._step(node, "ge")
        self.bool_tensor = node.output[0]
        self.cur = node.output[0]

    def _step(self, node, tie):
        if self.matrix_at is None:
            n = self.W.shape[0]
            if self.W.shape[0] != self.W.shape[1] or np.count_nonzero(self.W - np.diag(np.diag(self.W))):
                raise self.err("E021", "a binarization must follow a Gemm or MatMul with +-1 weights, "
                               "or act elementwise on the previous layer", node)
            tail = _tail_model([], self.tail, self.consts, n, self.opset)
            self.layers.append(RealStep(tail, n, tie, node.name or node.op_type))
            self._reset(n)
            return
        W0, b0, M, alpha, bias = self.matrix_at
        name = node.name or node.op_type
        if np.array_equal(M, np.round(M)):
            # integer weights: the sum is exact, then the graph's own float32 ops (bias, alpha, tail)
            tail = _tail_model(self.tail_prefix, self.tail, self.consts, M.shape[0], self.opset)
            self.layers.append(Step(Dense(W0, b0), M, tail, tie, name))
        else:
            self.layers.append(self._scaled_step(node, tie, W0, b0, M, alpha, bias))
        self._reset(M.shape[0])

    def _scaled_step(self, node, tie, W0, b0, M, alpha, bias) -> ScaledStep:
        """Rows M[k] = scale[k] * N[k] with N integer (batch-norm folded into +-1 weights)."""
        absM = np.abs(M)
        scale = np.array([row[row > 0].min() if np.any(row > 0) else 1.0 for row in absM])
        N = M / scale[:, None]
        if not np.array_equal(N, np.round(N)):
            raise self.err("E021", "the weights before a binarization must be integers (+-1), or in each "
                           "neuron one real number times integers", node,
                           hint="binarize the weights in the exported graph (e.g. torch.sign(W) in forward)")
        # the layer's inputs h = W0 u + b0 for u in [0, 1] (Booleans): bounds, and the values N h takes
        h_lo = np.minimum(W0, 0).sum(axis=1) + b0
        h_hi = np.maximum(W0, 0).sum(axis=1) + b0
        h_abs = np.maximum(np.abs(h_lo), np.abs(h_hi))
        Q = N @ W0
        t_off = N @ b0
        t_lo = np.minimum(Q, 0).sum(axis=1) + t_off
        t_hi = np.maximum(Q, 0).sum(axis=1) + t_off
        step = np.array([np.gcd.reduce(np.abs(q).astype(np.int64)) if np.array_equal(q, np.round(q)) and q.any()
                         else 1 for q in Q]).astype(np.float64)
        step[step == 0] = 1.0
        # any order of float32 sums, products and the alpha/beta scalings: each term passes
        # through at most m roundings, so |error| <= gamma_m * sum |terms| (Higham, Lemma 3.1),
        # plus m subnormal spacings for underflow or flush-to-zero
        m = M.shape[1] + 4
        u = 2.0 ** -24
        gamma = m * u / (1 - m * u)
        terms = abs(alpha) * (absM @ h_abs) + np.abs(bias)
        error = (gamma * terms + m * 2.0 ** -125) * (1 + 1e-9)
        tail = _tail_model([], self.tail, self.consts, M.shape[0], self.opset)
        return ScaledStep(Dense(W0, b0), np.round(N), tail, tie, node.name or node.op_type,
                          scale=scale, offset=bias.astype(np.float64), alpha=float(alpha), error=error,
                          reach=(t_lo, t_hi, step, np.mod(t_off, step)), file=self.err.path)

    def _where(self, node):
        """Where(v >= 0, a, b) after a binarization: the value is b + (a - b) y, y in {0, 1}."""
        a, b = self.const(node.input[1], node), self.const(node.input[2], node)
        if a is None or b is None:
            raise self.err("E021", "Where after GreaterOrEqual needs constant values", node)
        a, b = self._bcast(a.astype(np.float64), node), self._bcast(b.astype(np.float64), node)
        self.W = (a - b)[:, None] * self.W
        self.b = (a - b) * self.b + b


def _tail_model(prefix, nodes, consts, n_out, opset) -> bytes:
    """An ONNX model `s -> v` replaying the graph's float32 ops after the matrix op."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    new_nodes, inits = [], []
    cur = "s"
    for i, item in enumerate(prefix):
        _, alpha, beta, C = item
        if alpha != 1.0:
            inits.append(numpy_helper.from_array(np.array(alpha, dtype=np.float32), f"_alpha{i}"))
            new_nodes.append(helper.make_node("Mul", [cur, f"_alpha{i}"], [f"_t{i}a"]))
            cur = f"_t{i}a"
        if C is not None:
            inits.append(numpy_helper.from_array((np.float32(beta) * C).astype(np.float32), f"_bias{i}"))
            new_nodes.append(helper.make_node("Add", [cur, f"_bias{i}"], [f"_t{i}b"]))
            cur = f"_t{i}b"
    for node in nodes:
        n = onnx.NodeProto()
        n.CopyFrom(node)
        # rewire: the node's activation operand is `cur`
        for j, name in enumerate(n.input):
            if name not in consts:
                n.input[j] = cur
            elif not any(t.name == name for t in inits):
                arr = np.asarray(consts[name])
                if arr.dtype.kind == "f":
                    arr = arr.astype(np.float32)
                inits.append(numpy_helper.from_array(arr, name))
        out = f"_n{len(new_nodes)}"
        n.ClearField("output")
        n.output.append(out)
        new_nodes.append(n)
        cur = out
    if cur == "s":
        new_nodes.append(helper.make_node("Identity", ["s"], ["v"]))
    else:
        new_nodes.append(helper.make_node("Identity", [cur], ["v"]))
    graph = helper.make_graph(
        new_nodes, "tail",
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, ["R", n_out])],
        [helper.make_tensor_value_info("v", TensorProto.FLOAT, ["R", n_out])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", int(opset))])
    return model.SerializeToString()
