"""Benchmark: are the reported bound and gap true? (issue 14, "reported figures that mean what
they say")

    python bench/bound_gap_table.py [--per-kind 20] [--timeout 30] [--out docs/results/bound_gap.md]

Makes seeded random specs of four kinds, each small enough for a brute-force optimum:

- LP: real variables only; optimum by enumerating the vertices of the box and the rows
  (and checked against SciPy's `linprog`);
- MILP: integers and reals; every integer assignment enumerated, the reals' LP by vertices;
- PB: Booleans only, a linear objective; every assignment enumerated;
- SMT: LP, pure-integer and PB specs solved on the z3 backend (z3 takes no mix of integers
  and reals), by the same oracles.

Each spec is solved through the public API on every backend of its kind and on `auto`, and
each result is checked: the objective is the brute-force optimum within the verifier's
tolerance; the bound is present and proved (for a maximisation, bound >= the true optimum >=
the objective; the other way round for a minimisation); the gap is the one
runtime.portfolio.verified_result defines (|objective - bound| / max(|objective|, 1e-9), 0 when
the two agree within the tolerance) and, for an optimal result, at most 1e-4 (the MIP solvers'
default relative gap). A last table stops hard knapsacks early (a short time
limit) to show non-zero gaps, their bounds checked against the optimum by dynamic programming.

Not a test (tests/runtime/test_bound_gap.py is): figures go to docs/results/bound_gap.md.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import pgen
from pgen.core.results import OPTIMAL

BACKENDS = {"LP": ("highs", "cbc", "auto"), "MILP": ("highs", "cbc", "auto"),
            "PB": ("cpsat", "highs", "cbc", "auto"), "SMT": ("z3",)}
KINDS = tuple(BACKENDS)
TINY = 1e-9  # the gap's denominator floor, as in runtime.portfolio.verified_result
OPTIMAL_GAP = 1e-4  # CBC's and HiGHS's default relative gap: "optimal" with a looser bound is a contradiction


@dataclass
class Model:
    """A small linear model as plain data: the oracle's view of a generated spec."""
    kinds: list            # per variable: "real", "int" or "bool"
    lo: np.ndarray
    hi: np.ndarray
    rows: list             # (coef vector, "<=" | ">=" | "==", rhs)
    c: np.ndarray
    const: float
    sense: str             # "maximize" | "minimize"


@dataclass
class Spec:
    id: str
    kind: str
    shape: str             # how it was drawn: lp / milp / ilp / pb, and plain / zero / negative
    text: str
    sense: str
    optimum: float


# ---- the brute-force oracle -------------------------------------------------------------

def lp_by_vertices(A: np.ndarray, b: np.ndarray, c: np.ndarray, maximize: bool):
    """max (or min) c.x over {A x <= b}, a bounded polytope, by trying every vertex: each choice
    of len(c) rows solved as equalities and kept when it satisfies all rows. None if empty."""
    n = len(c)
    best = None
    for rows in itertools.combinations(range(len(A)), n):
        M = A[list(rows)]
        if abs(np.linalg.det(M)) < 1e-12:
            continue
        x = np.linalg.solve(M, b[list(rows)])
        if np.all(A @ x <= b + 1e-9 * np.maximum(1.0, np.abs(b))):
            v = float(c @ x)
            if best is None or (v > best if maximize else v < best):
                best = v
    return best


def brute_force(m: Model):
    """The optimum of c.x + const: every integer and Boolean assignment, the reals' LP by its
    vertices. None if infeasible."""
    real = [i for i, k in enumerate(m.kinds) if k == "real"]
    disc = [i for i, k in enumerate(m.kinds) if k != "real"]
    maximize = m.sense == "maximize"
    # rows as A x <= b (an equality as two rows), the reals' box as rows too
    A, b = [], []
    for a, s, r in m.rows:
        if s in ("<=", "=="):
            A.append(a), b.append(r)
        if s in (">=", "=="):
            A.append(-a), b.append(-r)
    A, b = np.array(A, dtype=float).reshape(-1, len(m.kinds)), np.array(b, dtype=float)
    best = None
    for values in itertools.product(*[range(int(m.lo[i]), int(m.hi[i]) + 1) for i in disc]):
        fixed = np.zeros(len(m.kinds))
        fixed[disc] = values
        rest = b - A @ fixed
        if real:
            Ar = A[:, real]
            box = np.vstack([np.eye(len(real)), -np.eye(len(real))])
            v = lp_by_vertices(np.vstack([Ar, box]), np.concatenate([rest, m.hi[real], -m.lo[real]]),
                               m.c[real], maximize)
            if v is None:
                continue
        else:
            if np.any(rest < -1e-9):
                continue
            v = 0.0
        v += float(m.c @ fixed)
        if best is None or (v > best if maximize else v < best):
            best = v
    return None if best is None else best + m.const


def linprog_optimum(m: Model) -> float:
    """The LP optimum by SciPy's HiGHS: a second oracle for the vertex enumeration."""
    from scipy.optimize import linprog

    A_ub, b_ub, A_eq, b_eq = [], [], [], []
    for a, s, r in m.rows:
        if s == "<=":
            A_ub.append(a), b_ub.append(r)
        elif s == ">=":
            A_ub.append(-a), b_ub.append(-r)
        else:
            A_eq.append(a), b_eq.append(r)
    sign = -1.0 if m.sense == "maximize" else 1.0
    res = linprog(sign * m.c, A_ub=A_ub or None, b_ub=b_ub or None, A_eq=A_eq or None, b_eq=b_eq or None,
                  bounds=list(zip(m.lo, m.hi)), method="highs")
    assert res.status == 0, res.message
    return sign * res.fun + m.const


# ---- seeded random specs ----------------------------------------------------------------

def half_grid(rng, lo: float, hi: float) -> float:
    """A number on the 0.5 grid in [lo, hi]: short decimals in the spec text, exact in z3."""
    return float(rng.integers(int(2 * lo), int(2 * hi) + 1)) / 2


def draw_model(rng, shape: str, sense: str) -> tuple:
    """A random feasible model of the given shape and a point that satisfies it."""
    n_real = {"lp": int(rng.integers(2, 5)), "milp": int(rng.integers(1, 3))}.get(shape, 0)
    n_int = {"milp": int(rng.integers(1, 4)), "ilp": int(rng.integers(2, 4))}.get(shape, 0)
    n_bool = int(rng.integers(6, 13)) if shape == "pb" else 0
    kinds = ["real"] * n_real + ["int"] * n_int + ["bool"] * n_bool
    n = len(kinds)
    lo, hi = np.zeros(n), np.ones(n)
    for i in range(n_real):
        lo[i] = half_grid(rng, -3, 1)
        hi[i] = lo[i] + half_grid(rng, 1, 4)
    if n_int:  # one range for all integers: the spec declares them as one array
        a = int(rng.integers(-3, 1))
        lo[n_real:n_real + n_int], hi[n_real:n_real + n_int] = a, a + int(rng.integers(2, 6))
    point = np.array([half_grid(rng, lo[i], hi[i]) if k == "real" else float(rng.integers(lo[i], hi[i] + 1))
                      for i, k in enumerate(kinds)])
    rows = []
    for _ in range(int(rng.integers(1, 5 if shape == "pb" else 4))):
        a = np.zeros(n)
        support = rng.choice(n, size=int(rng.integers(min(2, n), n + 1)), replace=False)
        if shape == "pb":
            row_kind = rng.choice(["knapsack", "cardinality", "equality"], p=[0.5, 0.35, 0.15])
            a[support] = rng.integers(1, 10, size=len(support)) if row_kind == "knapsack" else 1.0
            s = "==" if row_kind == "equality" else ("<=" if row_kind == "knapsack" else str(rng.choice(["<=", ">="])))
            slack = 0.0 if s == "==" else float(rng.integers(0, 4))
        else:
            a[support] = [half_grid(rng, -4, 4) or 1.0 for _ in support]
            s = str(rng.choice(["<=", ">=", "=="], p=[0.45, 0.4, 0.15]))
            slack = 0.0 if s == "==" else half_grid(rng, 0, 2)
        value = float(a @ point)
        rows.append((a, s, value + slack if s == "<=" else value - slack if s == ">=" else value))
    if shape == "pb":
        c = rng.integers(-6, 7, size=n).astype(float) / rng.choice([1, 2])
    else:
        c = np.array([half_grid(rng, -5, 5) for _ in range(n)])
    if not np.any(c):
        c[0] = 1.0
    return Model(kinds, lo, hi, rows, c, 0.0, sense), point


def spec_text(m: Model) -> str:
    """The model as a .pgen spec: reals `x` (per-entry boxes as params), integers `n`, Booleans `b`."""
    names, lines = [], []
    real = [i for i, k in enumerate(m.kinds) if k == "real"]
    ints = [i for i, k in enumerate(m.kinds) if k == "int"]
    bools = [i for i, k in enumerate(m.kinds) if k == "bool"]
    if real:
        lines += [f"param xlo = [{', '.join(num(m.lo[i]) for i in real)}]",
                  f"param xhi = [{', '.join(num(m.hi[i]) for i in real)}]",
                  f"var x : real[{len(real)}] in [xlo, xhi]"]
    if ints:
        lines.append(f"var n : int[{len(ints)}] in {int(m.lo[ints[0]])}..{int(m.hi[ints[0]])}")
    if bools:
        lines.append(f"var b : bool[{len(bools)}]")
    for group, letter in ((real, "x"), (ints, "n"), (bools, "b")):
        names += [f"{letter}[{j}]" for j in range(len(group))]
    for a, s, r in m.rows:
        lines.append(f"require {linear(a, names)} {s} {num(r)}")
    objective = linear(m.c, names)
    if m.const:
        objective += f" {'-' if m.const < 0 else '+'} {num(abs(m.const))}"
    lines.append(f"{m.sense} {objective}")
    return "\n".join(lines) + "\n"


def linear(a: np.ndarray, names: list) -> str:
    out = ""
    for coef, name in zip(a, names):
        if coef == 0:
            continue
        sign = "-" if coef < 0 else "+"
        term = name if abs(coef) == 1 else f"{num(abs(coef))} * {name}"
        out = (f"-{term}" if sign == "-" else term) if not out else f"{out} {sign} {term}"
    return out


def num(v: float) -> str:
    return f"{v:.6f}".rstrip("0").rstrip(".") or "0"


def short_decimal(v: float) -> bool:
    return abs(v * 1e4 - round(v * 1e4)) < 1e-6


def make_specs(kind: str, count: int, seed: int) -> list:
    """`count` specs: senses alternate; every fifth has optimum 0 and every fifth a negative one
    (the objective's constant chosen from the brute-force optimum)."""
    shapes = {"LP": ["lp"], "MILP": ["milp"], "PB": ["pb"], "SMT": ["lp", "ilp", "pb"]}[kind]
    specs = []
    for k in range(count):
        shape = shapes[k % len(shapes)]
        sense = "maximize" if k % 2 == 0 else "minimize"
        target = {3: "zero", 4: "negative"}.get(k % 5, "plain")
        for attempt in itertools.count():
            rng = np.random.default_rng([seed, KINDS.index(kind), k, attempt])
            m, _ = draw_model(rng, shape, sense)
            best = brute_force(m)
            if target != "zero" or short_decimal(best):  # a zero optimum needs an exact constant
                break
        if target == "zero":
            m.const = -round(best, 4)
        elif target == "negative":
            m.const = -float(np.floor(abs(best)) + 1 + rng.integers(0, 5))
        else:
            m.const = half_grid(rng, -5, 5)
        optimum = best + m.const
        if shape == "lp":  # the vertex enumeration against an independent LP solver
            assert abs(linprog_optimum(m) - optimum) <= 1e-6 * max(1.0, abs(optimum)), (kind, k)
        specs.append(Spec(f"{kind.lower()}-{k:02d}", kind, f"{shape} {target}", spec_text(m), sense,
                          0.0 if target == "zero" else optimum))
    return specs


# ---- hard knapsacks stopped early: non-zero gaps -------------------------------------------

def knapsack_specs(count: int, seed: int) -> list:
    """Two-row 0/1 knapsacks of 200 items, profits strongly correlated with the weights (hard for
    branch and bound: the LP bound is never tight), each optimum by dynamic programming over
    both capacities (6 M states, seconds)."""
    specs = []
    n, wmax = 200, 100
    names = [f"b[{i}]" for i in range(n)]
    for k in range(count):
        rng = np.random.default_rng([seed, 99, k])
        W = rng.integers(1, wmax + 1, size=(2, n))
        p = W.sum(0) + 2 * wmax
        cap = W.sum(1) // 4
        best = np.zeros((cap[0] + 1, cap[1] + 1), dtype=np.int64)  # best[c0, c1]: most profit within (c0, c1)
        for (w0, w1), pj in zip(W.T, p):
            best[w0:, w1:] = np.maximum(best[w0:, w1:], best[:cap[0] + 1 - w0, :cap[1] + 1 - w1] + pj)
        text = (f"var b : bool[{n}]\n" + "".join(f"require {linear(w.astype(float), names)} <= {c}\n"
                                                 for w, c in zip(W, cap))
                + f"maximize {linear(p.astype(float), names)}\n")
        specs.append(Spec(f"knap-{k:02d}", "stopped", "2-row knapsack, 200", text, "maximize", float(best[-1, -1])))
    return specs


# ---- solve and check ------------------------------------------------------------------------

def run(spec: Spec, backend: str, timeout: float, need_optimal: bool = True) -> dict:
    """One solve and its checks; `ok` is all of them."""
    start = time.perf_counter()
    res = pgen.compile_string(spec.text, name=spec.id).solve(backend=backend, timeout=timeout, cores=1)
    row = {"id": spec.id, "kind": spec.kind, "shape": spec.shape, "sense": spec.sense, "backend": backend,
           "member": res.backend, "termination": str(res.termination), "objective": res.objective,
           "bound": res.bound, "gap": res.gap, "optimum": spec.optimum, "wall": time.perf_counter() - start,
           "failed": []}
    tol = res.tolerance
    slack = tol * max(1.0, abs(spec.optimum))
    obj, bound, maximize = res.objective, res.bound, spec.sense == "maximize"
    if obj is None or not res.verified:
        row["failed"].append("no verified solution")
        return row
    if need_optimal and (res.termination != OPTIMAL or abs(obj - spec.optimum) > slack):
        row["failed"].append("objective is not the optimum")
    if (obj > spec.optimum + slack) if maximize else (obj < spec.optimum - slack):
        row["failed"].append("objective beyond the optimum")
    if bound is None:
        if res.termination == OPTIMAL:  # the solver proved optimality: the bound is known
            row["failed"].append("bound missing")
        if res.gap is not None:
            row["failed"].append("gap without a bound")
        return row
    if (bound < spec.optimum - slack or bound < obj - slack) if maximize else \
            (bound > spec.optimum + slack or bound > obj + slack):
        row["failed"].append("bound on the wrong side")
    diff = abs(obj - bound)
    gap = 0.0 if diff <= tol * max(1.0, abs(obj)) else diff / max(abs(obj), TINY)
    if res.gap is None or abs(res.gap - gap) > 1e-9 * max(1.0, gap):
        row["failed"].append(f"gap {res.gap} is not {gap}")
    elif res.termination == OPTIMAL and gap > OPTIMAL_GAP:
        row["failed"].append(f"optimal, but the bound is loose (gap {gap:.3g})")
    return row


def fmt(v) -> str:
    return "—" if v is None else f"{v:.9g}"


def table(rows: list, title: str) -> list:
    ok = sum(not r["failed"] for r in rows)
    specs = len({r["id"] for r in rows})
    zero_gap = sum(r["gap"] == 0.0 for r in rows)
    lines = [f"## {title}", "",
             f"{specs} specs, {len(rows)} solves: **{ok}/{len(rows)} checked ✓**; "
             f"bound present in {sum(r['bound'] is not None for r in rows)}, gap 0 in {zero_gap}, "
             f"max gap {max((r['gap'] or 0.0) for r in rows):.3g}.", "",
             "| spec | shape | sense | backend (member) | termination | objective | bound | gap | known optimum | check |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        member = r["backend"] if r["member"] == r["backend"] else f"{r['backend']} ({r['member']})"
        check = "✓" if not r["failed"] else "✗ " + "; ".join(r["failed"])
        lines.append(f"| {r['id']} | {r['shape']} | {r['sense'][:3]} | {member} | {r['termination']} | "
                     f"{fmt(r['objective'])} | {fmt(r['bound'])} | {fmt(r['gap'])} | {fmt(r['optimum'])} | {check} |")
    return lines + [""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-kind", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--stopped", type=int, default=4, help="hard knapsacks stopped by --stop-after")
    ap.add_argument("--stop-after", type=float, default=1.0,
                    help="their time limit, seconds (the exact backend gets at least 1 s)")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--out", default="docs/results/bound_gap.md")
    args = ap.parse_args()
    sections, summary = [], []
    for kind in KINDS:
        rows = [run(spec, backend, args.timeout) for spec in make_specs(kind, args.per_kind, args.seed)
                for backend in BACKENDS[kind]]
        sections += table(rows, f"{kind}: {', '.join(BACKENDS[kind])}")
        line = (f"{kind:5s} {len(rows) // len(BACKENDS[kind])} specs, {len(rows)} solves: "
                f"{sum(not r['failed'] for r in rows)} ✓, {sum(bool(r['failed']) for r in rows)} ✗, "
                f"bound present {sum(r['bound'] is not None for r in rows)}, "
                f"max gap {max((r['gap'] or 0.0) for r in rows):.3g}")
        summary.append(line)
        print(line, flush=True)
        for r in rows:
            if r["failed"]:
                print("   ✗", r["id"], r["backend"], r["objective"], r["bound"], r["gap"], r["optimum"], r["failed"])
    stopped = [run(spec, backend, args.stop_after, need_optimal=False)
               for spec in knapsack_specs(args.stopped, args.seed) for backend in ("cbc", "highs", "cpsat")]
    sections += table(stopped, f"Stopped early: 200-item two-row knapsacks, time limit {args.stop_after:g} s "
                               f"(optimum by dynamic programming; the objective need not be optimal)")
    line = (f"stopped {len(stopped)} solves: {sum(not r['failed'] for r in stopped)} ✓, "
            f"{sum(bool(r['failed']) for r in stopped)} ✗, with a non-zero gap "
            f"{sum((r['gap'] or 0.0) > 0 for r in stopped)}")
    summary.append(line)
    print(line)
    for r in stopped:
        print("   ", r["id"], r["backend"], r["termination"], r["objective"], r["bound"], fmt(r["gap"]), r["optimum"],
              r["failed"] or "✓")
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    command = "python bench/bound_gap_table.py" + (
        "" if (args.per_kind, args.timeout, args.stopped, args.stop_after, args.seed) == (20, 30.0, 4, 1.0, 14)
        else f" --per-kind {args.per_kind} --timeout {args.timeout:g} --stopped {args.stopped} "
             f"--stop-after {args.stop_after:g} --seed {args.seed}")
    head = ["# Bound and gap: checked against brute force (issue 14)", "",
            f"Command: `{command}` (writes this file). Machine: {cpu}, {len(__import__('os').sched_getaffinity(0))} "
            f"cores (shared), Python {platform.python_version()}, {datetime.date.today()}.", "",
            "Every spec is a seeded random instance small enough for a brute-force optimum (LP: every vertex of "
            "the box and the rows, checked against SciPy's `linprog`; MILP: every integer assignment, the reals' LP "
            "by its vertices; PB: every assignment; SMT: LP, pure-integer and PB specs on the z3 backend, by the "
            "same oracles). Senses alternate; every fifth spec has optimum 0 and every fifth a negative optimum. "
            "A check ✓ means: a verified solution whose objective is the known optimum (within the verifier's "
            "tolerance 1e-6), a bound present and proved (maximise: bound >= known optimum >= objective; minimise: "
            "the other way round), and the gap equal to |objective - bound| / max(|objective|, 1e-9) (0 when the "
            "two agree within the tolerance), as `runtime.portfolio.verified_result` defines it, and for an optimal "
            "result at most 1e-4 (CBC's and HiGHS's default relative gap). `auto (member)` "
            "names the portfolio member that answered. In the last table, the objective may fall short of the "
            "optimum (the time limit stops the search); the bound must still be on the right side of the optimum. "
            "Which knapsack runs stop early depends on the timing of a shared machine; the checks do not. "
            "Unbounded objectives (none here: every spec is boxed) report no bound on any backend: "
            "tests/runtime/test_bound_gap.py checks it.",
            "", "Summary:", "", "```", *summary, "```", ""]
    Path(args.out).write_text("\n".join(head + sections))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
