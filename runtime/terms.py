"""The surrogate terms of a porous spec: which network applications to an image it bounds, in
what interval, and how their units relate to the true D (records, the grown-image search)."""
from __future__ import annotations

import json
from pathlib import Path

from ..dsl import ast as A
from ..dsl.printer import expr_text


def surrogate_terms(checked) -> list:
    """The network applications to an image that the spec bounds, as (text, expression,
    image name, axis, interval, scale): what each record reports beside the true value.
    `axis` is x for `net(I)`, y for `net(transpose(I))`; `scale` converts D to the
    network's units (100 when its model card says `100 x D_xx`)."""
    out = []
    for req in checked.requires:
        c = req.constraint
        if not isinstance(c, A.InInterval) or not isinstance(c.expr, A.Call) or c.expr.func not in checked.nets:
            continue
        arg = c.expr.args[0] if len(c.expr.args) == 1 else None
        axis = None
        if isinstance(arg, A.Name) and arg.id in checked.grids:
            image, axis = arg.id, "x"
        elif isinstance(arg, A.Call) and arg.func == "transpose" and len(arg.args) == 1 \
                and isinstance(arg.args[0], A.Name) and arg.args[0].id in checked.grids:
            image, axis = arg.args[0].id, "y"
        if axis is None:
            continue
        out.append((expr_text(c.expr), c.expr, image, axis, c.interval, _units(checked.nets[c.expr.func])))
    return out


def _units(net) -> float:
    card = Path(net.path).with_suffix(".json")
    try:
        convention = json.loads(card.read_text()).get("convention", "")
    except (OSError, ValueError):
        return 1.0
    return 100.0 if "100 x D_" in convention else 1.0
