"""Tiny specs and plans for the batch tests: porous cells that the quick search answers in
milliseconds, and an LP whose optimum is known (2*x0 + x1 with x0 + x1 >= t: t)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CELLS = """image I : grid 8 x 8
grains 1 in I { seeds random; dag manhattan; compact in {1, 2} }
void I { border; no holes }
solve sample 1 seed 1 timeout 20
"""

LP = """param t = 0.5
var x : real[2] in [0, 1]
require x[0] + x[1] >= t
minimize 2 * x[0] + x[1]
solve timeout 20
"""

INFEASIBLE_LP = """var x : real[2] in [0, 1]
require x[0] + x[1] >= 3
minimize x[0]
solve timeout 20
"""


def write_plan(folder: Path, cells: int = 6, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cells.pgen").write_text(CELLS)
    (folder / "lp.pgen").write_text(LP)
    plan = folder / "plan.toml"
    plan.write_text(f"""[[run]]
spec = "cells.pgen"
seeds = "1..{cells}"

[[run]]
spec = "lp.pgen"
cases = [{{ t = 0.25 }}, {{ t = 0.75 }}]
{extra}""")
    return plan


@pytest.fixture
def plan_folder(tmp_path):
    return write_plan(tmp_path / "plan")


def rows_of(out) -> list:
    """The run index's rows, in plan order."""
    from pgen.batching.index import RunIndex

    index = RunIndex(out, create=False)
    try:
        return index.rows()
    finally:
        index.close()


def pgenc(*args, cwd=None, env=None, timeout=300):
    """Run the CLI as a user does (a fresh process); returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "pgen.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


# comparing two run indexes: what a task gave, not when or where it ran
SAME = ("key", "position", "run", "spec", "spec_hash", "options", "status", "termination", "objective",
        "interval", "surrogate", "true_value", "error", "verified", "folder", "images", "design")


def comparable(rows: list) -> list:
    out = []
    for r in rows:
        c = {k: r[k] for k in SAME}
        if c["objective"] is not None:
            c["objective"] = round(c["objective"], 6)
        out.append(c)
    return out


def folder_contents(out: Path) -> dict:
    """Every task's files (bytes), except those that hold times and process ids."""
    skip = {"task.json", "log.txt", "summary.json", "manifest.json", "result.json"}
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted((out / "tasks").rglob("*"))
            if p.is_file() and p.name not in skip and not (p.suffix == ".json" and p.stem.isdigit())}
