"""Regenerate the small networks the error goldens use: python tests/golden/errors/make_bad_nets.py"""
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from pgen import netgen

HERE = Path(__file__).parent / "nets"
HERE.mkdir(exist_ok=True)
good = netgen.relu_mlp([3, 4, 2], seed=3)
(HERE / "small.onnx").write_bytes(good)
(HERE / "truncated.onnx").write_bytes(good[: len(good) // 2])
m = onnx.load_model_from_string(good)
for init in m.graph.initializer:
    if init.name == "W1":
        arr = numpy_helper.to_array(init).copy()
        arr[0, 0] = np.nan
        init.CopyFrom(numpy_helper.from_array(arr, "W1"))
(HERE / "nan_weights.onnx").write_bytes(m.SerializeToString())
m = onnx.load_model_from_string(good)
for node in m.graph.node:
    if node.op_type == "Relu":
        node.op_type = "Sigmoid"
        node.name = "act0"
(HERE / "sigmoid.onnx").write_bytes(m.SerializeToString())
