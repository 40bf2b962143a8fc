"""Members that give a start (the neural adjoint): their verified incumbent becomes the
exact backend's objective cutoff, an infeasible cutoff model certifies it, a better solution
still wins, and the result names who found what; `--plot` draws the timeline."""
from __future__ import annotations

import numpy as np
import pytest

import pgen
from pgen import netgen
from pgen.cli import main
from pgen.compiler import ir
from pgen.compiler.passes.cutoff import objective_cutoff
from pgen.core.results import FEASIBLE, INFEASIBLE, OPTIMAL, UNKNOWN
from pgen.runtime.portfolio import run_portfolio
from pgen.runtime.strategies import ExactBackend, default_members
from pgen.runtime.strategies import neural_adjoint as na_member
from pgen.runtime.strategies.base import Outcome, Strategy

SPEC = """param t = [0.4, -0.3, 0.2, 0.1, 0.0]
var x : real[5] in [-1, 1]
net f = network "n.onnx"
minimize norm1(f(x) - t)
"""


@pytest.fixture
def problem(tmp_path):
    netgen.write(tmp_path / "n.onnx", netgen.relu_mlp([5, 8, 8, 5], seed=5))
    path = tmp_path / "p.pgen"
    path.write_text(SPEC)
    return pgen.load(path)


class GivenStart(Strategy):
    """A starter that hands over a fixed design."""
    name = "given"
    gives_start = True

    def __init__(self, x):
        self.x = np.asarray(x, float)

    def applies(self, problem) -> bool:
        return True

    def run(self, problem, deadline, events, seed=0) -> Outcome:
        return Outcome(FEASIBLE, {"x": self.x}, objective=None, member=self.name)


@pytest.fixture
def optimum(problem):
    res = problem.solve(backend="highs", timeout=60)
    assert res.termination == OPTIMAL
    return res


class Answers(Strategy):
    """A background member that answers `outcome` (what an exact backend on the cutoff model says)."""
    in_process = False
    name = "fake-exact"

    def __init__(self, outcome):
        self.outcome = outcome
        self.cutoff = None

    def applies(self, problem) -> bool:
        return True

    def prepare(self, problem) -> None:
        pass

    def start(self, problem, deadline, seed=0, verbose=False, cutoff=None):
        self.cutoff = cutoff
        outcome = self.outcome

        class Handle:
            def poll(self):
                return outcome

            def wait(self):
                return outcome

            def cancel(self):
                pass

        return Handle()


def test_an_infeasible_cutoff_model_certifies_the_start(problem, optimum):
    exact = Answers(Outcome(INFEASIBLE, member="fake-exact"))
    res = run_portfolio(problem, [GivenStart(optimum.values["x"]), exact], 60, 0, 1e-6)
    assert res.termination == OPTIMAL and res.verified and "certified" in res.message
    assert res.solutions[0].found_by == "given" and res.backend == "fake-exact"
    assert res.objective == pytest.approx(optimum.objective, abs=1e-6)
    # the cutoff handed to the exact member: a hair above the verified incumbent
    assert exact.cutoff == pytest.approx(res.objective + 1e-4 * max(1.0, res.objective))
    # the bound it proves: nothing beats the incumbent by more than that tolerance (a bound on
    # the right side of the objective, not the cutoff itself)
    assert res.bound == pytest.approx(res.objective - 1e-4 * max(1.0, res.objective))
    assert res.gap == pytest.approx(1e-4 * max(1.0, res.objective) / res.objective)
    assert res.to_json()["incumbent_source"] == "given"


def test_an_undecided_exact_member_leaves_the_start_with_its_bound(problem):
    exact = Answers(Outcome(UNKNOWN, bound=0.01, member="fake-exact"))
    res = run_portfolio(problem, [GivenStart([0.5] * 5), exact], 60, 0, 1e-6)
    assert res.termination == FEASIBLE and res.solutions[0].found_by == "given"
    assert res.bound == 0.01 and res.gap > 0


def test_an_optimal_start_with_the_real_backend(problem, optimum):
    res = run_portfolio(problem, [GivenStart(optimum.values["x"]), ExactBackend("highs")], 60, 0, 1e-6)
    assert res.termination == OPTIMAL and res.verified
    # the cutoff leaves solutions within the tolerance: the solver proves infeasibility or
    # finds one no better; either way the start stands and is certified
    assert res.solutions[0].found_by == "given" and res.backend == "highs"
    assert res.objective == pytest.approx(optimum.objective, abs=1e-6)


def test_a_poor_start_loses_to_the_better_solution_the_cutoff_leaves(problem, optimum):
    res = run_portfolio(problem, [GivenStart([1.0] * 5), ExactBackend("highs")], 60, 0, 1e-6)
    assert res.termination == OPTIMAL and res.verified
    assert res.objective == pytest.approx(optimum.objective, abs=1e-6)
    if not np.allclose(optimum.values["x"], 1.0):
        assert res.solutions[0].found_by == "highs"
    kinds = [(e["member"], "incumbent" in e) for e in res.stats["timeline"]]
    assert ("given", True) in kinds   # the start is on the timeline --plot draws


def test_the_neural_adjoint_member_starts_auto_and_the_answer_is_the_optimum(problem, optimum, tmp_path):
    pytest.importorskip("torch")
    assert "NeuralAdjoint" in [type(m).__name__ for m in default_members(problem)]
    netgen.write(tmp_path / "four.onnx", netgen.relu_mlp([4, 8, 2], seed=1))
    small = pgen.compile_string('var x : real[4] in [0, 1]\nnet f = network "four.onnx"\n'
                                "minimize norm1(f(x) - [0.1, 0.2])\n", base_dir=tmp_path)
    assert "NeuralAdjoint" not in [type(m).__name__ for m in default_members(small)]  # input-min's own descent suffices
    res = problem.solve(backend="auto", timeout=60)
    assert res.termination == OPTIMAL and res.verified
    assert res.objective == pytest.approx(optimum.objective, abs=1e-4 * max(1.0, optimum.objective))
    assert any(e["member"] == "neural-adjoint" for e in res.stats["timeline"])


def test_without_torch_the_member_is_skipped_and_says_so(problem, optimum, monkeypatch):
    monkeypatch.setattr(na_member, "torch_available", lambda: False)
    res = problem.solve(backend="auto", timeout=60)
    assert res.termination == OPTIMAL
    assert any("skipped: torch is not installed" in n for n in res.stats["notes"])


@pytest.mark.parametrize("sense,row_sense", [("min", ir.LE), ("max", ir.GE)])
def test_the_cutoff_pass_adds_one_row_and_leaves_the_model_alone(sense, row_sense):
    m = ir.Model()
    m.add_var("a", ir.REAL, 0, 1)
    m.objective = ir.Objective(sense, ir.Lin.of({0: 2.0}, 1.0))
    out, inverse = objective_cutoff(1.5)(m)
    assert len(m.constraints) == 0 and len(out.constraints) == 1
    row = out.constraints[0]
    assert row.sense == row_sense and row.rhs == 1.5 and row.expr.const == 1.0
    assert inverse.invert(np.array([0.3]))[0] == 0.3


def test_plot_draws_the_timeline(problem, tmp_path, capsys):
    out = tmp_path / "plots" / "gap.png"
    code = main(["solve", str(tmp_path / "p.pgen"), "--plot", str(out)])
    assert code == 0 and out.exists()
    from PIL import Image

    with Image.open(out) as img:
        assert img.size == (900, 520)
        # the incumbent curve is drawn: dark pixels inside the axes
        assert (np.asarray(img.convert("L"))[45:455, 95:695] < 130).sum() > 50
    code = main(["solve", "specs/porous/d2_60_70.pgen", "--plot", str(out)])
    assert code == 1 and "--plot draws" in capsys.readouterr().err
