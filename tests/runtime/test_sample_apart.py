"""`sample N apart D` on porous images, against the brute-force oracle (tests/grid_oracle.py):
every image made is valid, they differ pairwise in at least D cells, and when a fixed family
stops short because it is proved infeasible, no valid image is D cells from all those made
(the greedy set is maximal). The checks a run makes on its own candidates can fail too."""
from __future__ import annotations

import numpy as np
import pytest

import pgen
from pgen.compiler.grid.draw import draw_rng, draw_rules
from pgen.core.results import FEASIBLE
from pgen.runtime import sample as S
from tests.conftest import ROOT
from tests.grid_oracle import valid_images, valid_phase_images

ONE_GRAIN = "image I : grid 5 x 5\ngrains 1 in I { seeds (2, 2); compact 1 }\nvoid I { border; no holes }\n"
PHASES = "image I : grid 3 x 3\nphases I { pore 4 cells; a in [0.2, 0.4]; b; apart pore b; touch a b }\n"


def _problem(tmp_path, text: str):
    (tmp_path / "s.pgen").write_text(text)
    return pgen.load(tmp_path / "s.pgen")


def _assert_maximal_separated_set(run, valid: set, apart: int) -> None:
    made = [c.images["I"].astype(np.uint8) for c in run.cells]
    assert all(m.tobytes() in valid for m in made), "an image the oracle rejects"
    for i, a in enumerate(made):
        for b in made[:i]:
            assert np.sum(a != b) >= apart
    assert run.min_distance >= apart and run.summary()["apart"] == apart
    # stopped because nothing more fits: proved, and true by brute force
    assert run.exhausted and not run.complete and run.timed_out == 0
    shape = made[0].shape
    further = [k for k in valid if all(np.sum(np.frombuffer(k, np.uint8).reshape(shape) != m) >= apart for m in made)]
    assert further == [], f"{len(further)} valid images are still {apart} cells from all those made"


@pytest.mark.parametrize("backend,apart", [("cpsat", 2), ("cpsat", 3), ("cpsat", 6), ("highs", 3), ("cbc", 4),
                                           ("z3", 3)])
def test_apart_sample_is_a_maximal_separated_set(tmp_path, backend, apart):
    problem = _problem(tmp_path, ONE_GRAIN + f"solve sample 200 apart {apart}\n")
    valid = valid_images(draw_rules(problem.checked.grids["I"], draw_rng(0, 0)))
    run = problem.sample(backend=backend, timeout=60)
    assert 1 < run.made < len(valid)
    _assert_maximal_separated_set(run, valid, apart)


def test_apart_phase_images_are_a_maximal_separated_set(tmp_path):
    """n-phase images (each draw one image in a run, so one draw enumerated here): the
    distance counts cells holding another phase."""
    from pgen.core.options import SolveOptions
    from pgen.core.results import INFEASIBLE
    from pgen.runtime.worker import WorkerRun

    problem = _problem(tmp_path, PHASES)
    rules = {"I": draw_rules(problem.checked.grids["I"], draw_rng(0, 0))}
    valid = valid_phase_images(rules["I"])
    job = S.DrawJob(problem.checked, rules, S.Cuts(apart=6), "cpsat", SolveOptions(timeout=60, seed=1, threads=1),
                    want=10**6)
    out = WorkerRun(job, 60, "cpsat").result()
    assert out.termination == INFEASIBLE, out.message
    run = S.SampleRun(len(valid), cells=[S.Cell(k, c.images, c.labels, {}, {}) for k, c in enumerate(out.found)],
                      apart=6, exhausted=True)
    assert 1 < run.made < len(valid)
    _assert_maximal_separated_set(run, valid, 6)


def test_images_rejected_by_their_true_value_do_not_push_others_away(tmp_path):
    """A candidate whose true D_xx misses is excluded alone (distance 1), not with its D-ball:
    the set is maximal among the images that pass the PDE check."""
    from pgen.surrogate import pde

    problem = _problem(tmp_path, "image I : grid 6 x 6\ngrains 1 in I { seeds (2, 2); compact 2; area 3..6 }\n"
                       "void I { border; no holes }\nrequire dxx(I) in [0.6, 0.8)\nsolve sample 100 apart 3\n")
    valid = valid_images(draw_rules(problem.checked.grids["I"], draw_rng(0, 0)))
    inside = {k for k in valid if 0.6 <= pde.d_xx(np.frombuffer(k, np.uint8).reshape(6, 6)) < 0.8}
    assert inside and inside != valid
    run = problem.sample(backend="cpsat", timeout=60)
    assert run.rejected > 0, "no candidate missed: the case tests nothing"
    _assert_maximal_separated_set(run, inside, 3)


def test_a_candidate_too_close_to_an_image_made_is_discarded():
    """Draws in flight (and the quick search) learn of images made only with the next draw:
    the run measures each candidate's distance to the images made itself."""
    first = np.zeros((5, 5), np.uint8)
    first[2, 2] = 1
    near = first.copy()
    near[2, 3] = 1   # one cell away
    run = S.SampleRun(3, apart=2)
    run.cells.append(S.Cell(1, {"I": first}, {"I": first.astype(np.int8)}, {}, {}))
    cuts = S.Cuts(apart=2)
    out = S.DrawOutcome(FEASIBLE, found=[S.Candidate({"I": near}, {"I": near}, {"I": near.astype(np.int8)}, 1, 0.0)])
    S._absorb(None, run, cuts, {first.tobytes()}, out, {}, 1, 0, 1e-6, None)
    assert run.made == 1 and run.too_close == 1
    assert [c["I"].tobytes() for c in cuts.images] == [near.tobytes()] and cuts.kept == []


def test_quick_search_keeps_its_images_apart(tmp_path):
    """The grown-image search skips images fewer than D cells from those made: with the image
    it would return (nudged by two cells) kept, the same seed gives one at least D away."""
    net = ROOT / "specs" / "nets" / "d2_bnn.onnx"
    problem = _problem(tmp_path, "image I : grid 16 x 16\ngrains 2 in I { seeds random; dag manhattan; "
                       f"compact in {{2, 3}} }}\nvoid I {{ border; no holes }}\nnet disp = network \"{net}\"\n"
                       "require disp(I) in [55, 75)\n")
    checked = problem.checked
    rules = {"I": draw_rules(checked.grids["I"], draw_rng(3, 0))}
    plain = S._quick_search(checked, rules, S.Cuts(), set(), 12345, 20.0, [])
    assert plain.found, "the quick search found nothing: the case tests nothing"
    image = plain.found[0].images["I"]
    nudged = image.copy()
    nudged[0, 0] ^= 1
    nudged[0, 1] ^= 1
    cuts = S.Cuts(kept=[{"I": nudged}], apart=12)
    out = S._quick_search(checked, rules, cuts, set(), 12345, 20.0, [])
    for cand in out.found:
        assert np.sum(cand.images["I"] != nudged) >= 12
