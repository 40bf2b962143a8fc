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
- `ScaledStep`: a `Step` whose float32 weights are, per neuron, one real multiple
  of integers (an exporter folded batch-norm into +-1 weights); see the class.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...core.errors import PgenError
from .session import model_session

TAIL_INPUT, TAIL_OUTPUT = "pgen_s", "pgen_v"  # names no exported graph's constants use


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
    tail: bytes             # ONNX model: input "pgen_s" float32 [R, n_out] -> output "pgen_v"
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
        v = sess.run(None, {TAIL_INPUT: s_values.astype(np.float32)})[0]
        return np.sign(v).astype(np.int8)


@dataclass
class ScaledStep(Step):
    """A binarized layer whose graph sums real products: weights scale[k] * matrix[k] (float32),
    then alpha and a bias `offset` inside the same Gemm, then the float32 `tail`.

    That float32 sum depends on onnxruntime's summation order, so it is not replayed: at an
    integer pre-activation s, the exact value alpha * scale * s + offset is widened by
    `error` (a bound on the rounding of any order, for layer inputs h with |h_i| <= the
    import's bound), the tail runs on both float32 ends, and the decision is taken only where
    both ends agree (the tail is monotone). A reachable value where they disagree is refused.
    `reach` (lo, hi, step, residue per neuron) holds the values matrix @ h takes for layer
    inputs in [0, 1] (Booleans, or a previous binarized layer)."""
    scale: np.ndarray = None
    offset: np.ndarray = None
    alpha: float = 1.0
    error: np.ndarray = None
    reach: tuple = None
    file: str = ""          # the network's path, for messages

    def _refuse(self, msg: str, hint: str) -> PgenError:
        return PgenError("E021", f"{self.file} (node `{self.node}`): {msg}", hint=hint)

    def decide(self, s_values: np.ndarray) -> np.ndarray:
        s = np.asarray(s_values, np.float64)
        lo_t, hi_t, step, residue = self.reach
        if np.any(s < lo_t.min()) or np.any(s > hi_t.max()):
            raise self._refuse("this binarized layer sums real (scaled) weights and is exact only for "
                               "network inputs in [0, 1]", "declare the network's input as bool")
        exact = self.alpha * self.scale * s + self.offset
        # float64 slack for computing `exact` itself, on top of the float32 rounding bound
        slack = self.error + 1e-12 * (np.abs(self.alpha * self.scale * s) + np.abs(self.offset))
        lo = _float32_at_most(exact - slack)
        hi = _float32_at_least(exact + slack)
        sess = model_session(self.tail, optimise=False)
        v = sess.run(None, {TAIL_INPUT: np.vstack([lo, hi])})[0]
        d_lo, d_hi = np.sign(v[:len(s)]), np.sign(v[len(s):])
        reachable = (s >= lo_t) & (s <= hi_t) & (np.mod(s - residue, step) == 0)
        unsure = (d_lo != d_hi) & reachable
        if np.any(unsure):
            r, k = (int(a[0]) for a in np.nonzero(unsure))
            raise self._refuse(
                f"neuron {k} at pre-activation {int(s[r, k])}: the graph's float32 sum is within rounding "
                "of its threshold, so its sign depends on onnxruntime's summation order (the exporter "
                "folded a scale, e.g. batch-norm, into the +-1 weights)",
                "export without that folding (torch.onnx.export(..., dynamo=False), or optimize=False) "
                "so that the +-1 sum is exact")
        # a value no input in [0, 1] reaches: any answer will do; the exact value's sign
        return np.where(d_lo != d_hi, np.sign(exact), d_lo).astype(np.int8)


def _float32_at_most(x: np.ndarray) -> np.ndarray:
    f = np.asarray(x, np.float64).astype(np.float32)
    return np.where(f.astype(np.float64) > x, np.nextafter(f, np.float32(-np.inf)), f).astype(np.float32)


def _float32_at_least(x: np.ndarray) -> np.ndarray:
    f = np.asarray(x, np.float64).astype(np.float32)
    return np.where(f.astype(np.float64) < x, np.nextafter(f, np.float32(np.inf)), f).astype(np.float32)


@dataclass
class RealStep:
    """Binarization of real inputs, elementwise: y_i = 1 iff the graph's float32 tail
    (e.g. an input batch-norm) maps x_i to a value >= 0 ("ge") or > 0 ("sign")."""
    tail: bytes             # ONNX model: input "pgen_s" float32 [R, n] (the raw values) -> output "pgen_v"
    n: int
    tie: str
    node: str = ""

    @property
    def n_out(self) -> int:
        return self.n

    def values(self, s_values: np.ndarray) -> np.ndarray:
        sess = model_session(self.tail, optimise=False)
        return sess.run(None, {TAIL_INPUT: s_values.astype(np.float32)})[0]


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
