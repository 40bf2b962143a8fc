"""N distinct verified porous images (seed 000 Sec. 5): draws, check-and-cut, records.

A run asks for `count` images. Draw k takes its grain seeds, `s`, DAG and the solver's
seed from `numpy.random.default_rng([seed, k])` (compiler.grid.draw), so a run is
reproducible when no draw hits its timeout. A draw of a spec whose requires are surrogate
intervals (and true-value checks) first tries the quick grown-image search here
(runtime.grow, at most half the draw's time; no solver is started for a hit). Otherwise it
is solved in a worker process (`DrawJob`): lower the spec with the draw's rules, add the cuts known so far (every image
already made or rejected, as a no-good over its *pixels*, so a relabelled or re-seeded copy
never counts as new; every enclosed hole found, as a hole cut), then solve, and loop:

- an enclosed void component (rule `no holes`, exact by check and cut) -> add its hole cut;
- a require on a true PDE value (`dxx(I)`, `dyy(I)`) that misses -> add the image's no-good;
- otherwise the candidate goes back to this process, which verifies it independently
  (every spec constraint with onnxruntime and the PDE, every grid rule by
  runtime.verify_grid) before it counts.

A draw proved infeasible or timed out is counted and replaced, up to `max_draws`. A spec
whose draws are all the same (given seeds, one `s`, a fixed DAG) is one draw that asks for
all `count` images: when it is proved infeasible early, no more distinct images exist.

`apart D` (D >= 2) widens "distinct" to "at least D cells differ" (Hamming, over all the
spec's images): each image made is excluded with its whole radius-(D - 1) ball, one linear
row (compiler.grid.lower.image_no_good), while an image rejected or failed is still excluded
alone. This process checks every candidate's distance to the images made, from the decoded
pixels, before it counts (draws in flight, and the quick search, may come too close); a fixed
family proved infeasible then means that no further valid image is D away from all made.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..compiler.backends import Session, check_backend, choose_backend
from ..compiler.check import check_apart
from ..compiler.grid.draw import draw_rng, draw_rules
from ..compiler.grid.lower import hole_cut, image_no_good
from ..compiler.lower import lower
from ..core.errors import PgenError
from ..core.options import DEFAULT_TOLERANCE, SolveOptions
from ..core.results import FEASIBLE, INFEASIBLE, TIMEOUT, UNKNOWN
from ..dsl.printer import stmt_text
from .strategies.exact import decode, network_difference
from .verify import Evaluator, _holds, verify
from . import grow
from .terms import surrogate_terms
from .verify_grid import check_grid, enclosed_parts
from .worker import ServedWorker

DEFAULT_DRAW_TIMEOUT = 60.0
# deterministic solver seconds a random draw may spend without an answer while fresh draws
# remain: a draw the quick search misses is mostly out of reach (docs/results/porous_unknowns.md),
# and a fresh draw is usually answered at once (Quick start, 4 images: 61 s -> 13 s)
DEFAULT_DRAW_WORK = 12.0
FAILURE_LIMIT = 3  # draws that all fail with an error (no answer at all) end the run


@dataclass
class Cuts:
    """What every later draw must respect: images to exclude (rejected by the PDE check,
    failed, or found twice), images made (kept `apart` cells away), and enclosed holes
    (per image name)."""
    images: list = field(default_factory=list)   # [{image name: (T, T) uint8}]
    holes: list = field(default_factory=list)    # [(image name, Boolean mask)]
    kept: list = field(default_factory=list)     # [{image name: (T, T) uint8}] images made
    apart: int = 1

    def copy(self) -> "Cuts":
        return Cuts(list(self.images), list(self.holes), list(self.kept), self.apart)


@dataclass
class Candidate:
    values: dict          # the spec's variables
    images: dict          # image name -> (T, T) uint8
    labels: dict          # image name -> (T, T) int8
    candidates: int       # solver answers this image took (hole cuts and PDE misses included)
    wall: float
    method: str = ""      # what found it: the backend, or `grow` (runtime.grow's quick search)
    network_difference: float | None = None  # the solver's network outputs vs onnxruntime (solver images)


@dataclass
class DrawOutcome:
    termination: str
    found: list = field(default_factory=list)     # [Candidate]
    rejected: list = field(default_factory=list)  # [{image name: image}] true value missed
    holes: list = field(default_factory=list)     # [(image name, mask)]
    backend: str = ""
    message: str = ""
    stats: dict = field(default_factory=dict)
    solves: int = 0


def _lazy_ok(checked, lazy: list, values: dict, tolerance: float) -> tuple[bool, dict]:
    """Whether every lazy require (true PDE values) holds; and the values they read."""
    ev = Evaluator(checked, values)
    ok, seen = True, {}
    for req in lazy:
        for env in ev.envs(req.iters, {}):
            holds, detail = _holds(req.constraint, ev, env, tolerance)
            seen[stmt_text(req)] = detail
            ok &= holds
    return ok, seen


RESTART_WORK = 4.0  # CP-SAT deterministic time of the first try of a draw; doubled at each restart


class DrawJob:
    """One draw in a worker: lower with its rules, cut and solve until `want` images pass the
    hole and PDE checks, the model is infeasible, or the time is up.

    The model is emitted once (compiler.backends.Session) and cuts go into it between
    solves. On CP-SAT a try that spends its deterministic work budget without an answer is
    restarted with the next seed (a new pixel order) and twice the budget: the time to an
    image varies a lot with the order (0.3 s to over 60 s on one 16x16 draw, measured), and
    a deterministic budget keeps the run reproducible. `work_cap`: the deterministic seconds
    the tries may spend without an answer before the draw is abandoned (UNKNOWN) for a fresh
    one; deterministic too, so a run that abandons draws stays reproducible."""

    def __init__(self, checked, rules: dict, cuts: Cuts, backend: str, options: SolveOptions, want: int = 1,
                 tolerance: float = DEFAULT_TOLERANCE, work_cap: Optional[float] = None):
        self.checked, self.rules, self.cuts = checked, rules, cuts
        self.backend, self.options, self.want, self.tolerance = backend, options, want, tolerance
        self.work_cap = work_cap

    def run(self) -> DrawOutcome:
        start = time.perf_counter()
        try:
            lowered = lower(self.checked, grid_rules=self.rules)
        except PgenError as e:
            raise e.located(self.checked.path, None)
        model = lowered.model
        name = choose_backend(model) if self.backend == "auto" else self.backend
        check_backend(name, model)
        grids = lowered.grids
        for imgs in self.cuts.images:
            model.constraints.extend(_no_goods(grids, imgs))
        for imgs in self.cuts.kept:
            model.constraints.extend(_no_goods(grids, imgs, self.cuts.apart))
        for image, mask in self.cuts.holes:
            model.constraints.append(hole_cut(grids[image], mask))
        session = Session(name, model)
        out = DrawOutcome(UNKNOWN, backend=name, stats=model.stats())
        tried, attempt = 0, 0
        t_image = time.perf_counter()
        restarts = name == "cpsat"
        while len(out.found) < self.want:
            left = self.options.timeout - (time.perf_counter() - start)
            if left <= 0.05:
                out.termination = TIMEOUT
                break
            options = dataclasses.replace(self.options, timeout=left, seed=(self.options.seed + 7919 * attempt) % (2**31 - 1),
                                          work_limit=RESTART_WORK * 2 ** attempt if restarts else None)
            raw = session.solve(options)
            out.solves += 1
            if raw.values is None:
                if restarts and raw.termination == UNKNOWN:
                    attempt += 1
                    if self.work_cap is not None and RESTART_WORK * (2 ** (attempt + 1) - 1) > self.work_cap:
                        out.termination = UNKNOWN
                        out.message = (f"abandoned after {RESTART_WORK * (2 ** attempt - 1):g} deterministic seconds "
                                       "without an answer, for a fresh draw")
                        break
                    continue
                out.termination, out.message = raw.termination, raw.message
                break
            attempt = 0
            tried += 1
            images = {g: gv.image_of(raw.values) for g, gv in grids.items()}
            holes = [(g, h) for g in grids for h in enclosed_parts(images[g], self.rules[g])]
            if holes:
                for g, h in holes:
                    session.add(hole_cut(grids[g], h))
                out.holes.extend(holes)
                continue
            values = decode(lowered.var_base, self.checked, raw.values)
            ok, _ = _lazy_ok(self.checked, lowered.lazy, values, 0.0)
            for con in _no_goods(grids, images, self.cuts.apart if ok else 1):  # a rejected image alone
                session.add(con)
            if not ok:
                out.rejected.append(images)
                continue
            labels = {g: gv.labels(raw.values) for g, gv in grids.items()}
            now = time.perf_counter()
            out.found.append(Candidate(values, images, labels, tried, now - t_image, name,
                                       network_difference(lowered.model, raw.values)))
            tried, t_image = 0, now
            out.termination = FEASIBLE
        return out


def _no_goods(grids: dict, images: dict, apart: int = 1) -> list:
    """One no-good over the pixels of all the spec's images together: at least `apart` of
    them differ."""
    cons = [image_no_good(grids[g], images[g], apart=apart) for g in images if g in grids]
    if len(cons) <= 1:
        return cons
    from ..compiler import ir  # several images: one row saying "some `apart` pixels of them differ"
    idx = np.concatenate([c.expr.idx for c in cons])
    coef = np.concatenate([c.expr.coef for c in cons])
    # each row is `coef.x >= apart - base`, where coef.x + base is that image's distance
    rhs = sum(c.rhs for c in cons) - (len(cons) - 1) * apart
    order = np.argsort(idx)
    return [ir.LinearCon(ir.Lin(idx[order], coef[order]), ir.GE, rhs, "distinct images", "no_good")]


# ---------------------------------------------------------------- the run (this process)


@dataclass
class Cell:
    """One verified image and its record (what `NNNN.json` holds)."""
    index: int
    images: dict
    labels: dict
    values: dict
    record: dict

    @property
    def image(self) -> np.ndarray:
        """The image (of a spec with one image; else the first): (T, T) uint8, 1 = solid."""
        return next(iter(self.images.values()))

    @property
    def grain_labels(self) -> np.ndarray:
        """Its grain labels: 0 void, r + 1 for grain r."""
        return next(iter(self.labels.values()))


@dataclass
class SampleRun:
    asked: int
    cells: list = field(default_factory=list)
    draws: int = 0
    infeasible: int = 0
    timed_out: int = 0
    failed: int = 0
    duplicates: int = 0
    too_close: int = 0        # candidates fewer than `apart` cells from an image made (draws in flight)
    apart: int = 1            # images made differ pairwise in at least this many cells
    exhausted: bool = False   # a fixed family proved that no further distinct (apart) image exists
    rejected: int = 0         # candidates whose true value missed (PDE-checked specs)
    wall: float = 0.0
    messages: list = field(default_factory=list)

    @property
    def made(self) -> int:
        return len(self.cells)

    def __iter__(self):
        return iter(self.cells)

    def __len__(self) -> int:
        return len(self.cells)

    @property
    def complete(self) -> bool:
        return self.made >= self.asked

    @property
    def min_distance(self) -> Optional[int]:
        """The smallest Hamming distance between two images made (None below two), counted
        from the pixels themselves."""
        keys = [_pixels(c.images) for c in self.cells]
        return min((int(np.sum(a != b)) for i, a in enumerate(keys) for b in keys[:i]), default=None)

    def summary(self) -> dict:
        return {"asked": self.asked, "made": self.made, "draws": self.draws,
                "proved_infeasible": self.infeasible, "timed_out": self.timed_out, "failed": self.failed,
                "duplicates": self.duplicates, "rejected_by_true_value": self.rejected,
                "apart": self.apart, "too_close": self.too_close, "min_distance": self.min_distance,
                "exhausted": self.exhausted, "wall_seconds": round(self.wall, 3), "messages": self.messages[:20]}


def sample(problem, count: int, seed: int = 0, timeout: float = DEFAULT_DRAW_TIMEOUT, backend: str = "auto",
           jobs: int = 1, max_draws: Optional[int] = None, tolerance: float = DEFAULT_TOLERANCE, quick: bool = True,
           draw_work: Optional[float] = DEFAULT_DRAW_WORK, on_cell: Optional[Callable] = None,
           on_draw: Optional[Callable] = None, verbose: bool = False, apart: Optional[int] = None) -> SampleRun:
    """Make `count` distinct verified images, pairwise at least `apart` cells apart (None: 1,
    distinct). `timeout`: seconds per draw. `on_cell(cell, run)`
    is called for each image as it is made, `on_draw(run)` after each draw. `quick=False`:
    every image from the exact backend (no grown-image search first). `draw_work`: the
    deterministic solver seconds a random draw may spend without an answer while fresh draws
    remain (DEFAULT_DRAW_WORK; None or 0: each draw keeps its whole timeout)."""
    checked = problem.checked
    if not checked.grids:
        raise PgenError("E018", "sampling images needs an `image` in the spec", filename=problem.path,
                        hint="declare `image I : grid 16 x 16` with its `grains` and `void` rules")
    if count < 1:
        raise PgenError("E018", f"the number of images must be at least 1, not {count}")
    random = any(f.random for f in checked.grids.values())
    max_draws = max_draws if max_draws is not None else (3 * count + 10 if random else 1)
    options = SolveOptions(timeout=float(timeout), seed=0, verbose=verbose, threads=1)
    d = 1 if apart is None else check_apart(checked, apart)
    run = SampleRun(count, apart=d)
    cuts = Cuts(apart=d)
    seen: set = set()
    start = time.perf_counter()
    jobs = max(1, int(jobs)) if random else 1
    # one served worker per job slot: imports and the solver library stay loaded between draws
    pool = [ServedWorker(backend, verbose) for _ in range(jobs)]
    in_flight: dict = {}   # worker index -> (draw index, rules, solver seed)
    next_draw = 0
    lazy = [q for q in checked.requires if _is_lazy(q, checked)]
    quick = quick and random and grow.applies(checked, lazy)
    try:
        while True:
            for w, worker in enumerate(pool):
                while w not in in_flight and next_draw < max_draws and run.made + len(in_flight) < count:
                    rng = draw_rng(seed, next_draw)
                    rules = {name: draw_rules(fam, rng) for name, fam in checked.grids.items()}
                    solver_seed = int(rng.integers(0, 2**31 - 1))
                    want = 1 if random else count - run.made
                    # a fixed family is one draw that makes every image: its time is per image
                    draw_timeout = timeout * (1 if random else max(1, want))
                    draw, next_draw = next_draw, next_draw + 1
                    spent = 0.0
                    if quick:  # here, before a worker (and its solver) is started at all
                        out = _quick_search(checked, rules, cuts, seen, solver_seed, draw_timeout / 2, lazy)
                        spent = out.stats["seconds"]
                        if out.found:
                            run.draws += 1
                            _absorb(problem, run, cuts, seen, out, rules, draw, solver_seed, tolerance, on_cell)
                            run.wall = time.perf_counter() - start
                            if on_draw:
                                on_draw(run)
                            continue
                        cuts.images.extend(out.rejected)
                        run.rejected += len(out.rejected)
                    cap = draw_work if random and draw_work and next_draw < max_draws else None
                    job = DrawJob(checked, rules, cuts.copy(), backend,
                                  dataclasses.replace(options, seed=solver_seed, timeout=draw_timeout - spent),
                                  want, tolerance, work_cap=cap)
                    worker.submit(job, draw_timeout - spent)
                    in_flight[w] = (draw, rules, solver_seed)
            if not in_flight:
                break
            if run.failed >= FAILURE_LIMIT and run.failed == run.draws:  # the same error every time: say it once
                break
            w = _wait_any(pool, in_flight)
            draw, rules, solver_seed = in_flight.pop(w)
            out = pool[w].result()
            run.draws += 1
            _absorb(problem, run, cuts, seen, out, rules, draw, solver_seed, tolerance, on_cell)
            if not random and isinstance(out, DrawOutcome) and out.termination == INFEASIBLE:
                run.exhausted = True
            run.wall = time.perf_counter() - start
            if on_draw:
                on_draw(run)
    finally:
        for w, worker in enumerate(pool):
            worker.cancel() if w in in_flight else worker.close()
    run.wall = time.perf_counter() - start
    return run


def _quick_search(checked, rules: dict, cuts: Cuts, seen: set, solver_seed: int, budget: float,
                  lazy: list) -> DrawOutcome:
    """One draw's quick search (runtime.grow) in this process, seeded by the draw's solver
    seed, for at most `budget` seconds: the first grown image that passes the true-value
    checks, as a found Candidate; grown images that miss them come back as `rejected`."""
    start = time.perf_counter()
    out = DrawOutcome(UNKNOWN, backend="grow")
    excluded = set(seen) | {b"".join(imgs[g].tobytes() for g in sorted(imgs)) for imgs in cuts.images}
    rng = np.random.default_rng(int(solver_seed))
    (g,) = rules
    tried = 0
    kept = [imgs[g] for imgs in cuts.kept]
    for image, labels in grow.candidates(checked, rules, excluded, rng, deadline=start + budget):
        if any(int(np.sum(image != k)) < cuts.apart for k in kept):  # the search knows distinct only
            if time.perf_counter() - start > budget:
                break
            continue
        tried += 1
        values = {g: image.astype(np.float64)}
        if not _lazy_ok(checked, lazy, values, 0.0)[0]:
            out.rejected.append({g: image})
            if time.perf_counter() - start > budget:
                break
            continue
        out.found.append(Candidate(values, {g: image}, {g: labels}, tried, time.perf_counter() - start, "grow"))
        out.termination = FEASIBLE
        break
    out.stats["seconds"] = time.perf_counter() - start
    return out


def _wait_any(pool: list, in_flight: dict) -> int:
    while True:
        for w in in_flight:
            if pool[w].peek() is not None:
                return w
        time.sleep(0.005)


def _absorb(problem, run: SampleRun, cuts: Cuts, seen: set, out, rules: dict, draw: int, solver_seed: int,
            tolerance: float, on_cell) -> None:
    if not isinstance(out, DrawOutcome):  # the worker failed: a RawResult with ERROR or TIMEOUT
        if out.termination == TIMEOUT:
            run.timed_out += 1
        else:
            run.failed += 1
            run.messages.append(f"draw {draw}: {_first_line(out.message)}")
        return
    cuts.holes.extend(out.holes)
    for imgs in out.rejected:
        cuts.images.append(imgs)
    run.rejected += len(out.rejected)
    for cand in out.found:
        key = b"".join(cand.images[g].tobytes() for g in sorted(cand.images))
        if key in seen:  # two draws in flight found the same image
            cuts.images.append(cand.images)
            run.duplicates += 1
            continue
        pixels = _pixels(cand.images)
        if any(int(np.sum(pixels != _pixels(c.images))) < run.apart for c in run.cells):
            cuts.images.append(cand.images)  # made before this draw's cuts knew of it
            run.too_close += 1
            continue
        failures = _verify(problem, cand, rules, tolerance)
        if failures:
            cuts.images.append(cand.images)
            run.failed += 1
            run.messages.append(f"draw {draw}: a candidate failed independent verification: " + "; ".join(failures))
            continue
        if run.made >= run.asked:
            break
        cuts.kept.append(cand.images)
        seen.add(key)
        cell = Cell(run.made + 1, cand.images, cand.labels, cand.values,
                    _record(problem, cand, rules, draw, solver_seed, out))
        run.cells.append(cell)
        if on_cell:
            on_cell(cell, run)
    if out.found and out.termination in (TIMEOUT, UNKNOWN) and run.made < run.asked:
        run.timed_out += 1  # a fixed family's draw stopped before it had every image
    if not out.found:
        if out.termination == INFEASIBLE:
            run.infeasible += 1
        elif out.termination in (TIMEOUT, UNKNOWN):
            run.timed_out += 1
        else:
            run.failed += 1
            run.messages.append(f"draw {draw}: {out.termination}: {_first_line(out.message)}")


def _pixels(images: dict) -> np.ndarray:
    """All the images' cells in one vector, in image-name order: Hamming distances between
    two samples are counted on it."""
    return np.concatenate([np.asarray(images[g]).reshape(-1) for g in sorted(images)])


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def _verify(problem, cand: Candidate, rules: dict, tolerance: float) -> list:
    """Every failure of the candidate, checked without the encoder: the spec's constraints
    (networks re-run with onnxruntime, PDE values computed) and each grid rule."""
    report = verify(problem.checked, cand.values, None, tolerance)
    failures = [str(f) for f in report.failures]
    for g, r in rules.items():
        failures += [f"image {g}: {msg}" for msg in check_grid(cand.images[g], cand.labels[g], r)]
    return failures


# ---------------------------------------------------------------- records


def _record(problem, cand: Candidate, rules: dict, draw: int, solver_seed: int, out: DrawOutcome) -> dict:
    from ..surrogate import pde

    checked = problem.checked
    ev = Evaluator(checked, cand.values)
    rec = {"draw": draw, "solver": cand.method or out.backend, "solver_seed": solver_seed, "time_seconds": round(cand.wall, 4),
           "candidates": cand.candidates, "verified": True, "images": {}}
    if cand.network_difference is not None:
        rec["network_max_difference"] = cand.network_difference
    true = {}
    for g, img in cand.images.items():
        r = rules[g]
        phases = getattr(r, "names", None)
        # the PDE's conducting phase: void (0), or an n-phase image's first phase
        solid = (img != 0).astype(np.uint8) if phases else img
        if np.all(solid == 1):
            d_xx = d_yy = d_zz = 0.0
        else:
            d_xx, d_yy = float(pde.d_xx(solid)), float(pde.d_yy(solid))
            d_zz = float(pde.d_zz(solid)) if solid.ndim == 3 else None
        true[g] = {"x": d_xx, "y": d_yy}
        rec["images"][g] = {
            "grains": [{"seed": list(gr.seed), "dag": gr.dag, "s": gr.s,
                        "area": int(np.sum(cand.labels[g] == k + 1))} for k, gr in enumerate(r.grains)],
            "porosity": round(float(1.0 - solid.mean()), 6), "true_D_xx": round(d_xx, 6), "true_D_yy": round(d_yy, 6)}
        if d_zz is not None:
            rec["images"][g]["true_D_zz"] = round(d_zz, 6)
        if phases:
            rec["images"][g]["phases"] = {name: {"cells": int(np.sum(img == k)), "fraction": round(float(np.mean(img == k)), 6)}
                                          for k, name in enumerate(phases)}
            rec["images"][g]["conducting_phase"] = phases[0]
    rec["surrogate"] = []
    for text, expr, g, axis, interval, scale in surrogate_terms(checked):
        value = float(np.asarray(ev.eval(expr, {})).reshape(-1)[0])
        lo, hi = float(ev.eval(interval.lo, {})), float(ev.eval(interval.hi, {}))
        t = true[g][axis] * scale
        inside = (t >= lo if interval.lo_closed else t > lo) and (t <= hi if interval.hi_closed else t < hi)
        rec["surrogate"].append({"term": text, "value": round(value, 6), "true": round(t, 6),
                                 "interval": [lo, hi], "true_in_interval": bool(inside),
                                 "error": round(abs(value - t), 6)})
    checks = _lazy_ok(checked, [q for q in checked.requires if _is_lazy(q, checked)], cand.values, 1e-9)[1]
    if checks:
        rec["true_value_checks"] = checks
    return rec


def _is_lazy(req, checked) -> bool:
    from ..compiler.atoms import mentions_oracle
    return mentions_oracle(req.constraint, checked.nets)
