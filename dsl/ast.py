"""The .pgen abstract syntax tree: frozen dataclasses only.

Every node carries the source span it came from; spans never take part in
equality, so `parse(print(ast)) == ast` compares meaning, not layout.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

from ..core.errors import NOSPAN, Span


def _span() -> Span:
    return field(default=NOSPAN, compare=False, repr=False)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Num:
    value: Union[int, float]
    span: Span = _span()


@dataclass(frozen=True)
class Name:
    id: str
    span: Span = _span()


@dataclass(frozen=True)
class IndexAll:
    """`:` inside a subscript: the whole axis."""
    span: Span = _span()


@dataclass(frozen=True)
class IndexRange:
    """`lo..hi` inside a subscript: inclusive on both ends."""
    lo: "Expr"
    hi: "Expr"
    span: Span = _span()


Index = Union["Expr", IndexAll, IndexRange]


@dataclass(frozen=True)
class Subscript:
    base: "Expr"
    indices: tuple
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    """A function (`abs`, `norm1`, `sum`, `max`, `min`) or network application."""
    func: str
    args: tuple
    span: Span = _span()


@dataclass(frozen=True)
class Iter:
    var: str
    lo: "Expr"
    hi: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Generator:
    """`sum(body for i in 0..n)`: a reduction over index ranges."""
    func: str
    body: "Expr"
    iters: tuple
    span: Span = _span()


@dataclass(frozen=True)
class ArrayLit:
    items: tuple
    span: Span = _span()


@dataclass(frozen=True)
class Unary:
    op: str  # "-"
    operand: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Binary:
    op: str  # + - * /
    left: "Expr"
    right: "Expr"
    span: Span = _span()


Expr = Union[Num, Name, Subscript, Call, Generator, ArrayLit, Unary, Binary]


# ---------------------------------------------------------------- constraints


@dataclass(frozen=True)
class Interval:
    lo: Expr
    hi: Expr
    lo_closed: bool
    hi_closed: bool
    span: Span = _span()


@dataclass(frozen=True)
class Compare:
    op: str  # <= >= == < >
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True)
class InInterval:
    expr: Expr
    interval: Interval
    span: Span = _span()


@dataclass(frozen=True)
class Truth:
    """A Boolean expression used as a constraint (`q[3]`)."""
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Implies:
    cond: "Relation"
    then: "Relation"
    span: Span = _span()


Relation = Union[Compare, InInterval, Truth]
Constraint = Union[Relation, Implies]


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Type:
    base: str  # real | int | bool
    shape: tuple  # () for a scalar
    span: Span = _span()


@dataclass(frozen=True)
class RangeDomain:
    lo: Expr
    hi: Expr
    span: Span = _span()


@dataclass(frozen=True)
class IntSet:
    """`{0, 10, ..., 70}` (step from the first two values) or `{1, 4, 9}`."""
    values: tuple
    last: Optional[int]  # set when written with `...`
    span: Span = _span()


Domain = Union[Interval, RangeDomain, IntSet]


@dataclass(frozen=True)
class CsvSource:
    path: str
    span: Span = _span()


@dataclass(frozen=True)
class NpySource:
    path: str
    span: Span = _span()


@dataclass(frozen=True)
class ParamDecl:
    name: str
    type: Optional[Type]
    source: Union[CsvSource, NpySource, Expr]
    span: Span = _span()


@dataclass(frozen=True)
class VarDecl:
    name: str
    type: Type
    domain: Optional[Domain]
    span: Span = _span()


@dataclass(frozen=True)
class NetDecl:
    name: str
    path: str
    span: Span = _span()


@dataclass(frozen=True)
class Require:
    constraint: Constraint
    iters: tuple
    span: Span = _span()


@dataclass(frozen=True)
class VnnlibRequire:
    """`require vnnlib "p.vnnlib" on net(x)`: the property's input box and output condition
    hold for x and net(x) (X_i is x flattened row-major, Y_j the j-th output)."""
    path: str
    net: str
    var: str
    span: Span = _span()


@dataclass(frozen=True)
class Select:
    """`select at most D of x [by axis k]`: at most D nonzero entries (or slices)."""
    count: Expr
    target: Expr
    axis: Optional[int]
    span: Span = _span()


@dataclass(frozen=True)
class Objective:
    sense: str  # minimize | maximize | satisfy
    expr: Optional[Expr]
    span: Span = _span()


@dataclass(frozen=True)
class SolveOptions:
    options: tuple  # ((key, value), ...), values are str | int | float
    span: Span = _span()
    spans: tuple = field(default=(), compare=False, repr=False)  # one per option, for its errors


# ---------------------------------------------------------------- porous media


@dataclass(frozen=True)
class ImageDecl:
    """`image I : grid 16 x 16 [mask "m.png"]`: an image variable (1 = solid; with a `phases`
    statement, the phase index); `grid 16 x 16 x 16` makes a volume (`layers` = 16)."""
    name: str
    rows: int
    cols: int
    mask: Optional[str]
    span: Span = _span()
    layers: Optional[int] = None

    @property
    def shape(self) -> tuple:
        return (self.rows, self.cols) if self.layers is None else (self.rows, self.cols, self.layers)


@dataclass(frozen=True)
class Word:
    """A name in a grid rule (`random`, `manhattan`, `holes`)."""
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Point:
    """A cell `(row, col)` or `(row, col, layer)`, 0-based."""
    row: int
    col: int
    span: Span = _span()
    layer: Optional[int] = None

    @property
    def cell(self) -> tuple:
        return (self.row, self.col) if self.layer is None else (self.row, self.col, self.layer)


@dataclass(frozen=True)
class IntRange:
    """`a .. b`, both ends included."""
    lo: int
    hi: int
    span: Span = _span()


@dataclass(frozen=True)
class By:
    """`by NAME` (the method of a rule: `no holes by dag`)."""
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class GridItem:
    """One rule of a `grains` / `void` block: a key and its arguments (Word, Num, Point,
    IntRange, IntSet (written `in {..}`), Interval (written `in [..]`), By)."""
    key: str
    args: tuple
    span: Span = _span()


@dataclass(frozen=True)
class GrainsDecl:
    """`grains 2 in I { seeds random; dag manhattan; compact 2; area 8..60; gap 1 }`."""
    count: int
    image: str
    items: tuple
    span: Span = _span()


@dataclass(frozen=True)
class VoidDecl:
    """`void I { border; no holes; porosity in [0.5, 0.9] }`."""
    image: str
    items: tuple
    span: Span = _span()


@dataclass(frozen=True)
class PhasesDecl:
    """`phases E { pore 0.25; active 0.60; binder in [0.1, 0.2]; apart pore binder;
    touch active binder; open pore }`: an n-phase image."""
    image: str
    items: tuple
    span: Span = _span()


Stmt = Union[ParamDecl, VarDecl, NetDecl, Require, VnnlibRequire, Select, Objective, SolveOptions,
             ImageDecl, GrainsDecl, VoidDecl, PhasesDecl]


@dataclass(frozen=True)
class Spec:
    stmts: tuple
    span: Span = _span()
