"""Benchmark: the periodic-cell diffusion solver.

    python bench/pde_speed.py [--cells 10000] [--workers 2]

Prints the time of one 16x16 solve (median of 500) and of labelling a D2-sized batch of
random 16x16 cells (a stand-in for D2 until the generator exists). Not a test.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from pgen.surrogate.pde import d_xx, d_xx_batch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    cell = (rng.random((16, 16)) < 0.3).astype(float)
    times = []
    for _ in range(500):
        t = time.perf_counter()
        d_xx(cell)
        times.append(time.perf_counter() - t)
    print(f"one 16x16 solve: {1000 * statistics.median(times):.2f} ms (median of 500)")
    cells = [(rng.random((16, 16)) < rng.uniform(0.1, 0.5)).astype(float) for _ in range(args.cells)]
    t = time.perf_counter()
    d_xx_batch(cells, workers=args.workers)
    print(f"{args.cells} cells with {args.workers} workers: {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
