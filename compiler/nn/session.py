"""The reference semantics of a network: onnxruntime's float32 output on an input.

The one place that builds onnxruntime sessions for network files (cached per path)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=32)
def session(path: str):
    """(session, input name, input shape with free dimensions set to 1), cached per path."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
    return sess, inp.name, tuple(shape)


def run_network(path: str, x: np.ndarray) -> np.ndarray:
    """Run the ONNX network at `path` on the flat input `x`; returns the flat float32 output."""
    sess, name, shape = session(str(path))
    arr = np.asarray(x, dtype=np.float32).reshape(shape)
    return np.asarray(sess.run(None, {name: arr})[0], dtype=np.float32).reshape(-1)
