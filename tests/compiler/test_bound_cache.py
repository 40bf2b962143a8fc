"""Bound precomputation (seed 002 Algorithm 1) and its on-disk cache: the MILP-stage bounds
hold for every feasible design (brute force over a small integer domain), are never looser
than interval arithmetic, are read back only for the same network and domain, and a solve
that reads them still finds the brute-force optimum."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import pgen
from pgen import netgen
from pgen.compiler import bound_cache, ir
from pgen.compiler.lower import lower
from pgen.compiler.nn.encode import BoundBudget
from pgen.compiler.nn.forward import plain_relu_layers
from pgen.compiler.nn.onnx_import import load_network
from pgen.compiler.nn.session import run_batch

SPEC = """param target = [0.3, -0.2]
var n : int[3] in 0..{top}
net f = network "net.onnx"
require sum(n) <= 6
minimize norm1(f(n / 4) - target)
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("PGEN_CACHE_DIR", str(folder))
    return folder / "bounds"


def _spec(tmp_path, top=4, seed=3, name="p.pgen"):
    netgen.write(tmp_path / "net.onnx", netgen.relu_mlp([3, 12, 12, 12, 2], seed=seed, scale=1.5))
    path = tmp_path / name
    path.write_text(SPEC.format(top=top))
    return pgen.load(path)


def _designs(top=4):
    return np.array([d for d in itertools.product(range(top + 1), repeat=3) if sum(d) <= 6], float)


def _cached_layers(cache) -> dict:
    out = {}
    for f in cache.glob("*.npz"):
        lo, hi, stage, meta = bound_cache.load(f.stem)
        out[meta["layer"]] = (lo, hi, stage)
    return out


def _milp(problem, seconds=60.0):
    return lower(problem.checked, budget=BoundBudget("milp", seconds, neuron_time=1.0, jobs=2))


def test_milp_bounds_hold_for_every_feasible_design_and_beat_intervals(tmp_path, cache):
    problem = _spec(tmp_path)
    low = _milp(problem)
    assert [r["source"] for r in low.bound_layers] == ["computed"] * 3
    assert all(r.get("cached") for r in low.bound_layers)
    layers = plain_relu_layers(load_network(tmp_path / "net.onnx"))
    x = _designs() / 4
    pre, h = [], x
    for W, b in layers[:-1]:
        pre.append(h @ W.T + b)
        h = np.maximum(pre[-1], 0.0)
    interval = lower(problem.checked, budget=BoundBudget("interval")).bound_layers
    cached = _cached_layers(cache)
    assert len(cached) == 3
    for (label, (lo, hi, stage)), z in zip(sorted(cached.items()), pre):
        assert stage == "milp"
        assert np.all(lo <= z.min(axis=0)) and np.all(z.max(axis=0) <= hi), label
    # the MILP stage (integers and the sum row kept) stabilises neurons interval arithmetic cannot
    milp_unstable = sum(r["unstable"]["milp"] for r in low.bound_layers)
    interval_unstable = sum(r["unstable"]["interval"] for r in interval)
    assert milp_unstable < interval_unstable


def test_a_second_lowering_reads_the_cache_and_builds_the_same_model(tmp_path, cache):
    problem = _spec(tmp_path)
    first = _milp(problem)
    again = lower(problem.checked, budget=BoundBudget("lp"))
    assert [r["source"] for r in again.bound_layers] == ["cache (milp)"] * 3
    assert [(v.kind, v.lb, v.ub) for v in again.model.vars] == [(v.kind, v.lb, v.ub) for v in first.model.vars]
    assert len(again.model.constraints) == len(first.model.constraints)


def test_another_domain_or_network_misses_the_cache(tmp_path, cache):
    _milp(_spec(tmp_path))
    other_domain = lower(_spec(tmp_path, top=3).checked, budget=BoundBudget("lp"))
    assert all(r["source"] == "computed" for r in other_domain.bound_layers)
    problem = _spec(tmp_path, seed=4)   # the same file name, other weights
    assert all(r["source"] == "computed" for r in lower(problem.checked, budget=BoundBudget("lp")).bound_layers)


def test_network_changes_names_a_network_rewritten_on_disk(tmp_path, cache):
    problem = _spec(tmp_path)
    assert bound_cache.network_changes(problem.spec, tmp_path) == []
    assert bound_cache.network_changes(problem.spec, tmp_path) == []   # unchanged: nothing to say
    _spec(tmp_path, seed=9)
    changes = bound_cache.network_changes(problem.spec, tmp_path)
    assert [c[0] for c in changes] == ["net.onnx"] and changes[0][1] != changes[0][2]


def test_a_loose_or_broken_cache_entry_never_loosens_a_bound(tmp_path, cache):
    problem = _spec(tmp_path)
    _milp(problem)
    files = sorted(cache.glob("*.npz"))
    for f in files[:-1]:   # loose entries claiming to be MILP bounds
        lo, hi, stage, meta = bound_cache.load(f.stem)
        bound_cache.store(f.stem, np.full_like(lo, -1e9), np.full_like(hi, 1e9), stage, meta)
    files[-1].write_bytes(b"not an npz file")
    loose = lower(problem.checked, budget=BoundBudget("lp"))
    plain = lower(problem.checked, budget=BoundBudget("interval"))
    relu_ub = lambda low: sorted(v.ub for v in low.model.vars if ".relu" in v.name and ".on[" not in v.name)
    # every big-M is at most the interval one: the loose entries were intersected, not trusted
    assert len(relu_ub(loose)) <= len(relu_ub(plain))
    assert max(relu_ub(loose)) <= max(relu_ub(plain)) + 1e-9


def test_a_solve_after_precomputation_finds_the_brute_force_optimum(tmp_path, cache):
    problem = _spec(tmp_path)
    records = problem.precompute_bounds(seconds=60, neuron_time=1.0)
    assert len(records) == 3
    designs = _designs()
    y = run_batch(str(tmp_path / "net.onnx"), designs / 4).astype(np.float64)
    best = np.abs(y - np.array([0.3, -0.2])).sum(axis=1).min()
    result = pgen.load(tmp_path / "p.pgen").solve(backend="highs", timeout=60)
    assert result.termination == "optimal" and result.verified
    assert result.objective == pytest.approx(best, abs=1e-6)


def test_milp_bounds_respect_the_time_budget(tmp_path, cache):
    """No time left: nothing is claimed, nothing is cached."""
    low = lower(_spec(tmp_path).checked, budget=BoundBudget("milp", seconds=1e-9, neuron_time=1.0))
    assert not any(r.get("cached") for r in low.bound_layers)
    assert not list(cache.glob("*.npz"))


def test_the_key_ignores_names_and_positions_but_not_numbers():
    def model(name, ub):
        m = ir.Model()
        m.add_var(name, ir.INT, 0, ub, origin=f"{name}.pgen:1:1")
        m.constraints.append(ir.LinearCon(ir.Lin.of({0: 1.0}), ir.LE, 3.0, origin=name))
        return m

    lins = [ir.Lin.of({0: 2.0}, 1.0)]
    assert bound_cache.layer_key(model("a", 4), lins) == bound_cache.layer_key(model("b", 4), lins)
    assert bound_cache.layer_key(model("a", 4), lins) != bound_cache.layer_key(model("a", 5), lins)
    assert bound_cache.layer_key(model("a", 4), lins) != bound_cache.layer_key(model("a", 4), [ir.Lin.of({0: 2.0}, 1.5)])
