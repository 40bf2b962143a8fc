"""N verified design vectors pairwise at least D apart (`solve sample N apart D` on a spec
without an `image`).

Distance: L1 over every entry of every `var` of the spec (Hamming on Booleans). Design k is
the spec's answer (its optimum, under an objective) among the designs at least D from
designs 1 .. k-1: the exact backend solves the lowered model with one row per earlier
design (compiler.passes.apart), in a served worker, one solve per design. So a run is a
greedy D-separated set: when a solve is proved infeasible, no further design fits and the
run says so (`exhausted`), whereas a timeout says only that none was found in time.

Every design is decoded and checked here before it counts: the spec's constraints by the
independent verifier (onnxruntime for networks) and its distance to every earlier design,
computed from the decoded values (at least D, less the verifier's tolerance where real
coordinates take part). Without `apart`, a spec of Boolean and integer variables samples
distinct designs (D = 1); one with real variables must say how far apart (distinct reals
can differ by any small amount).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..compiler.backends import check_backend, choose_backend
from ..compiler.check import check_apart
from ..compiler.passes.apart import keep_apart
from ..core.errors import PgenError
from ..core.options import DEFAULT_TOLERANCE, SolveOptions
from ..core.results import FEASIBLE, INFEASIBLE, OPTIMAL, TIMEOUT, UNKNOWN
from .strategies.exact import decode
from .verify import verify
from .worker import BackendJob, ServedWorker

DEFAULT_DESIGN_TIMEOUT = 60.0


@dataclass
class Design:
    """One verified design and its record."""
    index: int
    values: dict          # the spec's variables (NumPy arrays of their shapes)
    objective: Optional[float]
    nearest: Optional[float]   # L1 distance to the nearest earlier design (None for the first)
    termination: str      # the solve's: optimal (best among those far enough) or feasible
    wall: float


@dataclass
class DesignSampleRun:
    asked: int
    apart: float
    backend: str = ""
    designs: list = field(default_factory=list)
    exhausted: bool = False   # proved: no further design is `apart` from all those made
    timed_out: bool = False
    failed: bool = False
    messages: list = field(default_factory=list)
    wall: float = 0.0

    @property
    def made(self) -> int:
        return len(self.designs)

    @property
    def complete(self) -> bool:
        return self.made >= self.asked

    def __iter__(self):
        return iter(self.designs)

    def __len__(self) -> int:
        return len(self.designs)

    @property
    def min_distance(self) -> Optional[float]:
        """The smallest L1 distance between two designs made, from their decoded values."""
        vecs = [design_vector(d.values) for d in self.designs]
        return min((l1(a, b) for i, a in enumerate(vecs) for b in vecs[:i]), default=None)

    @property
    def stopped(self) -> str:
        """Why the run ended: `complete`, `exhausted` (proved), `timeout` or `failed`."""
        return ("complete" if self.complete else "exhausted" if self.exhausted
                else "timeout" if self.timed_out else "failed")

    def summary(self) -> dict:
        return {"asked": self.asked, "made": self.made, "apart": self.apart, "backend": self.backend,
                "stopped": self.stopped, "min_distance": self.min_distance,
                "wall_seconds": round(self.wall, 3), "messages": self.messages[:20],
                "designs": [{"index": d.index, "objective": d.objective, "nearest": d.nearest,
                             "termination": d.termination, "time_seconds": round(d.wall, 4),
                             "values": {k: np.asarray(v).tolist() for k, v in d.values.items()}}
                            for d in self.designs]}


def design_vector(values: dict) -> np.ndarray:
    """Every entry of every variable, in name order: the vector distances are measured on."""
    return np.concatenate([np.asarray(values[k], dtype=np.float64).reshape(-1) for k in sorted(values)])


def l1(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(np.abs(a - b)))


def sample_designs(problem, count: int, seed: int = 0, timeout: float = DEFAULT_DESIGN_TIMEOUT,
                   backend: str = "auto", apart: Optional[float] = None, tolerance: float = DEFAULT_TOLERANCE,
                   on_design: Optional[Callable] = None, verbose: bool = False) -> DesignSampleRun:
    """Make `count` verified designs pairwise at least `apart` apart; `timeout`: seconds per
    design; `on_design(design, run)` is called for each as it is made."""
    checked = problem.checked
    if count < 1:
        raise PgenError("E018", f"the number of designs must be at least 1, not {count}")
    if apart is None:
        reals = sorted(n for n, v in checked.vars.items() if v.kind == "real")
        if reals:
            raise PgenError("E018", f"sampling designs with real variables (`{reals[0]}`) needs a distance: "
                            "distinct reals may differ by any small amount",
                            hint="say how far apart, in L1: `solve sample 10 apart 0.5` (or `--apart 0.5`)")
        apart = 1
    d = check_apart(checked, apart)
    model, var_base = problem.model, problem.var_base
    coords = [i for name, info in checked.vars.items()
              for i in range(var_base[name], var_base[name] + int(np.prod(info.shape)))]
    name = _backend_for(model, coords, d, backend)
    run = DesignSampleRun(count, d, name)
    # a real coordinate may come short of D by the solver's feasibility tolerance
    slack = tolerance * max(1.0, d) if any(v.kind == "real" for v in checked.vars.values()) else 0.0
    found: list = []   # the raw solution vectors, for the pass
    start = time.perf_counter()
    worker = ServedWorker(name, verbose)
    try:
        while run.made < count:
            options = SolveOptions(timeout=float(timeout), seed=int(seed), verbose=verbose, threads=1)
            t0 = time.perf_counter()
            worker.submit(BackendJob(name, model, "solve", options, passes=(keep_apart(found, d, coords),)), timeout)
            raw = worker.result()
            if raw.values is None or raw.termination not in (OPTIMAL, FEASIBLE):
                if raw.termination == INFEASIBLE:
                    run.exhausted = True
                elif raw.termination in (TIMEOUT, UNKNOWN):
                    run.timed_out = True
                    run.messages.append(f"design {run.made + 1}: none found in {timeout:g} s")
                else:
                    run.failed = True
                    run.messages.append(f"design {run.made + 1}: {raw.termination}: {_first_line(raw.message)}")
                break
            values = decode(var_base, checked, raw.values)
            report = verify(checked, values, None, tolerance)
            vec = design_vector(values)
            dists = [l1(vec, design_vector(e.values)) for e in run.designs]
            close = [(k + 1, dist) for k, dist in enumerate(dists) if dist < d - slack]
            if not report.ok or close:
                run.failed = True
                why = ([str(f) for f in report.failures]
                       + [f"{dist:g} from design {k} (at least {d:g} asked)" for k, dist in close])
                run.messages.append(f"design {run.made + 1} failed independent verification: " + "; ".join(why))
                break
            found.append(raw.values)
            design = Design(run.made + 1, values, report.objective, min(dists) if dists else None,
                            str(raw.termination), time.perf_counter() - t0)
            run.designs.append(design)
            if on_design:
                on_design(design, run)
    finally:
        worker.close()
    run.wall = time.perf_counter() - start
    return run


def _backend_for(model, coords: list, apart: float, backend: str) -> str:
    """The backend that takes the model with the `apart` rows (tried on a stand-in earlier
    solution, the box's centre, so every side choice is in it): a located-free PgenError
    when the named one cannot."""
    lb, ub = model.bounds_arrays()
    centre = np.where(np.isfinite(lb) & np.isfinite(ub), (lb + ub) / 2, 0.0)
    trial, _ = keep_apart([centre], apart, coords)(model)
    if backend == "auto":
        return choose_backend(trial)
    check_backend(backend, model)  # unknown, not installed, or refusing the spec itself: its own words
    try:
        check_backend(backend, trial)
    except PgenError as e:
        if e.code != "E030":
            raise
        raise PgenError("E030", f"backend `{backend}` cannot keep designs `apart`: {e.message}",
                        hint="sample with a backend that takes the spec's variables and implications, "
                             "e.g. `--backend highs` or `--backend z3`") from None
    return backend


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""
