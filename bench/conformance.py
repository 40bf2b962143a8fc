"""Benchmark: the external conformance suite (../shared/conformance), case by case.

    python bench/conformance.py [--timeout 300] [--only acasxu] [--write docs/results/conformance.md]

For each case: our answer, backend and wall time (compile + solve, in this process and
its solver worker) beside the other tools' times from expected.csv; then the counts of
correct / wrong / unknown answers and the median ratio of our time to venus2's
(a MILP verifier on Gurobi; ACAS Xu only). Not a test.
"""
from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "conformance"
OTHERS = ["abcrown21_s", "nnenum21_s", "marabou21_s", "venus2_21_s", "abcrown22_s", "nnenum22_s"]


def run_case(folder: Path, onnx: str, prop: str, timeout: float):
    from pgen.api import load_vnnlib
    from pgen.core.errors import PgenError

    start = time.perf_counter()
    try:
        result = load_vnnlib(folder / prop, folder / onnx).solve(timeout=timeout)
    except PgenError as e:
        return "error", "-", time.perf_counter() - start, e.message
    wall = time.perf_counter() - start
    if result.has_solution:
        return ("sat" if result.verified else "error"), result.backend, wall, ""
    if result.termination == "infeasible":
        return "unsat", result.backend, wall, ""
    return "unknown", result.backend, wall, result.termination


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=DEFAULT)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--only", default=None, help="one folder, e.g. acasxu")
    ap.add_argument("--write", type=Path, default=None, help="also write a markdown table here")
    args = ap.parse_args()
    if not args.root.is_dir():
        print(f"no conformance data at {args.root}", file=sys.stderr)
        return 1
    rows = []
    header = f"{'case':58s} {'expected':8s} {'ours':8s} {'backend':7s} {'time_s':>8s}  others (s)"
    print(header)
    for folder in sorted(p for p in args.root.iterdir() if (p / "expected.csv").exists()):
        if args.only and folder.name != args.only:
            continue
        with open(folder / "expected.csv") as f:
            for row in csv.DictReader(f):
                answer, backend, wall, note = run_case(folder, row["onnx"], row["vnnlib"], args.timeout)
                others = {k: row.get(k) for k in OTHERS if row.get(k)}
                name = f"{folder.name}/{row['onnx'][:-5]} {row['vnnlib'][:-7]}"
                rows.append((name, row["expected"], answer, backend, wall, others, note))
                shown = " ".join(f"{k[:-2]}={v}" for k, v in others.items())
                print(f"{name:58s} {row['expected']:8s} {answer:8s} {backend:7s} {wall:8.2f}  {shown} {note}", flush=True)
    correct = sum(1 for r in rows if r[2] == r[1])
    wrong = sum(1 for r in rows if r[2] in ("sat", "unsat") and r[2] != r[1])
    unknown = len(rows) - correct - wrong
    ratios = [r[4] / float(r[5]["venus2_21_s"]) for r in rows if r[2] == r[1] and "venus2_21_s" in r[5]]
    summary = (f"correct {correct}, wrong {wrong}, unknown {unknown} of {len(rows)}; "
               f"median time ratio to venus2 (decided cases) "
               f"{statistics.median(ratios):.2f}" if ratios else
               f"correct {correct}, wrong {wrong}, unknown {unknown} of {len(rows)}; no venus2 comparison")
    print(summary)
    if args.write:
        lines = ["| case | expected | ours | backend | time (s) | venus2 2021 (s) | nnenum 2022 (s) |",
                 "|---|---|---|---|---|---|---|"]
        for name, exp, ans, be, wall, others, note in rows:
            lines.append(f"| {name} | {exp} | {ans} | {be} | {wall:.2f} | {others.get('venus2_21_s', '')} | "
                         f"{others.get('nnenum22_s', '')} |")
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text("\n".join(lines) + "\n\n" + summary + "\n")
    return 0 if wrong == 0 else 2


if __name__ == "__main__":
    sys.exit(main())
