"""Golden LP / SMT-LIB2 / CP-SAT files: compiled models must not change unnoticed.

Regenerate after an intended change: UPDATE_GOLDENS=1 pytest tests/compiler/test_golden_lp.py
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import pgen
from tests.conftest import ROOT

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "lp"
CASES = [
    ("robustness_tiny", "highs", "lp"),
    ("softrobot_tiny", "highs", "mps"),
    ("nano_integer", "highs", "lp"),
    ("gray_ramp", "z3", "smt2"),
]
FIXTURE = ROOT / "tests" / "fixtures"


@pytest.mark.parametrize("stem,backend,fmt", CASES, ids=lambda v: str(v))
def test_golden_model(stem, backend, fmt):
    problem = pgen.load(ROOT / "specs" / "inverse" / f"{stem}.pgen")
    text = problem.compile(backend, fmt)
    golden = GOLDEN / f"{stem}.{backend}.{fmt}"
    if os.environ.get("UPDATE_GOLDENS") or not golden.exists():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


def test_golden_cpsat_binarized(tmp_path):
    problem = pgen.load(FIXTURE / "bnn_interval.pgen")
    text = problem.compile("cpsat", "cpsat.txt")
    golden = GOLDEN / "bnn_interval.cpsat.txt"
    if os.environ.get("UPDATE_GOLDENS") or not golden.exists():
        golden.write_text(text)
    assert text == golden.read_text()


def test_cbc_refuses_to_write_rounded_files():
    from pgen.core.errors import PgenError

    problem = pgen.load(ROOT / "specs" / "inverse" / "robustness_tiny.pgen")
    with pytest.raises(PgenError, match="does not write model files exactly"):
        problem.compile("cbc", "lp")
