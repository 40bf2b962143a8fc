"""`sample N apart D` on design vectors: integer and Boolean designs against brute force
(every point of the box), real designs against LPs (the points at least D from y in L1 are
the union over sign vectors s of {x : s.(x - y) >= D}, one LP per choice). Each design is
valid, the designs are pairwise at least D apart, each is the best design far enough from
the earlier ones, and a run that stops short has proved that no further design fits."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

import pgen
from pgen.core.errors import PgenError

INTEGER = ("var x : int[3] in 0..3\nvar q : bool[2]\nrequire x[0] + x[1] + x[2] + q[0] == 4\n"
           "require q[0] + q[1] >= 1\nmaximize 3 * x[0] + 2 * x[1] + x[2] - q[1]\n")
REAL = ("var x : real[2] in [0, 1]\nrequire x[0] + x[1] <= 1\nmaximize x[0] + 2 * x[1]\n")


def _problem(tmp_path, text: str):
    (tmp_path / "s.pgen").write_text(text)
    return pgen.load(tmp_path / "s.pgen")


def _vec(design) -> np.ndarray:
    return np.concatenate([np.asarray(design.values[k], dtype=float).reshape(-1) for k in sorted(design.values)])


def _integer_points():
    """(q0, q1, x0, x1, x2) -- the name order of the design vector -- and the objective."""
    for q0, q1, *x in itertools.product((0, 1), (0, 1), range(4), range(4), range(4)):
        if sum(x) + q0 == 4 and q0 + q1 >= 1:
            yield np.array([q0, q1, *x], dtype=float), 3 * x[0] + 2 * x[1] + x[2] - q1


@pytest.mark.parametrize("backend,apart", [("highs", 3), ("cpsat", 3), ("cbc", 2), ("z3", 4), ("highs", 1)])
def test_integer_designs_against_brute_force(tmp_path, backend, apart):
    problem = _problem(tmp_path, INTEGER + f"solve sample 100 apart {apart}\n")
    run = problem.sample(backend=backend, timeout=60)
    points = list(_integer_points())
    made = [_vec(d) for d in run.designs]
    assert 1 < run.made < len(points) if apart > 1 else run.made == len(points)  # D = 1: every design
    for k, (vec, design) in enumerate(zip(made, run.designs)):
        assert any(np.array_equal(vec, p) for p, _ in points), f"design {k + 1} is not a valid design"
        assert all(np.abs(vec - e).sum() >= apart for e in made[:k])
        # the best design far enough from the earlier ones (ties may pick any of them)
        best = max(obj for p, obj in points if all(np.abs(p - e).sum() >= apart for e in made[:k]))
        assert design.objective == best and design.termination == "optimal"
    further = [p for p, _ in points if all(np.abs(p - e).sum() >= apart for e in made)]
    assert further == [] and run.exhausted and run.stopped == "exhausted"
    assert run.min_distance >= apart


def _lp_best(earlier: list, apart: float) -> float | None:
    """max x0 + 2 x1 over the triangle, at least `apart` (L1) from each earlier design, by one
    LP per sign vector; None when no point is that far from all."""
    best = None
    for signs in itertools.product((-1.0, 1.0), repeat=2 * len(earlier)):
        s = np.array(signs).reshape(len(earlier), 2)
        # s_k.(x - y_k) >= apart  ->  -s_k.x <= -apart - s_k.y_k
        a_ub = np.vstack([[[1.0, 1.0]], -s]) if earlier else np.array([[1.0, 1.0]])
        b_ub = np.concatenate([[1.0], [-apart - s[k] @ y for k, y in enumerate(earlier)]])
        res = linprog([-1.0, -2.0], A_ub=a_ub, b_ub=b_ub, bounds=[(0, 1), (0, 1)], method="highs")
        if res.status == 0:
            best = max(best if best is not None else -np.inf, -res.fun)
    return best


@pytest.mark.parametrize("backend", ["highs", "cbc", "z3"])
def test_real_designs_against_lps(tmp_path, backend):
    apart = 0.7
    problem = _problem(tmp_path, REAL + f"solve sample 20 apart {apart}\n")
    run = problem.sample(backend=backend, timeout=60)
    made = [_vec(d) for d in run.designs]
    assert run.made >= 3
    for k, (vec, design) in enumerate(zip(made, run.designs)):
        assert np.all(vec >= 0) and np.all(vec <= 1) and vec.sum() <= 1 + 1e-9
        assert all(np.abs(vec - e).sum() >= apart - 1e-6 for e in made[:k])
        assert design.objective == pytest.approx(_lp_best(made[:k], apart), abs=1e-6)
    assert run.exhausted and _lp_best(made, apart + 1e-6) is None, "a further design fits"


def test_real_designs_need_a_distance(tmp_path):
    problem = _problem(tmp_path, REAL + "solve sample 3\n")
    with pytest.raises(PgenError, match=r"sampling designs with real variables \(`x`\) needs a distance"):
        problem.sample()


def test_a_backend_that_cannot_take_the_model_says_so(tmp_path):
    problem = _problem(tmp_path, REAL + "solve sample 3 apart 0.5\n")
    with pytest.raises(PgenError, match="backend `cpsat` handles bool, int variables only") as e:
        problem.sample(backend="cpsat")
    assert "s.pgen" in e.value.render()


def test_a_verified_design_too_close_to_an_earlier_one_stops_the_run(tmp_path, monkeypatch):
    """The run measures distances itself: a solver that ignored the rows is caught."""
    from pgen.runtime import sample_designs

    real = sample_designs.keep_apart
    monkeypatch.setattr(sample_designs, "keep_apart", lambda found, d, coords: real([], d, coords))
    problem = _problem(tmp_path, INTEGER + "solve sample 3 apart 2\n")
    run = problem.sample(backend="highs", timeout=60)
    assert run.made == 1 and run.failed and run.stopped == "failed"
    assert "0 from design 1 (at least 2 asked)" in run.messages[0]
