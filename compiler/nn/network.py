"""A piecewise-linear network as plain layers, imported from ONNX.

Layers act on the flattened (row-major) activation vector:

- `Dense(W, b)`: y = W x + b (float64 copies of the graph's float32 numbers);
- `Relu()`;
- `Step(pre, matrix, tail, tie)`: a binarized layer. h = pre(x) must be
  integer-valued (in practice +-1), s = matrix @ h is then exact, and the
  Boolean output y_k = 1 iff the graph's own float32 tail (bias, batch-norm,
  ...) maps s_k to a value >= 0 (tie "ge") or > 0 (tie "sign", where 0 maps
  to the third value 0 and is refused when reachable). `tail` is an ONNX
  model evaluated by onnxruntime, so the thresholds are the graph's own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .session import model_session


@dataclass
class Dense:
    W: np.ndarray
    b: np.ndarray

    @property
    def n_out(self) -> int:
        return self.W.shape[0]


@dataclass
class Relu:
    pass


@dataclass
class Step:
    pre: Dense              # previous layer output -> integer-valued h
    matrix: np.ndarray      # (n_out, n_in), integer-valued
    tail: bytes             # ONNX model: input "s" float32 [R, n_out] -> output "v"
    tie: str                # "ge" (0 -> +1) or "sign" (0 -> 0)
    node: str = ""          # name of the binarizing node, for messages

    @property
    def n_out(self) -> int:
        return self.matrix.shape[0]

    def decide(self, s_values: np.ndarray) -> np.ndarray:
        """Evaluate the graph's float32 tail on rows of pre-activation values.

        Returns +1 / 0 / -1 per entry: the sign of the tail's output, with
        the graph's tie rule applied by the caller.
        """
        sess = model_session(self.tail, optimise=False)
        v = sess.run(None, {"s": s_values.astype(np.float32)})[0]
        return np.sign(v).astype(np.int8)


@dataclass
class RealStep:
    """Binarization of real inputs, elementwise: y_i = 1 iff the graph's float32 tail
    (e.g. an input batch-norm) maps x_i to a value >= 0 ("ge") or > 0 ("sign")."""
    tail: bytes             # ONNX model: input "s" float32 [R, n] (the raw values) -> output "v"
    n: int
    tie: str
    node: str = ""

    @property
    def n_out(self) -> int:
        return self.n

    def values(self, s_values: np.ndarray) -> np.ndarray:
        sess = model_session(self.tail, optimise=False)
        return sess.run(None, {"s": s_values.astype(np.float32)})[0]


@dataclass
class Network:
    path: str
    sha256: str
    input_name: str
    input_shape: tuple      # the ONNX input shape, batch dimension set to 1
    output_name: str
    output_shape: tuple
    layers: list = field(default_factory=list)
    display: str = ""       # the path as the spec wrote it, for messages

    @property
    def n_in(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def n_out(self) -> int:
        return int(np.prod(self.output_shape))

    @property
    def kind(self) -> str:
        if any(isinstance(layer, (Step, RealStep)) for layer in self.layers):
            return "binarized"
        return "relu" if any(isinstance(layer, Relu) for layer in self.layers) else "linear"

    def describe(self) -> str:
        parts = []
        for layer in self.layers:
            if isinstance(layer, Dense):
                parts.append(f"dense {layer.W.shape[1]}->{layer.W.shape[0]}")
            elif isinstance(layer, Relu):
                parts.append("relu")
            elif isinstance(layer, RealStep):
                parts.append(f"binarize inputs {layer.n} ({layer.tie})")
            else:
                parts.append(f"binarize {layer.matrix.shape[1]}->{layer.matrix.shape[0]} ({layer.tie})")
        return ", ".join(parts)
