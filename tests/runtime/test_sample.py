"""runtime.sample with the quick grown-image search in front of the solver: the images it
makes are distinct, valid for their own draw, inside the surrogate interval by onnxruntime,
reproducible, and with a true-value require never miss the PDE."""
from __future__ import annotations

import numpy as np

import pgen
from pgen.compiler.grid.draw import draw_rng, draw_rules
from pgen.compiler.nn.session import run_network
from pgen.runtime.verify_grid import check_grid
from pgen.surrogate import pde
from tests.conftest import ROOT

NET = ROOT / "specs" / "nets" / "d2_bnn.onnx"


def _problem(tmp_path, requires: str):
    (tmp_path / "s.pgen").write_text(
        "image I : grid 16 x 16\ngrains 2 in I { seeds random; dag manhattan; compact in {2, 3} }\n"
        f"void I {{ border; no holes }}\nnet disp = network \"{NET}\"\n{requires}")
    return pgen.load(tmp_path / "s.pgen")


def _assert_valid(problem, run, seed, lo, hi):
    fam = problem.checked.grids["I"]
    keys = [c.images["I"].tobytes() for c in run.cells]
    assert len(set(keys)) == len(keys)
    for cell in run.cells:
        rules = draw_rules(fam, draw_rng(seed, cell.record["draw"]))
        assert check_grid(cell.images["I"], cell.labels["I"], rules) == []
        y = float(run_network(str(NET), cell.images["I"].reshape(-1).astype(np.float64))[0])
        assert lo <= y < hi


def test_grown_images_are_distinct_valid_inside_and_reproducible(tmp_path):
    problem = _problem(tmp_path, "require disp(I) in [55, 75)\n")
    runs = [problem.sample(4, seed=3, timeout=30) for _ in range(2)]
    for run in runs:
        assert run.made == 4
        _assert_valid(problem, run, 3, 55, 75)
    assert any(c.record["solver"] == "grow" for c in runs[0].cells), "the quick search never answered"
    assert [c.images["I"].tobytes() for c in runs[0].cells] == [c.images["I"].tobytes() for c in runs[1].cells]


def test_true_value_checked_grown_images_never_miss(tmp_path):
    """The quick search runs the PDE check too: what it emits has its true D_xx inside."""
    problem = _problem(tmp_path, "require disp(I) in [55, 75)\nrequire dxx(I) in [0.55, 0.75)\n")
    run = problem.sample(3, seed=5, timeout=30)
    assert run.made == 3
    _assert_valid(problem, run, 5, 55, 75)
    for cell in run.cells:
        assert 0.55 <= pde.d_xx(cell.images["I"]) < 0.75
        assert cell.record["candidates"] >= 1


def test_a_draw_without_an_answer_is_abandoned_after_its_deterministic_work():
    """d2_40_50 draw (seed 3, index 0) is out of the surrogate's reach for its geometry
    (docs/results/porous_unknowns.md): CP-SAT neither answers nor proves it quickly, so with a
    work cap the draw ends UNKNOWN after 4 + 8 deterministic seconds, the same in every run."""
    from pgen.compiler.grid.draw import rules_for
    from pgen.core.options import SolveOptions
    from pgen.runtime.sample import Cuts, DrawJob

    checked = pgen.load(ROOT / "specs" / "porous" / "d2_40_50.pgen").checked
    options = SolveOptions(timeout=120.0, seed=11, threads=1)
    out = DrawJob(checked, rules_for(checked, 3, 0), Cuts(), "cpsat", options, work_cap=12.0).run()
    assert out.termination == "unknown" and not out.found
    assert "abandoned after 12 deterministic seconds" in out.message
    assert out.solves == 2
