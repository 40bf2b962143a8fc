"""keep_apart: the model with the rows admits exactly the points at least D away (L1 over the
named coordinates) from every given solution, whatever its helper variables take."""
from __future__ import annotations

import numpy as np
import pytest

from pgen.compiler import ir
from pgen.compiler.passes.apart import keep_apart
from pgen.core.errors import PgenError

from .oracle import feasible, lin, model_of, points


def small_model() -> ir.Model:
    """Two Booleans, two integers (one box of 4 values, one of 4) and one fixed integer."""
    return model_of([("b0", ir.BOOL, 0, 1), ("b1", ir.BOOL, 0, 1), ("n0", ir.INT, -1, 2), ("n1", ir.INT, 0, 3),
                     ("fixed", ir.INT, 2, 2)],
                    [ir.LinearCon(lin({2: 1.0, 3: 1.0}), ir.LE, 4.0)])


@pytest.mark.parametrize("apart", [1, 2, 3, 5, 7])
def test_the_rows_admit_exactly_the_points_far_enough(apart):
    model = small_model()
    coords = (0, 1, 2, 3, 4)
    found = [np.array([1, 0, 0, 3, 2.0]),   # n0 inside its box (a side Boolean), n1 at its top
             np.array([0, 1, -1, 1, 2.0])]  # n0 at its bottom, n1 inside
    out, inverse = keep_apart(found, apart, coords)(model)
    assert len(out.vars) > len(model.vars), "an interior integer needs its helpers"
    # every assignment of every variable, helpers included (their boxes are small)
    admitted = {tuple(inverse.invert(x)) for x in points(out) if feasible(out, x)}
    expected = {tuple(x) for x in points(model) if feasible(model, x)
                and all(np.abs(x - y).sum() >= apart for y in found)}
    assert admitted == expected
    assert expected or apart >= 5, "the case tests nothing"


def test_a_variable_without_a_box_is_refused():
    model = model_of([("x", ir.REAL, 0, float("inf"))])
    with pytest.raises(PgenError, match="cannot keep solutions apart in `x`: it has no finite bounds"):
        keep_apart([np.array([1.0])], 1.0, (0,))(model)
