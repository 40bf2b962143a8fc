"""One bad spec per diagnostic; the exact rendered message is pinned in a golden file.

Regenerate after an intended wording change: UPDATE_GOLDENS=1 pytest tests/dsl/test_error_goldens.py
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from pgen.api import Problem
from pgen.core.errors import PgenError

HERE = Path(__file__).resolve().parent.parent / "golden" / "errors"
CASES = sorted(HERE.glob("*.pgen"))


def render_error(path: Path) -> str:
    text = path.read_text()
    try:
        problem = Problem(text, path.name, HERE)
        problem.model
        if "timeout" in problem.options:  # option values are checked when the spec is solved
            from pgen.runtime.solve import solve
            solve(problem, timeout=problem.options["timeout"])
    except PgenError as e:
        return e.render() + "\n"
    raise AssertionError(f"{path.name}: no error raised")


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_error_golden(path):
    got = render_error(path)
    golden = path.with_suffix(".err")
    if os.environ.get("UPDATE_GOLDENS") or not golden.exists():
        golden.write_text(got)
    assert got == golden.read_text()


def test_every_code_has_a_golden():
    from pgen.core.errors import CODES

    seen = {line.split("error[")[1][:4] for p in HERE.glob("*.err") for line in p.read_text().splitlines()
            if "error[" in line}
    # backend and output errors: tests/test_cli.py; batch plans and run folders: tests/batching;
    # a network misread (found by --net-check): tests/compiler/nn/test_net_check.py; two methods
    # that disagree (--confirm): tests/runtime/test_confirm.py
    untested = set(CODES) - seen - {"E030", "E040", "E050", "E024", "E060"}
    assert not untested, f"diagnostics without a golden: {sorted(untested)}"
