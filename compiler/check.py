"""AST -> checked model: names resolved, data and networks loaded, domains evaluated,
and the shape of every constraint and the objective inferred (`compiler.shapes`).

Nothing here lowers: `pgenc check` runs the parser and this module only. The functions a
spec may call are the atoms' table (`compiler.atoms`); constants are evaluated by
`compiler.consts`.
"""
from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..dsl import ast as A
from ..core.errors import PgenError
from .atoms import ATOMS, atom_of, function_names, mentions_oracle
from .atoms.pde import ORACLE_HINT
from .grid import spec as grid_spec
from .consts import evaluate
from .nn.network import Network
from .nn.onnx_import import load_network
from .shapes import check_shapes

OPTION_KEYS = {"backend": str, "timeout": (int, float), "seed": int, "tolerance": (int, float),
               "strict_delta": (int, float), "bounds": str, "bound_time": (int, float), "sample": int,
               "apart": (int, float), "draws": int, "neuron_time": (int, float)}
BACKENDS = {"auto", "cbc", "highs", "z3", "cpsat"}


@dataclass
class VarInfo:
    name: str
    kind: str
    shape: tuple
    lb: np.ndarray
    ub: np.ndarray
    values: Optional[tuple]  # an explicit integer set, else None
    step: Optional[int]      # the step of `{a, a+s, ..., b}`
    decl: A.VarDecl


@dataclass
class Checked:
    spec: A.Spec
    path: Optional[str]
    base_dir: Path
    params: dict = field(default_factory=dict)
    vars: dict = field(default_factory=dict)
    nets: dict = field(default_factory=dict)
    requires: list = field(default_factory=list)
    selects: list = field(default_factory=list)
    objective: A.Objective = None
    options: dict = field(default_factory=dict)
    grids: dict = field(default_factory=dict)  # image name -> compiler.grid.spec.GridFamily


def check(spec: A.Spec, path: Optional[str] = None, base_dir: Optional[Path] = None,
          params: Optional[dict] = None) -> Checked:
    """`params`: values that replace some params' declared values (a batch plan's targets and
    cases); each must fit its param's declared type, or the shape of its declared value."""
    base = Path(base_dir) if base_dir is not None else (Path(path).parent if path else Path("."))
    out = Checked(spec, path, base)
    params = dict(params or {})
    declared_params = [s.name for s in spec.stmts if isinstance(s, A.ParamDecl)]
    for name in params:
        if name not in declared_params:
            raise PgenError("E010", f"a value is given for `{name}`, but the spec declares no param `{name}`",
                            hint=("its params: " + ", ".join(declared_params)) if declared_params
                            else "declare it: `param " + name + " = 0.5`, then use it in the spec")
    declared: dict = {}
    for stmt in spec.stmts:
        if isinstance(stmt, (A.ParamDecl, A.VarDecl, A.NetDecl, A.ImageDecl)):
            if stmt.name in declared:
                prev = declared[stmt.name].span
                raise PgenError("E011", f"`{stmt.name}` is declared twice", stmt.span,
                                hint=f"the first declaration is on line {prev.line}; rename one of them")
            if stmt.name in ATOMS:
                raise PgenError("E011", f"`{stmt.name}` is a built-in function and cannot be declared",
                                stmt.span, hint="choose another name")
        match stmt:
            case A.ParamDecl():
                _names_ok(stmt.source, out, set(), declared)
                out.params[stmt.name] = _param_value(stmt, out)
                if stmt.name in params:
                    out.params[stmt.name] = _param_override(stmt, out.params[stmt.name], params[stmt.name])
            case A.VarDecl():
                out.vars[stmt.name] = _var_info(stmt, out, declared)
            case A.NetDecl():
                out.nets[stmt.name] = _load_net(stmt, out)
            case A.Require():
                scope = _iter_scope(stmt.iters, out, declared)
                _names_ok(stmt.constraint, out, scope, declared)
                out.requires.append(stmt)
            case A.VnnlibRequire():
                _import_vnnlib(stmt, out, declared)
            case A.Select():
                _names_ok(stmt.count, out, set(), declared)
                _names_ok(stmt.target, out, set(), declared)
                out.selects.append(stmt)
            case A.Objective():
                if out.objective is not None:
                    raise PgenError("E011", "more than one objective", stmt.span,
                                    hint=f"the first is on line {out.objective.span.line}; keep one")
                if stmt.expr is not None:
                    _names_ok(stmt.expr, out, set(), declared)
                out.objective = stmt
            case A.SolveOptions():
                spans = stmt.spans or (stmt.span,) * len(stmt.options)
                for (key, value), span in zip(stmt.options, spans):
                    out.options[key] = _option(key, value, span)
                    if key == "apart":
                        apart_span = span
            case A.ImageDecl():
                out.grids[stmt.name] = grid_spec.image_family(stmt, out.base_dir)
                out.vars[stmt.name] = _image_var(stmt)
            case A.GrainsDecl() | A.VoidDecl() | A.PhasesDecl():
                if stmt.image not in out.grids:
                    raise PgenError("E010", f"`{stmt.image}` is not an image", stmt.span,
                                    hint=f"declare it first: `image {stmt.image} : grid 16 x 16`")
                if isinstance(stmt, A.GrainsDecl):
                    grid_spec.add_grains(out.grids[stmt.image], stmt)
                elif isinstance(stmt, A.PhasesDecl):
                    grid_spec.add_phases(out.grids[stmt.image], stmt)
                    out.vars[stmt.image] = _image_var(out.grids[stmt.image].decl, len(out.grids[stmt.image].phases))
                else:
                    grid_spec.add_void(out.grids[stmt.image], stmt)
        if isinstance(stmt, (A.ParamDecl, A.VarDecl, A.NetDecl, A.ImageDecl)):
            declared[stmt.name] = stmt
    for fam in out.grids.values():
        grid_spec.finish(fam)
    if out.objective is None:
        out.objective = A.Objective("satisfy", None)
    check_shapes(out)
    _oracles_ok(out)
    if "apart" in out.options:
        if "sample" not in out.options:
            raise PgenError("E018", "`apart` spaces the solutions of `sample`, and this spec samples none",
                            apart_span, hint=f"ask for several: `solve sample 10 apart {out.options['apart']}`")
        out.options["apart"] = check_apart(out, out.options["apart"], apart_span)
    return out


def check_apart(checked: Checked, apart, span=None) -> int | float:
    """`apart D` (or `--apart D`): sampled images differ in at least D cells (Hamming, summed
    over the spec's images), sampled design vectors are at least D apart in L1 over every
    entry of every `var` (Hamming on Booleans). D is returned as an int where every distance
    is a whole number. A D no two solutions can reach is refused: it would stop `sample`
    after one solution, which is surely not what was meant."""
    span = span or A.NOSPAN
    what = "`apart`"
    if isinstance(apart, bool) or not isinstance(apart, (int, float)) or not apart > 0:
        raise PgenError("E018", f"{what} must be a positive distance, not {apart}", span)
    whole = checked.grids or all(v.kind in ("int", "bool") for v in checked.vars.values())
    if whole and float(apart) != int(apart):
        whose = "images count cells" if checked.grids else "integer and Boolean designs are whole numbers"
        raise PgenError("E018", f"{what} {apart}: distances between {whose}", span,
                        hint=f"use {int(apart) + 1}: a distance of at least {apart} is one of at least {int(apart) + 1}")
    if checked.grids:
        widest = sum(int(np.prod(v.shape)) for name, v in checked.vars.items() if name in checked.grids)
        reach = f"two images can differ: they have {widest} cells"
    else:
        widest = 0.0
        for name, v in checked.vars.items():
            if not (np.all(np.isfinite(v.lb)) and np.all(np.isfinite(v.ub))):
                raise PgenError("E018", f"{what} measures L1 distances, and `{name}` has no finite bounds", span,
                                hint=f"give it a box: `var {name} : {v.kind}{_dims(v.shape)} in [lo, hi]` (the "
                                     "encoding of `at least D apart` needs one)")
            widest += float(np.sum(v.ub - v.lb))
        reach = f"two designs can differ: their box is {widest:g} across in L1"
    if apart > widest:
        raise PgenError("E018", f"{what} {apart} is more than {reach}", span, hint="choose a smaller distance")
    return int(apart) if whole else float(apart)


def _dims(shape: tuple) -> str:
    return f"[{', '.join(str(n) for n in shape)}]" if shape else ""


def _oracles_ok(out: Checked) -> None:
    """The true-value functions (`dxx`, `dyy`) are checked on candidates and cut off when they
    miss: only a `require` may use them, and it may read only images (and constants), since
    the cut excludes the image's pixels."""
    obj = out.objective
    if obj.expr is not None and mentions_oracle(obj.expr, out.nets):
        raise PgenError("E015", "the PDE's true value cannot be an objective: it has no encoding", obj.span,
                        hint=ORACLE_HINT)
    for req in out.requires:
        if not mentions_oracle(req.constraint, out.nets):
            continue
        others = sorted(n for n in _names_in(req.constraint) if n in out.vars and n not in out.grids)
        if others:
            raise PgenError("E015", f"a require on the PDE's true value reads `{others[0]}`, which is not an image",
                            req.span, hint="state the true-value interval on the image alone, e.g. "
                                           "`require dxx(I) in [0.60, 0.70)`")


def _names_in(node) -> set:
    if isinstance(node, A.Name):
        return {node.id}
    found = set()
    if hasattr(node, "__dataclass_fields__"):
        for name in node.__dataclass_fields__:
            value = getattr(node, name)
            for v in (value if isinstance(value, tuple) else (value,)):
                if hasattr(v, "__dataclass_fields__"):
                    found |= _names_in(v)
    return found


def _image_var(stmt: A.ImageDecl, phases: int = 0) -> VarInfo:
    """An image is a Boolean array variable (1 = solid) of the grid's shape; an n-phase
    image an integer one (the phase index, 0..n-1)."""
    shape = stmt.shape
    if phases:
        return VarInfo(stmt.name, "int", shape, np.zeros(shape), np.full(shape, phases - 1.0), None, None, stmt)
    return VarInfo(stmt.name, "bool", shape, np.zeros(shape), np.ones(shape), None, None, stmt)


def _option(key, value, span):
    if key not in OPTION_KEYS:
        close = difflib.get_close_matches(key, list(OPTION_KEYS), n=1)
        hint = f"did you mean `{close[0]}`?" if close else "known options: " + ", ".join(sorted(OPTION_KEYS))
        raise PgenError("E018", f"unknown solve option `{key}`", span, hint=hint)
    if not isinstance(value, OPTION_KEYS[key]) or isinstance(value, bool):
        raise PgenError("E018", f"solve option `{key}` has a value of the wrong kind: {value!r}", span)
    if key == "backend" and value not in BACKENDS:
        raise PgenError("E018", f"unknown backend `{value}`", span,
                        hint="choose one of: " + ", ".join(sorted(BACKENDS)))
    if key == "bounds" and value not in ("interval", "lp", "milp"):
        raise PgenError("E018", f"unknown bound method `{value}`", span, hint="choose interval, lp or milp")
    if key in ("timeout", "tolerance", "strict_delta", "bound_time", "sample", "draws", "neuron_time") and not value > 0:
        raise PgenError("E018", f"solve option `{key}` must be positive, not {value}", span)
    return value


def _iter_scope(iters, out, declared) -> set:
    scope = set()
    for it in iters:
        _names_ok(it.lo, out, scope, declared)
        _names_ok(it.hi, out, scope, declared)
        if it.var in declared:
            raise PgenError("E011", f"index `{it.var}` hides the declaration of `{it.var}`", it.span,
                            hint="use another index name")
        scope = scope | {it.var}
    return scope


def _names_ok(node, out: Checked, scope: set, declared: dict) -> None:
    """Every name used is declared before use (or an index in scope)."""
    match node:
        case A.Name():
            if node.id in scope or node.id in declared:
                return
            candidates = list(declared) + list(scope)
            close = difflib.get_close_matches(node.id, candidates, n=1)
            hint = f"did you mean `{close[0]}`?" if close else "declare it with `param`, `var` or `net` before this line"
            raise PgenError("E010", f"unknown name `{node.id}`", node.span, hint=hint)
        case A.Call():
            if atom_of(node.func, out.nets) is None:
                known = function_names() + list(out.nets)
                close = difflib.get_close_matches(node.func, known, n=1)
                hint = f"did you mean `{close[0]}`?" if close else "declare networks with `net NAME = network \"file.onnx\"`"
                raise PgenError("E010", f"unknown function or network `{node.func}`", node.span, hint=hint)
            for a in node.args:
                _names_ok(a, out, scope, declared)
        case A.Generator():
            atom = atom_of(node.func, out.nets)
            if atom is None or atom.reduction is None:
                names = [n for n in function_names() if ATOMS[n].reduction is not None]
                raise PgenError("E014", f"`{node.func}(... for ...)` is not a reduction", node.span,
                                hint=f"use {', '.join(names[:-1])} or {names[-1]} with `for`")
            inner = _iter_scope(node.iters, out, declared) | scope
            for it in node.iters:
                _names_ok(it.lo, out, scope, declared)
                _names_ok(it.hi, out, scope, declared)
            _names_ok(node.body, out, inner, declared)
        case A.Iter():
            pass
        case _:
            if hasattr(node, "__dataclass_fields__"):
                for name in node.__dataclass_fields__:
                    if name == "span":
                        continue
                    value = getattr(node, name)
                    if isinstance(value, tuple):
                        for v in value:
                            _names_ok(v, out, scope, declared)
                    elif hasattr(value, "__dataclass_fields__"):
                        _names_ok(value, out, scope, declared)


# ---------------------------------------------------------------- declarations


def _param_value(stmt: A.ParamDecl, out: Checked) -> np.ndarray:
    src = stmt.source
    if isinstance(src, A.CsvSource):
        value = _read_csv(out.base_dir / src.path, src)
    elif isinstance(src, A.NpySource):
        p = out.base_dir / src.path
        try:
            value = np.load(p, allow_pickle=False)
        except FileNotFoundError:
            raise PgenError("E017", f"data file `{src.path}` not found", src.span,
                            hint="paths are relative to the spec file") from None
        except Exception as e:
            raise PgenError("E017", f"cannot read `{src.path}` as NPY: {e}", src.span) from None
        value = np.asarray(value, dtype=np.float64)
    else:
        value = evaluate(src, out)
    if stmt.type is not None:
        want = stmt.type.shape
        if tuple(value.shape) != want:
            if value.size == int(np.prod(want)) and isinstance(src, (A.CsvSource, A.NpySource)) and value.ndim <= 1:
                value = value.reshape(want)
            else:
                raise PgenError("E012", f"`{stmt.name}` is declared {list(want)} but its value has shape {list(value.shape)}",
                                stmt.span, hint="fix the declared shape or the data")
        if stmt.type.base in ("int", "bool") and not np.array_equal(value, np.round(value)):
            raise PgenError("E014", f"`{stmt.name}` is declared {stmt.type.base} but holds non-integer values",
                            stmt.span)
    if not np.all(np.isfinite(value)):
        raise PgenError("E017", f"`{stmt.name}` holds NaN or infinite values", stmt.span)
    return value


def _param_override(stmt: A.ParamDecl, declared: np.ndarray, given) -> np.ndarray:
    try:
        value = np.asarray(given, dtype=np.float64)
    except (TypeError, ValueError):
        raise PgenError("E014", f"the value given for `{stmt.name}` is not numbers", stmt.span) from None
    if value.shape != declared.shape:
        if value.size != declared.size:
            raise PgenError("E012", f"the value given for `{stmt.name}` has {value.size} entries, but `{stmt.name}` "
                            f"holds {declared.size} (shape {list(declared.shape)})", stmt.span,
                            hint="give one number per entry (a target row as long as the declared value)")
        value = value.reshape(declared.shape)
    if stmt.type is not None and stmt.type.base in ("int", "bool") and not np.array_equal(value, np.round(value)):
        raise PgenError("E014", f"`{stmt.name}` is declared {stmt.type.base} but the value given is not whole", stmt.span)
    if not np.all(np.isfinite(value)):
        raise PgenError("E017", f"the value given for `{stmt.name}` holds NaN or infinite values", stmt.span)
    return value


def _read_csv(path: Path, src) -> np.ndarray:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PgenError("E017", f"data file `{src.path}` not found", src.span,
                        hint="paths are relative to the spec file") from None
    rows = []
    for lineno, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        try:
            rows.append([float(c) for c in row])
        except ValueError:
            bad = next(c for c in row if not _is_float(c))
            raise PgenError("E017", f"{src.path}:{lineno}: `{bad.strip()}` is not a number", src.span,
                            hint="CSV data must be numbers only (no header row)") from None
    if not rows:
        raise PgenError("E017", f"data file `{src.path}` is empty", src.span)
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise PgenError("E017", f"{src.path}: rows have different lengths {sorted(widths)}", src.span)
    arr = np.array(rows, dtype=np.float64)
    return arr[0] if arr.shape[0] == 1 else arr


def _is_float(c: str) -> bool:
    try:
        float(c)
        return True
    except ValueError:
        return False


def _load_net(stmt: A.NetDecl, out: Checked) -> Network:
    try:
        return load_network(out.base_dir / stmt.path, display=stmt.path)
    except PgenError as e:
        e.span = stmt.span
        raise


def _var_info(stmt: A.VarDecl, out: Checked, declared: dict) -> VarInfo:
    t = stmt.type
    shape = t.shape
    inf = np.full(shape, np.inf)
    lb, ub, values, step = -inf, inf.copy(), None, None
    dom = stmt.domain
    if t.base == "bool":
        if dom is not None:
            raise PgenError("E014", "a bool variable takes no domain", dom.span, hint="remove the `in ...` part")
        lb, ub = np.zeros(shape), np.ones(shape)
    elif isinstance(dom, A.Interval):
        _names_ok(dom.lo, out, set(), declared)
        _names_ok(dom.hi, out, set(), declared)
        lo, hi = evaluate(dom.lo, out), evaluate(dom.hi, out)
        try:
            lb = np.broadcast_to(lo, shape).astype(np.float64).copy()
            ub = np.broadcast_to(hi, shape).astype(np.float64).copy()
        except ValueError:
            raise PgenError("E012", f"bounds of shape {list(lo.shape)} and {list(hi.shape)} do not fit `{stmt.name}` of shape {list(shape)}",
                            dom.span) from None
        if t.base == "int":
            lb = np.where(dom.lo_closed, np.ceil(lb), np.floor(lb) + 1)
            ub = np.where(dom.hi_closed, np.floor(ub), np.ceil(ub) - 1)
        elif not (dom.lo_closed and dom.hi_closed):
            raise PgenError("E014", "a real variable's domain must be a closed interval `[lo, hi]`", dom.span,
                            hint="open ends are for constraints (`require x in [a, b)`)")
        if np.any(lb > ub):
            raise PgenError("E016", f"the domain of `{stmt.name}` is empty", dom.span,
                            hint="the lower bound must not exceed the upper bound")
    elif isinstance(dom, A.RangeDomain):
        if t.base != "int":
            raise PgenError("E014", "a range `a..b` is an integer domain", dom.span,
                            hint="declare the variable int, or write the interval `[a, b]`")
        lo, hi = evaluate(dom.lo, out), evaluate(dom.hi, out)
        if lo.shape != () or hi.shape != () or lo != np.round(lo) or hi != np.round(hi):
            raise PgenError("E014", "range bounds must be integer scalars", dom.span)
        if lo > hi:
            raise PgenError("E016", f"the range {int(lo)}..{int(hi)} is empty", dom.span,
                            hint="write the smaller bound first")
        lb, ub = np.full(shape, float(lo)), np.full(shape, float(hi))
    elif isinstance(dom, A.IntSet):
        if t.base != "int":
            raise PgenError("E014", "an integer set is a domain for int variables", dom.span)
        vals = list(dom.values)
        if dom.last is not None:
            if len(vals) < 2:
                raise PgenError("E016", "`{a, b, ..., c}` needs two values before `...` to fix the step", dom.span)
            step = vals[1] - vals[0]
            if step <= 0 or any(vals[i + 1] - vals[i] != step for i in range(len(vals) - 1)) \
                    or (dom.last - vals[0]) % step != 0 or dom.last < vals[-1]:
                raise PgenError("E016", "the set is not an increasing arithmetic sequence ending at its last value",
                                dom.span, hint="write e.g. {0, 10, ..., 70}")
            vals = list(range(vals[0], dom.last + 1, step))
        vals = sorted(set(vals))
        if len(vals) >= 2 and step is None:
            diffs = {vals[i + 1] - vals[i] for i in range(len(vals) - 1)}
            if len(diffs) == 1:
                step = diffs.pop()
        values = tuple(vals)
        lb, ub = np.full(shape, float(vals[0])), np.full(shape, float(vals[-1]))
    elif dom is None and t.base == "int":
        raise PgenError("E016", f"int variable `{stmt.name}` needs a finite domain", stmt.span,
                        hint=f"write e.g. `var {stmt.name} : {t.base} in 0..10`")
    return VarInfo(stmt.name, t.base, shape, lb, ub, values, step, stmt)


def _import_vnnlib(stmt: A.VnnlibRequire, out: Checked, declared: dict) -> None:
    """`require vnnlib "p.vnnlib" on net(x)`: the box narrows x's domain; the output
    condition (and any disjunction, with a fresh bool array) becomes requires."""
    from ..dsl.vnnlib import load_vnnlib, property_statements, split_box

    if stmt.net not in out.nets:
        raise PgenError("E010", f"unknown network `{stmt.net}`", stmt.span, hint="declare it with `net` first")
    if stmt.var not in out.vars:
        raise PgenError("E010", f"unknown variable `{stmt.var}`", stmt.span, hint="declare it with `var` first")
    info, net = out.vars[stmt.var], out.nets[stmt.net]
    try:
        prop, text = load_vnnlib(out.base_dir / stmt.path)
    except PgenError as e:
        if e.code == "E040":
            e.span, e.message = stmt.span, f"VNNLIB file `{stmt.path}` not found"
            e.hint = "paths are relative to the spec file"
        raise
    if info.kind != "real" or len(info.shape) != 1 or info.shape[0] != prop.n_x or net.n_in != prop.n_x:
        raise PgenError("E022", f"`{stmt.path}` has {prop.n_x} inputs; `{stmt.var}` must be real[{prop.n_x}] "
                        f"and `{stmt.net}` must take {prop.n_x} inputs (it takes {net.n_in})", stmt.span)
    lo, hi, rest = split_box(prop)
    info.lb = np.maximum(info.lb, lo)
    info.ub = np.minimum(info.ub, hi)
    if np.any(info.lb > info.ub):
        raise PgenError("E016", f"the property's box leaves `{stmt.var}` no values", stmt.span)
    for s in property_statements(prop, rest, stmt.net, stmt.var, net.n_out, str(out.base_dir / stmt.path), text,
                                 case=f"{stmt.var}_case{stmt.span.line}", span=stmt.span):
        if isinstance(s, A.VarDecl):
            out.vars[s.name] = _var_info(s, out, declared)
            declared[s.name] = s
        else:
            out.requires.append(s)
