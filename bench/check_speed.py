"""Benchmark: `pgenc check SPEC` against `pgenc --help` for every spec under specs/.

    python bench/check_speed.py [--pythonpath DIR] [--repeat 3]

Each command runs in a fresh interpreter (`python -P -m pgen.cli ...`); the figure is the
minimum wall time of `--repeat` runs, and the extra time of `check` over `--help` is what
checking a spec costs beyond starting pgen. `--pythonpath` runs another pgen tree (e.g. an
older commit, laid out as a `pgen` package) for a side-by-side figure. Issue 9's target:
at most +0.3 s for every spec. Not a test: figures go to docs/results/check_speed.md.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def best_time(args: list[str], env: dict, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-P", "-m", "pgen.cli", *args], capture_output=True, env=env,
                              cwd=ROOT)
        best = min(best, time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"pgenc {' '.join(args)} failed:\n{proc.stderr.decode()}")
    return best


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pythonpath", default=None, help="a folder holding the `pgen` package to time instead")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    env = dict(os.environ)
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    base = best_time(["--help"], env, args.repeat)
    print(f"{'pgenc --help':40s} {base:6.3f} s")
    worst = 0.0
    for spec in sorted(ROOT.glob("specs/**/*.pgen")):
        t = best_time(["check", str(spec.relative_to(ROOT))], env, args.repeat)
        worst = max(worst, t - base)
        print(f"{str(spec.relative_to(ROOT)):40s} {t:6.3f} s  +{t - base:.3f}")
    print(f"{'worst extra over --help':40s}        +{worst:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
