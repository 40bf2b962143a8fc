"""VNNLIB -> the same checked model as .pgen: a second front end.

A VNNLIB property declares inputs `X_i` and outputs `Y_j` and asserts the
*unsafe* set: bounds on the inputs and linear conditions, with `and` / `or`
(disjunctions of conjunctions, over outputs or inputs; several `or` assertions
mean all of them: e.g. one over input regions and one over output clauses).
`read_vnnlib` parses it into a `Property`; `to_spec` writes it as a .pgen AST
over one network:

    var X : real[n] in [lo, hi]          (the box from single-variable bounds)
    var case : bool[k]                   (only with k > 1 disjuncts; `case_1`, ... for
                                          a second, third `or`)
    require case[d] -> ATOM              (each atom of disjunct d)
    require sum(case) >= 1
    satisfy

so it is checked, lowered, solved and verified by the ordinary pipeline.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Optional

import numpy as np

from . import ast as A
from ..core.errors import PgenError

_TOKEN = re.compile(r"\s+|;[^\n]*|\(|\)|[^\s()]+")
_NUMBER = re.compile(r"^[+-]?((\d+\.?\d*)|(\.\d+))([eE][+-]?\d+)?$")
_VAR = re.compile(r"^([XY])_(\d+)$")


@dataclass
class Atom:
    """sum(coef * var) + const  op  0, op in {<=, >=}; vars are ("X", i) or ("Y", j)."""
    terms: dict
    const: float
    op: str
    span: A.Span


@dataclass
class Property:
    n_x: int
    n_y: int
    atoms: list = field(default_factory=list)         # conjunction that always holds
    disjunctions: list = field(default_factory=list)  # [[[Atom, ...], ...], ...]: in each, one clause holds
    spans: dict = field(default_factory=dict)         # declared name -> span

    @property
    def disjuncts(self) -> list:
        """The property as one disjunction: a clause per choice of one clause from every `or`
        ((A1 or A2) and (B1 or B2) is the or of the four Ai and Bj); [] without an `or`."""
        if not self.disjunctions:
            return []
        return [[a for clause in choice for a in clause] for choice in itertools.product(*self.disjunctions)]


@dataclass
class _Tok:
    text: str
    line: int
    col: int

    @property
    def span(self) -> A.Span:
        return A.Span(self.line, self.col, self.line, self.col + len(self.text))


def _tokens(text: str, filename: str):
    line, col = 1, 1
    for m in _TOKEN.finditer(text):
        s = m.group(0)
        if not s.isspace() and not s.startswith(";"):
            yield _Tok(s, line, col)
        nl = s.count("\n")
        if nl:
            line += nl
            col = len(s) - s.rfind("\n")
        else:
            col += len(s)


def _sexprs(text: str, filename: str) -> list:
    stack: list = [[]]
    opens: list = []
    for tok in _tokens(text, filename):
        if tok.text == "(":
            stack.append([])
            opens.append(tok)
        elif tok.text == ")":
            if len(stack) == 1:
                raise PgenError("E001", "unexpected `)`", tok.span, filename=filename, source=text)
            done = stack.pop()
            opens.pop()
            stack[-1].append((done, tok))
        else:
            stack[-1].append(tok)
    if len(stack) > 1:
        raise PgenError("E002", "unclosed `(`", opens[-1].span, hint="add the missing `)`",
                        filename=filename, source=text)
    return stack[0]


def _head(node) -> Optional[_Tok]:
    if isinstance(node, tuple) and node[0] and isinstance(node[0][0], _Tok):
        return node[0][0]
    return None


def _first_tok(node) -> _Tok:
    while isinstance(node, tuple):
        node = node[0][0] if node[0] else node[1]
    return node


def read_vnnlib(text: str, filename: str = "<vnnlib>") -> Property:
    err = lambda code, msg, span, hint=None: PgenError(code, msg, span, hint=hint, filename=filename, source=text)  # noqa: E731
    declared: dict = {}
    prop = Property(0, 0)
    asserts = []
    for node in _sexprs(text, filename):
        if isinstance(node, _Tok):
            raise err("E001", f"unexpected `{node.text}` outside parentheses", node.span)
        head = _head(node)
        items = node[0]
        if head is None:
            raise err("E001", "expected `(declare-const ...)` or `(assert ...)`", _first_tok(node).span)
        if head.text == "declare-const":
            if len(items) != 3 or not all(isinstance(i, _Tok) for i in items):
                raise err("E001", "expected `(declare-const NAME Real)`", head.span)
            name, sort = items[1], items[2]
            m = _VAR.match(name.text)
            if not m:
                raise err("E001", f"`{name.text}` is not a VNNLIB variable name", name.span,
                          hint="inputs are X_0, X_1, ...; outputs Y_0, Y_1, ...")
            if sort.text != "Real":
                raise err("E014", f"sort `{sort.text}` is not supported", sort.span, hint="declare every variable `Real`")
            if name.text in declared:
                raise err("E011", f"`{name.text}` is declared twice", name.span)
            declared[name.text] = name.span
        elif head.text == "assert":
            if len(items) != 2:
                raise err("E001", "expected `(assert EXPR)`", head.span)
            asserts.append(items[1])
        else:
            raise err("E001", f"unknown command `{head.text}`", head.span,
                      hint="VNNLIB files hold declare-const and assert")
    xs = sorted(int(_VAR.match(n).group(2)) for n in declared if n.startswith("X"))
    ys = sorted(int(_VAR.match(n).group(2)) for n in declared if n.startswith("Y"))
    prop.n_x = (max(xs) + 1) if xs else 0
    prop.n_y = (max(ys) + 1) if ys else 0
    prop.spans = declared

    def term(node, sign: Fraction) -> tuple[dict, Fraction]:
        if isinstance(node, _Tok):
            if _NUMBER.match(node.text):
                return {}, sign * Fraction(node.text)
            if node.text not in declared:
                if _VAR.match(node.text):
                    raise err("E010", f"`{node.text}` is used but not declared", node.span,
                              hint=f"add `(declare-const {node.text} Real)`")
                raise err("E001", f"unexpected `{node.text}`", node.span)
            m = _VAR.match(node.text)
            return {(m.group(1), int(m.group(2))): sign}, Fraction(0)
        head = _head(node)
        items = node[0]
        if head is None:
            raise err("E001", "expected a term", _first_tok(node).span)
        args = items[1:]
        if head.text in ("+", "-"):
            total: dict = {}
            const = Fraction(0)
            for k, a in enumerate(args):
                s = sign if head.text == "+" or (k == 0 and len(args) > 1) else -sign
                t, c = term(a, s)
                for key, v in t.items():
                    total[key] = total.get(key, 0) + v
                const += c
            return total, const
        if head.text == "*":
            consts = [a for a in args if isinstance(a, _Tok) and _NUMBER.match(a.text)]
            others = [a for a in args if a not in consts]
            if len(others) > 1:
                raise err("E015", "product of two variables is not linear", head.span)
            factor = sign
            for c in consts:
                factor *= Fraction(c.text)
            return term(others[0], factor) if others else ({}, factor)
        raise err("E001", f"`{head.text}` is not a term", head.span, hint="terms use + - * numbers, X_i and Y_j")

    def atom(node) -> Atom:
        head = _head(node)
        items = node[0]
        if head is None or head.text not in ("<=", ">=", "<", ">"):
            where = (head or _first_tok(node)).span
            raise err("E001", "expected a comparison `(<= a b)` or `(>= a b)`", where)
        if len(items) != 3:
            raise err("E001", f"`{head.text}` takes two terms", head.span)
        lt, lc = term(items[1], Fraction(1))
        rt, rc = term(items[2], Fraction(-1))
        for key, v in rt.items():
            lt[key] = lt.get(key, 0) + v
        terms = {k: float(v) for k, v in lt.items() if v != 0}
        op = "<=" if head.text in ("<=", "<") else ">="
        return Atom(terms, float(lc + rc), op, head.span)

    def conj(node) -> list:
        head = _head(node)
        if head is not None and head.text == "and":
            out = []
            for a in node[0][1:]:
                out.extend(conj(a))
            return out
        return [atom(node)]

    for node in asserts:
        head = _head(node)
        if head is not None and head.text == "or":
            clauses = [conj(d) for d in node[0][1:]]
            if not clauses:
                raise err("E016", "an empty `or` can never hold", head.span)
            if len(clauses) == 1:  # a one-clause `or` is a conjunction
                prop.atoms.extend(clauses[0])
            else:
                prop.disjunctions.append(clauses)
        else:
            prop.atoms.extend(conj(node))
    return prop


def load_vnnlib(path: str | Path) -> tuple[Property, str]:
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise PgenError("E040", f"VNNLIB file `{p}` not found") from None
    return read_vnnlib(text, str(p)), text


def _single_bound(a: Atom):
    """(i, value, is_upper) when the atom bounds one input, else None."""
    if len(a.terms) == 1:
        (kind, i), c = next(iter(a.terms.items()))
        if kind == "X":
            return i, -a.const / c, (a.op == "<=") == (c > 0)
    return None


def split_box(prop: Property) -> tuple[np.ndarray, np.ndarray, list]:
    """The input box from single-input atoms of the always-true part; the rest stays.

    Inputs bounded inside the disjunctions get the hull of each `or`'s clause boxes,
    intersected over the `or`s (the clauses keep their own bounds as conditional rows)."""
    lo = np.full(prop.n_x, -np.inf)
    hi = np.full(prop.n_x, np.inf)
    rest = []
    for clauses in prop.disjunctions:
        hull_lo = np.full(prop.n_x, np.inf)
        hull_hi = np.full(prop.n_x, -np.inf)
        for clause in clauses:
            c_lo = np.full(prop.n_x, -np.inf)
            c_hi = np.full(prop.n_x, np.inf)
            for a in clause:
                b = _single_bound(a)
                if b is not None:
                    i, v, upper = b
                    if upper:
                        c_hi[i] = min(c_hi[i], v)
                    else:
                        c_lo[i] = max(c_lo[i], v)
            hull_lo = np.minimum(hull_lo, c_lo)
            hull_hi = np.maximum(hull_hi, c_hi)
        lo, hi = np.maximum(lo, hull_lo), np.minimum(hi, hull_hi)
    for a in prop.atoms:
        b = _single_bound(a)
        if b is None:
            rest.append(a)
            continue
        i, v, upper = b
        if upper:
            hi[i] = min(hi[i], v)
        else:
            lo[i] = max(lo[i], v)
    return lo, hi, rest


def _num(v: float) -> A.Expr:
    return A.Num(float(v)) if v >= 0 else A.Unary("-", A.Num(float(-v)))


def _atom_relation(a: Atom, net: str, xname: str, n_y: int, filename: str, source: str) -> A.Compare:
    expr: Optional[A.Expr] = None
    for (kind, i), c in sorted(a.terms.items()):
        if kind == "Y" and i >= n_y:
            raise PgenError("E013", f"`Y_{i}` is beyond the network's {n_y} outputs (Y_0..Y_{n_y - 1})", a.span,
                            filename=filename, source=source)
        base = A.Subscript(A.Call(net, (A.Name(xname),)), (A.Num(i),)) if kind == "Y" \
            else A.Subscript(A.Name(xname), (A.Num(i),))
        t = base if c == 1.0 else A.Binary("*", _num(c), base)
        expr = t if expr is None else A.Binary("+", expr, t)
    if expr is None:
        expr = A.Num(0)
    return A.Compare(a.op, expr, _num(-a.const), a.span)


def property_statements(prop: Property, rest: list, net: str, xname: str, n_out: int, filename: str,
                        source: str, case: str = "case", span: A.Span | None = None) -> list:
    """The non-box atoms and the disjunction as statements (a bool array `case` picks the clause).

    `span`, when given, replaces the VNNLIB positions (for a property imported by a .pgen spec)."""
    for a in list(rest) + [a for clauses in prop.disjunctions for c in clauses for a in c]:
        for (kind, i) in a.terms:
            if kind == "Y" and i >= n_out:
                raise PgenError("E013", f"`Y_{i}` is beyond the network's {n_out} outputs (Y_0..Y_{n_out - 1})",
                                span or a.span, filename=None if span else filename, source=None if span else source)
    where = (lambda a: span) if span is not None else (lambda a: a.span)  # noqa: E731
    rel = lambda a: _atom_relation(a, net, xname, n_out, filename, source)  # noqa: E731
    stmts: list = [A.Require(rel(a), (), where(a)) for a in rest]
    for n, clauses in enumerate(prop.disjunctions):  # one bool array per `or`
        name = case if n == 0 else f"{case}_{n}"
        stmts.append(A.VarDecl(name, A.Type("bool", (len(clauses),)), None, span or A.NOSPAN))
        for d, clause in enumerate(clauses):
            lit = A.Truth(A.Subscript(A.Name(name), (A.Num(d),)))
            for a in clause:
                stmts.append(A.Require(A.Implies(lit, rel(a), where(a)), (), where(a)))
        stmts.append(A.Require(A.Compare(">=", A.Call("sum", (A.Name(name),)), A.Num(1)), (), span or A.NOSPAN))
    return stmts


def to_spec(prop: Property, net_path: str, n_in: int, n_out: int, filename: str, source: str,
            net: str = "net", xname: str = "X") -> A.Spec:
    """The property as a .pgen AST over the network at `net_path` (errors point into the VNNLIB file)."""
    if prop.n_x != n_in:
        raise PgenError("E022", f"the property declares {prop.n_x} inputs but the network takes {n_in}",
                        A.Span(1, 1, 1, 2), filename=filename, source=source)
    lo, hi, rest = split_box(prop)
    missing = [i for i in range(prop.n_x) if not (np.isfinite(lo[i]) and np.isfinite(hi[i]))]
    if missing:
        raise PgenError("E016", f"input X_{missing[0]} has no finite lower and upper bound",
                        prop.spans.get(f"X_{missing[0]}", A.NOSPAN),
                        hint="assert (>= X_i lo) and (<= X_i hi) for every input", filename=filename, source=source)
    bad = [i for i in range(prop.n_x) if lo[i] > hi[i]]
    if bad:
        raise PgenError("E016", f"the bounds of X_{bad[0]} are empty", prop.spans.get(f"X_{bad[0]}", A.NOSPAN),
                        filename=filename, source=source)
    stmts: list = [
        A.ParamDecl("X_lo", None, A.ArrayLit(tuple(_num(v) for v in lo))),
        A.ParamDecl("X_hi", None, A.ArrayLit(tuple(_num(v) for v in hi))),
        A.VarDecl(xname, A.Type("real", (prop.n_x,)), A.Interval(A.Name("X_lo"), A.Name("X_hi"), True, True)),
        A.NetDecl(net, net_path),
    ]
    stmts.extend(property_statements(prop, rest, net, xname, n_out, filename, source))
    stmts.append(A.Objective("satisfy", None))
    return A.Spec(tuple(stmts))
