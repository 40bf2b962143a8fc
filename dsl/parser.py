"""Text -> AST. Lark (LALR, positions) and a Transformer into `dsl.ast` nodes."""
from __future__ import annotations

import difflib
from functools import lru_cache
from pathlib import Path
from typing import Optional

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import ast as A
from ..core.errors import PgenError

KEYWORDS = ["param", "var", "net", "require", "vnnlib", "select", "minimize", "maximize",
            "satisfy", "solve", "network", "image", "grains", "void", "csv", "npy", "for", "in", "real", "int", "bool"]


_COMMENTS: list = []


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="basic", propagate_positions=True, maybe_placeholders=True,
                cache=True,  # the grammar is built once per machine, not per process (~0.1 s)
                lexer_callbacks={"COMMENT": _COMMENTS.append})


def parse_with_comments(text: str, filename: Optional[str] = None) -> tuple[A.Spec, list]:
    """Parse and also return the comments as (line, column, text), for `pgenc fmt`."""
    _COMMENTS.clear()
    spec = parse(text, filename)
    comments = [(t.line, t.column, str(t).rstrip()) for t in _COMMENTS]
    _COMMENTS.clear()
    return spec, comments


def _span_of(meta_or_token) -> A.Span:
    m = meta_or_token
    if getattr(m, "empty", False) or getattr(m, "line", None) is None:
        return A.NOSPAN
    return A.Span(m.line, m.column, m.end_line, m.end_column, m.start_pos, m.end_pos)


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)


def _glued_sizes(text: str) -> list:
    """`x16` or `x16x16` (what the lexer makes of `16x16`, `16x16x16`): the sizes, or []."""
    parts = text.split("x")
    if parts[0] != "" or len(parts) < 2 or not all(p.isdigit() for p in parts[1:]):
        return []
    return [int(p) for p in parts[1:]]


def _misplaced(token: Token, expected: str, hint: str) -> PgenError:
    """A word where the grammar reads a plain name but the language wants one word."""
    span = A.Span(token.line, token.column, token.end_line, token.end_column, token.start_pos, token.end_pos)
    return PgenError("E001", f"expected {expected} here, not `{token}`", span, hint=hint)


@v_args(meta=True)
class _ToAst(Transformer):
    # -- declarations
    def start(self, meta, stmts):
        return A.Spec(tuple(stmts), _span_of(meta))

    def param_decl(self, meta, c):
        name, typ, source = c
        return A.ParamDecl(str(name), typ, source, _span_of(meta))

    def csv_source(self, meta, c):
        return A.CsvSource(str(c[0])[1:-1], _span_of(meta))

    def npy_source(self, meta, c):
        return A.NpySource(str(c[0])[1:-1], _span_of(meta))

    def var_decl(self, meta, c):
        name, typ, domain = c
        return A.VarDecl(str(name), typ, domain, _span_of(meta))

    def type(self, meta, c):
        base = str(c[0].children[0])
        dims = tuple(int(t) for t in c[1:] if t is not None)
        return A.Type(base, dims, _span_of(meta))

    def range_dom(self, meta, c):
        return A.RangeDomain(c[0], c[1], _span_of(meta))

    def signed_int(self, meta, c):
        sign, digits = c
        value = int(digits)
        return A.Num(-value if sign is not None else value, _span_of(meta))

    def intset(self, meta, c):
        *values, last = c
        return A.IntSet(tuple(v.value for v in values),
                        None if last is None else last.value, _span_of(meta))

    def interval(self, meta, c):
        lb, lo, hi, rb = c
        return A.Interval(lo, hi, lb, rb, _span_of(meta))

    def closed(self, meta, c):
        return True

    def open(self, meta, c):
        return False

    def net_decl(self, meta, c):
        return A.NetDecl(str(c[0]), str(c[1])[1:-1], _span_of(meta))

    # -- porous media
    def image_decl(self, meta, c):
        name, grid, rows, *words, mask = c
        if str(grid) != "grid":
            raise _misplaced(grid, "`grid`", "write `image I : grid 16 x 16`")
        mask_word = None
        if words and words[-1][1] is None and str(words[-1][0]) == "mask":
            mask_word = words.pop()[0]
        sizes = [int(rows)]
        for word, value in words:
            text = str(word)
            if value is not None and text == "x":
                sizes.append(int(value))
            elif value is None and _glued_sizes(text):  # `16x16` lexes as 16 and the name `x16`
                sizes += _glued_sizes(text)
            elif value is None and text == "x":
                raise PgenError("E001", "`x` needs a size after it", _span_of(meta),
                                hint="write the size as `16 x 16` (or `16 x 16 x 16` for a volume)")
            else:
                raise _misplaced(word, "`x`", "write the size as `16 x 16` (or `16 x 16 x 16` for a volume)")
        if len(sizes) not in (2, 3):
            raise PgenError("E001", f"a grid has 2 or 3 sizes, not {len(sizes)}", _span_of(meta),
                            hint="write `grid 16 x 16` or `grid 16 x 16 x 16`")
        if mask is not None and mask_word is None:
            raise _misplaced(mask, "`mask`", 'write `mask "file.png"` (or .npy) after the size')
        return A.ImageDecl(str(name), sizes[0], sizes[1], None if mask is None else str(mask)[1:-1],
                           _span_of(meta), layers=sizes[2] if len(sizes) == 3 else None)

    def image_word(self, meta, c):
        return (c[0], c[1])

    def grains_decl(self, meta, c):
        return A.GrainsDecl(int(c[0]), str(c[1]), c[2], _span_of(meta))

    def void_decl(self, meta, c):
        return A.VoidDecl(str(c[0]), c[1], _span_of(meta))

    def phases_decl(self, meta, c):
        return A.PhasesDecl(str(c[0]), c[1], _span_of(meta))

    def grid_items(self, meta, c):
        return tuple(x for x in c if x is not None)

    def grid_item(self, meta, c):
        return A.GridItem(str(c[0]), tuple(a for a in c[1:] if a is not None), _span_of(meta))

    def arg_name(self, meta, c):
        return A.Word(str(c[0]), _span_of(meta))

    def arg_int(self, meta, c):
        return c[0]

    def arg_float(self, meta, c):
        return A.Num(float(c[0]), _span_of(meta))

    def arg_point(self, meta, c):
        return A.Point(c[0].value, c[1].value, _span_of(meta))

    def arg_point3(self, meta, c):
        return A.Point(c[0].value, c[1].value, _span_of(meta), layer=c[2].value)

    def arg_comma(self, meta, c):
        return None

    def arg_range(self, meta, c):
        return A.IntRange(c[0].value, c[1].value, _span_of(meta))

    def arg_set(self, meta, c):
        return c[0]

    def arg_interval(self, meta, c):
        return c[0]

    def arg_by(self, meta, c):
        return A.By(str(c[0]), _span_of(meta))

    def require(self, meta, c):
        constraint, iters = c
        return A.Require(constraint, tuple(iters or ()), _span_of(meta))

    def require_vnnlib(self, meta, c):
        return A.VnnlibRequire(str(c[0])[1:-1], str(c[1]), str(c[2]), _span_of(meta))

    def iters(self, meta, c):
        return list(c)

    def iter(self, meta, c):
        return A.Iter(str(c[0]), c[1], c[2], _span_of(meta))

    def implies(self, meta, c):
        return A.Implies(c[0], c[1], _span_of(meta))

    def compare(self, meta, c):
        return A.Compare(str(c[1]), c[0], c[2], _span_of(meta))

    def in_interval(self, meta, c):
        return A.InInterval(c[0], c[1], _span_of(meta))

    def truth(self, meta, c):
        return A.Truth(c[0], _span_of(meta))

    def select(self, meta, c):
        count, target, axis = c
        return A.Select(count, target, None if axis is None else int(axis), _span_of(meta))

    def minimize(self, meta, c):
        return A.Objective("minimize", c[0], _span_of(meta))

    def maximize(self, meta, c):
        return A.Objective("maximize", c[0], _span_of(meta))

    def satisfy(self, meta, c):
        return A.Objective("satisfy", None, _span_of(meta))

    def solve_opts(self, meta, c):
        return A.SolveOptions(tuple(kv for kv, _ in c), _span_of(meta), tuple(span for _, span in c))

    def option(self, meta, c):
        key, value = c
        if isinstance(value, A.Num):
            value = value.value
        elif isinstance(value, A.Name):
            value = value.id
        elif isinstance(value, Token) and value.type == "STRING":
            value = str(value)[1:-1]
        else:
            value = str(value)
        return (str(key), value), _span_of(meta)

    # -- expressions
    def number(self, meta, c):
        value = _number(str(c[0]))
        if value == float("inf"):
            raise PgenError("E001", f"the number `{c[0]}` is too large", _span_of(meta),
                            hint="numbers must be finite double-precision values")
        return A.Num(value, _span_of(meta))

    def name(self, meta, c):
        if isinstance(c[0], A.Num):  # a signed_int used as a range bound
            return c[0]
        return A.Name(str(c[0]), _span_of(meta))

    def add(self, meta, c):
        return A.Binary("+", c[0], c[1], _span_of(meta))

    def sub(self, meta, c):
        return A.Binary("-", c[0], c[1], _span_of(meta))

    def mul(self, meta, c):
        return A.Binary("*", c[0], c[1], _span_of(meta))

    def div(self, meta, c):
        return A.Binary("/", c[0], c[1], _span_of(meta))

    def neg(self, meta, c):
        return A.Unary("-", c[0], _span_of(meta))

    def subscript(self, meta, c):
        return A.Subscript(c[0], tuple(c[1:]), _span_of(meta))

    def index_range(self, meta, c):
        return A.IndexRange(c[0], c[1], _span_of(meta))

    def index_all(self, meta, c):
        return A.IndexAll(_span_of(meta))

    def call(self, meta, c):
        func, *args = c
        args = tuple(a for a in args if a is not None)
        return A.Call(str(func), args, _span_of(meta))

    def generator(self, meta, c):
        func, body, iters = c
        return A.Generator(str(func), body, tuple(iters), _span_of(meta))

    def array_lit(self, meta, c):
        return A.ArrayLit(tuple(c), _span_of(meta))


def _describe(token: Token) -> str:
    if token.type == "$END":
        return "end of input"
    return f"`{token}`"


def parse(text: str, filename: Optional[str] = None) -> A.Spec:
    """Parse .pgen text into a Spec; raise PgenError with the location on bad input."""
    try:
        tree = _parser().parse(text)
    except UnexpectedEOF:
        raise PgenError("E002", "the spec ends in the middle of a statement",
                        _eof_span(text), hint="finish the last statement",
                        filename=filename, source=text) from None
    except UnexpectedToken as e:
        raise _syntax_error(e, text, filename) from None
    except UnexpectedCharacters as e:
        span = A.Span(e.line, e.column, e.line, e.column + 1)
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else "?"
        raise PgenError("E001", f"unexpected character `{ch}`", span,
                        hint="check for a typo; comments start with `#`",
                        filename=filename, source=text) from None
    except UnexpectedInput as e:  # pragma: no cover - other lark errors
        span = A.Span(getattr(e, "line", 0), getattr(e, "column", 0), 0, 0)
        raise PgenError("E001", "syntax error", span, filename=filename, source=text) from None
    try:
        return _ToAst().transform(tree)
    except VisitError as e:
        if isinstance(e.orig_exc, PgenError):
            raise e.orig_exc.located(filename, text) from None
        raise PgenError("E001", f"syntax error: {e.orig_exc} in {e.rule}", A.NOSPAN,
                        filename=filename, source=text) from None
    except RecursionError:  # lark's tree walk is recursive: a chain of some 600 `+` is too deep
        raise PgenError("E001", "an expression is nested too deeply to read", A.NOSPAN,
                        hint="write a long sum as `sum(e for i in a..b)` or `sum(v)` over an array",
                        filename=filename, source=text) from None


def _eof_span(text: str) -> A.Span:
    lines = text.rstrip().splitlines() or [""]
    return A.Span(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)


def _syntax_error(e: UnexpectedToken, text: str, filename: Optional[str]) -> PgenError:
    tok = e.token
    if tok.type == "$END":
        return PgenError("E002", "the spec ends in the middle of a statement",
                         _eof_span(text), hint="finish the last statement",
                         filename=filename, source=text)
    span = A.Span(tok.line, tok.column, tok.end_line or tok.line,
                  tok.end_column or tok.column + max(1, len(str(tok))))
    expected = sorted(e.expected)
    hint = None
    if tok.type == "NAME":
        close = difflib.get_close_matches(str(tok), KEYWORDS, n=1)
        if close:
            hint = f"did you mean `{close[0]}`?"
    if hint is None and expected:
        shown = ", ".join(_terminal_name(t) for t in expected[:6])
        hint = f"expected one of: {shown}"
    return PgenError("E001", f"unexpected {_describe(tok)}", span, hint=hint,
                     filename=filename, source=text)


_TERMINAL_TEXT = {
    "LSQB": "`[`", "RSQB": "`]`", "LPAR": "`(`", "RPAR": "`)`", "COMMA": "`,`",
    "COLON": "`:`", "EQUAL": "`=`", "PLUS": "`+`", "MINUS": "`-`", "STAR": "`*`",
    "SLASH": "`/`", "LBRACE": "`{`", "RBRACE": "`}`", "NAME": "a name", "INT": "an integer",
    "FLOAT": "a number", "STRING": "a quoted string", "CMP": "a comparison",
    "LBRACKET": "`[` or `(`", "RBRACKET": "`]` or `)`", "BASETYPE": "a type (real, int, bool)",
    "SIGN": "`-`", "$END": "end of input",
}


def _terminal_name(t: str) -> str:
    if t in _TERMINAL_TEXT:
        return _TERMINAL_TEXT[t]
    try:
        pattern = _parser().get_terminal(t).pattern
    except KeyError:
        return t
    if pattern.type == "str":
        return f"`{pattern.value}`"
    return t.lower()
