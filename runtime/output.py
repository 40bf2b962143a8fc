"""Run folders: what `pgenc solve --out` writes, atomically (core.files.atomic_folder).

Layout: spec.pgen, manifest.json, result.json, one CSV and NPY per variable.
"""
from __future__ import annotations

import io
import json
import platform
from pathlib import Path

import numpy as np

from ..core.files import atomic_folder


def write_run(out: str | Path, problem, result, extra: dict | None = None) -> Path:
    out = Path(out)
    files = run_files(problem, result, extra)
    with atomic_folder(out, "output folder") as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
    return out


def run_files(problem, result, extra: dict | None = None) -> dict:
    """The run folder's files, name -> bytes, in memory (a batch task sends them to the
    process that writes its folder)."""
    manifest = {"pgen": _version(), "python": platform.python_version(), "spec": problem.path,
                "backend": result.backend, "strategy": result.strategy, "seed": result.seed,
                "tolerance": result.tolerance, **(extra or {})}
    files = {"spec.pgen": problem.text.encode(),
             "manifest.json": (json.dumps(manifest, indent=2) + "\n").encode(),
             "result.json": (json.dumps(result.to_json(), indent=2) + "\n").encode()}
    for name, value in result.values.items():
        arr = np.asarray(value)
        buf = io.BytesIO()
        np.save(buf, arr)
        files[f"{name}.npy"] = buf.getvalue()
        text = io.StringIO()
        np.savetxt(text, np.atleast_2d(arr) if arr.ndim < 2 else arr.reshape(arr.shape[0], -1),
                   delimiter=",", fmt="%.17g")
        files[f"{name}.csv"] = text.getvalue().encode()
    return files


def _version() -> str:
    from ..core.version import VERSION

    return VERSION
