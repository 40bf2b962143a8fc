"""The reference semantics of a network: onnxruntime's float32 output on an input.

The one place that builds onnxruntime sessions: for network files (cached per path) and
for models held in memory (a binarized layer's float32 tail, a freshly trained surrogate;
cached per model bytes). Caches are per process: a forked child (a `multiprocessing` pool
worker started with fork) builds its own sessions instead of using its parent's, whose
thread pools did not survive the fork."""
from __future__ import annotations

import os
from contextlib import contextmanager
from functools import lru_cache

import numpy as np


def _options(optimise: bool):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if not optimise:  # the graph's own float32 arithmetic, node by node (no fused kernels)
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return opts


def session(path: str):
    """(session, input name, input shape with free dimensions set to 1), cached per path."""
    return _session(str(path), os.getpid())


@lru_cache(maxsize=32)
def _session(path: str, pid: int):
    import onnxruntime as ort

    sess = ort.InferenceSession(path, _options(True), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
    return sess, inp.name, tuple(shape)


def model_session(model_bytes: bytes, optimise: bool = True):
    """A session on an ONNX model held in memory, cached per model bytes.

    `optimise=False` turns off onnxruntime's graph rewrites, for tails whose float32
    rounding must be the graph's own (binarized layers' thresholds)."""
    return _model_session(model_bytes, optimise, os.getpid())


@lru_cache(maxsize=64)
def _model_session(model_bytes: bytes, optimise: bool, pid: int):
    import onnxruntime as ort

    return ort.InferenceSession(model_bytes, _options(optimise), providers=["CPUExecutionProvider"])


def evaluate_model(model_bytes: bytes, outputs: list) -> list:
    """The named outputs of an in-memory ONNX model that takes no inputs (an importer's
    constant subgraph), node by node; not cached, as such a model is run once."""
    import onnxruntime as ort

    sess = ort.InferenceSession(model_bytes, _options(False), providers=["CPUExecutionProvider"])
    return [np.asarray(v) for v in sess.run(list(outputs), {})]


_REMEMBERED: dict = {}  # (path, float32 input bytes) -> output, while a `remembered` block runs


@contextmanager
def remembered(path: str, X: np.ndarray):
    """Within the block, `run_network` answers any row of X [P, n_in] from one batched run
    of the network (an enumeration evaluates thousands of designs; onnxruntime is the
    same, only called once)."""
    X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    Y = run_batch(path, X)
    keys = [(str(path), row.tobytes()) for row in X]
    _REMEMBERED.update(zip(keys, Y))
    try:
        yield
    finally:
        for k in keys:
            _REMEMBERED.pop(k, None)


def run_network(path: str, x: np.ndarray) -> np.ndarray:
    """Run the ONNX network at `path` on the flat input `x`; returns the flat float32 output."""
    if _REMEMBERED:
        hit = _REMEMBERED.get((str(path), np.asarray(x, dtype=np.float32).reshape(-1).tobytes()))
        if hit is not None:
            return hit.copy()
    sess, name, shape = session(str(path))
    arr = np.asarray(x, dtype=np.float32).reshape(shape)
    return np.asarray(sess.run(None, {name: arr})[0], dtype=np.float32).reshape(-1)


_BATCHES: dict = {}  # path -> whether the graph accepts a batch of several inputs


def takes_batches(path: str) -> bool:
    """Whether the network at `path` evaluates several inputs in one run (graphs exported
    with a fixed batch of 1 do not; they are evaluated row by row)."""
    path = str(path)
    if path not in _BATCHES:
        sess, name, shape = session(path)
        try:
            sess.run(None, {name: np.zeros((2,) + tuple(shape[1:]), np.float32)})
            _BATCHES[path] = True
        except Exception:  # onnxruntime raises its own error types for a shape mismatch
            _BATCHES[path] = False
    return _BATCHES[path]


def run_batch(path: str, X: np.ndarray) -> np.ndarray:
    """Run the network on each row of `X` [P, n_in]; returns float32 [P, n_out]."""
    X = np.asarray(X, dtype=np.float32)
    X = X.reshape(len(X), int(np.prod(X.shape[1:])))
    sess, name, shape = session(str(path))
    if not len(X):
        out = [d if isinstance(d, int) and d > 0 else 1 for d in sess.get_outputs()[0].shape[1:]]
        return np.zeros((0, int(np.prod(out))), np.float32)
    if takes_batches(path):
        y = sess.run(None, {name: X.reshape((len(X),) + tuple(shape[1:]))})[0]
        return np.asarray(y, dtype=np.float32).reshape(len(X), -1)
    return np.stack([run_network(path, x) for x in X])
