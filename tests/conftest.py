"""Shared fixtures: paths, the shipped specs, and small generated networks."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").rglob("*.pgen"))
INVERSE = sorted((ROOT / "specs" / "inverse").glob("*.pgen"))
CONFORMANCE = ROOT.parent / "shared" / "conformance"


def expected_of(path: Path) -> dict:
    """The `# expect: ...` header of a spec (MiniZinc style): status and optional objective."""
    out = {}
    for line in path.read_text().splitlines():
        if line.startswith("# expect:"):
            words = line.split(":", 1)[1].split()
            out["status"] = words[0]
            if "objective" in words:
                out["objective"] = float(words[words.index("objective") + 1])
        if line.startswith("# backends:"):  # the backends the spec is meant for (default: every one)
            out["backends"] = line.split(":", 1)[1].split()
    return out


@pytest.fixture(autouse=True, scope="session")
def bound_cache_dir(tmp_path_factory):
    """Cached neuron bounds go to a folder of this test run, never to the user's ~/.cache."""
    import os

    folder = tmp_path_factory.mktemp("pgen-cache")
    old = os.environ.get("PGEN_CACHE_DIR")
    os.environ["PGEN_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("PGEN_CACHE_DIR", None)
    else:
        os.environ["PGEN_CACHE_DIR"] = old


@pytest.fixture
def nets(tmp_path):
    """Write generated networks into tmp_path; returns a function name -> path."""
    from pgen import netgen

    def make(name: str, data: bytes) -> Path:
        return netgen.write(tmp_path / name, data)

    return make
