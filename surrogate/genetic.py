"""Genetic algorithm for ink selection (seed 002 Sec. 4.3.1's baseline, Fig. 5), and the
brute force it stands in for.

The problem: choose at most k of the n inputs of a plain ReLU surrogate f (inks of a
library) and their ratios x (the others 0) to minimise ||f(x) - t||_1. The GA searches the
choice; each choice it meets is scored by `ratios`, a local continuous search over the
chosen inputs (the paper used an interior-point method; here projected Adam from several
random starts, batched over the whole generation in PyTorch). Every score is the float64
objective of a design that respects the choice, so the GA's answer is an upper bound on
the optimum and never below it.

`search` is the GA proper, over k-subsets of range(n) with any fitness: a population of
distinct random subsets, tournament selection, crossover (keep what both parents share,
fill from the rest of their union), mutation (each member swapped for an unused input
with probability `mutation`), elitism, and a fixed budget of distinct subsets scored
(a subset met again reuses its score and costs nothing). It stops when the budget is spent,
when every subset has been scored, or after `patience` generations without a new one.

`exhaustive` is the exact answer by enumeration: every k-subset's lower bound by the
backward relaxation at once (the full network over the box that pins the other inputs
to 0), then, best bound first, runtime/input_min.py's certified branch and bound on the
subset's own network until a bound reaches the incumbent. Exact for small k (a pair of 44
inks: 946 subsets, most closed by their first bound); C(44, 10) ~ 2e9 subsets is why the
paper's MILP matters.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..compiler.nn.forward import forward
from .train import require_torch


@dataclass
class SearchResult:
    subset: tuple         # the best subset found (sorted)
    error: float          # its fitness
    evaluations: int      # distinct subsets scored
    generations: int
    history: list = field(default_factory=list)   # (evaluations, best error) after each generation
    designs: dict = field(default_factory=dict)   # subset -> design, where the fitness returns one


def search(fitness, n: int, k: int, budget: int = 400, population: int = 40, tournament: int = 3,
           crossover: float = 0.9, mutation: float | None = None, elite: int = 2, patience: int = 20,
           seed: int = 0) -> SearchResult:
    """The GA over k-subsets of range(n). `fitness(subsets)` takes a list of sorted tuples and
    returns their errors [P] (lower is better), or (errors, designs [P, ...]); it is called
    once per generation with the subsets not scored before, never more than `budget` in all."""
    if not 1 <= k <= n:
        raise ValueError(f"choose k in 1..{n}, got {k}")
    rng = np.random.default_rng(seed)
    space = math.comb(n, k)
    budget = min(int(budget), space)
    mutation = 1.0 / k if mutation is None else mutation
    scores: dict = {}
    designs: dict = {}

    def score(subsets: list) -> None:
        new = list(dict.fromkeys(s for s in subsets if s not in scores))[:budget - len(scores)]
        if not new:
            return
        out = fitness(new)
        errors, xs = out if isinstance(out, tuple) else (out, None)
        for j, s in enumerate(new):
            scores[s] = float(errors[j])
            if xs is not None:
                designs[s] = np.asarray(xs[j])

    def random_subset() -> tuple:
        return tuple(sorted(rng.choice(n, size=k, replace=False).tolist()))

    pop: list = []
    seen: set = set()
    for _ in range(50 * population):    # distinct starts while the space has them
        if len(pop) >= min(population, space):
            break
        s = random_subset()
        if s not in seen:
            seen.add(s)
            pop.append(s)
    score(pop)
    pop = [s for s in pop if s in scores]
    history = [(len(scores), min(scores.values()))]
    generations, stale = 0, 0
    while len(scores) < budget and stale < patience:
        generations += 1
        before = len(scores)
        ranked = sorted(pop, key=lambda s: (scores[s], s))
        children = ranked[:elite]
        while len(children) < population:
            a, b = (min((pop[i] for i in rng.integers(len(pop), size=tournament)), key=lambda s: (scores[s], s))
                    for _ in range(2))
            child = _crossover(a, b, k, rng) if rng.random() < crossover else list(a)
            children.append(tuple(sorted(_mutate(child, n, mutation, rng))))
        score(children)
        pop = [s for s in children if s in scores]   # children past the budget are not scored: dropped
        history.append((len(scores), min(scores.values())))
        stale = 0 if len(scores) > before else stale + 1
    best = min(scores, key=lambda s: (scores[s], s))
    return SearchResult(best, scores[best], len(scores), generations, history, designs)


def _crossover(a: tuple, b: tuple, k: int, rng) -> list:
    """What both parents share, filled to k from the rest of their union."""
    shared = sorted(set(a) & set(b))
    rest = sorted(set(a) ^ set(b))
    return shared + rng.choice(rest, size=k - len(shared), replace=False).tolist() if len(shared) < k else shared


def _mutate(child: list, n: int, rate: float, rng) -> list:
    out = list(child)
    for j in range(len(out)):
        if rng.random() < rate:
            unused = np.setdiff1d(np.arange(n), out)
            if len(unused):
                out[j] = int(rng.choice(unused))
    return out


def ratios(layers, target, subsets, lo, hi, restarts: int = 8, steps: int = 300, lr: float = 0.02,
           seed: int = 0, device: str | None = None) -> tuple:
    """(errors [P], designs [P, n]): for each subset, the best of `restarts` projected-Adam
    runs of `steps` on ||f(x) - t||_1 over the chosen inputs in [lo, hi], the others 0;
    errors are the float64 objective of the returned designs. All subsets x restarts run
    as one batch."""
    require_torch()
    import torch

    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    if np.any(lo > 0) or np.any(hi < 0):
        raise ValueError("an input left out of the choice is 0, so 0 must lie in every input's box")
    n = len(lo)
    mask = np.zeros((len(subsets), n))
    for j, s in enumerate(subsets):
        mask[j, list(s)] = 1.0
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    Ws = [torch.tensor(np.asarray(W), dtype=torch.float32, device=dev) for W, _ in layers]
    bs = [torch.tensor(np.asarray(b), dtype=torch.float32, device=dev) for _, b in layers]

    def f(x):
        for j, (W, b) in enumerate(zip(Ws, bs)):
            x = x @ W.T + b
            if j < len(Ws) - 1:
                x = torch.relu(x)
        return x

    P, R = len(subsets), restarts
    m_t = torch.tensor(np.repeat(mask, R, axis=0), dtype=torch.float32, device=dev)
    lo_t = torch.tensor(lo, dtype=torch.float32, device=dev) * m_t
    hi_t = torch.tensor(hi, dtype=torch.float32, device=dev) * m_t
    t = torch.tensor(np.asarray(target, np.float64), dtype=torch.float32, device=dev)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    x = (lo_t + torch.rand((P * R, n), generator=gen).to(dev) * (hi_t - lo_t)).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    best_loss = torch.full((P * R,), float("inf"), device=dev)
    best_x = x.detach().clone()
    for step in range(steps + 1):
        loss = (f(x) - t).abs().sum(dim=1)
        with torch.no_grad():    # x is inside the box here: the loss is the design's
            better = loss < best_loss
            best_loss = torch.where(better, loss, best_loss)
            best_x[better] = x[better]
        if step == steps:
            break
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
        with torch.no_grad():
            x.copy_(torch.minimum(torch.maximum(x, lo_t), hi_t))
    xs = best_x.cpu().numpy().astype(np.float64).reshape(P, R, n)
    xs = np.clip(xs, lo * mask[:, None, :], hi * mask[:, None, :])
    errors = np.sum(np.abs(forward(layers, xs.reshape(P * R, n)) - np.asarray(target, np.float64)), axis=1)
    j = np.argmin(errors.reshape(P, R), axis=1)
    return errors.reshape(P, R)[np.arange(P), j], xs[np.arange(P), j]


def select_inks(layers, target, k: int, lo=None, hi=None, budget: int = 400, population: int = 40,
                restarts: int = 8, steps: int = 300, seed: int = 0, device: str | None = None, **ga) -> dict:
    """The GA on the ink-selection problem: at most k of the surrogate's inputs, ratios by
    `ratios`. Returns {"subset", "x" [n], "l1", "evaluations", "generations", "history", "seconds"}."""
    n = layers[0][0].shape[1]
    lo = np.zeros(n) if lo is None else np.asarray(lo, np.float64)
    hi = np.ones(n) if hi is None else np.asarray(hi, np.float64)
    calls = itertools.count()

    def fitness(subsets):   # each generation's starts drawn from its own seed: reproducible
        return ratios(layers, target, subsets, lo, hi, restarts=restarts, steps=steps,
                      seed=seed * 100003 + next(calls), device=device)

    t0 = time.perf_counter()
    r = search(fitness, n, min(k, n), budget=budget, population=population, seed=seed, **ga)
    return {"subset": r.subset, "x": r.designs[r.subset], "l1": r.error, "evaluations": r.evaluations,
            "generations": r.generations, "history": r.history, "seconds": time.perf_counter() - t0}


def restricted(layers, subset) -> list:
    """The network of the chosen inputs only (the first layer's other columns dropped)."""
    (W0, b0), *rest = [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in layers]
    return [(W0[:, list(subset)], b0), *rest]


def exhaustive(layers, target, k: int, lo=None, hi=None, timeout: float = 600.0, chunk: int = 512) -> dict:
    """The exact minimum over every choice of at most k inputs, by enumeration with
    certified bounds (module docstring). Returns {"status": "optimal" | "unknown", "subset",
    "x" [n], "l1", "bound" (proved: no choice does better), "subsets", "closed_by_first_bound",
    "searched", "seconds"}; `unknown` when `timeout` ends it, with the bound reached."""
    from ..runtime import input_min

    t0 = time.perf_counter()
    layers = [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in layers]
    t = np.asarray(target, np.float64)
    n = layers[0][0].shape[1]
    lo = np.zeros(n) if lo is None else np.asarray(lo, np.float64)
    hi = np.ones(n) if hi is None else np.asarray(hi, np.float64)
    if np.any(lo > 0) or np.any(hi < 0):
        raise ValueError("an input left out of the choice is 0, so 0 must lie in every input's box")
    subsets = np.array(list(itertools.combinations(range(n), min(k, n))))  # at most k: a k-box holds the smaller
    first = np.concatenate([
        input_min.box_lower_bounds(layers, t, lo * _mask(subsets[a:a + chunk], n), hi * _mask(subsets[a:a + chunk], n))[0]
        for a in range(0, len(subsets), chunk)])
    order = np.argsort(first, kind="stable")
    best = (np.inf, None, None)            # (value, subset, x)
    open_bounds = []                       # proved bounds of subsets a deadline left open
    searched = 0
    deadline = t0 + timeout
    for pos, i in enumerate(order):
        tol = input_min.GAP_TOL * max(1.0, abs(best[0]))
        if first[i] >= best[0] - tol:      # sorted: every later subset is closed too
            break
        if time.perf_counter() > deadline:
            open_bounds.append(float(first[order[pos:]].min()))
            break
        s = tuple(int(v) for v in subsets[i])
        sub = restricted(layers, s)
        proved = [float(first[i])]
        cutoff = best[0] - tol
        r = input_min.minimise(sub, t, lo[list(s)], hi[list(s)], timeout=max(0.0, deadline - time.perf_counter()),
                               bound=proved.append, stop=lambda: proved[-1] >= cutoff)
        searched += 1
        if r.value < best[0]:
            x = np.zeros(n)
            x[list(s)] = r.x
            best = (float(r.value), s, x)
        if r.status != "optimal" and max(proved[-1], r.bound) < best[0] - input_min.GAP_TOL * max(1.0, abs(best[0])):
            open_bounds.append(max(proved[-1], r.bound))
    bound = min([best[0], *open_bounds])
    status = "optimal" if not open_bounds else "unknown"
    return {"status": status, "subset": best[1], "x": best[2], "l1": best[0], "bound": bound,
            "subsets": int(len(subsets)), "closed_by_first_bound": int(len(subsets) - searched),
            "searched": searched, "seconds": time.perf_counter() - t0}


def _mask(subsets: np.ndarray, n: int) -> np.ndarray:
    m = np.zeros((len(subsets), n))
    m[np.arange(len(subsets))[:, None], subsets] = 1.0
    return m
