"""One draw of a grid family: concrete seeds, `s` and DAG (seed 000 Sec. 5: randomness
comes from the grain seeds, the parameter s, the DAG and the solver's seed).

Draw k of a run with seed S uses `numpy.random.default_rng([S, k])`: its seeds, `s`, DAG and
solver seed never depend on how many worker processes make the draws. With one worker a run
is reproducible (when no draw hits its timeout); with several, which images a draw must
avoid depends on which draws finished first, so the images may differ.
"""
from __future__ import annotations

import numpy as np

from ...core.errors import PgenError
from .dag import random_order
from .rules import GrainRule, GridRules, PhaseRules
from .spec import MIN_SEED_DISTANCE, GridFamily

SEED_TRIES = 200


def draw_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(index)])


def draw_rules(fam: GridFamily, rng: np.random.Generator) -> GridRules | PhaseRules:
    if fam.phases is not None:  # nothing is drawn for an n-phase image
        return PhaseRules(fam.shape, fam.phases, fam.phase_cells, fam.apart, fam.touch, fam.open)
    seeds = fam.seeds if fam.seeds is not None else (_draw_seeds(fam, rng) if fam.grains else ())
    s = None if fam.compact is None else int(rng.choice(fam.compact))
    grains = []
    for seed in seeds:
        order = random_order(fam.shape, seed, rng) if fam.dag == "random" else None
        grains.append(GrainRule(tuple(int(v) for v in seed), fam.dag, order, s, fam.area))
    return GridRules(fam.shape, tuple(grains), fam.gap, fam.border, fam.holes, fam.void_cells, fam.mask)


def _draw_seeds(fam: GridFamily, rng: np.random.Generator) -> tuple:
    cells = np.argwhere(fam.seed_cells())
    for _ in range(SEED_TRIES):
        taken = []
        for k in rng.permutation(len(cells)):
            p = tuple(int(v) for v in cells[k])
            if all(sum(abs(x - y) for x, y in zip(p, q)) >= MIN_SEED_DISTANCE for q in taken):
                taken.append(p)
                if len(taken) == fam.grains:
                    return tuple(taken)
    raise PgenError("E023", f"no room for {fam.grains} grain seeds on image `{fam.image}` "
                    f"(off the border, {MIN_SEED_DISTANCE} apart) after {SEED_TRIES} tries",
                    fam.spans.get("grains", fam.decl.span), hint="use fewer grains or a larger grid")


def rules_for(checked, seed: int = 0, index: int = 0) -> dict:
    """Draw `index` of every image of a checked spec: {image name: GridRules}."""
    rng = draw_rng(seed, index)
    return {name: draw_rules(fam, rng) for name, fam in checked.grids.items()}
