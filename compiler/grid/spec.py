"""Checking `image`, `grains`, `void` and `phases` statements into a `GridFamily`: what a
spec says of one image (2-D or a 3-D volume), with the parts a draw picks (random seeds, a
set of `s`, a random DAG) still open. `compiler.grid.draw` makes concrete `GridRules` (or
`PhaseRules` for an n-phase image) from it.

Errors name the statement or the rule (`file:line:col`) and say what would fix it.
"""
from __future__ import annotations

import difflib
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
PHASE_RULES = ("apart", "touch", "open")   # any other key of a `phases` block names a phase
PLANE_DAGS = ("rows", "columns")           # DAGs defined on 2-D grids only


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
    # an n-phase image (`phases` statement): names in order, cell bounds per phase, rules
    phases: Optional[tuple] = None
    phase_cells: tuple = ()
    apart: tuple = ()
    touch: tuple = ()
    open: tuple = ()

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def cells(self) -> int:
        return int(np.prod(self.shape))

    @property
    def random(self) -> bool:
        """Whether draws differ: seeds, DAG or `s` are drawn (an n-phase image: each draw is a
        fresh solver seed, so images do not come as one solver's neighbouring solutions)."""
        if self.phases is not None:
            return True
        return self.grains > 0 and (self.seeds is None or self.dag == "random"
                                    or (self.compact is not None and len(self.compact) > 1))

    def forced_void(self) -> np.ndarray:
        return forced_void_mask(self.shape, self.border)

    def seed_cells(self) -> np.ndarray:
        """Where a drawn seed may go: off the border (all sides, whatever the border
        rule), not fixed void by the mask."""
        ok = np.zeros(self.shape, dtype=bool)
        ok[(slice(1, -1),) * self.ndim] = True
        ok &= ~self.forced_void()
        if self.mask is not None:
            ok &= self.mask != 0
        return ok


def image_family(stmt: A.ImageDecl, base_dir: Path) -> GridFamily:
    shape = stmt.shape
    size = " x ".join(str(n) for n in shape)
    if min(shape) < 3:
        raise PgenError("E023", f"image `{stmt.name}` is {size}; a grid needs at least 3 cells a side",
                        stmt.span, hint="make the grid larger")
    if len(set(shape)) > 1:
        side = max(shape)
        raise PgenError("E023", f"image `{stmt.name}` is {size}; grids are square (T x T) or cubic (T x T x T)",
                        stmt.span, hint="write `grid " + " x ".join([str(side)] * len(shape)) + "`")
    fam = GridFamily(stmt.name, shape, stmt)
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
            if stmt.layers is not None:
                raise PgenError("E023", f"mask {path.name}: a volume's mask is a 3-D .npy file, not a PNG",
                                stmt.span, hint="save the mask with numpy.save (values 1, 0, -1)")
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
    if mask.shape != stmt.shape:
        raise PgenError("E023", f"mask {path.name} is {'x'.join(map(str, mask.shape))}, the grid is "
                        f"{' x '.join(map(str, stmt.shape))}", stmt.span, hint="make the mask the size of the grid")
    return mask


def _words(item: A.GridItem, n: Optional[int] = None) -> list:
    if not all(isinstance(a, A.Word) for a in item.args) or (n is not None and len(item.args) != n):
        raise PgenError("E023", f"`{item.key}` takes {n or 'some'} name{'s' if n != 1 else ''} here",
                        item.span, hint=_EXAMPLES.get(item.key, "separate rules with `;`"))
    return [a.name for a in item.args]


_EXAMPLES = {
    "seeds": "write `seeds random` or `seeds (3, 4), (10, 11)` (row, column from 0; a volume's cells are "
             "(row, column, layer)); separate rules with `;`",
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
    _not_phases(fam, stmt.span, "grains")
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
                for a in item.args:
                    if len(a.cell) != fam.ndim:
                        raise PgenError("E023", f"seed {a.cell} has {len(a.cell)} coordinates; the grid has {fam.ndim} axes",
                                        a.span, hint=_EXAMPLES["seeds"])
                fam.seeds = tuple(a.cell for a in item.args)
            else:
                raise PgenError("E023", "`seeds` takes `random` or a list of cells", item.span, hint=_EXAMPLES["seeds"])
        elif item.key == "dag":
            (kind,) = _words(item, 1)
            if kind not in DAG_KINDS:
                raise PgenError("E023", f"unknown DAG `{kind}`", item.span, hint="choose one of: " + ", ".join(DAG_KINDS))
            if kind in PLANE_DAGS and fam.ndim != 2:
                raise PgenError("E023", f"DAG `{kind}` is a 2-D rule; `{fam.image}` is a {fam.ndim}-D grid", item.span,
                                hint="use `dag manhattan` or `dag random` on a volume")
            fam.dag = kind
        elif item.key == "compact":
            if len(item.args) == 1 and isinstance(item.args[0], A.IntSet):
                values = _set_values(item.args[0])
            else:
                values = (_one_int(item),)
            top = int(round(math.sqrt(sum((n - 1) ** 2 for n in fam.shape))))  # the grid's largest ring
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
    _not_phases(fam, stmt.span, "void")
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
    return _cell_bounds(iv, fam.cells), _interval_text(iv, lo, hi)


def _interval_text(iv: A.Interval, lo, hi) -> str:
    return f"{'[' if iv.lo_closed else '('}{float(lo)}, {float(hi)}{']' if iv.hi_closed else ')'}"


def _cell_bounds(iv: A.Interval, n: int) -> tuple:
    """A share interval of n cells as inclusive bounds on the cell count, exactly."""
    lo, hi = (Fraction(str(_number(e))) for e in (iv.lo, iv.hi))
    lo_cells = lo * n
    lo_c = math.floor(lo_cells) + 1 if (not iv.lo_closed and lo_cells == math.floor(lo_cells)) else math.ceil(lo_cells)
    hi_cells = hi * n
    hi_c = math.ceil(hi_cells) - 1 if (not iv.hi_closed and hi_cells == math.ceil(hi_cells)) else math.floor(hi_cells)
    return (int(lo_c), int(hi_c))


def _number(e):
    """A literal number (possibly negated) of an interval's end, or None."""
    if isinstance(e, A.Num):
        return e.value
    if isinstance(e, A.Unary) and isinstance(e.operand, A.Num):
        return -e.operand.value
    return None


def _not_phases(fam: GridFamily, span, what: str) -> None:
    if fam.phases is not None:
        raise PgenError("E023", f"`{what}` rules are for solid/void images; `{fam.image}` has phases", span,
                        hint="state an n-phase image's rules in its `phases` block (fractions, apart, touch, open)")


_PHASE_EXAMPLE = ("write `phases E { pore 0.25; active 0.60; binder in [0.1, 0.2]; apart pore binder; "
                  "touch active binder; open pore }`")


def add_phases(fam: GridFamily, stmt: A.PhasesDecl) -> None:
    """`phases E { NAME [fraction | in interval]; ...; apart A B; touch A B; open A }`."""
    if fam.phases is not None:
        raise PgenError("E011", f"image `{fam.image}` has two `phases` statements", stmt.span,
                        hint="write all phase rules in one block")
    for key in ("grains", "void"):
        if key in fam.spans:
            _not_phases(GridFamily(fam.image, fam.shape, fam.decl, phases=()), fam.spans[key], key)
    if fam.mask is not None:
        raise PgenError("E023", f"a mask on an n-phase image (`{fam.image}`) is not supported", fam.decl.span,
                        hint="remove the mask, or use a solid/void image with `grains` and `void` rules")
    fam.spans["phases"] = stmt.span
    names, cells, rules = [], [], []
    for item in stmt.items:
        if item.key in PHASE_RULES:
            rules.append(item)
            continue
        if item.key in names:
            raise PgenError("E011", f"phase `{item.key}` is named twice", item.span, hint="name each phase once")
        names.append(item.key)
        cells.append(_phase_cells(item, fam))
    if len(names) < 2:
        raise PgenError("E023", f"`phases` names {len(names)} phase{'s' if len(names) != 1 else ''}; an image needs "
                        "at least 2", stmt.span, hint=_PHASE_EXAMPLE)
    if len(names) > 127:
        raise PgenError("E023", f"{len(names)} phases: at most 127", stmt.span)
    n = fam.cells
    lo = sum(c[0] if c else 0 for c in cells)
    hi = sum(c[1] if c else n for c in cells)
    if lo > n or hi < n:
        total = sum(Fraction(c[0 if lo > n else 1], n) if c else Fraction(0 if lo > n else 1) for c in cells)
        raise PgenError("E023", f"the phase fractions cannot sum to one: at {'least' if lo > n else 'most'} "
                        f"{float(total):g} of the {n} cells ({lo if lo > n else hi} cells)", stmt.span,
                        hint="make the fractions of all phases add up to 1 (leave one phase without a fraction "
                             "to take the rest)")
    index = {name: k for k, name in enumerate(names)}
    apart, touch, open_ = set(), set(), set()
    for item in rules:
        words = _words(item)
        for w, a in zip(words, item.args):
            if w not in index:
                close = difflib.get_close_matches(w, names, n=1)
                raise PgenError("E010", f"`{w}` is not a phase of `{fam.image}`", a.span,
                                hint=f"did you mean `{close[0]}`?" if close else "phases: " + ", ".join(names))
        if item.key == "open":
            if len(words) != 1:
                raise PgenError("E023", "`open` takes one phase", item.span,
                                hint="write `open pore`: every component of the phase reaches the border")
            open_.add(index[words[0]])
            continue
        if len(words) != 2 or words[0] == words[1]:
            raise PgenError("E023", f"`{item.key}` takes two different phases", item.span,
                            hint=f"write `{item.key} {names[0]} {names[1]}`")
        pair = tuple(sorted((index[words[0]], index[words[1]])))
        (apart if item.key == "apart" else touch).add(pair)
        if pair in apart and pair in touch:
            raise PgenError("E023", f"phases `{words[0]}` and `{words[1]}` must both touch and stay apart", item.span,
                            hint="keep one of the two rules")
    fam.phases, fam.phase_cells = tuple(names), tuple(cells)
    fam.apart, fam.touch, fam.open = tuple(sorted(apart)), tuple(sorted(touch)), tuple(sorted(open_))


def _phase_cells(item: A.GridItem, fam: GridFamily):
    """A phase's volume fraction as inclusive cell bounds: one number is an exact count (it
    must be a whole number of cells), `N cells` the count itself, `in [a, b]` a range; no
    argument: no bound."""
    if not item.args:
        return None
    n = fam.cells
    args = item.args
    if len(args) == 2 and isinstance(args[0], A.Num) and isinstance(args[0].value, int) \
            and isinstance(args[1], A.Word) and args[1].name == "cells":
        count = args[0].value
        if not 0 <= count <= n:
            raise PgenError("E023", f"phase `{item.key}`: {count} cells, the grid has {n}", item.span)
        return (count, count)
    if len(item.args) == 1 and isinstance(item.args[0], A.Num):
        f = Fraction(str(item.args[0].value))
        if not 0 <= f <= 1:
            raise PgenError("E023", f"phase `{item.key}`: fraction {float(f):g} is not in [0, 1]", item.span)
        count = f * n
        if count.denominator != 1:
            raise PgenError("E023", f"phase `{item.key}`: {float(f):g} of {n} cells is {float(count):g} cells, "
                            "not a whole number", item.span,
                            hint=f"give the count: `{item.key} {round(count)} cells` (the nearest whole number), "
                                 f"or a range `{item.key} in [{float(f) - 0.01:g}, {float(f) + 0.01:g}]`")
        return (int(count), int(count))
    if len(item.args) == 1 and isinstance(item.args[0], A.Interval):
        iv = item.args[0]
        ends = [_number(e) for e in (iv.lo, iv.hi)]
        if any(e is None for e in ends) or not 0 <= ends[0] <= ends[1] <= 1:
            raise PgenError("E023", f"phase `{item.key}`: the fraction interval must be numbers inside [0, 1]",
                            item.span, hint=_PHASE_EXAMPLE)
        lo, hi = _cell_bounds(iv, n)
        if lo > hi:
            raise PgenError("E023", f"phase `{item.key}`: no whole number of the {n} cells lies in the interval",
                            item.span, hint="widen the interval")
        return (lo, hi)
    raise PgenError("E023", f"phase `{item.key}` takes a fraction (`{item.key} 0.25`), a count (`{item.key} "
                    f"4915 cells`) or an interval (`{item.key} in [0.2, 0.3]`)", item.span, hint=_PHASE_EXAMPLE)


def finish(fam: GridFamily) -> None:
    """Rules that need the whole family: seeds, mask and border together."""
    forced = fam.forced_void()
    if fam.mask is not None and np.any((fam.mask == 1) & forced):
        cell = tuple(int(v) for v in np.argwhere((fam.mask == 1) & forced)[0])
        raise PgenError("E023", f"the mask of `{fam.image}` makes cell {cell} solid, but the border must be void",
                        fam.spans.get("border", fam.decl.span), hint="clear the mask's border or change the border rule")
    if not fam.grains:
        return
    ok = fam.seed_cells()
    size = " x ".join(str(n) for n in fam.shape)
    if fam.seeds is not None:
        span = fam.spans["seeds"]
        if len(fam.seeds) != fam.grains:
            raise PgenError("E023", f"{len(fam.seeds)} seeds for {fam.grains} grains", span,
                            hint="give one seed per grain, or write `seeds random`")
        for seed in fam.seeds:
            if not all(0 <= v < n for v, n in zip(seed, fam.shape)):
                raise PgenError("E023", f"seed {seed} is outside the {size} grid", span,
                                hint=f"{'rows and columns' if fam.ndim == 2 else 'coordinates'} run from 0 to "
                                     f"{fam.shape[0] - 1}")
            if not ok[seed]:
                why = "fixed void by the mask" if fam.mask is not None and fam.mask[seed] == 0 else "on the border"
                raise PgenError("E023", f"seed {seed} is {why}", span,
                                hint=f"put seeds off the border: {'rows and columns' if fam.ndim == 2 else 'coordinates'} "
                                     f"1..{fam.shape[0] - 2}")
        for a in range(len(fam.seeds)):
            for b in range(a):
                d = _manhattan(fam.seeds[a], fam.seeds[b])
                if d < MIN_SEED_DISTANCE:
                    raise PgenError("E023", f"seeds {fam.seeds[b]} and {fam.seeds[a]} are {d} apart", span,
                                    hint=f"grain seeds must be at Manhattan distance {MIN_SEED_DISTANCE} or more")
    elif _greedy_seed_count(ok, fam.grains) < fam.grains:
        raise PgenError("E023", f"a {size} grid has no room for {fam.grains} grain seeds "
                        f"(off the border, {MIN_SEED_DISTANCE} apart)", fam.spans["grains"],
                        hint="use fewer grains or a larger grid")
    if fam.area is not None and fam.area[0] > int(np.sum(~forced)):
        raise PgenError("E023", f"area {fam.area[0]}.. is more cells than the grid has free", fam.spans["area"],
                        hint="lower the area bound or enlarge the grid")


def _manhattan(a, b) -> int:
    return int(sum(abs(int(x) - int(y)) for x, y in zip(a, b)))


def _greedy_seed_count(ok: np.ndarray, want: int) -> int:
    """How many seeds fit at pairwise Manhattan distance >= 3 (a greedy scan, exact enough to
    refuse grids that are plainly too small; a tight case is left to the draw)."""
    taken = []
    for p in np.argwhere(ok):
        if all(_manhattan(p, q) >= MIN_SEED_DISTANCE for q in taken):
            taken.append(p)
            if len(taken) >= want:
                break
    return len(taken)
