"""IR passes: functions `model -> (model, inverse)`, chained per backend (CVXPY's reductions).

Each pass is one small module; `Chain(passes).apply(model)` runs them in order and returns
an inverse that replays theirs backwards (chain.py). A backend names the chain it needs in
its `passes` attribute, and `compiler.backends.call_backend` applies it and inverts the
solver's answer in one place. A pass refuses a model it cannot transform exactly with a
PgenError E030 whose message reads after "backend `name` " ("cannot scale ...").

The table below is every pass by name; `no_good.exclude(solutions)` makes a pass from the
solutions to exclude, `apart.keep_apart(solutions, D, coords)` one keeping new solutions at
least D away from them (L1). Adding a pass: a module here with one function, an entry below, and
the name in the `passes` of the backends that need it.
"""
from __future__ import annotations

from .apart import keep_apart
from .big_m import linearize_implications
from .chain import IDENTITY, Chain, DropAdded, Identity, Inverses
from .integer_scaling import scale_to_integers
from .no_good import exclude
from .threshold import eliminate_threshold_reals
from .tighten import tighten_bounds

PASSES = {
    "threshold": eliminate_threshold_reals,  # reals decided by Boolean thresholds -> gone (CP-SAT)
    "big_m": linearize_implications,         # reified / indicator -> linear rows (MILP)
    "integer_scaling": scale_to_integers,    # exact power-of-two scaling to integers (CP-SAT)
    "tighten": tighten_bounds,               # interval propagation of the variable boxes (in no default chain)
}

__all__ = ["PASSES", "Chain", "Identity", "IDENTITY", "DropAdded", "Inverses", "linearize_implications",
           "scale_to_integers", "eliminate_threshold_reals", "tighten_bounds", "exclude", "keep_apart"]
