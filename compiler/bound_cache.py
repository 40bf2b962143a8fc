"""Neuron bounds kept on disk, so that seed 002's Algorithm 1 (interval -> LP -> MILP per
neuron) runs once (`pgenc bounds SPEC`) and every later solve of the same network over the
same domain reads it.

An entry's key is the sha256 of exactly what its bounds were proved under: the model built
before the layer (variable kinds and boxes; every constraint's coefficients, senses,
right-hand sides and big-M values; no names, no spec positions) and the layer's
pre-activation rows (the network's weights applied to the previous layer's variables).
A network file changed on disk, another input domain or another `require` before the
network gives another key, so a bound is only ever read where it was proved. A reader
intersects an entry with its own bounds, so a cached bound never loosens one.

Entries are `.npz` files under `$PGEN_CACHE_DIR/bounds` (default `~/.cache/pgen/bounds`),
written atomically.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from ..core.errors import PgenError as PgenErrorBase
from . import ir

STAGES = ("lp", "milp")   # ordered: a later stage's bounds are at least as tight


def cache_dir() -> Path:
    root = os.environ.get("PGEN_CACHE_DIR") or Path.home() / ".cache" / "pgen"
    return Path(root) / "bounds"


def layer_key(model: ir.Model, lins: list) -> str:
    """The key of a layer's bounds: what the model says before the layer, and the layer."""
    h = hashlib.sha256(b"pgen-bounds-1")
    kinds = np.array([{ir.BOOL: 0, ir.INT: 1, ir.REAL: 2}[v.kind] for v in model.vars], np.int8)
    lb, ub = model.bounds_arrays()
    for arr in (kinds, lb, ub):
        h.update(arr.tobytes())
    for con in model.constraints:
        h.update(type(con).__name__.encode())
        for part in (getattr(con, "b", None), getattr(con, "value", None), con.sense, con.rhs,
                     getattr(con, "M", None)):
            h.update(repr(part).encode())
        _lin(h, con.expr)
    h.update(b"layer")
    for lin in lins:
        _lin(h, lin)
    return h.hexdigest()


def _lin(h, lin: ir.Lin) -> None:
    h.update(np.asarray(lin.idx, np.int64).tobytes())
    h.update(np.asarray(lin.coef, np.float64).tobytes())
    h.update(repr(float(lin.const)).encode() + b";")


def stronger_or_equal(stage: str, than: str) -> bool:
    return STAGES.index(stage) >= STAGES.index(than)


def load(key: str) -> tuple[np.ndarray, np.ndarray, str, dict] | None:
    """(lo, hi, stage, meta) of a cached layer, or None (absent or unreadable: recomputed)."""
    path = cache_dir() / f"{key}.npz"
    try:
        with np.load(path) as z:
            lo, hi = z["lo"], z["hi"]
            meta = json.loads(str(z["meta"]))
    except (OSError, KeyError, ValueError):
        return None
    if meta.get("stage") not in STAGES or lo.shape != hi.shape:
        return None
    return lo, hi, meta["stage"], meta


def store(key: str, lo: np.ndarray, hi: np.ndarray, stage: str, meta: dict) -> Path:
    from ..core.files import atomic_write_bytes

    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, lo=np.asarray(lo, np.float64), hi=np.asarray(hi, np.float64),
             meta=np.array(json.dumps({**meta, "stage": stage})))
    path = folder / f"{key}.npz"
    atomic_write_bytes(path, buf.getvalue())
    return path


def network_changes(spec, base_dir: Path) -> list[tuple[str, str, str]]:
    """[(path, old sha256, new sha256)] for the spec's networks whose file differs from the
    one last bounded through this cache, and records the current ones (`pgenc bounds` says
    so before computing again; the keys alone already keep stale bounds from being read)."""
    from ..core.files import atomic_write_bytes
    from ..dsl import ast as A

    index_path = cache_dir() / "networks.json"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    changed = []
    for stmt in spec.stmts:
        if isinstance(stmt, A.NetDecl):
            path = (Path(base_dir) / stmt.path).resolve()
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                continue  # the checker has loaded it; a file gone since is the solve's problem
            old = index.get(str(path))
            if old is not None and old != digest:
                changed.append((stmt.path, old, digest))
            index[str(path)] = digest
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(index_path, (json.dumps(index, indent=1) + "\n").encode())
    except (OSError, PgenErrorBase):
        pass  # the notice is a courtesy; the keys protect correctness
    return changed
