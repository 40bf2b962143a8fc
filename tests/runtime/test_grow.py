"""The quick grown-image search: what it returns is valid for the draw, not excluded, and in
the surrogate's interval by onnxruntime; an interval nothing reaches gives None."""
from __future__ import annotations

import numpy as np

import pgen
from pgen.compiler.grid.draw import draw_rng, draw_rules
from pgen.compiler.nn.session import run_network
from pgen.runtime import grow
from pgen.runtime.verify_grid import check_grid
from tests.conftest import ROOT

NET = ROOT / "specs" / "nets" / "d2_bnn.onnx"


def _problem(tmp_path, interval: str, extra: str = ""):
    (tmp_path / "s.pgen").write_text(
        "image I : grid 16 x 16\ngrains 2 in I { seeds random; dag random; compact in {2, 3}" + extra + " }\n"
        f"void I {{ border; no holes }}\nnet disp = network \"{NET}\"\nrequire disp(I) in {interval}\n")
    return pgen.load(tmp_path / "s.pgen")


def test_grown_images_are_valid_distinct_and_inside(tmp_path):
    problem = _problem(tmp_path, "[70, 100]", "; gap 1")
    assert grow.applies(problem.checked, [])
    fam = problem.checked.grids["I"]
    found = set()
    for k in range(4):
        rules = {"I": draw_rules(fam, draw_rng(5, k))}
        hit = grow.search(problem.checked, rules, set(found), np.random.default_rng(k))
        if hit is None:
            continue
        image, labels = hit
        assert check_grid(image, labels, rules["I"]) == []
        assert image.tobytes() not in found
        assert 70 <= float(run_network(str(NET), image.reshape(-1).astype(np.float64))[0]) <= 100
        found.add(image.tobytes())
    assert found, "no draw gave a grown image in a wide interval"


def test_an_interval_out_of_reach_gives_none(tmp_path):
    problem = _problem(tmp_path, "[200, 300]")
    rules = {"I": draw_rules(problem.checked.grids["I"], draw_rng(1, 0))}
    assert grow.search(problem.checked, rules, set(), np.random.default_rng(0), paths=16) is None


def test_other_requires_leave_it_to_the_solver(tmp_path):
    problem = _problem(tmp_path, "[70, 100]")
    (tmp_path / "t.pgen").write_text((tmp_path / "s.pgen").read_text() + "require sum(I) >= 20\n")
    assert not grow.applies(pgen.load(tmp_path / "t.pgen").checked, [])
