"""Run folders: what `pgenc solve --out` writes, atomically (core.files.atomic_folder).

Layout: spec.pgen, manifest.json, result.json, one CSV and NPY per variable.
"""
from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np

from ..core.files import atomic_folder


def write_run(out: str | Path, problem, result, extra: dict | None = None) -> Path:
    out = Path(out)
    with atomic_folder(out, "output folder") as tmp:
        (tmp / "spec.pgen").write_text(problem.text)
        manifest = {"pgen": _version(), "python": platform.python_version(), "spec": problem.path,
                    "backend": result.backend, "strategy": result.strategy, "seed": result.seed,
                    "tolerance": result.tolerance, **(extra or {})}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        (tmp / "result.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
        for name, value in result.values.items():
            arr = np.asarray(value)
            np.save(tmp / f"{name}.npy", arr)
            np.savetxt(tmp / f"{name}.csv", np.atleast_2d(arr) if arr.ndim < 2 else arr.reshape(arr.shape[0], -1),
                       delimiter=",", fmt="%.17g")
    return out


def _version() -> str:
    from ..core.version import VERSION

    return VERSION
