"""The learned baselines by name (`pgenc baseline KIND`): which module trains and samples
each kind, and the run folder's model file and card.

A module named in BASELINES has `KINDS`, `train(arrays, kind, epochs=, seed=, batch=, lr=,
norm=, device=, threads=, log=) -> model dict` (generative.py says what it holds),
`generator(model)` (the sampling network, built once), `sample(model, n, seed,
interval=None, net=None) -> uint8 [n, H, W]` (1 = solid) and `architecture(settings)`
(one line for the card). A new baseline is one entry here and one such module.
"""
from __future__ import annotations

import importlib
import time
from pathlib import Path

from . import generative as gv

BASELINES = {"gan": "gan", "cgan": "gan", "vae": "vae", "cvae": "vae"}


def module(kind: str):
    if kind not in BASELINES:
        raise ValueError(f"unknown baseline `{kind}`: use {', '.join(BASELINES)}")
    return importlib.import_module(f"{__package__}.{BASELINES[kind]}")


def is_conditional(model: dict) -> bool:
    return bool(model["settings"].get("classes"))


def train(kind: str, arrays: dict, **options) -> dict:
    gv.require_torch()
    return module(kind).train(arrays, kind, **options)


def save(out, model: dict, data_folder, manifest: dict, command: str) -> dict:
    """Write OUT/model.pt, OUT/card.json and OUT/card.md; returns the card."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RuntimeError(f"cannot make the run folder `{out}`: {e.strerror}; choose another --out") from None
    gv.save_model(out, model)
    card = gv.card(model, data_folder, manifest, command)
    gv.write_card(out, card, module(model["kind"]).architecture(model["settings"]))
    return card


def load(run) -> dict:
    return gv.load_model(run)


def sampler(model: dict):
    """sample(n, seed, interval=None) -> (images uint8 [n, H, W], seconds), the network built once."""
    mod = module(model["kind"])
    net = mod.generator(model)

    def sample(n: int, seed: int, interval: int | None = None):
        t0 = time.perf_counter()
        images = mod.sample(model, n, seed, interval, net=net)
        return images, time.perf_counter() - t0

    return sample
