"""Benchmark: compile time (parse, check, ONNX import, bounds, lowering to the IR) for
a 4x100 ReLU network spec and a 3x100 binarized network on a 16x16 input.

    python bench/compile_speed.py [--repeat 5]

Prints the median wall time of each stage; the target is under 1 s each on the
2-core development machine. Not a test: figures go to docs/results/.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from pgen import netgen
from pgen.api import compile_string

RELU_SPEC = """
param target = 0.5
var x : real[4] in [0, 1]
net f = network "relu_4x100.onnx"
minimize norm1(f(x) - target)
"""

BNN_SPEC = """
var img : bool[16, 16]
net g = network "bnn_3x100.onnx"
require g(img) in [60, 70)
require img[0, j] == 0 for j in 0..15
satisfy
"""


def measure(text: str, folder: Path, repeat: int) -> dict:
    times = {"parse+check+import": [], "lower": [], "total": []}
    stats = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        problem = compile_string(text, base_dir=folder)
        t1 = time.perf_counter()
        model = problem.model
        t2 = time.perf_counter()
        times["parse+check+import"].append(t1 - t0)
        times["lower"].append(t2 - t1)
        times["total"].append(t2 - t0)
        stats = model.stats()
    return {k: statistics.median(v) for k, v in times.items()} | {"stats": stats}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        netgen.write(folder / "relu_4x100.onnx", netgen.relu_mlp([4, 100, 100, 100, 100, 31], seed=1))
        netgen.write(folder / "bnn_3x100.onnx", netgen.bnn(256, [100, 100, 100], seed=1, out_scale=10, out_bias=70))
        for name, text in [("relu 4-100x4-31", RELU_SPEC), ("bnn 256-100x3-1", BNN_SPEC)]:
            r = measure(text, folder, args.repeat)
            s = r["stats"]
            print(f"{name:18s} total {r['total']:.3f} s  (parse+check+import {r['parse+check+import']:.3f} s, "
                  f"lower {r['lower']:.3f} s)  vars {s['variables']} (bool {s['bool']}, real {s['real']}), "
                  f"constraints {sum(s['constraints'].values())}")


if __name__ == "__main__":
    main()
