"""Why some porous instances stay undecided: for every `auto` instance of the benchmark's
store (docs/results/porous_generation.json) that ended unknown, the range of the surrogate
over many grown images of that draw (runtime/grow.py's growth paths, every stage, grid rules
not checked) beside the interval asked for. An interval beyond that range is out of reach
for the draw's geometry (its seeds and compactness cap the solid area) unless the solver
finds an image growth never makes; proving so is what CP-SAT does not finish in 60 s.

    python bench/porous_unknowns.py [--paths 300]

Writes docs/results/porous_unknowns.md. Not a test.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import pgen
import pgen.core
from pgen.compiler.grid.draw import rules_for
from pgen.compiler.nn.session import run_batch
from pgen.core.files import atomic_write_bytes
from pgen.runtime.grow import grow_path
from pgen.runtime.terms import surrogate_terms

CODE_ROOT = Path(pgen.core.__file__).resolve().parent.parent
ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paths", type=int, default=300)
    ap.add_argument("--store", type=Path, default=ROOT / "docs" / "results" / "porous_generation.json")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "porous_unknowns.md")
    args = ap.parse_args(argv)
    store = json.loads(args.store.read_text())["main"]
    cases = [i for i in store["instances"] if i["config"] == "auto" and i["outcome"] == "unknown"]
    rows = []
    for inst in cases:
        lo, hi = inst["interval"]
        relu = "relu_" if inst["net"] == "relu" else ""
        checked = pgen.load(CODE_ROOT / "specs" / "porous" / f"{inst['dataset']}_{relu}{lo}_{hi}.pgen").checked
        net = checked.nets[surrogate_terms(checked)[0][1].func]
        (_, rules), = rules_for(checked, inst["seed"], 0).items()
        rng = np.random.default_rng(0)
        ys, areas = [], []
        for _ in range(args.paths):
            stages = grow_path(rules, rng)
            X = (stages > 0).reshape(len(stages), -1).astype(np.float32)
            ys.append(run_batch(net.path, X)[:, 0])
            areas.append(X.sum(axis=1))
        y, a = np.concatenate(ys), np.concatenate(areas)
        reach = "out of reach" if y.min() >= hi or y.max() < lo else "reached by some grown image"
        rows.append(f"| {inst['dataset'].upper()} [{lo},{hi}) | {inst['seed']} | {rules.grains[0].s} | "
                    f"{[list(g.seed) for g in rules.grains]} | {int(a.max())} | {y.min():.1f} .. {y.max():.1f} | {reach} |")
        print(rows[-1], flush=True)
    text = ["# Undecided porous instances: the surrogate's range over grown images", "",
            f"Written by `bench/porous_unknowns.py --paths {args.paths}` from `{args.store.name}` "
            f"(the `auto` instances that ended unknown at 60 s). Per draw: {args.paths} growth paths "
            "(runtime/grow.py), every stage run through the surrogate.", "",
            "| instance | seed | s | grain seeds | largest solid area grown | surrogate over grown images | interval |",
            "|---|---|---|---|---|---|---|", *rows, ""]
    atomic_write_bytes(args.out, "\n".join(text).encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
