"""Regenerate the small stand-in networks and target data used by specs/inverse.

    python specs/nets/make_nets.py

Random-weight ReLU networks with the shapes of seed 002's problems (scaled
down so that every backend solves them in seconds); they stand in for the
trained surrogates until those exist. Deterministic: same files every run.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pgen import netgen
from pgen.compiler.nn.session import run_network

HERE = Path(__file__).parent
TARGETS = HERE.parent / "inverse" / "targets"

NETS = {
    # name: (sizes, seed, style, batchnorm)
    "ink4_relu.onnx": ([4, 8, 31], 4, "gemm", False),       # spectral separation, 4 inks (Sec. 4.1)
    "ink44_relu.onnx": ([44, 4, 31], 44, "matmul", False),    # 44 inks (Sec. 4.1, 4.3)
    "nano_relu.onnx": ([4, 8, 20], 7, "gemm", True),        # nano-photonics, thickness / 70 (Sec. 4.4)
    "contone_relu.onnx": ([11, 6, 31], 11, "matmul", False),    # contoning, 11 layer counts (Sec. 4.5)
    "robot_relu.onnx": ([10, 6, 6], 10, "gemm", False),     # soft robot, 3 vertices x/y (Sec. 4.2)
    "adm_relu.onnx": ([8, 12, 12, 10], 8, "gemm", False),        # metasurface robustness (Sec. 4.6)
    "toy_3_6_2.onnx": ([3, 6, 2], 21, "gemm", False),           # specs/verify: an imported VNNLIB property
}


def main() -> None:
    for name, (sizes, seed, style, bn) in NETS.items():
        netgen.write(HERE / name, netgen.relu_mlp(sizes, seed=seed, style=style, batchnorm=bn))
    TARGETS.mkdir(parents=True, exist_ok=True)
    # six "painting" spectra that the 44-ink network can reach with two inks, plus noise
    rng = np.random.default_rng(6)
    rows = []
    for k in range(6):
        x = np.zeros(44)
        x[[5, 17]] = rng.uniform(0.1, 0.9, 2)
        rows.append(run_network(str(HERE / "ink44_relu.onnx"), x) + rng.normal(0, 0.01, 31))
    np.savetxt(TARGETS / "painting6.csv", np.array(rows), delimiter=",", fmt="%.6f")
    # a scattering spectrum from thicknesses (30, 50, 10, 60) nm, slightly perturbed
    t = run_network(str(HERE / "nano_relu.onnx"), np.array([30, 50, 10, 60]) / 70) + rng.normal(0, 0.02, 20)
    np.savetxt(TARGETS / "nano_target.csv", t[None, :], delimiter=",", fmt="%.6f")
    # a contone colour from layer counts summing to 30
    n = np.array([5, 0, 3, 0, 10, 0, 0, 2, 0, 10, 0]) / 30
    c = run_network(str(HERE / "contone_relu.onnx"), n) + rng.normal(0, 0.01, 31)
    np.savetxt(TARGETS / "contone_target.csv", c[None, :], delimiter=",", fmt="%.6f")


if __name__ == "__main__":
    main()
