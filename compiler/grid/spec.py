"""Checking `image`, `grains` and `void` statements into a `GridFamily`: what a spec says
of one image, with the parts a draw picks (random seeds, a set of `s`, a random DAG) still
open. `compiler.grid.draw` makes concrete `GridRules` from it.

Errors name the statement or the rule (`file:line:col`) and say what would fix it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Optional

import numpy as np

from ...core.errors import PgenError
from ...dsl import ast as A
from .rules import DAG_KINDS, forced_void_mask

MIN_SEED_DISTANCE = 3  # Manhattan distance between grain seeds (DESIGN.md, seed 000)
GRAIN_KEYS = ("seeds", "dag", "compact", "area", "gap")
VOID_KEYS = ("border", "no", "porosity")


@dataclass
class GridFamily:
    image: str
    shape: tuple
    decl: A.ImageDecl
    mask: Optional[np.ndarray] = None          # int8: 1 solid, 0 void, -1 free
    grains: int = 0
    seeds: Optional[tuple] = None              # given seeds, or None: drawn
    dag: str = "manhattan"
    compact: Optional[tuple] = None            # the values `s` is drawn from (one: given)
    area: Optional[tuple] = None
    gap: int = 0
    border: str = "none"
    holes: str = "allowed"
    void_cells: Optional[tuple] = None
    porosity_text: str = ""
    spans: dict = field(default_factory=dict)  # rule key -> Span, for errors found later

    @property
    def random(self) -> bool:
        """Whether draws differ: seeds, DAG or `s` are drawn."""
        return self.grains > 0 and (self.seeds is None or self.dag == "random"
                                    or (self.compact is not None and len(self.compact) > 1))

    def forced_void(self) -> np.ndarray:
        return forced_void_mask(self.shape, self.border)

    def seed_cells(self) -> np.ndarray:
        """Where a drawn seed may go: off the border (all four sides, whatever the border
        rule), not fixed void by the mask."""
        ok = np.zeros(self.shape, dtype=bool)
        ok[1:-1, 1:-1] = True
        ok &= ~self.forced_void()
        if self.mask is not None:
            ok &= self.mask != 0
        return ok


def image_family(stmt: A.ImageDecl, base_dir: Path) -> GridFamily:
    if stmt.rows < 3 or stmt.cols < 3:
        raise PgenError("E023", f"image `{stmt.name}` is {stmt.rows} x {stmt.cols}; a grid needs at least 3 x 3",
                        stmt.span, hint="make the grid larger")
    if stmt.rows != stmt.cols:
        raise PgenError("E023", f"image `{stmt.name}` is {stmt.rows} x {stmt.cols}; grids are square (T x T)",
                        stmt.span, hint=f"write `grid {max(stmt.rows, stmt.cols)} x {max(stmt.rows, stmt.cols)}`")
    fam = GridFamily(stmt.name, (stmt.rows, stmt.cols), stmt)
    if stmt.mask is not None:
        fam.mask = _read_mask(base_dir / stmt.mask, stmt)
    return fam


def _read_mask(path: Path, stmt: A.ImageDecl) -> np.ndarray:
    """A mask file as int8: 1 fixed solid, 0 fixed void, -1 free.
    NPY: those three values. PNG: black (< 64) solid, white (> 191) void, grey or
    transparent free."""
    if not path.exists():
        raise PgenError("E017", f"mask file not found: {path}", stmt.span, hint="check the path (relative to the spec)")
    try:
        if path.suffix.lower() == ".npy":
            raw = np.load(path, allow_pickle=False)
            if raw.dtype == bool:
                raw = raw.astype(np.int8)
            if not np.issubdtype(raw.dtype, np.number) or not np.all(np.isin(raw, (-1, 0, 1))):
                raise PgenError("E023", f"mask {path.name}: values must be 1 (solid), 0 (void) or -1 (free)",
                                stmt.span, hint="rewrite the array with those three values")
            mask = raw.astype(np.int8)
        elif path.suffix.lower() == ".png":
            from PIL import Image

            with Image.open(path) as im:
                rgba = np.asarray(im.convert("LA"), dtype=np.int16)
            grey, alpha = rgba[..., 0], rgba[..., 1]
            mask = np.full(grey.shape, -1, dtype=np.int8)
            mask[(grey < 64) & (alpha > 0)] = 1
            mask[(grey > 191) & (alpha > 0)] = 0
        else:
            raise PgenError("E023", f"mask {path.name}: use a .png or .npy file", stmt.span)
    except PgenError:
        raise
    except Exception as e:
        raise PgenError("E017", f"mask {path.name} cannot be read: {e}", stmt.span) from None
    if mask.shape != (stmt.rows, stmt.cols):
        raise PgenError("E023", f"mask {path.name} is {'x'.join(map(str, mask.shape))}, the grid is "
                        f"{stmt.rows} x {stmt.cols}", stmt.span, hint="make the mask the size of the grid")
    return mask


def _words(item: A.GridItem, n: Optional[int] = None) -> list:
    if not all(isinstance(a, A.Word) for a in item.args) or (n is not None and len(item.args) != n):
        raise PgenError("E023", f"`{item.key}` takes {n or 'some'} name{'s' if n != 1 else ''} here",
                        item.span, hint=_EXAMPLES.get(item.key, "separate rules with `;`"))
    return [a.name for a in item.args]


_EXAMPLES = {
    "seeds": "write `seeds random` or `seeds (3, 4), (10, 11)` (row, column from 0); separate rules with `;`",
    "dag": "write `dag manhattan` (or rows, columns, random); separate rules with `;`",
    "compact": "write `compact 2` or `compact in {1, 2, 3}`; separate rules with `;`",
    "area": "write `area 8..60` (cells per grain); separate rules with `;`",
    "gap": "write `gap 1` (Chebyshev distance between grains); separate rules with `;`",
    "border": "write `border` (all four sides void), `border periodic` (last row and column) or `border none`",
    "no": "write `no holes` (exact) or `no holes by dag` (the faster restriction)",
    "porosity": "write `porosity in [0.4, 0.8]` (the void share)",
}


def _run_together(item: A.GridItem, keys: tuple) -> None:
    """`seeds random dag manhattan`: two rules without the `;` between them."""
    for a in item.args:
        if isinstance(a, A.Word) and a.name in keys and a.name != item.key:
            raise PgenError("E023", f"rule `{a.name}` runs into `{item.key}`", a.span,
                            hint=f"separate rules with `;`: `...; {a.name} ...`")


def _one_int(item: A.GridItem) -> int:
    if len(item.args) != 1 or not isinstance(item.args[0], A.Num) or not isinstance(item.args[0].value, int):
        raise PgenError("E023", f"`{item.key}` takes one integer", item.span, hint=_EXAMPLES[item.key])
    return item.args[0].value


def add_grains(fam: GridFamily, stmt: A.GrainsDecl) -> None:
    if fam.grains:
        raise PgenError("E011", f"image `{fam.image}` has two `grains` statements", stmt.span,
                        hint="write all grain rules in one block")
    if stmt.count < 1:
        raise PgenError("E023", "the number of grains must be at least 1", stmt.span)
    fam.grains = stmt.count
    fam.spans["grains"] = stmt.span
    seen = {}
    for item in stmt.items:
        if item.key not in GRAIN_KEYS:
            raise PgenError("E023", f"unknown grain rule `{item.key}`", item.span,
                            hint="grain rules: " + ", ".join(GRAIN_KEYS))
        _run_together(item, GRAIN_KEYS)
        if item.key in seen:
            raise PgenError("E011", f"grain rule `{item.key}` is given twice", item.span,
                            hint=f"the first is on line {seen[item.key].line}; keep one")
        seen[item.key] = item.span
        fam.spans[item.key] = item.span
        if item.key == "seeds":
            if len(item.args) == 1 and isinstance(item.args[0], A.Word) and item.args[0].name == "random":
                fam.seeds = None
            elif item.args and all(isinstance(a, A.Point) for a in item.args):
                fam.seeds = tuple((a.row, a.col) for a in item.args)
            else:
                raise PgenError("E023", "`seeds` takes `random` or a list of cells", item.span, hint=_EXAMPLES["seeds"])
        elif item.key == "dag":
            (kind,) = _words(item, 1)
            if kind not in DAG_KINDS:
                raise PgenError("E023", f"unknown DAG `{kind}`", item.span, hint="choose one of: " + ", ".join(DAG_KINDS))
            fam.dag = kind
        elif item.key == "compact":
            if len(item.args) == 1 and isinstance(item.args[0], A.IntSet):
                values = _set_values(item.args[0])
            else:
                values = (_one_int(item),)
            top = int(round(math.hypot(fam.shape[0] - 1, fam.shape[1] - 1)))  # the grid's largest ring
            bad = [v for v in values if v < 1 or v > top]
            if bad:
                raise PgenError("E023", f"compactness s = {bad[0]} is out of range", item.span,
                                hint=f"s is 1 (convex) up to {top} (the grid's largest ring)")
            fam.compact = tuple(sorted(set(values)))
        elif item.key == "area":
            if len(item.args) != 1 or not isinstance(item.args[0], A.IntRange):
                raise PgenError("E023", "`area` takes a range of cells", item.span, hint=_EXAMPLES["area"])
            lo, hi = item.args[0].lo, item.args[0].hi
            if not 1 <= lo <= hi:
                raise PgenError("E023", f"area {lo}..{hi} is empty or below 1 cell", item.span,
                                hint="write `area a..b` with 1 <= a <= b")
            fam.area = (lo, hi)
        elif item.key == "gap":
            fam.gap = _one_int(item)
            if fam.gap < 0:
                raise PgenError("E023", "`gap` cannot be negative", item.span)


def _set_values(s: A.IntSet) -> tuple:
    if s.last is None:
        return tuple(s.values)
    step = s.values[1] - s.values[0] if len(s.values) > 1 else 1
    return tuple(range(s.values[0], s.last + 1, step)) if step > 0 else tuple(s.values)


def add_void(fam: GridFamily, stmt: A.VoidDecl) -> None:
    if "void" in fam.spans:
        raise PgenError("E011", f"image `{fam.image}` has two `void` statements", stmt.span,
                        hint="write all void rules in one block")
    fam.spans["void"] = stmt.span
    for item in stmt.items:
        if item.key not in VOID_KEYS:
            raise PgenError("E023", f"unknown void rule `{item.key}`", item.span,
                            hint="void rules: border, no holes, porosity")
        _run_together(item, VOID_KEYS)
        if item.key in fam.spans:
            raise PgenError("E011", f"void rule `{item.key}` is given twice", item.span)
        fam.spans[item.key] = item.span
        if item.key == "border":
            words = _words(item)
            mode = words[0] if words else "all"
            if len(words) > 1 or mode not in ("all", "periodic", "none"):
                raise PgenError("E023", f"unknown border rule `{' '.join(words)}`", item.span, hint=_EXAMPLES["border"])
            fam.border = {"all": "all", "periodic": "last", "none": "none"}[mode]
        elif item.key == "no":
            args = item.args
            if not args or not isinstance(args[0], A.Word) or args[0].name != "holes" or len(args) > 2 \
                    or (len(args) == 2 and not (isinstance(args[1], A.By) and args[1].name in ("dag", "cuts"))):
                raise PgenError("E023", "unknown void rule", item.span, hint=_EXAMPLES["no"])
            fam.holes = "dag" if len(args) == 2 and args[1].name == "dag" else "none"
        elif item.key == "porosity":
            if len(item.args) != 1 or not isinstance(item.args[0], A.Interval):
                raise PgenError("E023", "`porosity` takes an interval", item.span, hint=_EXAMPLES["porosity"])
            fam.void_cells, fam.porosity_text = _void_cells(item.args[0], fam, item)


def _void_cells(iv: A.Interval, fam: GridFamily, item: A.GridItem) -> tuple:
    """The porosity interval as inclusive bounds on the void-cell count, exactly."""
    ends = []
    for e in (iv.lo, iv.hi):
        value = e.value if isinstance(e, A.Num) else (-e.operand.value if isinstance(e, A.Unary)
                                                      and isinstance(e.operand, A.Num) else None)
        if value is None:
            raise PgenError("E023", "porosity bounds must be numbers", item.span, hint=_EXAMPLES["porosity"])
        ends.append(Fraction(str(value)))
    lo, hi = ends
    if not (0 <= lo <= hi <= 1):
        raise PgenError("E023", f"porosity interval {float(lo)}..{float(hi)} is not inside [0, 1]", item.span,
                        hint="porosity is the void share of the cells, between 0 and 1")
    n = fam.shape[0] * fam.shape[1]
    lo_cells = lo * n
    lo_c = math.floor(lo_cells) + 1 if (not iv.lo_closed and lo_cells == math.floor(lo_cells)) else math.ceil(lo_cells)
    hi_cells = hi * n
    hi_c = math.ceil(hi_cells) - 1 if (not iv.hi_closed and hi_cells == math.ceil(hi_cells)) else math.floor(hi_cells)
    text = f"{'[' if iv.lo_closed else '('}{float(lo)}, {float(hi)}{']' if iv.hi_closed else ')'}"
    return (int(lo_c), int(hi_c)), text


def finish(fam: GridFamily) -> None:
    """Rules that need the whole family: seeds, mask and border together."""
    T = fam.shape[0]
    forced = fam.forced_void()
    if fam.mask is not None and np.any((fam.mask == 1) & forced):
        i, j = (int(v) for v in np.argwhere((fam.mask == 1) & forced)[0])
        raise PgenError("E023", f"the mask of `{fam.image}` makes cell ({i}, {j}) solid, but the border must be void",
                        fam.spans.get("border", fam.decl.span), hint="clear the mask's border or change the border rule")
    if not fam.grains:
        return
    ok = fam.seed_cells()
    if fam.seeds is not None:
        span = fam.spans["seeds"]
        if len(fam.seeds) != fam.grains:
            raise PgenError("E023", f"{len(fam.seeds)} seeds for {fam.grains} grains", span,
                            hint="give one seed per grain, or write `seeds random`")
        for (i, j) in fam.seeds:
            if not (0 <= i < T and 0 <= j < T):
                raise PgenError("E023", f"seed ({i}, {j}) is outside the {T} x {T} grid", span,
                                hint=f"rows and columns run from 0 to {T - 1}")
            if not ok[i, j]:
                why = "fixed void by the mask" if fam.mask is not None and fam.mask[i, j] == 0 else "on the border"
                raise PgenError("E023", f"seed ({i}, {j}) is {why}", span,
                                hint=f"put seeds off the border: rows and columns 1..{T - 2}")
        for a in range(len(fam.seeds)):
            for b in range(a):
                d = abs(fam.seeds[a][0] - fam.seeds[b][0]) + abs(fam.seeds[a][1] - fam.seeds[b][1])
                if d < MIN_SEED_DISTANCE:
                    raise PgenError("E023", f"seeds {fam.seeds[b]} and {fam.seeds[a]} are {d} apart", span,
                                    hint=f"grain seeds must be at Manhattan distance {MIN_SEED_DISTANCE} or more")
    elif _greedy_seed_count(ok, fam.grains) < fam.grains:
        raise PgenError("E023", f"a {T} x {T} grid has no room for {fam.grains} grain seeds "
                        f"(off the border, {MIN_SEED_DISTANCE} apart)", fam.spans["grains"],
                        hint="use fewer grains or a larger grid")
    if fam.area is not None and fam.area[0] > int(np.sum(~forced)):
        raise PgenError("E023", f"area {fam.area[0]}.. is more cells than the grid has free", fam.spans["area"],
                        hint="lower the area bound or enlarge the grid")


def _greedy_seed_count(ok: np.ndarray, want: int) -> int:
    """How many seeds fit at pairwise Manhattan distance >= 3 (a greedy scan, exact enough to
    refuse grids that are plainly too small; a tight case is left to the draw)."""
    taken = []
    for i, j in np.argwhere(ok):
        if all(abs(i - a) + abs(j - b) >= MIN_SEED_DISTANCE for a, b in taken):
            taken.append((i, j))
            if len(taken) >= want:
                break
    return len(taken)
