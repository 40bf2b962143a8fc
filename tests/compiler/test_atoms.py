"""The table of atoms: a new function is one entry (checker, lowerer and verifier all read it);
`pgenc check` infers shapes without lowering; networks can be lowered opaque for the strategies."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import pgen
from pgen import netgen
from pgen.cli import main
from pgen.compiler import ir
from pgen.compiler.affine import Aff
from pgen.compiler.atoms import ATOMS, Atom
from pgen.compiler.atoms.base import one_arg
from pgen.compiler.atoms.maxmin import MAX
from pgen.compiler.lower import lower
from pgen.core.errors import PgenError
from pgen.runtime.verify import verify


# ---------------------------------------------------------------- a toy atom: relu(v) = max(v, 0)


def _relu_shape(site, shapes):
    return one_arg(site, shapes, "`relu` takes one argument")


def _relu_lower(ctx, site, args, pol):
    """Elementwise max(v_k, 0), each by the max atom's own encoding."""
    v = ctx.aff(args[0])
    parts = [MAX.lower(ctx, site, [v.take(np.array(k)), np.asarray(0.0)], pol) for k in range(v.size)]
    return Aff.stack([ctx.aff(p) for p in parts], ctx.ncols()).reshape(v.shape)


def _relu_evaluate(site, args):
    return np.maximum(np.asarray(args[0], dtype=np.float64), 0.0)


RELU = Atom("relu", _relu_shape, _relu_lower, _relu_evaluate)


@pytest.fixture
def relu_atom():
    assert "relu" not in ATOMS
    ATOMS["relu"] = RELU
    try:
        yield RELU
    finally:
        del ATOMS["relu"]


def _brute_force(objective, sense):
    """The best objective over n in -3..3 squared with n0 + n1 >= 1."""
    values = [objective(np.array(n, dtype=float)) for n in itertools.product(range(-3, 4), repeat=2)
              if n[0] + n[1] >= 1]
    return min(values) if sense == "minimize" else max(values)


TOY = """var n : int[2] in -3..3
require n[0] + n[1] >= 1
{sense} sum(relu(n - [2, -1])) - 0.5 * n[0]
"""


@pytest.mark.parametrize("sense", ["minimize", "maximize"])  # epigraph, and the exact encoding
def test_a_toy_atom_added_to_the_table_is_checked_lowered_verified_and_solved(relu_atom, sense):
    problem = pgen.compile_string(TOY.format(sense=sense), name="toy.pgen")
    model = problem.model
    assert any(v.name.startswith("relu@3:") for v in model.vars)  # lowered by the atom
    result = problem.solve(backend="highs", timeout=30)
    assert result.termination == "optimal" and result.verified
    want = _brute_force(lambda n: np.maximum(n - [2, -1], 0).sum() - 0.5 * n[0], sense)
    assert result.objective == pytest.approx(want, abs=1e-6)
    # the verifier evaluates the atom itself: a point that breaks nothing, and its value
    report = verify(problem.checked, {"n": np.array([3.0, 2.0])}, objective=None)
    assert report.ok and report.objective == pytest.approx(1.0 + 3.0 - 1.5)


def test_a_toy_atom_s_type_rule_is_the_checker_s(relu_atom):
    with pytest.raises(PgenError) as err:
        pgen.compile_string("var x : real[2] in [0, 1]\nminimize sum(relu(x, x))\n", name="t.pgen")
    assert err.value.code == "E014" and "`relu` takes one argument" in err.value.message
    with pytest.raises(PgenError) as err:
        pgen.compile_string("var x : real[2] in [0, 1]\nminimize relu(x)\n", name="t.pgen")
    assert err.value.code == "E012" and "expected a scalar, found shape [2]" in err.value.message


def test_without_its_entry_the_name_is_unknown():
    with pytest.raises(PgenError) as err:
        pgen.compile_string("var x : real[2] in [0, 1]\nminimize sum(relu(x))\n", name="t.pgen")
    assert err.value.code == "E010" and "unknown function or network `relu`" in err.value.message


def test_a_declaration_may_not_take_an_atom_s_name():
    with pytest.raises(PgenError) as err:
        pgen.compile_string("var norm1 : real in [0, 1]\nsatisfy\n", name="t.pgen")
    assert err.value.code == "E011"


# ---------------------------------------------------------------- check does not lower


NET_SPEC = 'var x : real[3] in [0, 1]\nnet f = network "f.onnx"\nrequire f(x)[0] >= 0.1\nminimize sum(x)\n'


def _no_lowering(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("lowered during check")

    monkeypatch.setattr("pgen.compiler.nn.encode.encode_network", refuse)
    monkeypatch.setattr("pgen.compiler.lower.Lowerer.lower", refuse)


def test_check_does_not_lower(tmp_path, monkeypatch, capsys):
    netgen.write(tmp_path / "f.onnx", netgen.relu_mlp([3, 6, 2], seed=11))
    spec = tmp_path / "s.pgen"
    spec.write_text(NET_SPEC)
    _no_lowering(monkeypatch)
    assert main(["check", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "ok" in out and "1 network" in out


@pytest.mark.parametrize("text,code,message", [
    ("var x : real[4] in [0, 1]\nnet f = network \"f.onnx\"\nminimize sum(f(x))\n", "E022", "takes 3 inputs"),
    ("var x : real[3] in [0, 1]\nrequire x[i] <= 0.5 for i in 0..3\n", "E013", "index 3 is outside 0..2"),
    ("var x : real[3] in [0, 1]\nrequire x[i + 1] <= 0.5 for i in 0..9, j in 0..2\n", "E013", "index 3 is outside"),
    ("param T = [[1, 2], [3, 4]]\nvar x : real[3] in [0, 1]\nminimize norm1(x - T)\n", "E012", "shapes [3] and [2, 2]"),
    ("var x : real[3] in [0, 1]\nminimize x[0] * x[1]\n", "E015", "not linear"),
    ("var x : real[3] in [0, 1]\nrequire x[0] >= 0.5 -> x[1] <= 0.2\n", "E014", "the condition of `->`"),
    ("var x : real[3] in [0, 1]\nrequire x[0] in [0.5, 0.5)\n", "E016", "the interval is empty"),
    ("var x : real[3] in [0, 1]\nrequire x in [[0, 1], [0, 1]]\n", "E012", "interval end of shape [2] does not fit"),
    ("var x : real[3] in [0, 1]\nminimize max(x, x[0])\n", "E012", "of several arguments takes scalars"),
    ("var x : real[3] in [0, 1]\nminimize sum(x[i] for i in 2..1)\n", "E016", "over an empty range"),
    ("var x : real[3] in [0, 1]\nrequire x[0..1] <= x\n", "E012", "shapes [2] and [3]"),
])
def test_shape_errors_are_found_by_the_check(tmp_path, monkeypatch, text, code, message):
    netgen.write(tmp_path / "f.onnx", netgen.relu_mlp([3, 6, 2], seed=11))
    _no_lowering(monkeypatch)
    with pytest.raises(PgenError) as err:
        pgen.compile_string(text, base_dir=tmp_path, name="s.pgen")
    assert err.value.code == code and message in err.value.message, err.value.render()


def test_interval_ends_of_the_value_s_shape_are_accepted():
    problem = pgen.compile_string("var x : real[2] in [0, 1]\nrequire x in [[0.25, 0.5], [0.5, 0.75]]\nsatisfy\n")
    model = problem.model
    assert len(model.constraints) == 4


# ---------------------------------------------------------------- opaque networks


def test_opaque_lowering_records_each_call_once(tmp_path):
    netgen.write(tmp_path / "f.onnx", netgen.relu_mlp([3, 6, 2], seed=11))
    text = ('var x : real[3] in [0, 1]\nvar z : real[3] in [0, 1]\nnet f = network "f.onnx"\n'
            "require f(x)[0] >= 0.1\nrequire f(x)[1] <= f(z)[0]\nsatisfy\n")
    checked = pgen.compile_string(text, base_dir=tmp_path, name="o.pgen").checked
    low = lower(checked, opaque_networks=True)
    assert low.var_base == {"x": 0, "z": 3}
    assert [c.net for c in low.net_calls] == ["f", "f"]  # f(x) twice is one call
    assert len(low.model.vars) == 6 + 2 * 2  # the spec's variables and the outputs, nothing else
    for n, (call, base) in enumerate(zip(low.net_calls, (0, 3))):
        assert [lin.idx.tolist() for lin in call.inputs] == [[base], [base + 1], [base + 2]]
        assert all(lin.coef.tolist() == [1.0] and lin.const == 0.0 for lin in call.inputs)
        for k, i in enumerate(call.outputs):
            var = low.model.vars[i]
            assert var.kind == ir.REAL and var.lb == -np.inf and var.ub == np.inf
            assert var.name == f"f#{n}.out[{k}]"
        assert call.span.line in (4, 5)
    first, second = low.net_calls
    # require f(x)[1] <= f(z)[0]: the row reads the outputs of both calls
    rows = [c for c in low.model.constraints if isinstance(c, ir.LinearCon)]
    assert sorted(rows[-1].expr.idx.tolist()) == sorted([first.outputs[1], second.outputs[0]])
    exact = lower(checked)
    assert exact.net_calls == [] and len(exact.model.vars) > len(low.model.vars)


def test_transpose_swaps_rows_and_columns():
    """transpose(a)[i, j] is a[j, i], in the lowering (the solver's answers) and in the verifier."""
    import pgen

    base = "var a : bool[2, 3]\nrequire transpose(a)[2, 0] == 1\n"
    assert pgen.compile_string(base + "require a[0, 2] == 0\n").solve(backend="cpsat").termination == "infeasible"
    res = pgen.compile_string(base + "require transpose(a)[0, 1] == 1\nminimize sum(a)\n").solve(backend="cpsat")
    assert res.verified and res.objective == 2
    assert res.values["a"][0, 2] == 1 and res.values["a"][1, 0] == 1
