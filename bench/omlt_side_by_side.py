"""Benchmark: pgen beside OMLT (Pyomo + HiGHS) on the same ONNX networks and problems (issue 11).

    pip install -e ".[bench]"            # OMLT, Pyomo and highspy: comparison only, never pgen's own
    python bench/omlt_side_by_side.py

Rows (both sides in this one process, through their Python APIs; each figure is the wall
time from the spec text / ONNX file to a certified optimum, building the model included):
- integer inversion of a photonic-size network (4 -> 100 -> 100 -> 200 ReLU, random
  weights, seed 2), inputs k / 7 with k in {0, ..., 7}^4, target = the network at a design
  plus noise;
- continuous inversion of the same network to a reachable target (optimum 0);
- 4-ink spectral separation on specs/nets/cmyk_4x100.onnx, flat 50 % gray target.
Objective everywhere: the L1 distance of the output to the target. pgen runs twice: `auto`
(the portfolio: enumeration or input branch and bound) and `highs` (pgen's own MILP
encoding, bound tightening included, in its worker process). OMLT: ReluBigMFormulation,
input bounds from the box, solved by HiGHS through Pyomo's appsi interface with its
default relative gap 1e-4. Writes docs/results/omlt_side_by_side.md. Not a test.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import pgen
import pgen.core
from pgen.compiler.nn.session import run_batch
from pgen.core.files import atomic_write_bytes
from pgen.surrogate.export import relu_onnx

CODE_ROOT = Path(pgen.core.__file__).resolve().parent.parent
ROOT = Path(__file__).resolve().parent.parent


def photonic_net(folder: Path) -> Path:
    rng = np.random.default_rng(2)
    sizes = (4, 100, 100, 200)
    Ws = [rng.normal(0, 1 / np.sqrt(a), (b, a)) for a, b in zip(sizes, sizes[1:])]
    bs = [rng.normal(0, 0.1, b) for b in sizes[1:]]
    path = folder / "photonic.onnx"
    path.write_bytes(relu_onnx(Ws, bs, 4, names=("x", "y")))
    return path


def problems(folder: Path) -> list:
    """[(row name, ONNX path, target, integer levels or None, pgen spec text)]"""
    net = photonic_net(folder)
    rng = np.random.default_rng(3)
    t_int = run_batch(str(net), np.array([[3, 5, 1, 6]]) / 7)[0].astype(np.float64) + rng.normal(0, 0.05, 200)
    t_cont = run_batch(str(net), np.array([[0.31, 0.72, 0.15, 0.58]]))[0].astype(np.float64)
    gray = np.full(31, 0.5)
    rows = []
    for name, t, levels, onnx_path in [("photonic integer (8 levels)", t_int, 8, net),
                                       ("photonic continuous (reachable)", t_cont, None, net),
                                       ("4-ink gray 50 %", gray, None, CODE_ROOT / "specs/nets/cmyk_4x100.onnx")]:
        csv = folder / f"t{len(rows)}.csv"
        np.savetxt(csv, t[None], delimiter=",", fmt="%.9g")
        var = f"var k : int[4] in [0, {levels - 1}]" if levels else "var k : real[4] in [0, 1]"
        arg = f"k / {levels - 1}" if levels else "k"
        text = (f'param t : real[{len(t)}] = csv "{csv}"\n{var}\nnet f = network "{onnx_path}"\n'
                f"minimize norm1(f({arg}) - t)\n")
        rows.append((name, onnx_path, t, levels, text))
    return rows


def run_pgen(text: str, backend: str, timeout: float) -> dict:
    t0 = time.perf_counter()
    res = pgen.compile_string(text, name="side_by_side").solve(backend=backend, timeout=timeout, seed=1)
    return {"wall": time.perf_counter() - t0, "termination": str(res.termination), "objective": res.objective,
            "member": res.backend}


def run_omlt(onnx_path: Path, t: np.ndarray, levels, timeout: float) -> dict:
    import onnx
    import pyomo.environ as pyo
    from omlt import OmltBlock
    from omlt.io.onnx import load_onnx_neural_network
    from omlt.neuralnet import ReluBigMFormulation
    from pyomo.contrib.appsi.solvers import Highs

    t0 = time.perf_counter()
    net = load_onnx_neural_network(onnx.load(str(onnx_path)), input_bounds={(0, i): (0.0, 1.0) for i in range(4)})
    m = pyo.ConcreteModel()
    m.nn = OmltBlock()
    m.nn.build_formulation(ReluBigMFormulation(net))
    outs = list(m.nn.outputs.keys())
    ins = list(m.nn.inputs.keys())
    if levels:
        m.k = pyo.Var(range(4), domain=pyo.Integers, bounds=(0, levels - 1))
        m.link = pyo.Constraint(range(4), rule=lambda mm, i: mm.nn.inputs[ins[i]] == mm.k[i] / (levels - 1))
    m.e = pyo.Var(range(len(outs)), domain=pyo.NonNegativeReals)
    m.up = pyo.Constraint(range(len(outs)), rule=lambda mm, j: mm.e[j] >= mm.nn.outputs[outs[j]] - float(t[j]))
    m.dn = pyo.Constraint(range(len(outs)), rule=lambda mm, j: mm.e[j] >= float(t[j]) - mm.nn.outputs[outs[j]])
    m.obj = pyo.Objective(expr=sum(m.e[j] for j in range(len(outs))), sense=pyo.minimize)
    solver = Highs()
    solver.config.time_limit = timeout
    solver.config.load_solution = False
    res = solver.solve(m)
    wall = time.perf_counter() - t0
    term = str(res.termination_condition).split(".")[-1]
    best = res.best_feasible_objective
    return {"wall": wall, "termination": term, "objective": best, "bound": res.best_objective_bound}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per solve, either side")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "omlt_side_by_side.md")
    args = ap.parse_args(argv)
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    t0 = time.perf_counter()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, onnx_path, t, levels, text in problems(Path(tmp)):
            auto = run_pgen(text, "auto", args.timeout)
            print(f"{name}: pgen auto {auto}", flush=True)
            highs = run_pgen(text, "highs", args.timeout)
            print(f"{name}: pgen highs {highs}", flush=True)
            omlt = run_omlt(onnx_path, t, levels, args.timeout)
            print(f"{name}: OMLT {omlt}", flush=True)
            fmt = (lambda v: "-" if v is None else f"{v:.6f}")
            ratio = omlt["wall"] / auto["wall"]
            lines.append(f"| {name} | {auto['wall']:.2f} s ({auto['termination']}, {auto['member']}) | "
                         f"{highs['wall']:.2f} s ({highs['termination']}) | {omlt['wall']:.2f} s ({omlt['termination']}) | "
                         f"{fmt(auto['objective'])} / {fmt(highs['objective'])} / {fmt(omlt['objective'])} | "
                         f"{ratio:.1f}x{' (OMLT stopped at the limit: at least this)' if omlt['termination'] != 'optimal' else ''} |")
    commit = subprocess.run(["git", "-C", str(CODE_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    import importlib.metadata as md
    head = ["# pgen beside OMLT (same ONNX, same problem, HiGHS on both sides)", "",
            f"Written by `bench/omlt_side_by_side.py`. Command: `python bench/omlt_side_by_side.py "
            f"{' '.join(sys.argv[1:])}`".rstrip(),
            f"Date: {started}, {(time.perf_counter() - t0) / 60:.1f} min. Code: commit {commit}. OMLT "
            f"{md.version('omlt')}, Pyomo {md.version('pyomo')}, highspy {md.version('highspy')}. Time limit "
            f"{args.timeout:g} s per solve. Machine: 2-core AMD EPYC, one solve at a time.", "",
            "Wall time from the problem to a certified optimum, model building included; pgen's `highs` "
            "includes its worker process start (about 1 s). Objective: L1 distance to the target.", "",
            "| problem | pgen auto | pgen highs | OMLT + HiGHS | objective (auto / highs / OMLT) | OMLT / pgen auto |",
            "|---|---|---|---|---|---|"]
    atomic_write_bytes(args.out, ("\n".join(head + lines) + "\n").encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
