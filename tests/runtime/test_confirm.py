"""`--confirm`: an infeasible verdict re-decided by a second method, a disagreement loud.

Brute force (enumeration through the verifier) confirms the exact backends on small discrete
specs and the exact model confirms enumeration; input branch and bound confirms the MILP on a
VNNLIB property. A method broken on purpose (the network encoder shifted by -1000, so the MILP
proves a satisfiable property unsat) is caught: the second method's verified witness is
reported beside the first answer, as an error, in the API and on the command line.
"""
from __future__ import annotations

import numpy as np
import pytest

from pgen import netgen
from pgen.api import compile_string, load_vnnlib
from pgen.cli import main
from pgen.core.results import Result
from pgen.runtime.confirm import Disagreement, confirm

INFEASIBLE_PB = ("var b : bool[6]\nrequire sum(b) >= 4\nrequire b[0] + b[1] + b[2] <= 0\n"
                 "require b[3] + b[4] <= 1\n")


def test_exact_backend_verdict_confirmed_by_brute_force(tmp_path):
    problem = compile_string(INFEASIBLE_PB, base_dir=tmp_path, name="inf.pgen")
    result = problem.solve(backend="cpsat", timeout=30)
    assert result.termination == "infeasible"
    c = confirm(problem, result, timeout=30)
    assert c.confirmed and c.independent
    assert c.line() == "confirmed by enumeration of all 64 designs (brute force)"


def test_enumeration_verdict_confirmed_by_the_exact_model(tmp_path):
    problem = compile_string(INFEASIBLE_PB, base_dir=tmp_path, name="inf.pgen")
    result = problem.solve(timeout=30)
    assert result.termination == "infeasible" and result.backend == "enumeration"
    c = confirm(problem, result, timeout=30)
    assert c.confirmed and c.independent and "exact MILP / pseudo-Boolean model" in c.line()


def test_another_solver_is_said_to_share_the_encoding(tmp_path):
    """Reals rule out enumeration: the second method is another solver on the same model."""
    spec = "var x : real[2] in [0, 1]\nrequire x[0] + x[1] >= 2.5\n"
    problem = compile_string(spec, base_dir=tmp_path, name="lp.pgen")
    result = problem.solve(backend="highs", timeout=30)
    assert result.termination == "infeasible"
    c = confirm(problem, result, timeout=30)
    assert c.confirmed and not c.independent
    assert c.line().endswith("(same encoding, another solver)")


def test_a_wrong_infeasible_verdict_is_a_disagreement(tmp_path):
    problem = compile_string("var b : bool[3]\nrequire sum(b) == 2\n", base_dir=tmp_path, name="sat.pgen")
    wrong = Result("infeasible", backend="highs")
    with pytest.raises(Disagreement) as info:
        confirm(problem, wrong, timeout=30)
    text = info.value.render()
    assert info.value.code == "E060"
    assert "highs proved the problem infeasible" in text and "enumeration of all 8 designs" in text
    assert "b = [" in text   # the second answer itself


def _toy_property(tmp_path, above: float | None = None):
    """A 3 -> 8 -> 2 ReLU network and the property Y_0 >= `above` (default: a value it reaches)."""
    net = tmp_path / "toy.onnx"
    netgen.write(net, netgen.relu_mlp([3, 8, 2], seed=4))
    from pgen.compiler.nn.session import run_batch

    X = np.random.default_rng(0).uniform(-1, 1, (4000, 3)).astype(np.float32)
    reach = float(run_batch(str(net), X)[:, 0].max())
    above = reach - 0.05 if above is None else above
    prop = tmp_path / "toy.vnnlib"
    prop.write_text("".join(f"(declare-const X_{i} Real)\n" for i in range(3))
                    + "(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n"
                    + "".join(f"(assert (>= X_{i} -1.0))\n(assert (<= X_{i} 1.0))\n" for i in range(3))
                    + f"(assert (>= Y_0 {above:.6f}))\n")
    return net, prop


@pytest.fixture
def broken_encoder(monkeypatch):
    """The network encoder shifted: every output 1000 lower than the network's."""
    from pgen.compiler.nn import encode

    real = encode.encode_network

    def shifted(net, x, model, label, origin, budget=None):
        out = real(net, x, model, label, origin, budget)
        return out.matmul(np.eye(out.size), np.full(out.size, -1000.0))

    monkeypatch.setattr(encode, "encode_network", shifted)


def test_broken_milp_is_caught_by_input_branch_and_bound(tmp_path, broken_encoder):
    net, prop = _toy_property(tmp_path)
    problem = load_vnnlib(prop, net)
    result = problem.solve(backend="highs", timeout=30)
    assert result.termination == "infeasible"   # wrong, on purpose
    with pytest.raises(Disagreement) as info:
        confirm(problem, result, timeout=30)
    text = info.value.render()
    assert "highs proved the problem infeasible" in text and "input branch and bound" in text
    assert "X = [" in text


def test_verify_confirm_on_the_command_line(tmp_path, capsys):
    net, prop = _toy_property(tmp_path, above=1000.0)
    assert main(["verify", str(net), str(prop), "--backend", "highs", "--confirm"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "unsat"
    assert "confirmed by input branch and bound" in out


def test_verify_confirm_reports_the_disagreement(tmp_path, capsys, broken_encoder):
    net, prop = _toy_property(tmp_path)
    code = main(["verify", str(net), str(prop), "--backend", "highs", "--confirm"])
    captured = capsys.readouterr()
    assert code == 1
    assert "error[E060]" in captured.err and "METHODS DISAGREE" in captured.err


def test_solve_confirm_line_and_json(tmp_path, capsys):
    spec = tmp_path / "inf.pgen"
    spec.write_text(INFEASIBLE_PB)
    assert main(["solve", str(spec), "--backend", "cpsat", "--confirm"]) == 2   # exit code as without the flag
    out = capsys.readouterr().out
    assert "confirmed by enumeration of all 64 designs (brute force)" in out
    assert main(["solve", str(spec), "--backend", "cpsat", "--confirm", "--json"]) == 2
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["stats"]["confirmation"] == "confirmed by enumeration of all 64 designs (brute force)"


def test_split_milp_covers_the_box(tmp_path):
    """Every box of the cover proved infeasible -> infeasible (8 boxes of width 1 for a box of
    width 2 in 3 inputs); a satisfiable property is still found in one of 32 boxes."""
    from pgen.runtime.portfolio import run_portfolio
    from pgen.runtime.strategies.split_milp import SplitMilp

    net, prop = _toy_property(tmp_path, above=1000.0)
    problem = load_vnnlib(prop, net)
    result = run_portfolio(problem, [SplitMilp(first_splits=3)], 60.0, 0, 1e-6, False, False)
    assert result.termination == "infeasible" and result.stats["boxes"] == 8
    net, prop = _toy_property(tmp_path)
    problem = load_vnnlib(prop, net)
    result = run_portfolio(problem, [SplitMilp(first_splits=5)], 60.0, 0, 1e-6, False, False)
    assert result.has_solution and result.verified and result.backend == "milp-split"


def test_split_milp_on_a_point_box_solves_it_once(tmp_path):
    """A box that cannot be split is still solved (never `infeasible` from zero boxes)."""
    from pgen.runtime.portfolio import run_portfolio
    from pgen.runtime.strategies.split_milp import SplitMilp

    net, prop = _toy_property(tmp_path, above=1000.0)
    prop.write_text(prop.read_text().replace("(assert (>= X_0 -1.0))\n(assert (<= X_0 1.0))",
                                             "(assert (>= X_0 0.5))\n(assert (<= X_0 0.5))")
                    .replace("(assert (>= X_1 -1.0))\n(assert (<= X_1 1.0))", "(assert (>= X_1 0.5))\n(assert (<= X_1 0.5))")
                    .replace("(assert (>= X_2 -1.0))\n(assert (<= X_2 1.0))", "(assert (>= X_2 0.5))\n(assert (<= X_2 0.5))"))
    result = run_portfolio(load_vnnlib(prop, net), [SplitMilp()], 60.0, 0, 1e-6, False, False)
    assert result.termination == "infeasible" and result.stats["boxes"] == 1
