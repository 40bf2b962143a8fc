"""Every shipped porous spec checks; a representative few make a verified image on `auto`
(the rest, and the ReLU surrogates, with -m slow: each draw may take up to the spec's timeout)."""
from __future__ import annotations

import numpy as np
import pytest

import pgen
from pgen.compiler.grid.draw import draw_rng, draw_rules
from pgen.runtime.verify_grid import check_grid
from tests.conftest import ROOT

POROUS = sorted((ROOT / "specs" / "porous").glob("*.pgen"))
DEFAULT_RUN = {"d2_60_70", "mask"}


def test_every_table_1_interval_has_a_spec():
    names = {p.stem for p in POROUS}
    for ds in ("d2", "d3"):
        for lo in range(40, 100, 10):
            assert f"{ds}_{lo}_{lo + 10}" in names and f"{ds}_relu_{lo}_{lo + 10}" in names
    assert {"d2_60_70_checked", "dxx_dyy", "fixed_seeds", "dag_rows", "dag_random", "gap_area_porosity",
            "periodic", "mask"} <= names


@pytest.mark.parametrize("path", POROUS, ids=lambda p: p.stem)
def test_spec_checks(path):
    problem = pgen.load(path)
    assert "I" in problem.checked.grids


def _cases():
    for path in POROUS:
        marks = [] if path.stem in DEFAULT_RUN else [pytest.mark.slow]
        yield pytest.param(path, marks=marks, id=path.stem)


@pytest.mark.parametrize("path", list(_cases()))
def test_spec_makes_a_verified_image(path):
    problem = pgen.load(path)
    run = problem.sample(1, seed=1, timeout=60, max_draws=6)
    assert run.made == 1, run.summary()
    cell = run.cells[0]
    rules = draw_rules(problem.checked.grids["I"], draw_rng(1, cell.record["draw"]))
    assert check_grid(cell.image, cell.grain_labels, rules) == []
    for term in cell.record["surrogate"]:
        lo, hi = term["interval"]
        assert lo <= term["value"] <= hi
    if "true_value_checks" in cell.record:  # the PDE-checked spec: the true value is in its interval
        assert 0.60 <= cell.record["images"]["I"]["true_D_xx"] < 0.70
    assert np.all(cell.image[0] == 0) or path.stem == "periodic"
