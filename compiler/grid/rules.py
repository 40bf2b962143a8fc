"""The grid rules of one porous-media instance: plain data, shared by the lowering
(`compiler.grid.lower`), the verifier (`runtime.verify_grid`) and the run records.

A spec's `image` / `grains` / `void` statements describe a *family* (seeds `random`,
`compact in {1, 2, 3}`, `dag random`); `compiler.grid.draw` turns them into one concrete
`GridRules` per draw. Everything here is concrete: given seeds, one `s`, one DAG.

Conventions (the docs and the verifier state the same):
- the image is `shape = (T, T)` or a volume `(T, T, T)`, row-major, 1 = solid, 0 = void;
  cells are (row, col) or (row, col, layer); *face neighbours* are the 4 (2-D) or 6 (3-D)
  cells one step along one axis, and every connectivity below is face connectivity;
- grain r (0-based here, label r + 1 in label images) contains its seed; the solid is
  exactly the union of the grains, each one face-connected component; with no grains (no
  `grains` statement) the solid is free and no grain rule applies;
- DAG parents of a cell are always face neighbours (`rows` and `columns` exist in 2-D only):
  `manhattan`: those one Manhattan step closer to the seed (seed 000 Fig. 2(a));
  `rows`: along the cell's row one step towards the seed's column; on the seed's column,
  one step along the column towards the seed (a tree: each row grows out of the seed's column);
  `columns`: the same with rows and columns swapped;
  `random`: `order` ranks the cells in a seeded random growth sweep from the seed (rank 0);
  the parents of a cell are its face neighbours of smaller rank;
  a cell other than the seed is in the grain only if one of its parents is;
- compactness `s`: ring(p) = numpy.round(euclidean distance to the seed) (halves to
  even); a cell of ring v >= s is in the grain only if every grid cell of ring v - s is
  (in 3-D the rings are spherical shells);
- grains never share a face; `gap` k >= 1 also forbids cells of different grains within
  Chebyshev distance k;
- `border`: "all" (every cell of the four sides / six faces is void), "last" (the last
  index along every axis, for periodic cells) or "none";
- `holes`: "none" (no enclosed void: every face-connected void component contains a cell of
  the boundary set, i.e. the sides for border all/none, the last row and column (and layer)
  for border last; exact, enforced by check and cut), "dag" (the faster restriction: every
  void cell off the boundary set has a void face neighbour one step closer to it) or "allowed";
  Border "last" does not wrap: gaps, holes and DAGs are judged on the grid as it is (a
  void pocket in row 0 reaches the boundary only through the grid, not across the wrap);
- `void_cells`: inclusive bounds on the number of void cells (porosity x T*T), or None;
- `mask`: int8 array of `shape`, 1 = fixed solid, 0 = fixed void, -1 = free; or None.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

DAG_KINDS = ("manhattan", "rows", "columns", "random")
BORDERS = ("all", "last", "none")
HOLES = ("none", "dag", "allowed")


def boundary_mask(shape: tuple, border: str) -> np.ndarray:
    """The boundary set: the sides (faces in 3-D), or the last index along every axis for
    border "last"."""
    b = np.zeros(shape, dtype=bool)
    for axis in range(len(shape)):
        ends = (-1,) if border == "last" else (0, -1)
        for end in ends:
            index = [slice(None)] * len(shape)
            index[axis] = end
            b[tuple(index)] = True
    return b


def forced_void_mask(shape: tuple, border: str) -> np.ndarray:
    """Cells the border rule makes void."""
    return np.zeros(shape, dtype=bool) if border == "none" else boundary_mask(shape, border)


@dataclass(frozen=True, eq=False)
class GrainRule:
    seed: tuple                      # (row, col) or (row, col, layer)
    dag: str                         # one of DAG_KINDS
    order: Optional[np.ndarray]      # `random`: growth rank per cell (seed 0), else None
    s: Optional[int]                 # compactness, None: no compactness rule
    area: Optional[tuple]            # (lo, hi) cells, inclusive, or None


@dataclass(frozen=True, eq=False)
class GridRules:
    shape: tuple                     # (T, T) or (T, T, T)
    grains: tuple                    # GrainRule per grain
    gap: int = 0
    border: str = "all"
    holes: str = "none"
    void_cells: Optional[tuple] = None
    mask: Optional[np.ndarray] = None

    def boundary(self) -> np.ndarray:
        """The boundary set as a Boolean array (where void must reach, see `holes`)."""
        return boundary_mask(self.shape, self.border)

    def forced_void(self) -> np.ndarray:
        """Cells the border rule makes void."""
        return forced_void_mask(self.shape, self.border)

    def record(self) -> dict:
        """JSON-ready description (run records)."""
        return {"shape": list(self.shape), "gap": self.gap, "border": self.border, "holes": self.holes,
                "void_cells": list(self.void_cells) if self.void_cells else None,
                "masked_cells": int(np.sum(self.mask >= 0)) if self.mask is not None else 0,
                "grains": [{"seed": [int(v) for v in g.seed], "dag": g.dag, "s": g.s,
                            "area": list(g.area) if g.area else None} for g in self.grains]}


@dataclass(frozen=True, eq=False)
class PhaseRules:
    """An n-phase image (`phases I { ... }`): every cell holds one phase, 0..n-1 in the order
    the phases are named; the image's value at a cell is its phase index.

    - `cells[k]`: inclusive bounds (lo, hi) on the number of cells of phase k (a volume
      fraction written as one number is an exact count: lo = hi), or None;
    - `apart`: pairs (a, b) of phases that never share a face;
    - `touch`: pairs (a, b) that share at least one face somewhere;
    - `open`: phases with no enclosed component: every face-connected component of the
      phase contains a cell of the boundary (the sides; exact, by check and cut);
    - `mask`: int8 array of `shape`, k = cell fixed to phase k, -1 = free; or None.
    """
    shape: tuple
    names: tuple
    cells: tuple
    apart: tuple = ()
    touch: tuple = ()
    open: tuple = ()
    mask: Optional[np.ndarray] = None

    @property
    def grains(self) -> tuple:
        """No grains: a phase image has no grain rules (sampling code asks)."""
        return ()

    def boundary(self) -> np.ndarray:
        return boundary_mask(self.shape, "all")

    def record(self) -> dict:
        return {"shape": list(self.shape), "phases": list(self.names),
                "cells": [list(c) if c else None for c in self.cells],
                "apart": [[self.names[a], self.names[b]] for a, b in self.apart],
                "touch": [[self.names[a], self.names[b]] for a, b in self.touch],
                "open": [self.names[k] for k in self.open]}
