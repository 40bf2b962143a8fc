"""Hypothesis fuzzing of the parser and checker: generated and mutated specs.

Whatever the text, the front end either accepts it or raises a located
PgenError; it never escapes with another exception (a Python traceback).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgen.api import Problem
from pgen.dsl import ast as A
from pgen.dsl import format_spec, parse
from pgen.core.errors import PgenError

HERE = Path(__file__).resolve().parent.parent / "golden" / "errors"

SEED_SPECS = [
    'param t = [0.5, 0.25, 1]\nvar x : real[3] in [0, 1]\nvar q : bool[3]\nvar n : int[2] in {0, 10, ..., 70}\n'
    'net f = network "nets/small.onnx"\nrequire x[i] <= q[i] for i in 0..2\nrequire sum(q) <= 2\n'
    'require f(x)[0] in [0.1, 0.9)\nrequire q[0] -> x[1] >= 0.2\nminimize norm1(f(x) - t[0..1]) + sum(n) / 70\n'
    'solve backend highs timeout 10 seed 3\n',
    'var x : real[3] in [-1, 1]\nrequire abs(x[i + 1] - x[i]) <= 0.5 for i in 0..1\nmaximize max(x[0], x[1], -x[2])\n',
    'param T : real[2, 3] = [[1, 2, 3], [4, 5, 6]]\nvar y : real[2, 3] in [0, 10]\n'
    'select at most 2 of y by axis 1\nminimize sum(norm1(y[k] - T[k]) for k in 0..1)\n',
]

names = st.sampled_from(["x", "y", "q", "T", "t", "f", "n", "abc_1"])
numbers = st.one_of(st.integers(0, 1000), st.floats(0, 1e6, allow_nan=False, allow_infinity=False))


def exprs(depth=3):
    leaf = st.one_of(numbers.map(A.Num), names.map(A.Name))
    if depth == 0:
        return leaf
    sub = exprs(depth - 1)
    return st.one_of(
        leaf,
        st.builds(A.Binary, st.sampled_from("+-*/"), sub, sub),
        st.builds(A.Unary, st.just("-"), sub),
        st.builds(A.Subscript, names.map(A.Name), st.lists(sub, min_size=1, max_size=2).map(tuple)),
        st.builds(A.Call, st.sampled_from(["sum", "abs", "norm1", "max", "f"]),
                  st.lists(sub, min_size=1, max_size=3).map(tuple)),
        st.builds(A.ArrayLit, st.lists(sub, min_size=1, max_size=3).map(tuple)),
        st.builds(A.Generator, st.just("sum"), sub,
                  st.tuples(st.builds(A.Iter, st.sampled_from(["i", "k"]), sub, sub))),
    )


relations = st.one_of(
    st.builds(A.Compare, st.sampled_from(["<=", ">=", "==", "<", ">"]), exprs(), exprs()),
    st.builds(A.InInterval, exprs(), st.builds(A.Interval, exprs(1), exprs(1), st.booleans(), st.booleans())),
)
statements = st.one_of(
    st.builds(A.Require, relations, st.just(())),
    st.builds(A.Require, st.builds(A.Implies, st.builds(A.Truth, names.map(A.Name)), relations), st.just(())),
    st.builds(A.Objective, st.sampled_from(["minimize", "maximize"]), exprs()),
    st.builds(A.VarDecl, names, st.builds(A.Type, st.sampled_from(["real", "int", "bool"]),
                                          st.lists(st.integers(1, 50), max_size=2).map(tuple)),
              st.none()),
    st.builds(A.ParamDecl, names, st.none(), exprs(2)),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(statements, min_size=1, max_size=6).map(lambda s: A.Spec(tuple(s))))
def test_generated_ast_roundtrips(spec):
    text = format_spec(spec)
    assert parse(text) == spec
    _front_end(text)


mutations = st.tuples(
    st.sampled_from(SEED_SPECS),
    st.lists(st.tuples(st.sampled_from(["delete", "insert", "replace", "swap"]), st.integers(0, 10_000),
                       st.sampled_from(list("[](){}.,:;-+*/<>=#\"'0123456789 \n\tabcxyz_") +
                                       ["..", "->", "for", "in", "require", "var", "net", "sum(", "1e400", "-0"])),
             min_size=1, max_size=4),
)


def _mutate(text: str, edits) -> str:
    for kind, pos, token in edits:
        pos = pos % (len(text) + 1)
        if kind == "delete":
            text = text[:pos] + text[pos + len(token):]
        elif kind == "insert":
            text = text[:pos] + token + text[pos:]
        elif kind == "replace":
            text = text[:pos] + token + text[pos + 1:]
        else:
            lines = text.splitlines()
            if len(lines) > 1:
                i = pos % (len(lines) - 1)
                lines[i], lines[i + 1] = lines[i + 1], lines[i]
                text = "\n".join(lines)
    return text


def _front_end(text: str, lower: bool = False) -> None:
    try:
        problem = Problem(text, "fuzz.pgen", HERE)
        if lower:
            problem.model
    except PgenError as e:
        rendered = e.render()
        assert rendered.startswith("fuzz.pgen") and "error[E" in rendered


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutations)
def test_mutated_specs_never_crash(case):
    base, edits = case
    _front_end(_mutate(base, edits), lower=True)


def test_a_very_long_explicit_sum_is_a_clear_error_not_a_traceback():
    from pgen.api import compile_string

    terms = " + ".join(f"c[{i}]" for i in range(3000))
    text = f"param c = [{', '.join('1' for _ in range(3000))}]\nvar x : real in [0, 1]\nrequire x + {terms} <= 1\n"
    with pytest.raises(PgenError) as info:
        compile_string(text)
    assert info.value.code == "E001" and "sum(" in info.value.hint
