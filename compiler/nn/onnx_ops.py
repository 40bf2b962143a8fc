"""The importer's walk over an ONNX graph: one method per supported op (`op_NAME`).

Every tensor that depends on the network input is kept as an affine map `W u + b` of the
last layer's outputs `u` (the basis; at first the network input). Linear ops (Gemm, MatMul,
Conv, ConvTranspose, AveragePool, Pad, Slice, Concat, Split, Transpose, the shape ops, the
elementwise ops with constants, BatchNormalization, ReduceSum/Mean) compose into those maps,
so branches and residual connections are plain sums. A piecewise-linear op (Relu, LeakyRelu,
PRelu, Clip, HardSigmoid, Abs, Max, Min, MaxPool, GlobalMaxPool) closes one Dense + Relu layer
(`relu_layer.py`) in which every tensor still needed later is carried. Binarization (`Sign`,
or `GreaterOrEqual(v, 0)` then `Cast` or `Where`) closes a binarized layer as before; it needs
the chain from its last Gemm/MatMul (the float32 tail is replayed by onnxruntime).

Smooth ops are refused by name with a hint; so is any other op.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .geometry import (average_pool_matrix, conv_matrix, conv_transpose_matrix, pad_index,
                       pool_windows)
from .network import TAIL_INPUT, TAIL_OUTPUT, Dense, RealStep, Relu, ScaledStep, Step
from .relu_layer import Combo, ReluLayer

# op -> how it is encoded (the README's table is written from this)
ENCODINGS = {
    "Gemm": "linear (alpha, beta, transA, transB, bias)",
    "MatMul": "linear (constant weight on either side)",
    "Conv": "linear (padding, auto_pad, stride, dilation, groups, bias; 1-D to 3-D)",
    "ConvTranspose": "linear (padding, output_padding, output_shape, stride, dilation, groups, bias)",
    "AveragePool": "linear (padding, ceil_mode, count_include_pad, dilation)",
    "GlobalAveragePool": "linear",
    "ReduceSum": "linear", "ReduceMean": "linear",
    "Add": "linear (constant or another activation: residuals)",
    "Sub": "linear (constant or another activation)",
    "Mul": "linear (by a constant)", "Div": "linear (by a nonzero constant)",
    "Neg": "linear", "Sum": "linear", "Mean": "linear",
    "BatchNormalization": "linear (inference form: running statistics)",
    "Pad": "linear (constant, reflect, edge, wrap)",
    "Slice": "index map", "Split": "index map", "Concat": "index map", "Transpose": "index map",
    "Flatten": "shape only", "Reshape": "shape only", "Squeeze": "shape only",
    "Unsqueeze": "shape only", "Identity": "shape only", "Dropout": "identity (inference form)",
    "Shape": "constant (static shapes)", "Size": "constant",
    "Constant": "constant; any node of constants only is evaluated once by onnxruntime",
    "Relu": "ReLU: big-M with one binary per unstable neuron",
    "LeakyRelu": "relu(v) - alpha relu(-v): two ReLUs",
    "PRelu": "relu(v) - slope relu(-v) (per channel): two ReLUs",
    "Clip": "lo + relu(v - lo) - relu(v - hi): two ReLUs (two kinks)",
    "HardSigmoid": "Clip(alpha v + beta, 0, 1)",
    "Abs": "relu(v) + relu(-v)",
    "Max": "b + relu(a - b), pairwise (tensors or constants)",
    "Min": "a - relu(a - b), pairwise",
    "MaxPool": "a tree of pairwise max(a, b) = b + relu(a - b): one binary per unstable pair",
    "GlobalMaxPool": "as MaxPool over the whole map",
    "Sign": "binarized layer: cardinality constraint per neuron (exact integer sum)",
    "GreaterOrEqual": "binarized layer, with Cast or Where(v >= 0, a, b) after it",
}

# smooth ops: refused, with what would be needed instead
SMOOTH = {
    "Tanh": "Hardtanh (exported as Clip(-1, 1))", "Sigmoid": "Hardsigmoid",
    "Softmax": None, "LogSoftmax": None, "Exp": None, "Log": None, "Softplus": "Relu",
    "Softsign": "Hardtanh (Clip)", "Elu": "LeakyRelu", "Selu": "LeakyRelu", "Celu": "LeakyRelu",
    "Gelu": "Relu", "Erf": "Relu", "Mish": "Relu", "HardSwish": "Hardsigmoid (HardSwish multiplies "
    "two activations)", "Sqrt": None, "Pow": None, "Reciprocal": None, "Sin": None, "Cos": None,
}


def smooth_hint(op: str) -> str:
    instead = SMOOTH.get(op)
    if op in ("Softmax", "LogSoftmax"):
        return ("pgen encodes networks exactly, and only piecewise-linear ops have exact MILP "
                "encodings; export the network without the final Softmax and state the spec on "
                "the logits (Softmax keeps their order: argmax and comparisons between classes "
                "are the same)")
    if op == "Sigmoid":
        return ("pgen encodes networks exactly, and only piecewise-linear ops have exact MILP "
                "encodings; a final Sigmoid can be dropped (it is monotone: sigmoid(z) >= p iff "
                "z >= ln(p / (1 - p))); inside the network retrain with Hardsigmoid")
    base = ("pgen encodes networks exactly, and only piecewise-linear ops have exact MILP encodings "
            "(a smooth one would need a spatial branch-and-bound solver or an approximation)")
    return base + (f"; retrain with {instead}" if instead else "")


def attr(node, name, default):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


@dataclass
class Tensor:
    """W u + b, shape `shape`, for the basis u. For binarized layers, the history since the last
    matrix op: (W, b, M, alpha, bias) there, the graph's nodes after it (elementwise, replayed
    in float32), or `tail = None` once a non-elementwise op broke that chain."""
    W: np.ndarray
    b: np.ndarray
    shape: tuple
    matrix_at: tuple | None = None
    tail: list | None = field(default_factory=list)
    tail_prefix: list = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.W.shape[0]

    def mapped(self, A, c, shape, node=None) -> "Tensor":
        """A (dense or sparse) times this tensor plus c. `node`: an elementwise graph node that
        the binarized-layer tail replays; without it the tail is broken."""
        W = np.asarray(A @ self.W)
        b = np.asarray(A @ self.b).reshape(-1) + c
        if node is not None and self.tail is not None:
            return Tensor(W, b, tuple(shape), self.matrix_at, self.tail + [node], self.tail_prefix)
        return Tensor(W, b, tuple(shape), None, None, [])

    def reshaped(self, shape) -> "Tensor":
        return Tensor(self.W, self.b, tuple(shape), self.matrix_at, self.tail, self.tail_prefix)

    def indexed(self, idx, shape, fill: float = 0.0) -> "Tensor":
        """Rows idx (-1: the constant `fill`)."""
        idx = np.asarray(idx).reshape(-1)
        safe = np.where(idx < 0, 0, idx)
        W = self.W[safe]
        b = self.b[safe]
        if np.any(idx < 0):
            W = W.copy()
            W[idx < 0] = 0.0
            b = np.where(idx < 0, fill, b)
        return Tensor(W, b, tuple(shape), None, None, [])


def constant_tensor(value, basis: int) -> Tensor:
    value = np.asarray(value, np.float64)
    return Tensor(np.zeros((value.size, basis)), value.reshape(-1).copy(), value.shape, None, None, [])


class Walker:
    def __init__(self, err, consts, input_name, in_shape, last_use: dict, opset: int, evaluate):
        self.err = err
        self.consts = consts
        self.last_use = last_use      # tensor name -> index of the last node reading it
        self.opset = opset
        self.evaluate = evaluate      # (node) -> output arrays, by onnxruntime (late constant folding)
        n = int(np.prod(in_shape))
        self.tensors = {input_name: Tensor(np.eye(n), np.zeros(n), tuple(in_shape))}
        self.basis = n
        self.basis_nonneg = False     # after a ReLU or binarized layer every basis value is >= 0
        self.layers: list = []
        self.bool_tensor = None       # output of GreaterOrEqual awaiting its Cast or Where
        self.index = 0

    # --- the walk
    def visit(self, node, index: int):
        self.index = index
        op = node.op_type
        if self.bool_tensor is not None:
            if op not in ("Cast", "Where") or not node.input or node.input[0] != self.bool_tensor:
                raise self.err("E021", "GreaterOrEqual must be followed by Cast to float or by Where", node)
            t = self.tensors[self.bool_tensor]
            self.tensors[node.output[0]] = self._where(node, t) if op == "Where" else t
            self.bool_tensor = None
            self._forget()
            return
        if op in ("Cast", "Where"):
            raise self.err("E021", f"`{op}` is supported only right after GreaterOrEqual(activation, 0)", node)
        if node.domain not in ("", "ai.onnx"):
            raise self.err("E021", f"operation `{op}` of the custom domain `{node.domain}`", node,
                           hint="export with standard ONNX ops only")
        acts = [name for name in node.input if name in self.tensors]
        if op in ("Shape", "Size") and acts:
            shape = self.tensors[acts[0]].shape
            value = np.array(shape, np.int64)
            if op == "Shape":
                start, end = attr(node, "start", 0), attr(node, "end", None)
                value = value[start:end]
            else:
                value = np.array(int(np.prod(shape)), np.int64)
            self.consts[node.output[0]] = value
            return
        if not acts:
            if all(name == "" or name in self.consts for name in node.input):
                # reads only constants made during the walk (e.g. from Shape): evaluate it once
                for name, value in zip(node.output, self.evaluate(node)):
                    self.consts[name] = value
                return
            raise self.err("E021", "node does not act on the network input", node)
        if op in SMOOTH:
            raise self.err("E021", f"`{op}` is a smooth activation, not piecewise-linear", node,
                           hint=smooth_hint(op))
        handler = getattr(self, "op_" + op, None)
        if handler is None:
            raise self.err("E021", f"unsupported operation `{op}`", node,
                           hint="supported: " + ", ".join(sorted(ENCODINGS)))
        handler(node)
        self._forget()

    def output(self, name, node) -> Tensor:
        if name not in self.tensors:
            raise self.err("E020", f"the graph's output `{name}` does not depend on its input", node)
        return self.tensors[name]

    def finish(self, name, node):
        """Close the network with its output's affine map."""
        if self.bool_tensor is not None:
            raise self.err("E021", "GreaterOrEqual must be followed by Cast or Where", node)
        t = self.output(name, node)
        identity = t.W.shape[0] == t.W.shape[1] and np.array_equal(t.W, np.eye(t.W.shape[0])) and not t.b.any()
        # kept after a ReLU even when it is the identity: a network that ends in a ReLU is still
        # Dense (Relu Dense)*, the form input branch and bound and the adjoints take
        if not identity or (self.layers and isinstance(self.layers[-1], Relu)):
            self.layers.append(Dense(t.W.copy(), t.b.copy()))
        return t.shape

    def _forget(self):
        """Drop tensors no later node reads (they need not be carried through layers)."""
        for name in [n for n in self.tensors if self.last_use.get(n, -1) <= self.index]:
            del self.tensors[name]

    def _live(self, exclude=()) -> list:
        return [n for n in self.tensors if n not in exclude and self.last_use.get(n, -1) > self.index]

    # --- operands
    def act(self, node, i=0) -> Tensor:
        name = node.input[i]
        if name not in self.tensors:
            raise self.err("E021", f"input {i} of this node must depend on the network input", node)
        return self.tensors[name]

    def const(self, name, node, required=True):
        if not name or name not in self.consts:
            if required:
                raise self.err("E021", f"`{name}` must be a constant (an initializer or a node of constants)", node)
            return None
        arr = np.asarray(self.consts[name])
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise self.err("E020", f"tensor `{name}` holds NaN or infinite values", node,
                           hint="retrain or repair the network; pgen cannot encode non-finite weights")
        return arr

    def operand(self, name, node) -> Tensor:
        if name in self.tensors:
            return self.tensors[name]
        return constant_tensor(self.const(name, node).astype(np.float64), self.basis)

    def _ints(self, node, attr_name, input_index, default=None):
        """An int list given as an attribute (older opsets) or as a constant input (newer)."""
        if len(node.input) > input_index and node.input[input_index]:
            return [int(v) for v in np.asarray(self.const(node.input[input_index], node)).reshape(-1)]
        value = attr(node, attr_name, None)
        return default if value is None else [int(v) for v in value]

    def _axis(self, axis, rank, node):
        if not -rank <= axis < rank:
            raise self.err("E022", f"axis {axis} out of range for rank {rank}", node)
        return axis % rank

    def expand(self, t: Tensor, shape, node) -> Tensor:
        if tuple(t.shape) == tuple(shape):
            return t
        try:
            idx = np.broadcast_to(np.arange(t.size).reshape(t.shape), shape)
        except ValueError:
            raise self.err("E022", f"shape {list(t.shape)} does not broadcast to {list(shape)}", node) from None
        return t.indexed(idx, shape)

    def _broadcast_shape(self, shapes, node):
        try:
            return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
        except ValueError:
            raise self.err("E022", "operand shapes " + ", ".join(str(list(s)) for s in shapes)
                           + " do not broadcast", node) from None

    def set(self, node, t: Tensor, i=0):
        if node.output[i]:  # "" is an optional output nobody reads
            self.tensors[node.output[i]] = t

    # --- shape-only ops
    def op_Identity(self, node):
        self.set(node, self.act(node))

    def op_Dropout(self, node):
        if len(node.input) > 2 and node.input[2]:
            mode = self.const(node.input[2], node)
            if bool(np.asarray(mode).reshape(-1)[0]):
                raise self.err("E021", "Dropout in training mode is random", node,
                               hint="export the model in eval() mode")
        if len(node.output) > 1 and node.output[1] and self.last_use.get(node.output[1], -1) >= 0:
            raise self.err("E021", "Dropout's mask output is used", node)
        self.set(node, self.act(node))

    def op_Flatten(self, node):
        t = self.act(node)
        axis = attr(node, "axis", 1)
        if axis < 0:
            axis += len(t.shape)
        self.set(node, t.reshaped((int(np.prod(t.shape[:axis])), int(np.prod(t.shape[axis:])))))

    def op_Reshape(self, node):
        t = self.act(node)
        target = [int(v) for v in self.const(node.input[1], node).reshape(-1)]
        allow_zero = attr(node, "allowzero", 0)
        out = [t.shape[i] if v == 0 and not allow_zero and i < len(t.shape) else v for i, v in enumerate(target)]
        if out.count(-1) > 1:
            raise self.err("E022", f"Reshape to {target}: more than one -1", node)
        if -1 in out:
            known = int(np.prod([v for v in out if v != -1]))
            out[out.index(-1)] = t.size // max(known, 1)
        if int(np.prod(out)) != t.size:
            raise self.err("E022", f"cannot reshape {list(t.shape)} to {target}", node)
        self.set(node, t.reshaped(out))

    def op_Squeeze(self, node):
        t = self.act(node)
        axes = self._ints(node, "axes", 1)
        if axes is None:
            shape = tuple(d for d in t.shape if d != 1)
        else:
            axes = {self._axis(a, len(t.shape), node) for a in axes}
            if any(t.shape[a] != 1 for a in axes):
                raise self.err("E022", f"cannot squeeze axes {sorted(axes)} of shape {list(t.shape)}", node)
            shape = tuple(d for i, d in enumerate(t.shape) if i not in axes)
        self.set(node, t.reshaped(shape))

    def op_Unsqueeze(self, node):
        t = self.act(node)
        axes = self._ints(node, "axes", 1, [])
        rank = len(t.shape) + len(axes)
        axes = sorted(self._axis(a, rank, node) for a in axes)
        shape = list(t.shape)
        for a in axes:
            shape.insert(a, 1)
        self.set(node, t.reshaped(shape))

    # --- index maps
    def op_Transpose(self, node):
        t = self.act(node)
        perm = attr(node, "perm", None) or list(range(len(t.shape)))[::-1]
        idx = np.arange(t.size).reshape(t.shape).transpose(perm)
        self.set(node, t.indexed(idx, idx.shape))

    def op_Slice(self, node):
        t = self.act(node)
        rank = len(t.shape)
        if self.opset < 10:
            starts, ends = attr(node, "starts", []), attr(node, "ends", [])
            axes = attr(node, "axes", None) or list(range(len(starts)))
            steps = [1] * len(starts)
        else:
            starts, ends = self._ints(node, "", 1), self._ints(node, "", 2)
            axes = self._ints(node, "", 3) or list(range(len(starts)))
            steps = self._ints(node, "", 4) or [1] * len(starts)
        slices = [slice(None)] * rank
        for s, e, a, st in zip(starts, ends, axes, steps):
            if st == 0:
                raise self.err("E022", "Slice with step 0", node)
            slices[self._axis(a, rank, node)] = slice(int(s), int(e), int(st))
        idx = np.arange(t.size).reshape(t.shape)[tuple(slices)]
        self.set(node, t.indexed(idx, idx.shape))

    def op_Split(self, node):
        t = self.act(node)
        axis = self._axis(attr(node, "axis", 0), len(t.shape), node)
        sizes = self._ints(node, "split", 1)
        n = len(node.output)
        dim = t.shape[axis]
        if sizes is None:
            chunk = -(-dim // n)  # ONNX: equal parts, the last one smaller
            sizes = [min(chunk, dim - i * chunk) for i in range(n)]
        if sum(sizes) != dim or len(sizes) != n:
            raise self.err("E022", f"split sizes {sizes} do not fit axis {axis} of {list(t.shape)}", node)
        idx = np.arange(t.size).reshape(t.shape)
        start = 0
        for i, size in enumerate(sizes):
            part = np.take(idx, np.arange(start, start + size), axis=axis)
            self.set(node, t.indexed(part, part.shape), i)
            start += size

    def op_Concat(self, node):
        parts = [self.operand(name, node) for name in node.input if name]
        rank = len(parts[0].shape)
        axis = self._axis(attr(node, "axis", 0), rank, node)
        W = np.vstack([p.W for p in parts])
        b = np.concatenate([p.b for p in parts])
        offsets = np.cumsum([0] + [p.size for p in parts])
        try:
            idx = np.concatenate([off + np.arange(p.size).reshape(p.shape) for off, p in zip(offsets, parts)],
                                 axis=axis)
        except ValueError:
            raise self.err("E022", "Concat of shapes " + ", ".join(str(list(p.shape)) for p in parts), node) from None
        self.set(node, Tensor(W, b, (), None, None, []).indexed(idx, idx.shape))

    def op_Pad(self, node):
        t = self.act(node)
        rank = len(t.shape)
        mode = attr(node, "mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if self.opset < 11:
            pads, value = list(attr(node, "pads", [])), float(attr(node, "value", 0.0))
            axes = list(range(rank))
        else:
            pads = self._ints(node, "", 1)
            value = float(np.asarray(self.const(node.input[2], node)).reshape(-1)[0]) \
                if len(node.input) > 2 and node.input[2] else 0.0
            axes = self._ints(node, "", 3) or list(range(rank))
        axes = [self._axis(a, rank, node) for a in axes]
        if len(pads) != 2 * len(axes):
            raise self.err("E022", f"Pad has {len(pads)} pads for {len(axes)} axes", node)
        full = [0] * (2 * rank)
        for j, a in enumerate(axes):
            full[a], full[rank + a] = pads[j], pads[len(axes) + j]
        try:
            idx, shape = pad_index(t.shape, full, mode)
        except ValueError as e:
            raise self.err("E022", f"Pad: {e}", node) from None
        self.set(node, t.indexed(idx, shape, fill=value))

    # --- linear ops with constants
    def _binary(self, node):
        """(activation, constant, activation_is_first) or (a, b, None) for two activations."""
        a, b = node.input[0], node.input[1]
        if a in self.tensors and b in self.tensors:
            return self.tensors[a], self.tensors[b], None
        if a in self.tensors:
            return self.tensors[a], self.const(b, node).astype(np.float64), True
        return self.tensors[b], self.const(a, node).astype(np.float64), False

    def _affine_elementwise(self, node, t: Tensor, scale, shift):
        """scale * t + shift, broadcast; an elementwise node the binarized tail can replay."""
        shape = self._broadcast_shape([t.shape, np.shape(scale), np.shape(shift)], node)
        same = int(np.prod(shape)) == t.size
        t2 = t if same else self.expand(t, shape, node)
        s = np.broadcast_to(np.asarray(scale, np.float64), shape).reshape(-1)
        c = np.broadcast_to(np.asarray(shift, np.float64), shape).reshape(-1)
        out = Tensor(s[:, None] * t2.W, s * t2.b + c, shape, None, None, [])
        # the tail replays this node on rows [R, n] of the flat activation: only where its
        # constants broadcast the same way there (scalars, the activation's own size; batch-norm
        # on a (1, C) activation)
        flat = all(np.size(v) in (1, t.size) for v in (scale, shift)) and \
            (node.op_type != "BatchNormalization" or len(t.shape) <= 2)
        if same and flat and t.tail is not None:
            out.matrix_at, out.tail, out.tail_prefix = t.matrix_at, t.tail + [node], t.tail_prefix
        return out

    def op_Add(self, node):
        a, b, first = self._binary(node)
        if first is None:
            self._sum(node, [a, b], [1.0, 1.0])
        else:
            self.set(node, self._affine_elementwise(node, a, 1.0, b))

    def op_Sub(self, node):
        a, b, first = self._binary(node)
        if first is None:
            self._sum(node, [a, b], [1.0, -1.0])
        elif first:
            self.set(node, self._affine_elementwise(node, a, 1.0, -b))
        else:
            self.set(node, self._affine_elementwise(node, a, -1.0, b))

    def op_Mul(self, node):
        a, b, first = self._binary(node)
        if first is None:
            raise self.err("E021", "product of two activations is not piecewise-linear", node)
        self.set(node, self._affine_elementwise(node, a, b, 0.0))

    def op_Div(self, node):
        a, b, first = self._binary(node)
        if first is None or not first:
            raise self.err("E021", "division by an activation is not piecewise-linear", node)
        if np.any(b == 0):
            raise self.err("E020", "division by zero", node)
        self.set(node, self._affine_elementwise(node, a, 1.0 / b, 0.0))

    def op_Neg(self, node):
        self.set(node, self._affine_elementwise(node, self.act(node), -1.0, 0.0))

    def _sum(self, node, parts, coefs):
        shape = self._broadcast_shape([p.shape for p in parts], node)
        parts = [self.expand(p, shape, node) for p in parts]
        W = sum(c * p.W for c, p in zip(coefs, parts))
        b = sum(c * p.b for c, p in zip(coefs, parts))
        self.set(node, Tensor(W, b, shape, None, None, []))

    def op_Sum(self, node):
        parts = [self.operand(n, node) for n in node.input if n]
        self._sum(node, parts, [1.0] * len(parts))

    def op_Mean(self, node):
        parts = [self.operand(n, node) for n in node.input if n]
        self._sum(node, parts, [1.0 / len(parts)] * len(parts))

    def op_BatchNormalization(self, node):
        t = self.act(node)
        scale, bias, mean, var = (self.const(n, node).astype(np.float64) for n in node.input[1:5])
        eps = attr(node, "epsilon", 1e-5)
        ch = t.shape[1] if len(t.shape) > 1 else t.shape[0]
        k = scale / np.sqrt(var + eps)
        if k.size != ch:
            raise self.err("E022", f"batch-norm has {k.size} channels, activation has {ch}", node)
        spatial = (1, ch) + (1,) * (len(t.shape) - 2) if len(t.shape) > 1 else (ch,)
        self.set(node, self._affine_elementwise(node, t, k.reshape(spatial), (bias - mean * k).reshape(spatial)))

    def _reduce(self, node, mean: bool):
        t = self.act(node)
        rank = len(t.shape)
        index = 1 if (self.opset >= 13 and not mean) or (self.opset >= 18 and mean) else None
        axes = self._ints(node, "axes", index) if index is not None else attr(node, "axes", None)
        if not axes:
            if attr(node, "noop_with_empty_axes", 0):
                self.set(node, t)
                return
            axes = list(range(rank))
        axes = sorted({self._axis(a, rank, node) for a in axes})
        keep = attr(node, "keepdims", 1)
        idx = np.arange(t.size).reshape(t.shape)
        moved = np.moveaxis(idx, axes, list(range(rank - len(axes), rank)))
        groups = moved.reshape(-1, int(np.prod([t.shape[a] for a in axes])))
        out_shape = tuple(1 if i in axes else d for i, d in enumerate(t.shape)) if keep \
            else tuple(d for i, d in enumerate(t.shape) if i not in axes)
        A = np.zeros((groups.shape[0], t.size))
        np.put_along_axis(A, groups, 1.0 / groups.shape[1] if mean else 1.0, axis=1)
        self.set(node, t.mapped(A, 0.0, out_shape))

    def op_ReduceSum(self, node):
        self._reduce(node, mean=False)

    def op_ReduceMean(self, node):
        self._reduce(node, mean=True)

    # --- matrix ops
    def _matrix(self, node, t: Tensor, M, shape, alpha=1.0, bias=None):
        """y = alpha M t (+ bias). Remembers where it sits for binarized layers."""
        bias = np.zeros(M.shape[0]) if bias is None else bias
        out = Tensor(alpha * (M @ t.W), alpha * (M @ t.b) + bias, tuple(shape))
        out.matrix_at = (t.W.copy(), t.b.copy(), np.asarray(M, np.float64), alpha, bias)
        out.tail, out.tail_prefix = [], []
        self.set(node, out)

    def op_MatMul(self, node):
        a, c, first = self._binary(node)
        if first is None:
            raise self.err("E021", "MatMul of two activations is not piecewise-linear", node)
        t = a
        if first:  # act [..., k, n] @ C [n, m] (or C [n])
            if c.ndim > 2 or c.shape[0] != t.shape[-1]:
                raise self.err("E022", f"MatMul of activation {list(t.shape)} with weight {list(c.shape)}", node)
            rest = t.size // t.shape[-1]
            C2 = c.reshape(c.shape[0], -1)
            M = np.kron(np.eye(rest), C2.T)
            shape = tuple(t.shape[:-1]) + ((c.shape[1],) if c.ndim == 2 else ())
        else:  # C [m, n] @ act [n] or [..., n, k]
            if c.ndim != 2:
                raise self.err("E022", f"MatMul of weight {list(c.shape)} with activation {list(t.shape)}", node)
            if len(t.shape) == 1:
                if c.shape[1] != t.shape[0]:
                    raise self.err("E022", f"MatMul of weight {list(c.shape)} with activation {list(t.shape)}", node)
                M, shape = c, (c.shape[0],)
            else:
                n, k = t.shape[-2], t.shape[-1]
                if c.shape[1] != n:
                    raise self.err("E022", f"MatMul of weight {list(c.shape)} with activation {list(t.shape)}", node)
                batch = t.size // (n * k)
                M = np.kron(np.eye(batch), np.kron(c, np.eye(k)))
                shape = tuple(t.shape[:-2]) + (c.shape[0], k)
        self._matrix(node, t, M, shape)

    def op_Gemm(self, node):
        t = self.act(node, 0)
        if node.input[0] not in self.tensors or node.input[1] in self.tensors:
            raise self.err("E021", "Gemm must take the activation as its first operand and a constant weight", node)
        B = self.const(node.input[1], node).astype(np.float64)
        C = self.const(node.input[2], node) if len(node.input) > 2 and node.input[2] else None
        alpha, beta = float(attr(node, "alpha", 1.0)), float(attr(node, "beta", 1.0))
        if attr(node, "transB", 0):
            B = B.T
        shape = t.shape if len(t.shape) == 2 else (1, t.size)
        if attr(node, "transA", 0):
            idx = np.arange(t.size).reshape(shape).T
            t, shape = t.indexed(idx, idx.shape), idx.shape
        rows, k = shape
        if B.shape[0] != k:
            raise self.err("E022", f"Gemm weight {list(B.shape)} does not fit an activation of shape {list(shape)}", node)
        m = B.shape[1]
        M = np.kron(np.eye(rows), B.T) if rows > 1 else B.T
        bias = C32 = None
        if C is not None:
            bias = beta * np.broadcast_to(C.astype(np.float64), (rows, m)).reshape(-1)
            C32 = np.broadcast_to(C.astype(np.float32), (rows, m)).reshape(-1)
        self._matrix(node, t, M, (rows, m), alpha, bias)
        # the tail replays alpha * s + beta * C in float32, as the Gemm computes it
        self.tensors[node.output[0]].tail_prefix = [("gemm_bias", alpha, beta, C32)]

    def _spatial(self, t: Tensor, node, what: str):
        if len(t.shape) < 3 or t.shape[0] != 1:
            raise self.err("E022", f"{what} needs an activation of shape (1, C, spatial...), got {list(t.shape)}", node)

    def op_Conv(self, node):
        t = self.act(node)
        self._spatial(t, node, "Conv")
        weight = self.const(node.input[1], node)
        bias = self.const(node.input[2], node) if len(node.input) > 2 and node.input[2] else None
        kernel = attr(node, "kernel_shape", None)
        if kernel is not None and list(kernel) != list(weight.shape[2:]):
            raise self.err("E022", f"kernel_shape {list(kernel)} differs from the weight {list(weight.shape)}", node)
        try:
            A, c, shape = conv_matrix(t.shape, weight, bias, attr(node, "pads", None), _text(attr(node, "auto_pad", "NOTSET")),
                                      attr(node, "strides", None), attr(node, "dilations", None), attr(node, "group", 1))
        except ValueError as e:
            raise self.err("E022", f"Conv: {e}", node) from None
        self.set(node, t.mapped(A, c, shape))

    def op_ConvTranspose(self, node):
        t = self.act(node)
        self._spatial(t, node, "ConvTranspose")
        weight = self.const(node.input[1], node)
        bias = self.const(node.input[2], node) if len(node.input) > 2 and node.input[2] else None
        try:
            A, c, shape = conv_transpose_matrix(
                t.shape, weight, bias, attr(node, "pads", None), _text(attr(node, "auto_pad", "NOTSET")),
                attr(node, "strides", None), attr(node, "dilations", None), attr(node, "group", 1),
                attr(node, "output_padding", None), attr(node, "output_shape", None))
        except ValueError as e:
            raise self.err("E022", f"ConvTranspose: {e}", node) from None
        self.set(node, t.mapped(A, c, shape))

    def _pool_args(self, node, t):
        kernel = list(attr(node, "kernel_shape", []))
        if len(kernel) != len(t.shape) - 2:
            raise self.err("E022", f"kernel_shape {kernel} does not fit {list(t.shape)}", node)
        dilations = attr(node, "dilations", None)
        if _text(attr(node, "auto_pad", "NOTSET")) in ("SAME_UPPER", "SAME_LOWER") and dilations and max(dilations) > 1:
            # onnxruntime pads these by the undilated kernel, unlike the ONNX text: not guessed
            raise self.err("E021", "pooling with auto_pad SAME and dilation > 1 is ambiguous", node,
                           hint="export with explicit pads (auto_pad NOTSET)")
        return (t.shape, kernel, attr(node, "pads", None), _text(attr(node, "auto_pad", "NOTSET")),
                attr(node, "strides", None), attr(node, "dilations", None), attr(node, "ceil_mode", 0))

    def op_AveragePool(self, node):
        t = self.act(node)
        self._spatial(t, node, "AveragePool")
        try:
            A, shape = average_pool_matrix(*self._pool_args(node, t), attr(node, "count_include_pad", 0))
        except ValueError as e:
            raise self.err("E022", f"AveragePool: {e}", node) from None
        self.set(node, t.mapped(A, 0.0, shape))

    def op_GlobalAveragePool(self, node):
        t = self.act(node)
        self._spatial(t, node, "GlobalAveragePool")
        C, P = t.shape[1], int(np.prod(t.shape[2:]))
        A = np.kron(np.eye(C), np.full((1, P), 1.0 / P))
        self.set(node, t.mapped(A, 0.0, (1, C) + (1,) * (len(t.shape) - 2)))

    # --- piecewise-linear ops: one Dense + Relu layer each (MaxPool: one per tree level)
    def _layer(self, build):
        """Close a layer: `build(layer)` returns {name: (Combo, shape)}; every other tensor still
        needed is carried."""
        layer = ReluLayer(self.basis, self.basis_nonneg)
        wanted = build(layer)
        carried = {name: (layer.carry(self.tensors[name].W, self.tensors[name].b), self.tensors[name].shape)
                   for name in self._live(exclude=wanted)}
        W, b, merge = layer.finish()
        self.layers += [Dense(W, b), Relu()]
        self.basis = W.shape[0]
        self.basis_nonneg = True
        tensors = {}
        for name, (combo, shape) in list(carried.items()) + list(wanted.items()):
            Wt, bt = ReluLayer.dense(combo, merge)
            tensors[name] = Tensor(Wt, bt, tuple(shape), None, None, [])
        self.tensors = tensors

    def _elementwise_pl(self, node, make):
        t = self.act(node)

        def build(layer):
            return {node.output[0]: (make(layer, t.W, t.b), t.shape)}
        self._layer(build)

    def op_Relu(self, node):
        self._elementwise_pl(node, lambda L, W, b: L.relu(W, b))

    def op_Abs(self, node):
        self._elementwise_pl(node, lambda L, W, b: L.relu(W, b) + L.relu(-W, -b))

    def op_LeakyRelu(self, node):
        alpha = float(attr(node, "alpha", 0.01))
        self._elementwise_pl(node, lambda L, W, b: L.relu(W, b) - L.relu(-W, -b).scaled(alpha))

    def op_PRelu(self, node):
        t = self.act(node)
        slope = self.const(node.input[1], node).astype(np.float64)
        try:
            s = np.broadcast_to(slope, t.shape).reshape(-1)
        except ValueError:
            raise self.err("E022", f"PRelu slope {list(slope.shape)} does not broadcast to {list(t.shape)}", node) from None
        self._elementwise_pl(node, lambda L, W, b: L.relu(W, b) - L.relu(-W, -b).scaled(s))

    def _clip(self, L, W, b, lo, hi):
        k = W.shape[0]
        if lo is not None and hi is not None and lo > hi:
            return Combo.constant(np.full(k, hi))  # ONNX: min(max(v, lo), hi)
        if lo is None and hi is None:
            return L.carry(W, b)
        if hi is None:
            return L.relu(W, b - lo) + Combo.constant(np.full(k, lo))
        if lo is None:
            return Combo.constant(np.full(k, hi)) - L.relu(-W, hi - b)
        return Combo.constant(np.full(k, lo)) + L.relu(W, b - lo) - L.relu(W, b - hi)

    def op_Clip(self, node):
        if self.opset < 11:
            lo, hi = attr(node, "min", None), attr(node, "max", None)
        else:
            lo = self.const(node.input[1], node) if len(node.input) > 1 and node.input[1] else None
            hi = self.const(node.input[2], node) if len(node.input) > 2 and node.input[2] else None
        lo = None if lo is None else float(np.asarray(lo, np.float64).reshape(-1)[0])
        hi = None if hi is None else float(np.asarray(hi, np.float64).reshape(-1)[0])
        self._elementwise_pl(node, lambda L, W, b: self._clip(L, W, b, lo, hi))

    def op_HardSigmoid(self, node):
        alpha, beta = float(attr(node, "alpha", 0.2)), float(attr(node, "beta", 0.5))
        self._elementwise_pl(node, lambda L, W, b: self._clip(L, alpha * W, alpha * b + beta, 0.0, 1.0))

    def _pairwise(self, node, operands, is_max: bool):
        """Elementwise max (min) of several tensors: a tree of pairs, one layer per level."""
        shape = self._broadcast_shape([o.shape for o in operands], node)
        level = [self.expand(o, shape, node) for o in operands]
        name = node.output[0]
        while len(level) > 1:
            pairs = [(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            odd = level[-1] if len(level) % 2 else None
            keys = [f"{name}#{i}" for i in range(len(pairs) + (odd is not None))]

            def build(layer, pairs=pairs, odd=odd, keys=keys):
                out = {}
                for key, (a, b) in zip(keys, pairs):
                    out[key] = (self._max2(layer, a, b, is_max), shape)
                if odd is not None:
                    out[keys[-1]] = (layer.carry(odd.W, odd.b), shape)
                return out
            self._layer(build)
            level = [self.tensors.pop(k) for k in keys]
        self.set(node, level[0])

    @staticmethod
    def _max2(layer, a: Tensor, b: Tensor, is_max: bool) -> Combo:
        if is_max:   # max(a, b) = b + relu(a - b)
            return layer.carry(b.W, b.b) + layer.relu(a.W - b.W, a.b - b.b)
        return layer.carry(a.W, a.b) - layer.relu(a.W - b.W, a.b - b.b)  # min(a, b) = a - relu(a - b)

    def op_Max(self, node):
        self._pairwise(node, [self.operand(n, node) for n in node.input if n], True)

    def op_Min(self, node):
        self._pairwise(node, [self.operand(n, node) for n in node.input if n], False)

    def op_MaxPool(self, node):
        t = self.act(node)
        self._spatial(t, node, "MaxPool")
        if len(node.output) > 1 and node.output[1] and self.last_use.get(node.output[1], -1) >= 0:
            raise self.err("E021", "MaxPool's Indices output is used", node)
        try:
            windows, _, shape = pool_windows(*self._pool_args(node, t))
        except ValueError as e:
            raise self.err("E022", f"MaxPool: {e}", node) from None
        self._max_windows(node, t, windows, shape)

    def op_GlobalMaxPool(self, node):
        t = self.act(node)
        self._spatial(t, node, "GlobalMaxPool")
        C, P = t.shape[1], int(np.prod(t.shape[2:]))
        windows = [list(range(c * P, (c + 1) * P)) for c in range(C)]
        self._max_windows(node, t, windows, (1, C) + (1,) * (len(t.shape) - 2))

    def _max_windows(self, node, t: Tensor, windows, shape):
        """Output r = max of t's cells windows[r]: pairs within each window, level by level."""
        if any(not w for w in windows):
            raise self.err("E022", "a pooling window holds no input cell", node)
        level = [list(w) for w in windows]
        cand = t.indexed(np.concatenate([np.array(w) for w in level]), (-1,))
        starts = np.cumsum([0] + [len(w) for w in level])
        level = [list(range(starts[r], starts[r + 1])) for r in range(len(level))]
        key = node.output[0] + "#cand"
        while max(len(w) for w in level) > 1:
            a_rows, b_rows, keep_rows, nxt = [], [], [], []
            for w in level:
                new = []
                for i in range(0, len(w) - 1, 2):
                    new.append(("pair", len(a_rows)))
                    a_rows.append(w[i])
                    b_rows.append(w[i + 1])
                if len(w) % 2:
                    new.append(("keep", len(keep_rows)))
                    keep_rows.append(w[-1])
                nxt.append(new)
            a_rows, b_rows, keep_rows = (np.array(r, np.int64) for r in (a_rows, b_rows, keep_rows))

            def build(layer, cand=cand, a_rows=a_rows, b_rows=b_rows, keep_rows=keep_rows):
                pairs = layer.carry(cand.W[b_rows], cand.b[b_rows]) + layer.relu(
                    cand.W[a_rows] - cand.W[b_rows], cand.b[a_rows] - cand.b[b_rows])
                out = {key + "p": (pairs, (len(a_rows),))}
                if len(keep_rows):
                    out[key + "k"] = (layer.carry(cand.W[keep_rows], cand.b[keep_rows]), (len(keep_rows),))
                return out
            self._layer(build)
            pairs = self.tensors.pop(key + "p")
            kept = self.tensors.pop(key + "k", None)
            parts = [pairs] + ([kept] if kept is not None else [])
            cand = Tensor(np.vstack([p.W for p in parts]), np.concatenate([p.b for p in parts]), (-1,), None, None, [])
            offset = len(a_rows)
            level = [[i if kind == "pair" else offset + i for kind, i in w] for w in nxt]
        order = np.array([w[0] for w in level], np.int64)
        self.set(node, cand.indexed(order, shape))

    # --- binarized layers
    def op_Sign(self, node):
        t = self._step(node, "sign")
        n = t.W.shape[0]
        # the layer outputs [pos; neg] Booleans; Sign's value is pos - neg (0 when both are false)
        self.set(node, Tensor(np.hstack([np.eye(n), -np.eye(n)]), np.zeros(n), t.shape))

    def op_GreaterOrEqual(self, node):
        zero = self.const(node.input[1], node, required=False)
        if node.input[0] not in self.tensors or zero is None or np.any(zero != 0):
            raise self.err("E021", "only GreaterOrEqual(activation, 0) is supported (a binarization)", node)
        t = self._step(node, "ge")
        n = t.W.shape[0]
        self.set(node, Tensor(np.eye(n), np.zeros(n), t.shape))
        self.bool_tensor = node.output[0]

    def _step(self, node, tie) -> Tensor:
        t = self.act(node)
        if self._live():
            raise self.err("E021", "a binarized layer inside a branching graph (another tensor is still "
                           "needed after it)", node, hint="binarized networks must be chain-shaped")
        name = node.name or node.op_type
        if t.tail is None:
            raise self.err("E021", "a binarization must follow a Gemm or MatMul with +-1 weights, "
                           "or act elementwise on the previous layer", node)
        if t.matrix_at is None:
            n = t.W.shape[0]
            if t.W.shape[0] != t.W.shape[1] or np.count_nonzero(t.W - np.diag(np.diag(t.W))):
                raise self.err("E021", "a binarization must follow a Gemm or MatMul with +-1 weights, "
                               "or act elementwise on the previous layer", node)
            tail = tail_model([], t.tail, self.consts, n, self.opset)
            self.layers.append(RealStep(tail, n, tie, name))
        else:
            W0, b0, M, alpha, bias = t.matrix_at
            if np.array_equal(M, np.round(M)):
                # integer weights: the sum is exact, then the graph's own float32 ops (bias, alpha, tail)
                tail = tail_model(t.tail_prefix, t.tail, self.consts, M.shape[0], self.opset)
                self.layers.append(Step(Dense(W0, b0), M, tail, tie, name))
            else:
                self.layers.append(self._scaled_step(node, t, tie, W0, b0, M, alpha, bias))
        self.basis = _step_outputs(self.layers[-1])
        self.basis_nonneg = True
        return t

    def _scaled_step(self, node, t, tie, W0, b0, M, alpha, bias) -> ScaledStep:
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
        tail = tail_model([], t.tail, self.consts, M.shape[0], self.opset)
        return ScaledStep(Dense(W0, b0), np.round(N), tail, tie, node.name or node.op_type,
                          scale=scale, offset=bias.astype(np.float64), alpha=float(alpha), error=error,
                          reach=(t_lo, t_hi, step, np.mod(t_off, step)), file=self.err.path)

    def _where(self, node, t: Tensor) -> Tensor:
        """Where(v >= 0, a, b) after a binarization: the value is b + (a - b) y, y in {0, 1}."""
        a = self.const(node.input[1], node).astype(np.float64)
        b = self.const(node.input[2], node).astype(np.float64)
        try:
            a, b = (np.broadcast_to(v, t.shape).reshape(-1) for v in (a, b))
        except ValueError:
            raise self.err("E022", "Where's values do not broadcast to the activation", node) from None
        # not a chain the binarized tail can replay: a binarization right after it is refused
        return Tensor((a - b)[:, None] * t.W, (a - b) * t.b + b, t.shape, None, None, [])


def _step_outputs(layer) -> int:
    """Booleans a binarized layer outputs: [pos; neg] for Sign ties, one per neuron otherwise."""
    n = layer.n_out
    return 2 * n if layer.tie == "sign" else n


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


def tail_model(prefix, nodes, consts, n_out, opset) -> bytes:
    """An ONNX model `pgen_s -> pgen_v` replaying the graph's float32 ops after the matrix op, on
    rows [R, n] of the flat activation."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    new_nodes, inits = [], []
    cur = TAIL_INPUT
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
    new_nodes.append(helper.make_node("Identity", [cur], [TAIL_OUTPUT]))
    graph = helper.make_graph(
        new_nodes, "tail",
        [helper.make_tensor_value_info(TAIL_INPUT, TensorProto.FLOAT, ["R", n_out])],
        [helper.make_tensor_value_info(TAIL_OUTPUT, TensorProto.FLOAT, ["R", n_out])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", int(opset))])
    return model.SerializeToString()
