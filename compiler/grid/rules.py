"""The grid rules of one porous-media instance: plain data, shared by the lowering
(`compiler.grid.lower`), the verifier (`runtime.verify_grid`) and the run records.

A spec's `image` / `grains` / `void` statements describe a *family* (seeds `random`,
`compact in {1, 2, 3}`, `dag random`); `compiler.grid.draw` turns them into one concrete
`GridRules` per draw. Everything here is concrete: given seeds, one `s`, one DAG.

Conventions (the docs and the verifier state the same):
- the image is `shape = (T, T)`, row-major, 1 = solid, 0 = void; cells are (row, col);
- grain r (0-based here, label r + 1 in label images) contains its seed; the solid is
  exactly the union of the grains, each one 4-connected component; with no grains (no
  `grains` statement) the solid is free and no grain rule applies;
- DAG parents of a cell are always 4-neighbours:
  `manhattan`: those one Manhattan step closer to the seed (seed 000 Fig. 2(a));
  `rows`: along the cell's row one step towards the seed's column; on the seed's column,
  one step along the column towards the seed (a tree: each row grows out of the seed's column);
  `columns`: the same with rows and columns swapped;
  `random`: `order` ranks the cells in a seeded random growth sweep from the seed (rank 0);
  the parents of a cell are its 4-neighbours of smaller rank;
  a cell other than the seed is in the grain only if one of its parents is;
- compactness `s`: ring(i, j) = numpy.round(euclidean distance to the seed) (halves to
  even); a cell of ring v >= s is in the grain only if every grid cell of ring v - s is;
- grains never share a side; `gap` k >= 1 also forbids cells of different grains within
  Chebyshev distance k;
- `border`: "all" (every cell of the four sides is void), "last" (the last row and the
  last column, for periodic cells) or "none";
- `holes`: "none" (no enclosed void: every 4-connected void component contains a cell of
  the boundary set, i.e. the four sides for border all/none, the last row and column for
  border last; exact, enforced by check and cut), "dag" (the faster restriction: every void
  cell off the boundary set has a void 4-neighbour one step closer to it) or "allowed";
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
    """The boundary set: the four sides, or the last row and column for border "last"."""
    b = np.zeros(shape, dtype=bool)
    if border == "last":
        b[-1, :] = b[:, -1] = True
    else:
        b[0, :] = b[-1, :] = b[:, 0] = b[:, -1] = True
    return b


def forced_void_mask(shape: tuple, border: str) -> np.ndarray:
    """Cells the border rule makes void."""
    return np.zeros(shape, dtype=bool) if border == "none" else boundary_mask(shape, border)


@dataclass(frozen=True, eq=False)
class GrainRule:
    seed: tuple                      # (row, col)
    dag: str                         # one of DAG_KINDS
    order: Optional[np.ndarray]      # `random`: growth rank per cell (seed 0), else None
    s: Optional[int]                 # compactness, None: no compactness rule
    area: Optional[tuple]            # (lo, hi) cells, inclusive, or None


@dataclass(frozen=True, eq=False)
class GridRules:
    shape: tuple                     # (T, T)
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
                "grains": [{"seed": [int(g.seed[0]), int(g.seed[1])], "dag": g.dag, "s": g.s,
                            "area": list(g.area) if g.area else None} for g in self.grains]}
