"""Every shipped spec in specs/inverse/ on every backend that can take it.

Specs carry their expected status in a `# expect:` header (and, where only some backends
are meant to answer in time, a `# backends:` header: `auto` is the portfolio). Backends that
refuse a model class must say why (cpsat: real variables; z3: mixed
integer/real arithmetic). A brute-force oracle checks the integer photonic
spec: all 8^4 designs through onnxruntime.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import pgen
from pgen.core.errors import PgenError
from pgen.compiler.nn.session import run_network
from tests.conftest import INVERSE, ROOT, expected_of

BACKENDS = ["highs", "cbc", "z3", "cpsat"]
# measured on the 2-core dev machine: these take 5-120 s, so they run with -m slow
SLOW = {("duotone_selection", "highs"), ("duotone_select_axis", "highs"), ("gray_ramp", "z3"), ("duotone_select_axis", "cbc"),
        ("na_hybrid_8ink", "auto"),  # runs to its timeout: the 8-ink optimum is not certified in time
        ("contone_integer_11ink", "auto"),  # runs to its timeout: HiGHS's bound stays 0
        ("photonic_continuous", "auto"),  # certified by input-min in about 150 s (not within 60 s)
        # the 4 x 500 metasurface net: highs 90 s, cbc 170 s (tests/test_robustness.py solves it with highs)
        ("robustness", "highs"), ("robustness", "cbc")}


# the goal the spec states, not met yet: kept visible under -m slow rather than weakened
NOT_YET: dict = {}


def _cases():
    for path in INVERSE:
        for backend in expected_of(path).get("backends", BACKENDS):
            marks = [pytest.mark.slow] if (path.stem, backend) in SLOW else []
            if (path.stem, backend) in NOT_YET:
                marks.append(pytest.mark.xfail(reason=NOT_YET[(path.stem, backend)], strict=False))
            yield pytest.param(path, backend, marks=marks, id=f"{path.stem}-{backend}")


@pytest.mark.parametrize("path,backend", list(_cases()))
def test_spec_on_backend(path, backend):
    problem = pgen.load(path)
    expect = expected_of(path)
    try:
        result = problem.solve(backend=backend, timeout=300)
    except PgenError as e:
        assert e.code == "E030", e.render()
        if backend == "cpsat":
            assert "real" in e.message
        else:
            # z3's two documented limits: mixed int/real, and optimisation over reals
            # with many Booleans (the duotone specs; measured in z3_backend.py)
            assert backend == "z3", e.message
            assert "mix integer and real" in e.message or "more than 32 Booleans" in e.message
        return
    assert result.termination == expect["status"], (result.termination, result.message)
    assert result.verified
    if "objective" in expect:
        assert result.objective == pytest.approx(expect["objective"], rel=1e-6)


def test_nano_integer_matches_brute_force():
    problem = pgen.load(ROOT / "specs" / "inverse" / "nano_integer.pgen")
    target = problem.checked.params["target"]
    net = str(ROOT / "specs" / "nets" / "nano_relu.onnx")
    best = min(float(np.sum(np.abs(run_network(net, np.array(th) / 70).astype(np.float64) - target)))
               for th in itertools.product(range(0, 71, 10), repeat=4))
    result = problem.solve(backend="highs", timeout=60)
    assert result.termination == "optimal"
    assert result.objective == pytest.approx(best, rel=1e-6, abs=1e-6)


def test_photonic_integer_matches_brute_force():
    # the trained 100-50-100 surrogate (thicknesses in nm as inputs), a target off the grid
    problem = pgen.load(ROOT / "specs" / "inverse" / "photonic_integer.pgen")
    target = problem.checked.params["target"]
    net = str(ROOT / "specs" / "nets" / "nano4_100_50_100.onnx")
    scores = {th: float(np.sum(np.abs(run_network(net, np.array(th, np.float32)).astype(np.float64) - target)))
              for th in itertools.product(range(0, 71, 10), repeat=4)}
    best = min(scores.values())
    assert best > 1.0          # the target is not one of the grid's spectra
    result = problem.solve(backend="auto", timeout=60)
    assert result.termination == "optimal" and result.verified
    assert result.objective == pytest.approx(best, rel=1e-6, abs=1e-6)
    assert scores[tuple(int(v) for v in result.values["th"])] == pytest.approx(best, rel=1e-6)


def test_every_seed_002_shape_has_a_spec():
    names = {p.stem for p in INVERSE}
    assert {"gray_ramp", "gray_ramp_44", "duotone_selection", "nano_integer", "contone_layers",
            "softrobot_obstacle", "robustness"} <= names
