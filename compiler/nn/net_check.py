"""`pgenc check --net-check`: the network as pgen imported it, evaluated layer by layer in
float64 NumPy, against onnxruntime on the ONNX file itself, on random inputs.

A misread graph (a transposed weight, a padding off by one, a broadcast the wrong way) gives
differences of the order of the outputs; the float32/float64 difference of a network read
correctly is far below the tolerance used here (1e-4 relative to the outputs' size).
Binarized networks get 0/1 inputs (what their specs feed them); others get reals at three
scales, since an exact import is exact everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.errors import PgenError
from .network import Dense, Network, RealStep, Relu, Step
from .session import run_batch

RELATIVE_TOLERANCE = 1e-4


@dataclass
class NetCheck:
    samples: int
    max_difference: float
    scale: float
    inputs: str

    def line(self) -> str:
        return (f"matches onnxruntime on {self.samples} random {self.inputs} inputs "
                f"(largest difference {self.max_difference:.2g}, outputs up to {self.scale:.3g})")


def evaluate_layers(net: Network, X: np.ndarray) -> np.ndarray:
    """The imported layers on the rows of X [P, n_in], float64 (binarized layers decide through
    the graph's own float32 tails, as the encoder does)."""
    h = np.asarray(X, np.float64)
    for layer in net.layers:
        if isinstance(layer, Dense):
            h = h @ layer.W.T + layer.b
        elif isinstance(layer, Relu):
            h = np.maximum(h, 0.0)
        elif isinstance(layer, Step):
            pre = h @ layer.pre.W.T + layer.pre.b
            sign = layer.decide(pre @ layer.matrix.T)
            h = _booleans(sign, layer.tie)
        elif isinstance(layer, RealStep):
            h = _booleans(np.sign(layer.values(h)), layer.tie)
        else:  # a layer kind this check does not know: a pgen bug, not the user's
            raise TypeError(f"unknown layer {type(layer).__name__}")
    return h


def _booleans(sign: np.ndarray, tie: str) -> np.ndarray:
    if tie == "ge":
        return (sign >= 0).astype(np.float64)
    return np.hstack([(sign > 0), (sign < 0)]).astype(np.float64)  # [pos; neg], as the importer wires Sign


def net_check(net: Network, per_scale: int = 64, seed: int = 0) -> NetCheck:
    rng = np.random.default_rng(seed)
    binarized = any(isinstance(layer, Step) for layer in net.layers) and not isinstance(net.layers[0], RealStep)
    if binarized:
        X = rng.integers(0, 2, (3 * per_scale, net.n_in)).astype(np.float32)
        kind = "0/1"
    else:
        X = np.vstack([rng.uniform(-1, 1, (per_scale, net.n_in)), rng.uniform(0, 1, (per_scale, net.n_in)),
                       rng.normal(0, 4, (per_scale, net.n_in))]).astype(np.float32)
        kind = "real"
    want = run_batch(net.path, X).astype(np.float64).reshape(len(X), -1)
    got = evaluate_layers(net, X).reshape(len(X), -1)
    scale = float(np.abs(want).max()) if want.size else 0.0
    diff = np.abs(got - want)
    worst = float(diff.max()) if diff.size else 0.0
    if not worst <= RELATIVE_TOLERANCE * (1.0 + scale):
        row, col = (int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape))
        raise PgenError("E024", f"{net.display or net.path}: the network as pgen read it differs from onnxruntime: "
                        f"output {col} on random input {row} is {got[row, col]:.9g}, onnxruntime says "
                        f"{want[row, col]:.9g} (difference {worst:.3g})",
                        hint="pgen misread this graph (a bug): please report it with the .onnx file, and do "
                        "not trust solves with this network until it is fixed")
    return NetCheck(len(X), worst, scale, kind)
