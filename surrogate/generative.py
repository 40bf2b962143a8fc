"""What the learned generators (`gan.py`, `vae.py`) share: the training pool, seeding and
devices, the model file and its card.

A trained model is a plain dict, `{"kind", "settings", "state", "history", "seconds",
"runtime"}`: `state` maps each network's name to its state dict, `settings` holds every
hyper-parameter needed to build the networks again. `OUT/model.pt` is that dict
(`torch.save`; read back with `weights_only=True`), `OUT/card.json` and `OUT/card.md` say
where it came from.

Conditioning: the six intervals of `dataset.INTERVALS` (units 100 x D_xx); a cell's class
is the interval holding its true 100 x D_xx (not the rounded label), [90, 100] closed.

Augmentation: the eight symmetries of the square, one drawn at random for each cell of each
batch. Mirrors keep D_xx; a transpose turns D_yy into D_xx, so a transposed cell takes the
class of its D_yy, and a conditional model never transposes a cell whose D_yy lies below
0.40 (outside every interval). Without `d_yy` only the four mirrors are used.
"""
from __future__ import annotations

import json
import platform
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..core.files import atomic_write_bytes
from .dataset import INTERVAL_NAMES, INTERVALS

N_CLASSES = len(INTERVALS)
CELL_VISITS = 300_000  # default training length: cells shown (30 epochs of D2, 60 of D3)


def default_epochs(cells: int, visits: int = CELL_VISITS) -> int:
    """Epochs that show `visits` cells in all: the default that keeps a D2 run to minutes on one thread."""
    return max(1, round(visits / max(int(cells), 1)))


def require_torch():
    """The torch module, or a RuntimeError that says how to install it."""
    try:
        import torch
        return torch
    except ImportError:
        raise RuntimeError("the learned baselines need PyTorch: pip install -e '.[train]' "
                           "(on these machines torch==2.13.0 installs a local CPU build)") from None


def interval_class(value_100) -> np.ndarray:
    """The interval index (0..5) of each 100 x D_xx; -1 outside [40, 100]."""
    v = np.asarray(value_100, dtype=np.float64)
    out = np.full(v.shape, -1, dtype=np.int64)
    for k, (a, b) in enumerate(INTERVALS):
        hi = (v <= 100.0) if b > 100 else (v < b)
        out[(v >= a) & hi] = k
    return out


def class_of_interval(lo: float, hi: float) -> int:
    """The index of the interval [lo, hi) (units 100 x D_xx); ValueError if it is not one of the six."""
    for k, (a, b) in enumerate(INTERVALS):
        if float(lo) == a and float(hi) in ({b} if b <= 100 else {b, 100.0}):
            return k
    raise ValueError(f"[{lo:g}, {hi:g}) is not one of the intervals "
                     + ", ".join(INTERVAL_NAMES) + " (give e.g. 60 70)")


class TrainingData:
    """The cells on the device as float [N, 1, H, W] with the classes of their D_xx and D_yy;
    `batch(idx, gen)` applies a random symmetry of the square to each cell (module docstring)."""

    def __init__(self, arrays: dict, conditional: bool, device):
        import torch

        images = np.asarray(arrays["images"], dtype=np.float32)
        d_xx = np.asarray(arrays["d_xx"] if "d_xx" in arrays else arrays["label"] / 100.0, dtype=np.float64)
        d_yy = arrays.get("d_yy")
        self.transposes = d_yy is not None
        self.conditional = conditional
        self.n = len(images)
        self.x = torch.from_numpy(images[:, None]).to(device)
        cx = interval_class(100.0 * d_xx)
        cy = interval_class(100.0 * np.asarray(d_yy, dtype=np.float64)) if self.transposes else np.full_like(cx, -1)
        if conditional and np.any(cx < 0):
            raise ValueError(f"{int(np.sum(cx < 0))} cells have D_xx outside [0.40, 1.00]: no interval to condition on")
        self.cx = torch.from_numpy(cx).to(device)
        self.cy = torch.from_numpy(cy).to(device)
        self.device = device

    def describe(self) -> str:
        return ("the 8 symmetries of the square, one drawn per cell and batch" if self.transposes
                else "the 4 mirrors, one drawn per cell and batch (no d_yy: no transposes)") + (
            "; a transpose takes its D_yy's interval and is skipped where D_yy < 0.40"
            if self.conditional and self.transposes else "")

    def batch(self, idx, gen):
        """(images [B, 1, H, W], classes [B] or None) of the cells `idx` under random symmetries."""
        import torch

        b = len(idx)
        fx, fy, tr = (torch.rand(3, b, generator=gen) < 0.5).to(self.device)
        x, cx, cy = self.x[idx], self.cx[idx], self.cy[idx]
        x = torch.where(fx[:, None, None, None], x.flip(3), x)
        x = torch.where(fy[:, None, None, None], x.flip(2), x)
        if not self.transposes:
            tr = torch.zeros_like(tr)
        elif self.conditional:
            tr = tr & (cy >= 0)
        x = torch.where(tr[:, None, None, None], x.transpose(2, 3), x)
        return x, (torch.where(tr, cy, cx) if self.conditional else None)


@contextmanager
def session(seed: int, device: str | None = None, threads: int | None = 1):
    """Yield the device with torch seeded, deterministic where that is cheap and at `threads`
    CPU threads; torch's thread count and determinism are put back afterwards."""
    torch = require_torch()
    old = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
           torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        yield setup(seed, device, threads)
    finally:
        torch.set_num_threads(old[0])
        torch.use_deterministic_algorithms(old[1], warn_only=old[2])


def setup(seed: int, device: str | None = None, threads: int | None = 1):
    """Seed torch, make it deterministic where that is cheap, fix its threads; the device."""
    torch = require_torch()
    if threads:
        torch.set_num_threads(int(threads))
    name = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device `{name}`: use cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: this torch sees no CUDA device; use --device cpu")
    # on CUDA some kernels have no deterministic version: warn, do not fail
    torch.use_deterministic_algorithms(True, warn_only=(name == "cuda"))
    torch.manual_seed(seed)
    return torch.device(name)


def runtime_note(device) -> dict:
    import torch

    note = {"torch": str(torch.__version__), "device": str(device), "threads": torch.get_num_threads(),
            "python": platform.python_version(), "machine": platform.machine()}
    if str(device).startswith("cuda"):
        note["gpu"] = torch.cuda.get_device_name(0)
    return note


def latents(model: dict, n: int, seed: int, interval: int | None, what: str) -> tuple:
    """`n` latent vectors z ~ N(0, I) drawn with `seed` on the CPU, and the one-hot interval
    class for a conditional model (None otherwise); `what` names the model in errors."""
    import torch
    import torch.nn.functional as F

    s = model["settings"]
    if s["classes"] and interval is None:
        raise ValueError(f"a conditional {what} samples one interval at a time: give interval 0..5")
    if not s["classes"] and interval is not None:
        raise ValueError(f"this {model['kind']} is not conditional: it takes no interval")
    z = torch.randn(n, s["latent"], generator=torch.Generator().manual_seed(seed))
    onehot = F.one_hot(torch.full((n,), int(interval)), s["classes"]).float() if s["classes"] else None
    return z, onehot


def epoch_batches(n: int, batch: int, gen) -> list:
    """Index tensors of one epoch: a seeded permutation of the cells cut into batches
    (a last batch of fewer than two is dropped: batch normalisation needs two)."""
    import torch

    order = torch.randperm(n, generator=gen)
    return [order[k:k + batch] for k in range(0, n, batch) if len(order[k:k + batch]) >= 2]


def epoch_line(kind: str, epoch: int, epochs: int, losses: dict, t0: float) -> str:
    parts = "  ".join(f"{k} {v:.4f}" for k, v in losses.items())
    return f"{kind} epoch {epoch}/{epochs}: {parts}  ({time.perf_counter() - t0:.1f} s)"


# --- model files and cards -------------------------------------------------------------

def save_model(out: Path, model: dict) -> Path:
    import io

    import torch

    buf = io.BytesIO()
    torch.save({k: model[k] for k in ("kind", "settings", "state", "history", "seconds", "runtime")}, buf)
    path = Path(out) / "model.pt"
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_model(run: str | Path) -> dict:
    """The model dict of a run folder (or of a model.pt); ValueError when there is none."""
    require_torch()
    import torch

    path = Path(run)
    path = path / "model.pt" if path.is_dir() else path
    if not path.exists():
        raise ValueError(f"`{run}` holds no model.pt; train one with `pgenc baseline KIND DATA --out {run}`")
    try:
        model = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - pickle and zip errors come in many kinds
        raise ValueError(f"`{path}` cannot be read as a pgen baseline model ({type(e).__name__}: {e})") from None
    if not isinstance(model, dict) or not {"kind", "settings", "state"} <= set(model):
        raise ValueError(f"`{path}` is not a pgen baseline model (no kind/settings/state)")
    return model


def card(model: dict, data_folder, manifest: dict, command: str) -> dict:
    s = model["settings"]
    hist = model.get("history") or []
    return {
        "kind": model["kind"], "file": "model.pt",
        "data": {"folder": str(data_folder), "grains": manifest.get("grains"),
                 "count": manifest.get("count"), "dataset_seed": manifest.get("seed"),
                 "dataset_sha256": manifest.get("sha256"),
                 "regenerate": f"pgenc dataset --grains {manifest.get('grains')} --count "
                               f"{manifest.get('count')} --seed {manifest.get('seed')} --out {data_folder}"},
        "settings": s,
        "train_seconds": round(float(model["seconds"]), 1),
        "final_losses": hist[-1]["losses"] if hist else None,
        "runtime": model["runtime"],
        "history": hist,
        "command": command,
    }


def card_markdown(c: dict, architecture: str) -> str:
    s, d = c["settings"], c["data"]
    rt = c["runtime"]
    losses = ", ".join(f"{k} {v:.4f}" for k, v in (c["final_losses"] or {}).items()) or "none"
    lines = [
        f"# Model card: {c['kind']} ({Path(d['folder']).name})",
        "",
        f"- File: `{c['file']}` (state dicts and settings; `pgen.surrogate.generative.load_model`)",
        f"- Architecture: {architecture}",
        f"- Data: D{d['grains']}, {d['count']} cells, dataset seed {d['dataset_seed']}, sha256 "
        f"`{d['dataset_sha256']}`; regenerate with `{d['regenerate']}`",
        f"- Training: seed {s['seed']}, {s['epochs']} epochs, batch {s['batch']}, lr {s['lr']}"
        + (f", norm {s['norm']}" if "norm" in s else "") + f", latent {s['latent']}; augmentation: {s['augmentation']}",
        f"- Wall time: {c['train_seconds']} s on {rt['device']} ({rt['threads']} thread"
        f"{'s' * (rt['threads'] != 1)}), torch {rt['torch']}" + (f", {rt['gpu']}" if "gpu" in rt else ""),
        f"- Losses in the last epoch: {losses}",
        f"- Samples: {s['binarise']}",
        f"- Made by: `{c['command']}`",
        "",
    ]
    return "\n".join(lines)


def write_card(out: Path, c: dict, architecture: str) -> None:
    atomic_write_bytes(Path(out) / "card.json", (json.dumps(c, indent=2) + "\n").encode())
    atomic_write_bytes(Path(out) / "card.md", card_markdown(c, architecture).encode())
