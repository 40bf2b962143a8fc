"""Bad volume and phase specs: one located error each, saying what would fix it."""
from __future__ import annotations

import pytest

import pgen
from pgen.core.errors import PgenError

CASES = {
    "2-D DAG on a volume": ("image V : grid 8 x 8 x 8\ngrains 1 in V { dag rows }\n",
                            "DAG `rows` is a 2-D rule", 2, 17),
    "2-D seed on a volume": ("image V : grid 8 x 8 x 8\ngrains 1 in V { seeds (2, 2) }\n",
                             "seed (2, 2) has 2 coordinates; the grid has 3 axes", 2, 23),
    "not a cube": ("image V : grid 8 x 8 x 6\n", "grids are square (T x T) or cubic", 1, 1),
    "fractions under one": ("image E : grid 16 x 16 x 16\nphases E { pore 0.25; active 0.5; binder 0.125 }\n",
                            "the phase fractions cannot sum to one: at most 0.875", 2, 1),
    "fractions over one": ("image E : grid 4 x 4\nphases E { pore 0.5; active 0.75 }\n",
                           "the phase fractions cannot sum to one: at least 1.25", 2, 1),
    "fraction not whole": ("image E : grid 16 x 16 x 16\nphases E { pore 0.25; active 0.6; binder }\n",
                           "0.6 of 4096 cells is 2457.6 cells, not a whole number", 2, 23),
    "unknown phase": ("image E : grid 4 x 4\nphases E { pore; solid; apart pore binder }\n",
                      "`binder` is not a phase of `E`", 2, 36),
    "void rules on phases": ("image E : grid 4 x 4\nphases E { pore; solid }\nvoid E { border }\n",
                             "`void` rules are for solid/void images", 3, 1),
    "touch and apart": ("image E : grid 4 x 4\nphases E { a; b; apart a b; touch b a }\n",
                        "must both touch and stay apart", 2, 29),
    "one phase": ("image E : grid 4 x 4\nphases E { a }\n", "an image needs at least 2", 2, 1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_error(tmp_path, name):
    text, message, line, col = CASES[name]
    path = tmp_path / "s.pgen"
    path.write_text(text)
    with pytest.raises(PgenError) as err:
        pgen.load(path)
    rendered = err.value.render()
    assert message in rendered
    assert f"s.pgen:{line}:{col}:" in rendered
    assert "hint:" in rendered or name in ("unknown phase",)


def test_counts_sum_exactly(tmp_path):
    path = tmp_path / "s.pgen"
    path.write_text("image E : grid 4 x 4 x 4\nphases E { pore 0.25; active 38 cells; binder }\n")
    fam = pgen.load(path).checked.grids["E"]
    assert fam.phases == ("pore", "active", "binder")
    assert fam.phase_cells == ((16, 16), (38, 38), None)
    assert pgen.load(path).checked.vars["E"].kind == "int"
