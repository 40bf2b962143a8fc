"""The IR: the backend-neutral narrow waist. Plain data, no solver imports.

A model is variables (bool / int / real with bounds), constraints of a few
kinds, and an objective. Every variable and constraint keeps `origin`, the
spec text location (`file:line:col`) that created it, for errors and
`pgenc explain`-style statistics.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

BOOL, INT, REAL = "bool", "int", "real"
LE, GE, EQ = "<=", ">=", "=="


@dataclass
class Var:
    name: str
    kind: str  # bool | int | real
    lb: float
    ub: float
    origin: str = ""


@dataclass
class Lin:
    """sum(coef[k] * x[idx[k]]) + const; idx holds no duplicates."""
    idx: np.ndarray
    coef: np.ndarray
    const: float = 0.0

    @staticmethod
    def of(terms: dict, const: float = 0.0) -> "Lin":
        items = [(i, c) for i, c in terms.items() if c != 0.0]
        idx = np.array([i for i, _ in items], dtype=np.int64)
        coef = np.array([c for _, c in items], dtype=np.float64)
        return Lin(idx, coef, float(const))

    def bounds(self, lb: np.ndarray, ub: np.ndarray) -> tuple[float, float]:
        """Interval-arithmetic range of this expression over the variable box."""
        if not len(self.idx):
            return self.const, self.const
        c, l, u = self.coef, lb[self.idx], ub[self.idx]
        # per term, picking the bound by the coefficient's sign: a sum of pos @ lb + neg @ ub
        # would make 0 * inf = NaN for an unbounded variable (found by the fuzz test)
        with np.errstate(invalid="ignore"):  # 0 * inf in the branch np.where does not pick
            lo = self.const + float(np.sum(np.where(c > 0, c * l, np.where(c < 0, c * u, 0.0))))
            hi = self.const + float(np.sum(np.where(c > 0, c * u, np.where(c < 0, c * l, 0.0))))
        return lo, hi

    def value(self, x: np.ndarray) -> float:
        return self.const + float(self.coef @ x[self.idx]) if len(self.idx) else self.const


@dataclass
class NetRecord:
    """Network `label` (the ONNX file at `path`) applied to `inputs`, encoded as `outputs`."""
    label: str
    path: str
    inputs: list   # [Lin]
    outputs: list  # [Lin]


@dataclass
class LinearCon:
    """expr sense rhs.

    `name`, when set, is the row's name in exported model files; a pass that turns one
    constraint into several rows (big-M) names them after it, so an LP file's rows keep
    pointing at the constraint they came from. Empty: backends name a row by its position.
    """
    expr: Lin
    sense: str
    rhs: float
    origin: str = ""
    name: str = ""


@dataclass
class ReifiedCon:
    """var b (bool) <-> (expr sense rhs); sense is >= or <=. Used for binarized neurons."""
    b: int
    expr: Lin
    sense: str
    rhs: float
    origin: str = ""


@dataclass
class IndicatorCon:
    """(var b == value) -> (expr sense rhs).

    `M`, when the lowering knows a tight one, is the big-M a MILP backend may
    use (expr - rhs <= M on the other branch); else backends derive it from
    the variable bounds. Solvers with native implications ignore it, which
    keeps exact-arithmetic backends (z3) free of float rounding in big-M rows.
    """
    b: int
    value: int
    expr: Lin
    sense: str
    rhs: float
    origin: str = ""
    M: Optional[float] = None


@dataclass
class Objective:
    sense: Optional[str]  # "min", "max" or None for satisfy
    expr: Lin


@dataclass
class Model:
    vars: list = field(default_factory=list)
    constraints: list = field(default_factory=list)
    objective: Objective = None
    # counts and notes for `pgenc compile --stats` and the run manifest
    notes: list = field(default_factory=list)
    # variables a search should decide first (e.g. a network's binarized inputs, which
    # determine every other Boolean); a hint, backends may ignore it
    branch_first: list = field(default_factory=list)
    # the order and polarity of `branch_first` may be drawn from the solver's seed (porous
    # images: a random pixel order and value per draw finds varied images as fast; measured)
    branch_shuffle: bool = False
    # each encoded network application: which rows feed it and which rows are its outputs, so
    # that a solution can be compared with onnxruntime on the solver's own values
    net_records: list = field(default_factory=list)  # [NetRecord]

    def add_var(self, name: str, kind: str, lb: float, ub: float, origin: str = "") -> int:
        if kind == BOOL:
            lb, ub = max(0.0, lb), min(1.0, ub)
        self.vars.append(Var(name, kind, float(lb), float(ub), origin))
        return len(self.vars) - 1

    def bounds_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        lb = np.array([v.lb for v in self.vars], dtype=np.float64)
        ub = np.array([v.ub for v in self.vars], dtype=np.float64)
        return lb, ub

    def kinds(self) -> set:
        return {v.kind for v in self.vars}

    def stats(self) -> dict:
        count = {BOOL: 0, INT: 0, REAL: 0}
        for v in self.vars:
            count[v.kind] += 1
        cons = {}
        for c in self.constraints:
            cons[type(c).__name__] = cons.get(type(c).__name__, 0) + 1
        return {"variables": len(self.vars), "bool": count[BOOL], "int": count[INT],
                "real": count[REAL], "constraints": cons,
                "objective": self.objective.sense if self.objective else None,
                "notes": list(self.notes)}
