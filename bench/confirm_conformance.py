"""Benchmark: `--confirm` on the external conformance suite (../shared/conformance).

    python bench/confirm_conformance.py [--timeout 300] [--confirm-timeout 600] [--only acasxu]
                                        [--write docs/results/confirm_conformance.md]

For every case whose expected answer is `unsat`: the verdict (and the member that decided),
then the second method's verdict (runtime/confirm.py) and its time. A disagreement is counted
and printed with both answers; it is never an expected outcome. Not a test.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "conformance"


def run_case(folder: Path, onnx: str, prop: str, timeout: float, confirm_timeout: float) -> dict:
    from pgen.api import load_vnnlib
    from pgen.runtime.confirm import Disagreement, confirm

    problem = load_vnnlib(folder / prop, folder / onnx)
    start = time.perf_counter()
    result = problem.solve(timeout=timeout)
    first = time.perf_counter() - start
    row = {"case": f"{folder.name}/{onnx[:-5]} {prop[:-7]}", "verdict": str(result.termination),
           "by": result.backend, "time": first, "confirmation": "-", "confirm_time": 0.0, "agree": None}
    if result.termination != "infeasible":
        return row
    start = time.perf_counter()
    try:
        c = confirm(problem, result, confirm_timeout)
        row["confirmation"] = c.line()
        row["agree"] = True if c.confirmed else None
    except Disagreement as e:
        row["confirmation"] = e.message
        row["agree"] = False
    row["confirm_time"] = time.perf_counter() - start
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(DEFAULT))
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--confirm-timeout", type=float, default=600.0)
    ap.add_argument("--only", default=None, help="one folder of the suite (e.g. acasxu)")
    ap.add_argument("--write", default=None)
    args = ap.parse_args(argv)
    root = Path(args.root)
    if not root.is_dir():
        print(f"{root} is absent", file=sys.stderr)
        return 1
    rows = []
    for folder in sorted(p for p in root.iterdir() if (p / "expected.csv").exists()):
        if args.only and folder.name != args.only:
            continue
        with open(folder / "expected.csv") as f:
            for case in csv.DictReader(f):
                if case["expected"] != "unsat":
                    continue
                row = run_case(folder, case["onnx"], case["vnnlib"], args.timeout, args.confirm_timeout)
                rows.append(row)
                print(f"{row['case']}: {row['verdict']} by {row['by']} ({row['time']:.1f} s); "
                      f"{row['confirmation']} ({row['confirm_time']:.1f} s)", flush=True)
    confirmed = sum(r["agree"] is True for r in rows)
    disagree = sum(r["agree"] is False for r in rows)
    lines = ["| case | verdict | decided by | time (s) | second method | time (s) |", "|---|---|---|---:|---|---:|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['verdict']} | {r['by']} | {r['time']:.1f} | {r['confirmation']} | "
                     f"{r['confirm_time']:.1f} |")
    summary = (f"{len(rows)} unsat cases: {confirmed} confirmed by a second method, {disagree} disagreements, "
               f"{len(rows) - confirmed - disagree} not confirmed within {args.confirm_timeout:g} s")
    print(summary)
    if args.write:
        import platform

        text = ("# `--confirm` on the visible conformance suite\n\n"
                f"Command: `python bench/confirm_conformance.py --timeout {args.timeout:g} "
                f"--confirm-timeout {args.confirm_timeout:g}" + (f" --only {args.only}" if args.only else "")
                + f" --write {args.write}`  \nMachine: {platform.processor() or platform.machine()}, "
                "2 cores; Python " + platform.python_version() + "\n\n" + "\n".join(lines) + "\n\n" + summary + "\n")
        Path(args.write).write_text(text)
    return 0 if disagree == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
