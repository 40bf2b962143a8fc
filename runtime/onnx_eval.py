"""The reference semantics of a network: onnxruntime's float32 output on an input."""
from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=32)
def _session(path: str):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
    return sess, inp.name, tuple(shape)


def run_network(path: str, x: np.ndarray) -> np.ndarray:
    """Run the ONNX network at `path` on the flat input `x`; returns the flat float32 output."""
    sess, name, shape = _session(str(path))
    arr = np.asarray(x, dtype=np.float32).reshape(shape)
    return np.asarray(sess.run(None, {name: arr})[0], dtype=np.float32).reshape(-1)
