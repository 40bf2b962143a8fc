"""AST -> canonical .pgen text (for `pgenc fmt` and round-trip tests).

Parentheses are added only where precedence needs them, so printing is a
fixed point: print(parse(print(ast))) == print(ast).
"""
from __future__ import annotations

from . import ast as A

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


def format_spec(spec: A.Spec, comments: list = ()) -> str:
    """Canonical text; `comments` ((line, column, text) from the parser) are kept:
    a comment on its own line goes before the next statement, one after code on
    the statement's last line stays at the end of that line."""
    out = []
    prev_kind = None
    pending = sorted(comments)
    for stmt in spec.stmts:
        kind = type(stmt).__name__
        before = [c for c in pending if c[0] < stmt.span.line]
        trailing = [c for c in pending if stmt.span.line <= c[0] <= stmt.span.end_line]
        pending = [c for c in pending if c not in before and c not in trailing]
        if prev_kind is not None and (kind != prev_kind or before):
            out.append("")
        out.extend(c[2] for c in before)
        line = stmt_text(stmt)
        if trailing:
            line += "  " + " ".join(c[2] for c in trailing)
        out.append(line)
        prev_kind = kind
    if pending:
        if out:
            out.append("")
        out.extend(c[2] for c in pending)
    return "\n".join(out) + "\n"


def stmt_text(s) -> str:
    match s:
        case A.ParamDecl():
            typ = f" : {type_text(s.type)}" if s.type is not None else ""
            return f"param {s.name}{typ} = {source_text(s.source)}"
        case A.VarDecl():
            dom = f" in {domain_text(s.domain)}" if s.domain is not None else ""
            return f"var {s.name} : {type_text(s.type)}{dom}"
        case A.NetDecl():
            return f'net {s.name} = network "{s.path}"'
        case A.Require():
            text = f"require {constraint_text(s.constraint)}"
            if s.iters:
                text += " for " + ", ".join(iter_text(i) for i in s.iters)
            return text
        case A.VnnlibRequire():
            return f'require vnnlib "{s.path}" on {s.net}({s.var})'
        case A.Select():
            text = f"select at most {expr_text(s.count)} of {expr_text(s.target)}"
            if s.axis is not None:
                text += f" by axis {s.axis}"
            return text
        case A.Objective():
            return s.sense if s.expr is None else f"{s.sense} {expr_text(s.expr)}"
        case A.SolveOptions():
            return "solve " + " ".join(f"{k} {option_value_text(v)}" for k, v in s.options)
        case A.ImageDecl():
            mask = f' mask "{s.mask}"' if s.mask is not None else ""
            return f"image {s.name} : grid {' x '.join(str(n) for n in s.shape)}{mask}"
        case A.GrainsDecl():
            return f"grains {s.count} in {s.image} {grid_items_text(s.items)}"
        case A.VoidDecl():
            return f"void {s.image} {grid_items_text(s.items)}"
        case A.PhasesDecl():
            return f"phases {s.image} {grid_items_text(s.items)}"
    raise TypeError(f"not a statement: {s!r}")


def grid_items_text(items: tuple) -> str:
    if not items:
        return "{ }"
    return "{ " + "; ".join(grid_item_text(i) for i in items) + " }"


def grid_item_text(item: A.GridItem) -> str:
    parts = [item.key]
    for k, a in enumerate(item.args):
        match a:
            case A.Word():
                text = a.name
            case A.Num():
                text = number_text(a.value)
            case A.Point():
                text = "(" + ", ".join(str(v) for v in a.cell) + ")"
                if k + 1 < len(item.args) and isinstance(item.args[k + 1], A.Point):
                    text += ","
            case A.IntRange():
                text = f"{a.lo}..{a.hi}"
            case A.IntSet():
                text = "in " + domain_text(a)
            case A.Interval():
                text = "in " + interval_text(a)
            case A.By():
                text = f"by {a.name}"
            case _:
                raise TypeError(f"not a grid argument: {a!r}")
        parts.append(text)
    return " ".join(parts)


def option_value_text(v) -> str:
    if isinstance(v, str):
        return v if v.isidentifier() else f'"{v}"'
    return number_text(v)


def type_text(t: A.Type) -> str:
    if not t.shape:
        return t.base
    return f"{t.base}[{', '.join(str(d) for d in t.shape)}]"


def source_text(src) -> str:
    match src:
        case A.CsvSource():
            return f'csv "{src.path}"'
        case A.NpySource():
            return f'npy "{src.path}"'
    return expr_text(src)


def domain_text(d) -> str:
    match d:
        case A.Interval():
            return interval_text(d)
        case A.RangeDomain():
            return f"{expr_text(d.lo)}..{expr_text(d.hi)}"
        case A.IntSet():
            vals = ", ".join(str(v) for v in d.values)
            if d.last is not None:
                vals += f", ..., {d.last}"
            return "{" + vals + "}"
    raise TypeError(f"not a domain: {d!r}")


def interval_text(i: A.Interval) -> str:
    lb = "[" if i.lo_closed else "("
    rb = "]" if i.hi_closed else ")"
    return f"{lb}{expr_text(i.lo)}, {expr_text(i.hi)}{rb}"


def iter_text(i: A.Iter) -> str:
    return f"{i.var} in {expr_text(i.lo)}..{expr_text(i.hi)}"


def constraint_text(c) -> str:
    match c:
        case A.Compare():
            return f"{expr_text(c.left)} {c.op} {expr_text(c.right)}"
        case A.InInterval():
            return f"{expr_text(c.expr)} in {interval_text(c.interval)}"
        case A.Truth():
            return expr_text(c.expr)
        case A.Implies():
            return f"{constraint_text(c.cond)} -> {constraint_text(c.then)}"
    raise TypeError(f"not a constraint: {c!r}")


def number_text(v) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    text = repr(float(v))
    if text in ("inf", "-inf", "nan"):
        raise ValueError(f"cannot print number {text}")
    if "e" in text or "E" in text:
        mant, exp = text.split("e")
        if "." not in mant:
            mant += ".0"
        text = f"{mant}e{exp}"
    return text


def expr_text(e, parent_prec: int = 0, right_side: bool = False) -> str:
    match e:
        case A.Num():
            if e.value < 0:  # only produced by a signed range bound
                return f"-{number_text(-e.value)}"
            return number_text(e.value)
        case A.Name():
            return e.id
        case A.Subscript():
            return f"{expr_text(e.base, 4)}[{', '.join(index_text(i) for i in e.indices)}]"
        case A.Call():
            return f"{e.func}({', '.join(expr_text(a) for a in e.args)})"
        case A.Generator():
            iters = ", ".join(iter_text(i) for i in e.iters)
            return f"{e.func}({expr_text(e.body)} for {iters})"
        case A.ArrayLit():
            return "[" + ", ".join(expr_text(i) for i in e.items) + "]"
        case A.Unary():
            text = f"-{expr_text(e.operand, 3)}"
            return f"({text})" if parent_prec > 3 else text
        case A.Binary():
            prec = _PREC[e.op]
            text = f"{expr_text(e.left, prec)} {e.op} {expr_text(e.right, prec, True)}"
            needs = parent_prec > prec or (right_side and parent_prec == prec)
            return f"({text})" if needs else text
    raise TypeError(f"not an expression: {e!r}")


def index_text(i) -> str:
    match i:
        case A.IndexAll():
            return ":"
        case A.IndexRange():
            return f"{expr_text(i.lo)}..{expr_text(i.hi)}"
    return expr_text(i)
