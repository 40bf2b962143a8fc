"""The grid encoding against brute force: on grids small enough to enumerate, the images a
backend returns until it proves there are no more equal the set of images the independent
verifier accepts (tests/grid_oracle.py), for each rule alone and in combination.

Each case lowers one concrete draw and enumerates it in a worker (no-good cuts over the
pixels, hole cuts for `no holes`), on every backend that takes the model (a representative
subset in the default run, the rest `slow`)."""
from __future__ import annotations

import numpy as np
import pytest

import pgen
from pgen.compiler.grid.draw import draw_rng, draw_rules
from pgen.core.options import SolveOptions
from pgen.core.results import INFEASIBLE
from pgen.runtime.sample import Cuts, DrawJob
from pgen.runtime.worker import WorkerRun
from pgen.runtime.verify_grid import check_grid, labels_from_image
from tests.grid_oracle import valid_images

FAST = ("cpsat",)
ALL = ("cpsat", "highs", "cbc", "z3")


def _problem(tmp_path, text: str):
    path = tmp_path / "s.pgen"
    path.write_text(text)
    return pgen.load(path)


def enumerate_draw(problem, rules: dict, backend: str) -> set:
    job = DrawJob(problem.checked, rules, Cuts(), backend, SolveOptions(timeout=120, seed=1, threads=1), want=10**6)
    out = WorkerRun(job, 120, backend).result()
    assert getattr(out, "termination", None) == INFEASIBLE, getattr(out, "message", out)
    images = [c.images["I"] for c in out.found]
    keys = [img.astype(np.uint8).tobytes() for img in images]
    assert len(set(keys)) == len(keys), "an image came twice"
    return set(keys)


CASES = {
    # name: (spec body, backends in the default run); the oracle's image counts stay in the
    # hundreds, since each image is one more solve
    "one_grain_manhattan": ("image I : grid 5 x 5\ngrains 1 in I { seeds (2, 2); dag manhattan }\n"
                            "void I { border; no holes }\n", ALL),
    "holes_cut_vs_allowed": ("image I : grid 6 x 6\ngrains 1 in I { seeds (1, 2); dag manhattan; area 14..16 }\n"
                             "void I { border; no holes }\n", FAST),
    "holes_allowed": ("image I : grid 6 x 6\ngrains 1 in I { seeds (1, 2); dag manhattan; area 14..16 }\n"
                      "void I { border }\n", ()),
    "two_grains_touching": ("image I : grid 6 x 6\ngrains 2 in I { seeds (1, 1), (4, 4); compact 2; area 1..4 }\n"
                            "void I { border; no holes }\n", ("cpsat", "highs")),
    "two_grains_gap1": ("image I : grid 6 x 6\ngrains 2 in I { seeds (1, 1), (3, 4); gap 1; compact 2; area 1..4 }\n"
                        "void I { border; no holes }\n", FAST),
    "rows_s1": ("image I : grid 6 x 6\ngrains 1 in I { seeds (2, 2); dag rows; compact 1 }\n"
                "void I { border; no holes }\n", FAST),
    "columns_s2_area": ("image I : grid 6 x 6\ngrains 1 in I { seeds (3, 2); dag columns; compact 2; area 3..5 }\n"
                        "void I { border; no holes }\n", FAST),
    "manhattan_s3_porosity": ("image I : grid 6 x 6\ngrains 1 in I { seeds (2, 3); compact 3 }\n"
                              "void I { border; no holes; porosity in [0.84, 0.89) }\n", FAST),
    "random_dag": ("image I : grid 6 x 6\ngrains 2 in I { seeds (1, 2), (4, 3); dag random; area 1..3 }\n"
                   "void I { border; no holes }\n", FAST),
    "void_dag": ("image I : grid 6 x 6\ngrains 1 in I { seeds (2, 2); area 15..16 }\nvoid I { border; no holes by dag }\n",
                 FAST),
    "periodic": ("image I : grid 5 x 5\ngrains 1 in I { seeds (1, 1); dag manhattan; area 1..5 }\n"
                 "void I { border periodic; no holes }\n", FAST),
    "no_grains_porosity": ("image I : grid 5 x 5\nvoid I { border; no holes; porosity in [0.8, 0.84] }\n", FAST),
    "mask": ("image I : grid 6 x 6 mask \"m.npy\"\ngrains 1 in I { seeds (2, 2); area 1..6 }\nvoid I { border; no holes }\n",
             FAST),
    # volumes (6-neighbourhoods): the 8 interior voxels of 4 x 4 x 4 are free
    "cube_one_grain": ("image I : grid 4 x 4 x 4\ngrains 1 in I { seeds (1, 1, 1); dag manhattan }\n"
                       "void I { border; no holes }\n", FAST),
    "cube_two_grains": ("image I : grid 4 x 4 x 4\ngrains 2 in I { seeds (1, 1, 1), (2, 2, 2) }\n"
                        "void I { border; no holes }\n", FAST),
    "cube_single_voxel": ("image I : grid 3 x 3 x 3\ngrains 1 in I { seeds (1, 1, 1) }\nvoid I { border }\n", FAST),
    "cube_compact": ("image I : grid 4 x 4 x 4\ngrains 1 in I { seeds (1, 1, 2); compact 1 }\n"
                     "void I { border; no holes }\n", FAST),
    "cube_random_dag_area": ("image I : grid 4 x 4 x 4\ngrains 1 in I { seeds (2, 1, 1); dag random; area 2..5 }\n"
                             "void I { border; no holes }\n", FAST),
    "cube_mask": ("image I : grid 4 x 4 x 4 mask \"m3.npy\"\ngrains 1 in I { seeds (1, 1, 1) }\n"
                  "void I { border; no holes }\n", ()),
}


def _cases():
    for name, (body, fast) in CASES.items():
        for backend in ALL:
            marks = [] if backend in fast else [pytest.mark.slow]
            yield pytest.param(name, backend, marks=marks, id=f"{name}-{backend}")


@pytest.mark.parametrize("name,backend", list(_cases()))
def test_enumeration_equals_brute_force(tmp_path, name, backend):
    body, _ = CASES[name]
    if "mask" in body:
        m = np.full((6, 6), -1, dtype=np.int8)
        m[3, 3] = 1   # fixed solid
        m[2, 3] = 0   # fixed void
        np.save(tmp_path / "m.npy", m)
        m3 = np.full((4, 4, 4), -1, dtype=np.int8)
        m3[2, 2, 2] = 1   # fixed solid
        m3[1, 2, 1] = 0   # fixed void
        np.save(tmp_path / "m3.npy", m3)
    problem = _problem(tmp_path, body)
    fam = problem.checked.grids["I"]
    rules = {"I": draw_rules(fam, draw_rng(5, 0))}
    expected = valid_images(rules["I"])
    assert expected, "the oracle found no image: the case tests nothing"
    assert enumerate_draw(problem, rules, backend) == expected


def test_sample_is_distinct_valid_and_reproducible(tmp_path):
    """Random seeds, s and DAG per draw: every image passes the oracle for its own draw, no
    image repeats, and the same seed gives the same images."""
    problem = _problem(tmp_path, "image I : grid 6 x 6\n"
                       "grains 2 in I { seeds random; dag random; compact in {1, 2, 3} }\n"
                       "void I { border; no holes }\n")
    fam = problem.checked.grids["I"]
    runs = [problem.sample(6, seed=11, timeout=30, backend="cpsat") for _ in range(2)]
    for run in runs:
        assert run.made == 6
        keys = [c.images["I"].tobytes() for c in run.cells]
        assert len(set(keys)) == 6
        for cell in run.cells:
            rules = draw_rules(fam, draw_rng(11, cell.record["draw"]))
            image = cell.images["I"]
            # the oracle's criterion, on this image alone (enumerating each draw costs seconds)
            labels = labels_from_image(image, rules)
            assert labels is not None and check_grid(image, labels, rules) == []
            assert np.array_equal(labels, cell.labels["I"])
            assert [g["seed"] for g in cell.record["images"]["I"]["grains"]] == [list(g.seed) for g in rules.grains]
    assert [c.images["I"].tobytes() for c in runs[0].cells] == [c.images["I"].tobytes() for c in runs[1].cells]


def test_fixed_family_proves_exhaustion(tmp_path):
    """Given seeds and one s: asking for more images than exist stops with a proof."""
    problem = _problem(tmp_path, "image I : grid 5 x 5\ngrains 1 in I { seeds (2, 2); compact 1 }\n"
                       "void I { border; no holes }\n")
    rules = {"I": draw_rules(problem.checked.grids["I"], draw_rng(0, 0))}
    n = len(valid_images(rules["I"]))
    run = problem.sample(n + 5, seed=0, timeout=30, backend="cpsat")
    assert run.made == n and run.exhausted and not run.complete


def test_pde_checked_enumeration_equals_brute_force(tmp_path):
    """A require on the true D_xx (an oracle no encoding states): the images returned until
    exhaustion are exactly the valid images whose PDE value is in the interval; none misses."""
    from pgen.surrogate import pde

    problem = _problem(tmp_path, "image I : grid 6 x 6\ngrains 1 in I { seeds (2, 2); compact 2; area 3..6 }\n"
                       "void I { border; no holes }\nrequire dxx(I) in [0.6, 0.8)\n")
    rules = {"I": draw_rules(problem.checked.grids["I"], draw_rng(0, 0))}
    valid = valid_images(rules["I"])
    expected = {k for k in valid if 0.6 <= pde.d_xx(np.frombuffer(k, np.uint8).reshape(6, 6)) < 0.8}
    assert expected and expected != valid, "the interval must keep some images and drop others"
    run = problem.sample(len(valid) + 1, seed=0, timeout=60, backend="cpsat")
    got = {c.images["I"].astype(np.uint8).tobytes() for c in run.cells}
    assert got == expected and run.exhausted
    assert all(0.6 <= c.record["images"]["I"]["true_D_xx"] < 0.8 for c in run.cells)


def test_jobs_make_distinct_verified_images(tmp_path):
    """Two draws at once in two workers: still N distinct images, each valid for its draw."""
    problem = _problem(tmp_path, "image I : grid 6 x 6\ngrains 1 in I { seeds random; dag random; compact in {1, 2} }\n"
                       "void I { border; no holes }\n")
    fam = problem.checked.grids["I"]
    run = problem.sample(4, seed=3, timeout=30, backend="cpsat", jobs=2)
    assert run.made == 4
    assert len({c.images["I"].tobytes() for c in run.cells}) == 4
    for cell in run.cells:
        rules = draw_rules(fam, draw_rng(3, cell.record["draw"]))
        assert check_grid(cell.images["I"], cell.labels["I"], rules) == []


PHASE_CASES = {
    # 3 x 3 images of 3 phases: all 3^9 assignments enumerated
    "phases_counts_apart_touch": "image I : grid 3 x 3\nphases I { pore 4 cells; a in [0.2, 0.4]; b; apart pore b; touch a b }\n",
    "phases_open": "image I : grid 3 x 3\nphases I { pore 0.5 ; a; b 2 cells; open b; touch pore b }\n",
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.slow] if n == "phases_open" else [])
                                  for n in sorted(PHASE_CASES)])
def test_phase_enumeration_equals_brute_force(tmp_path, name):
    from tests.grid_oracle import valid_phase_images

    text = PHASE_CASES[name].replace("pore 0.5 ;", "pore 4 cells;")
    problem = _problem(tmp_path, text)
    rules = {"I": draw_rules(problem.checked.grids["I"], draw_rng(0, 0))}
    expected = valid_phase_images(rules["I"])
    assert expected, "the oracle found no image: the case tests nothing"
    assert enumerate_draw(problem, rules, "cpsat") == expected


def test_phase_volume_against_placements(tmp_path):
    """A 3 x 3 x 3 volume: 25 pore voxels, one `a`, one `b` that touch, `a` open. The oracle
    places a and b everywhere (27 x 26 images) and keeps what check_phases accepts: a off the
    centre, b on a face of a."""
    from pgen.runtime.verify_grid import check_phases

    problem = _problem(tmp_path, "image I : grid 3 x 3 x 3\n"
                       "phases I { pore 25 cells; a 1 cells; b 1 cells; touch a b; open a }\n")
    rules = {"I": draw_rules(problem.checked.grids["I"], draw_rng(0, 0))}
    expected = set()
    for pa in np.ndindex(3, 3, 3):
        for pb in np.ndindex(3, 3, 3):
            if pa == pb:
                continue
            image = np.zeros((3, 3, 3), dtype=np.uint8)
            image[pa], image[pb] = 1, 2
            if not check_phases(image, rules["I"]):
                expected.add(image.tobytes())
    centre_free = sum(sum(1 for d in range(3) for s in (-1, 1) if 0 <= p[d] + s < 3)
                      for p in np.ndindex(3, 3, 3) if p != (1, 1, 1))
    assert len(expected) == centre_free   # the oracle itself, counted by hand
    assert enumerate_draw(problem, rules, "cpsat") == expected
