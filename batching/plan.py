"""A batch plan: specs x seeds x targets x cases x backends, each combination one task.

A plan is a TOML file (paths relative to it):

    [batch]                 # defaults for every run (all optional)
    timeout = 60            # seconds per task's solve, per image draw for porous specs
                            # (default: each spec's own `solve timeout`)
    backend = "auto"

    [[run]]
    spec = "specs/porous/d2_60_70.pgen"
    seeds = "1..200"        # inclusive, or a list [1, 5, 9]
    count = 1               # images per task (porous specs)

    [[run]]
    name = "gray"           # default: the spec's file name without .pgen
    spec = "specs/inverse/gray_ramp.pgen"
    targets = { param = "gray", file = "specs/inverse/targets/gray_ramp_901.csv", rows = "0..99" }
    cases = [{ lo = 50, hi = 60 }, { lo = 60, hi = 70 }]   # param values, one task per case
    backends = ["auto", "highs"]

`pgenc batch --spec S --count N` is the plan of one run with seeds 1..N. A task is plain
data: the spec (and every file it reads, by content hash), its options, a key that names its
folder. The plan's hash covers them all: a run folder made by another plan is refused.
"""
from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import PgenError, Span

RUN_KEYS = {"name", "spec", "seeds", "seed", "count", "timeout", "backend", "backends", "targets", "cases"}
BATCH_KEYS = {"timeout", "backend", "count"}
BACKENDS = ("auto", "cbc", "highs", "z3", "cpsat")


@dataclass(frozen=True)
class SpecFiles:
    """A spec and every file it reads: paths relative to `root` (their common folder) and
    their sha256, so that a remote worker can rebuild the same tree from the contents."""
    root: Path
    spec: str                   # the spec, relative to root
    files: dict                 # relative path -> sha256 (the spec included)
    digest: str                 # sha256 over all of them: the spec's identity
    contents: dict = field(default_factory=dict, repr=False, compare=False)  # sha256 -> bytes, as hashed
    timeout: float | None = None  # the spec's own `solve timeout` (seconds; per draw for images)
    images: bool = False          # a porous spec (it declares an `image`): its tasks sample
    params: tuple = ()            # the names of the params it declares


@dataclass(frozen=True)
class Task:
    key: str                    # unique in the plan; the task's folder is tasks/<key>
    position: int               # order in the plan
    run: str                    # the plan run's name
    spec: str                   # the spec as the plan names it
    spec_files: SpecFiles
    options: dict               # seed, backend, timeout, count, params, target, case (JSON-able)

    def identity(self) -> dict:
        return {"key": self.key, "spec_hash": self.spec_files.digest, "options": self.options}


@dataclass
class Plan:
    source: str                 # the plan file, or "--spec S --count N"
    tasks: list = field(default_factory=list)

    @property
    def digest(self) -> str:
        text = json.dumps([t.identity() for t in self.tasks], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self) -> str:
        runs: dict = {}
        for t in self.tasks:
            runs[t.run] = runs.get(t.run, 0) + 1
        return ", ".join(f"{name}: {n} task{'s' if n != 1 else ''}" for name, n in runs.items())


def read_plan(path: str | Path) -> Plan:
    """The tasks of a TOML plan; a located error (plan.toml:line:col) for anything wrong."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PgenError("E050", f"plan file `{path}` not found", filename=str(path),
                        hint="give a TOML plan, or `--spec S --count N` for one spec") from None
    except (IsADirectoryError, UnicodeDecodeError) as e:
        raise PgenError("E050", f"cannot read plan file `{path}`: {e}", filename=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        span = Span(int(m.group(1)), int(m.group(2)), int(m.group(1)), int(m.group(2)) + 1) if m else Span.unknown()
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise PgenError("E050", f"not valid TOML: {msg}", span, filename=str(path), source=text) from None
    where = _Locator(path, text)
    unknown = set(data) - {"batch", "run"}
    if unknown:
        name = sorted(unknown)[0]
        raise where.error(f"unknown table `{name}`", name, hint="a plan has `[batch]` defaults and `[[run]]` tables")
    defaults = data.get("batch", {})
    if not isinstance(defaults, dict):
        raise where.error("`batch` must be a table: `[batch]`", "batch")
    for key in defaults:
        if key not in BATCH_KEYS:
            raise where.error(f"unknown key `{key}` in [batch]", key, hint=f"[batch] takes {', '.join(sorted(BATCH_KEYS))}")
    runs = data.get("run")
    if not runs or not isinstance(runs, list):
        raise where.error("the plan has no `[[run]]` table", None,
                          hint='add one: [[run]] spec = "my.pgen" seeds = "1..10"')
    plan = Plan(str(path))
    names = set()
    for i, run in enumerate(runs):
        for key in run:
            if key not in RUN_KEYS:
                raise where.error(f"unknown key `{key}` in run {i + 1}", key,
                                  hint=f"a run takes {', '.join(sorted(RUN_KEYS))}")
        merged = {**defaults, **run}
        tasks = _run_tasks(merged, i, path.parent, where, len(plan.tasks))
        if tasks[0].run in names:
            raise where.error(f"two runs are named `{tasks[0].run}`", run.get("name") or run.get("spec"),
                              hint="give each run its own `name = \"...\"`")
        names.add(tasks[0].run)
        plan.tasks.extend(tasks)
    _unique(plan, where)
    return plan


def _unique(plan: "Plan", where: "_Locator") -> None:
    seen = set()
    for t in plan.tasks:
        if t.key in seen:
            raise where.error(f"two tasks of run `{t.run}` are the same (`{t.key}`): a value is listed twice",
                              t.run, hint="list each seed, backend, target row and case once")
        seen.add(t.key)


def spec_plan(spec: str | Path, count: int, timeout: float | None = None, backend: str | None = None,
              first_seed: int = 1) -> Plan:
    """`--spec S --count N`: N tasks of one spec, one solution each, seeds first_seed.."""
    if count < 1:
        raise PgenError("E050", f"--count must be at least 1, not {count}")
    if not Path(spec).is_file():
        raise PgenError("E040", f"spec file `{spec}` not found", hint="give the path of a .pgen file to --spec",
                        filename=str(spec))
    run = {"spec": str(Path(spec).resolve()), "seeds": list(range(first_seed, first_seed + count)), "count": 1}
    if timeout is not None:
        run["timeout"] = timeout
    if backend is not None:
        run["backend"] = backend
    where = _Locator(Path("--spec"), "")
    plan = Plan(f"--spec {spec} --count {count}")
    plan.tasks.extend(_run_tasks(run, 0, Path("."), where, 0))
    return plan


class _Locator:
    """Errors that name the plan file and, where it can be found, the line of the value."""

    def __init__(self, path: Path, text: str):
        self.path, self.text = path, text

    def error(self, message: str, needle, hint: str | None = None) -> PgenError:
        span = Span.unknown()
        if needle is not None and self.text:
            for lineno, line in enumerate(self.text.splitlines(), start=1):
                col = line.find(str(needle))
                if col >= 0 and not line.lstrip().startswith("#"):
                    span = Span(lineno, col + 1, lineno, col + 1 + len(str(needle)))
                    break
        return PgenError("E050", message, span, hint=hint, filename=str(self.path), source=self.text or None)


def _run_tasks(run: dict, index: int, base: Path, where: _Locator, start: int) -> list:
    if "spec" not in run or not isinstance(run["spec"], str):
        raise where.error(f"run {index + 1} names no spec", None, hint='add `spec = "path/to/spec.pgen"`')
    spec_path = (base / run["spec"]).resolve() if not Path(run["spec"]).is_absolute() else Path(run["spec"])
    if not spec_path.is_file():
        raise where.error(f"spec `{run['spec']}` not found", run["spec"],
                          hint=f"paths are relative to the plan file (looked for {spec_path})")
    files = spec_files(spec_path)
    for given, where_key in [(k, "cases") for c in run.get("cases") or [] if isinstance(c, dict) for k in c] + \
            ([(run["targets"].get("param"), "targets")] if isinstance(run.get("targets"), dict) else []):
        if given not in files.params:
            raise where.error(f"`{where_key}` sets `{given}`, but `{run['spec']}` declares no param `{given}`",
                              str(given), hint=("its params: " + ", ".join(files.params)) if files.params
                              else "declare it in the spec: `param NAME = value`")
    name = run.get("name") or spec_path.stem
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise where.error(f"run name `{name}` may hold only letters, digits, `_`, `.` and `-`", name)
    seeds = _seeds(run.get("seeds", run.get("seed", 1)), where)
    count = run.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise where.error(f"`count` must be a whole number at least 1, not {count!r}", "count")
    timeout = run.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise where.error(f"`timeout` must be positive seconds, not {timeout!r}", "timeout")
    backends = run.get("backends", [run.get("backend", "auto")])
    if isinstance(backends, str):
        backends = [backends]
    for b in backends:
        if b not in BACKENDS:
            raise where.error(f"unknown backend `{b}`", b, hint=f"one of {', '.join(BACKENDS)}")
    targets = _targets(run.get("targets"), base, where)
    cases = run.get("cases", [None])
    if not isinstance(cases, list) or not cases:
        raise where.error("`cases` must be a list of tables of param values", "cases",
                          hint="cases = [{ lo = 50, hi = 60 }, { lo = 60, hi = 70 }]")
    for c in cases:
        if c is not None and (not isinstance(c, dict) or not all(_number_or_list(v) for v in c.values())):
            raise where.error("each case is a table of param values (numbers or lists of numbers)", "cases")
    labels = _case_labels(cases)
    tasks = []
    for ci, case in enumerate(cases):
        for target in targets:
            for backend in backends:
                for seed in seeds:
                    params = dict(case or {})
                    if target is not None:
                        params[target["param"]] = target["value"]
                    key = name + f"-s{seed:04d}"
                    if target is not None:
                        key += f"-t{target['row']:04d}"
                    if len(cases) > 1:
                        key += labels[ci]
                    if len(backends) > 1:
                        key += f"-{backend}"
                    options = {"seed": seed, "backend": backend, "timeout": timeout, "count": count,
                               "params": params, "case": ci if case is not None else None,
                               "target": ({k: target[k] for k in ("param", "file", "row")}
                                          if target is not None else None)}
                    tasks.append(Task(key, start + len(tasks), name, run["spec"], files, options))
    return tasks


def _case_labels(cases: list) -> list:
    """Key suffixes that say a case's values (`-lo50-hi60`), or its number (`-c01`) where
    they would be long or not distinct."""
    labels = []
    for ci, case in enumerate(cases):
        parts = [f"{k}{v:g}" for k, v in (case or {}).items() if isinstance(v, (int, float))]
        label = "-" + "-".join(parts) if parts and len(parts) == len(case or {}) else ""
        labels.append(label if re.fullmatch(r"-[A-Za-z0-9_.-]{1,40}", label) else f"-c{ci:02d}")
    if len(set(labels)) != len(labels):
        labels = [f"-c{ci:02d}" for ci in range(len(cases))]
    return labels


def _number_or_list(v) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    return isinstance(v, list) and all(_number_or_list(x) for x in v)


def _range(value, what: str, where: _Locator, low: int) -> list:
    if isinstance(value, int) and not isinstance(value, bool):
        out = [value]
    elif isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        out = list(value)
    elif isinstance(value, str) and (m := re.fullmatch(r"\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*", value)):
        a, b = int(m.group(1)), int(m.group(2))
        if b < a:
            raise where.error(f"`{what}` range `{value}` is empty", value, hint="write `first..last`, both included")
        out = list(range(a, b + 1))
    else:
        raise where.error(f"`{what}` must be a whole number, a list of them or a range \"a..b\", not {value!r}",
                          what if not isinstance(value, str) else value)
    if min(out) < low:
        raise where.error(f"`{what}` must be at least {low}, not {min(out)}", what)
    if len(set(out)) != len(out):
        raise where.error(f"`{what}` lists a value twice", what)
    return out


def _seeds(value, where: _Locator) -> list:
    return _range(value, "seeds", where, 0)


def _targets(spec, base: Path, where: _Locator) -> list:
    """One entry per target row: {param, file, row, value}; [None] without targets."""
    if spec is None:
        return [None]
    if not isinstance(spec, dict) or not {"param", "file"} <= set(spec) or set(spec) - {"param", "file", "rows"}:
        raise where.error("`targets` is a table { param = \"name\", file = \"rows.csv\", rows = \"0..99\" }",
                          "targets", hint="`rows` is optional (default: every row)")
    path = base / spec["file"]
    rows = read_rows(path, spec["file"], where)
    chosen = _range(spec["rows"], "rows", where, 0) if "rows" in spec else list(range(len(rows)))
    if max(chosen) >= len(rows):
        raise where.error(f"`rows` asks for row {max(chosen)} but `{spec['file']}` has {len(rows)} rows (0..{len(rows) - 1})",
                          spec["file"])
    return [{"param": spec["param"], "file": spec["file"], "row": r,
             "value": np.asarray(rows[r]).tolist()} for r in chosen]


def read_rows(path: Path, name: str, where: _Locator) -> list:
    """The rows of a CSV (numbers only, `#` comment lines skipped) or an NPY (its first axis)."""
    if not path.is_file():
        raise where.error(f"target file `{name}` not found", name, hint="paths are relative to the plan file")
    if path.suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as e:
            raise where.error(f"cannot read `{name}` as NPY: {e}", name) from None
        if arr.ndim == 0 or not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
            raise where.error(f"`{name}` must hold finite numbers in rows", name)
        return [np.asarray(r, dtype=float) for r in arr]
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        values = []
        for cell in line.split(","):
            try:
                values.append(float(cell))
            except ValueError:
                raise where.error(f"{name}:{lineno}: `{cell.strip()}` is not a number", name,
                                  hint="target rows are numbers only (no header row)") from None
        if not all(np.isfinite(values)):
            raise where.error(f"{name}:{lineno}: holds NaN or infinity", name)
        rows.append(np.asarray(values))
    if not rows:
        raise where.error(f"target file `{name}` has no rows", name)
    return rows


def spec_files(spec_path: Path) -> SpecFiles:
    """The spec and every file its text names (networks and their model cards, data, masks,
    VNNLIB properties): each AST node's `path` or `mask` field, relative to the spec. Parsed,
    not checked: checking is the task's."""
    from ..dsl.parser import parse

    spec_path = Path(spec_path).resolve()
    text = spec_path.read_text()
    try:
        ast = parse(text, str(spec_path))
    except PgenError as e:
        raise e.located(str(spec_path), text)
    paths = [spec_path]
    for rel in _ast_paths(ast):
        p = (spec_path.parent / rel).resolve()
        # a network's model card (NAME.json beside NAME.onnx) says its units: it travels too
        for q in (p, p.with_suffix(".json")) if p.suffix == ".onnx" else (p,):
            if q.is_file() and q not in paths:
                paths.append(q)  # a missing file is the task's error, located in the spec
    root = Path(_common_folder([p.parent for p in paths]))
    contents = {p: p.read_bytes() for p in paths}
    shas = {p: hashlib.sha256(data).hexdigest() for p, data in contents.items()}
    files = {str(p.relative_to(root)): shas[p] for p in paths}
    digest = hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()
    from ..dsl import ast as A

    timeout = None
    for stmt in ast.stmts:
        if isinstance(stmt, A.SolveOptions):
            timeout = next((float(v) for k, v in stmt.options if k == "timeout" and isinstance(v, (int, float))), timeout)
    images = any(isinstance(stmt, A.ImageDecl) for stmt in ast.stmts)
    params = tuple(stmt.name for stmt in ast.stmts if isinstance(stmt, A.ParamDecl))
    return SpecFiles(root, str(spec_path.relative_to(root)), files, digest,
                     {shas[p]: data for p, data in contents.items()}, timeout, images, params)


def _ast_paths(node) -> list:
    from dataclasses import fields, is_dataclass

    out = []
    if is_dataclass(node) and not isinstance(node, type):
        for f in fields(node):
            value = getattr(node, f.name)
            if f.name in ("path", "mask") and isinstance(value, str):
                out.append(value)
            else:
                out.extend(_ast_paths(value))
    elif isinstance(node, (list, tuple)):
        for item in node:
            out.extend(_ast_paths(item))
    return out


def _common_folder(folders: list) -> str:
    import os

    return os.path.commonpath([str(f) for f in folders])


def materialise(digest: str, files: dict, contents: dict) -> Path:
    """The spec's tree rebuilt from its contents under TMPDIR/pgen-specs-UID/DIGEST (once per
    machine and user; an existing one is used after its files' hashes are checked): what
    every task of the batch reads, on any engine, so that a file edited while a batch runs
    changes nothing in it. `files`: relative path -> sha256; `contents`: sha256 -> bytes."""
    import os
    import shutil
    import tempfile

    base = Path(tempfile.gettempdir()) / f"pgen-specs-{os.getuid()}"
    root = base / digest
    try:
        if root.is_dir():
            if all((root / rel).is_file() and hashlib.sha256((root / rel).read_bytes()).hexdigest() == sha
                   for rel, sha in files.items()):
                return root
            shutil.rmtree(root, ignore_errors=True)  # damaged (a cleaner, a crash): made again
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}.", dir=base))
        for rel, sha in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(contents[sha])
        try:
            os.replace(tmp, root)
        except OSError:  # another process made it first
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        raise PgenError("E040", f"cannot write the batch's copy of a spec's files under `{base}`: {e.strerror}",
                        hint="free space in the temporary folder, or point TMPDIR elsewhere") from None
    return root
