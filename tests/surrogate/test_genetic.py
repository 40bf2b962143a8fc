"""Genetic ink selection: the GA finds the best subset where brute force can check it, never
reports an error below the certified optimum, keeps to at most k inputs and the box, spends
no more than its budget, and repeats itself for a seed; the enumeration it is compared with
agrees with plain brute force."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pgen.compiler.nn.forward import forward  # noqa: E402
from pgen.runtime import input_min  # noqa: E402
from pgen.surrogate.genetic import exhaustive, restricted, search, select_inks  # noqa: E402

N = 6


def _net(seed=7, sizes=(N, 12, 12, 5)):
    rng = np.random.default_rng(seed)
    return [(rng.normal(0, 1.0 / np.sqrt(a), (b, a)), rng.normal(0, 0.2, b)) for a, b in zip(sizes, sizes[1:])]


def _target(layers):
    x = np.zeros(N)
    x[[0, 2, 5]] = [0.3, 0.8, 0.5]              # three inputs print it: fewer must compromise
    return forward(layers, x[None])[0]


def _brute(layers, t, k):
    """min over every k-subset of its certified minimum, no pruning: (value, subset)."""
    best = (np.inf, None)
    for s in itertools.combinations(range(N), k):
        r = input_min.minimise(restricted(layers, s), t, np.zeros(k), np.ones(k), timeout=30)
        assert r.status == "optimal"
        best = min(best, (r.value, s))
    return best


@pytest.mark.parametrize("k", [1, 2])
def test_enumeration_matches_brute_force_and_the_ga_finds_its_subset(k):
    layers = _net()
    t = _target(layers)
    value, subset = _brute(layers, t, k)
    exact = exhaustive(layers, t, k, timeout=60)
    assert exact["status"] == "optimal"
    assert exact["subset"] == subset
    assert abs(exact["l1"] - value) <= 1e-6 and exact["bound"] <= exact["l1"]
    ga = select_inks(layers, t, k, budget=10, population=6, seed=0, device="cpu")
    assert ga["subset"] == subset
    assert ga["l1"] >= exact["bound"] - 1e-9          # a design's error can never beat a proved bound
    assert ga["l1"] <= value + 1e-3                    # and the ratios' local search gets there
    assert ga["evaluations"] <= 10


@pytest.mark.parametrize("k", [1, 2, 3])
def test_the_ga_keeps_to_k_inputs_and_the_box_and_never_beats_the_optimum(k):
    layers = _net(seed=11)
    t = _target(layers)
    lo, hi = np.zeros(N), np.array([1.0, 0.5, 1.0, 0.2, 1.0, 0.7])
    exact = exhaustive(layers, t, k, lo, hi, timeout=60)
    assert exact["status"] == "optimal"
    for seed in range(3):
        ga = select_inks(layers, t, k, lo, hi, budget=8, population=4, restarts=2, steps=40, seed=seed, device="cpu")
        x = ga["x"]
        assert np.count_nonzero(x) <= k and set(np.flatnonzero(x)) <= set(ga["subset"])
        assert np.all(x >= lo) and np.all(x <= hi)
        assert abs(float(np.sum(np.abs(forward(layers, x[None])[0] - t))) - ga["l1"]) <= 1e-9
        assert ga["l1"] >= exact["bound"] - 1e-9


def test_the_same_seed_repeats_the_run():
    layers = _net()
    t = _target(layers)
    a, b = (select_inks(layers, t, 2, budget=9, population=5, restarts=3, steps=50, seed=4, device="cpu")
            for _ in range(2))
    assert a["subset"] == b["subset"] and a["l1"] == b["l1"] and a["history"] == b["history"]
    np.testing.assert_array_equal(a["x"], b["x"])


def test_search_finds_the_best_of_a_large_space_within_its_budget_and_scores_each_subset_once():
    n, k = 24, 3
    w = np.random.default_rng(0).random(n)
    asked = []

    def fitness(subsets):
        asked.extend(subsets)
        return np.array([w[list(s)].sum() for s in subsets])

    r = search(fitness, n, k, budget=150, population=20, seed=1)      # 150 of C(24, 3) = 2024
    assert r.subset == tuple(sorted(np.argsort(w)[:k].tolist()))
    assert r.evaluations == len(asked) <= 150 and len(set(asked)) == len(asked)
    assert all(len(set(s)) == k and list(s) == sorted(s) for s in asked)
    assert r.history[-1] == (r.evaluations, r.error) and r.generations >= 1
    again = search(fitness, n, k, budget=150, population=20, seed=1)
    assert again.history == r.history


def test_search_stops_when_every_subset_is_scored():
    calls = []
    r = search(lambda s: calls.append(len(s)) or np.arange(len(s), dtype=float), 5, 2, budget=1000, population=4)
    assert r.evaluations == 10 and sum(calls) == 10
    with pytest.raises(ValueError, match="choose k in 1..5"):
        search(lambda s: np.zeros(len(s)), 5, 0)
