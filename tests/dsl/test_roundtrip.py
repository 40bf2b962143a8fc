"""parse(print(ast)) == ast on every spec, and `fmt` is a fixed point."""
from __future__ import annotations

import pytest

from pgen.dsl import format_spec, parse
from tests.conftest import ROOT, SPECS

IDENTITY = ROOT / "tests" / "fixtures" / "identity.pgen"


@pytest.mark.parametrize("path", SPECS + [IDENTITY], ids=lambda p: p.name)
def test_roundtrip(path):
    ast = parse(path.read_text(), str(path))
    printed = format_spec(ast)
    again = parse(printed)
    assert again == ast
    assert format_spec(again) == printed


def test_specs_exist():
    assert len(SPECS) >= 8


def test_identity_corpus_prints_unchanged():
    """Each statement of the identity corpus is already canonical."""
    for line in IDENTITY.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        assert format_spec(parse(line)).strip() == line, line


def test_spans_point_at_source():
    text = "var x : real[3] in [0, 1]\nrequire x[0] + x[1] <= 1\n"
    spec = parse(text)
    req = spec.stmts[1]
    assert (req.span.line, req.span.column) == (2, 1)
    left = req.constraint.left
    assert (left.span.line, left.span.column, left.span.end_column) == (2, 9, 20)


def test_precedence_and_parentheses():
    spec = parse("minimize 2 - (3 - x) * 4 / (a + b)")
    assert format_spec(spec).strip() == "minimize 2 - (3 - x) * 4 / (a + b)"
    spec = parse("minimize (2 - 3) - x")
    assert format_spec(spec).strip() == "minimize 2 - 3 - x"


def test_shipped_specs_are_canonical():
    """`pgenc fmt` leaves every shipped spec unchanged, comments included."""
    from pgen.dsl.parser import parse_with_comments

    for path in SPECS:
        text = path.read_text()
        assert format_spec(*parse_with_comments(text)) == text, path.name
