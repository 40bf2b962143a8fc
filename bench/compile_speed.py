"""Benchmark: compile time (parse, check, ONNX import, bounds, lowering to the IR) for
a 4x100 ReLU network spec, a 3x100 binarized network on a 16x16 input, and the porous
spec specs/porous/d3_60_70.pgen (16x16, 3 grains, the 3x100 D3 BNN; lowering = one draw).

    python bench/compile_speed.py [--repeat 5] [--repeat-generic 3]

As the anchor, the same constraints of that spec's draw (the one `lower` takes: draw 0 of
the spec's seed) are written cell by cell in the generic language (`var c : bool[3, 16, 16]`,
one `require` per cell and rule) into a temporary spec and compiled the same way.

Prints the median wall time of each stage; the target is under 1 s each on the
2-core development machine. Not a test: figures go to docs/results/.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pgen.core
from pgen import netgen
from pgen.api import compile_string

# the porous specs of the tree `import pgen` runs (a frozen checkout when PYTHONPATH says so)
POROUS = Path(pgen.core.__file__).resolve().parent.parent / "specs" / "porous"

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


def cell_by_cell(spec_path: Path) -> str:
    """The spec's draw written cell by cell in the generic language: the same rows the grid
    lowering builds as arrays (seed 000 constraints (1)-(5), rings with a `full` Boolean per
    grain and ring, and the no-lone-void rows of `no holes`), the network and its interval."""
    from pgen.compiler.grid.dag import DIRECTIONS, parent_mask, rings
    from pgen.compiler.grid.draw import rules_for

    text = spec_path.read_text()
    checked = compile_string(text, base_dir=spec_path.parent).checked
    (name, rules), = rules_for(checked, int(checked.options.get("seed", 0)), 0).items()
    T0, T1 = rules.shape
    w = len(rules.grains)
    ring = [rings(rules.shape, g.seed) for g in rules.grains]
    lines = [f"# {spec_path.name}, draw 0 of seed {checked.options.get('seed', 0)}, cell by cell",
             f"var {name} : bool[{T0}, {T1}]", f"var c : bool[{w}, {T0}, {T1}]",
             f"var full : bool[{w}, {max(int(r.max()) for r in ring) + 1}]"]
    lines += [ln for ln in text.splitlines() if ln.startswith(("net ", "require "))]
    cells = [(i, j) for i in range(T0) for j in range(T1)]
    for i, j in cells:  # (1) a cell is void or in exactly one grain
        lines.append(f"require {name}[{i}, {j}] == " + " + ".join(f"c[{r}, {i}, {j}]" for r in range(w)))
    boundary = rules.boundary()
    for i, j in cells:  # (5) void border
        if rules.forced_void()[i, j]:
            lines.append(f"require {name}[{i}, {j}] == 0")
    for r, g in enumerate(rules.grains):
        lines.append(f"require c[{r}, {g.seed[0]}, {g.seed[1]}] == 1")
    for i, j in cells:  # (2) cells of different grains never share a side (each pair once)
        for a, b in ((i + 1, j), (i, j + 1)):
            if a < T0 and b < T1:
                lines += [f"require c[{r}, {i}, {j}] + c[{q}, {a}, {b}] <= 1"
                          for r in range(w) for q in range(w) if q != r]
    for r, g in enumerate(rules.grains):
        mask = parent_mask(g, rules.shape)
        for i, j in cells:  # (3) a cell is in the grain only if a DAG parent is
            if (i, j) != tuple(g.seed):
                parents = [f"c[{r}, {i + di}, {j + dj}]" for d, (di, dj) in enumerate(DIRECTIONS)
                           if mask[i, j, d] and 0 <= i + di < T0 and 0 <= j + dj < T1]
                lines.append(f"require c[{r}, {i}, {j}] <= " + (" + ".join(parents) or "0"))
        for i, j in cells:  # (4) full[r, v] -> every cell of ring v is in grain r
            lines.append(f"require full[{r}, {ring[r][i, j]}] <= c[{r}, {i}, {j}]")
        for i, j in cells:  # (4) a cell of ring v >= s only if ring v - s is full
            if ring[r][i, j] >= g.s:
                lines.append(f"require c[{r}, {i}, {j}] <= full[{r}, {ring[r][i, j] - g.s}]")
    for i, j in cells:  # no holes: no void cell with four solid neighbours
        if not boundary[i, j]:
            nb = [f"{name}[{i + di}, {j + dj}]" for di, dj in DIRECTIONS]
            lines.append(f"require {name}[{i}, {j}] - " + " - ".join(nb) + f" >= {1 - len(nb)}")
    return "\n".join(lines + ["satisfy"]) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--repeat-generic", type=int, default=3,
                    help="repeats of the cell-by-cell anchor (seconds each, not milliseconds)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        netgen.write(folder / "relu_4x100.onnx", netgen.relu_mlp([4, 100, 100, 100, 100, 31], seed=1))
        netgen.write(folder / "bnn_3x100.onnx", netgen.bnn(256, [100, 100, 100], seed=1, out_scale=10, out_bias=70))
        for name, text in [("relu 4-100x4-31", RELU_SPEC), ("bnn 256-100x3-1", BNN_SPEC)]:
            r = measure(text, folder, args.repeat)
            s = r["stats"]
            report(name, r)
    porous = POROUS / "d3_60_70.pgen"
    report("porous d3_60_70", measure(porous.read_text(), porous.parent, args.repeat))
    generic = cell_by_cell(porous)
    lines = sum(1 for ln in generic.splitlines() if ln.startswith("require "))
    report(f"same, cell by cell ({lines} requires)", measure(generic, porous.parent, args.repeat_generic))


def report(name: str, r: dict) -> None:
    s = r["stats"]
    print(f"{name:18s} total {r['total']:.3f} s  (parse+check+import {r['parse+check+import']:.3f} s, "
          f"lower {r['lower']:.3f} s)  vars {s['variables']} (bool {s['bool']}, real {s['real']}), "
          f"constraints {sum(s['constraints'].values())}", flush=True)


if __name__ == "__main__":
    main()
