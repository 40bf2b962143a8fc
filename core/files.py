"""Write files and folders atomically: build them beside the target, then rename.

A reader never sees a half-written file or folder; on an error nothing is left behind.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import PgenError


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file beside it and one rename; on an error
    nothing is left behind (PgenError E040 names the file)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; the result is a normal file
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise PgenError("E040", f"cannot write `{path}`: {e.strerror}") from None


@contextmanager
def atomic_folder(out: str | Path, what: str = "output folder"):
    """Yield a temporary folder beside `out`; on success it replaces `out` in one rename,
    on any error it is removed, so a reader never sees a half-written folder."""
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; the result is a normal folder
    except OSError as e:
        raise PgenError("E040", f"cannot write the {what} `{out}`: {e.strerror}",
                        hint="choose a folder you can write to") from None
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=parent))
            os.replace(out, old / "previous")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PgenError("E040", f"cannot write the {what} `{out}`: {e.strerror}",
                        hint="choose a folder you can write to") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
