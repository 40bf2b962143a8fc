"""`pgenc batch`, `pgenc runs`, `pgenc gallery`: many verified solves into one run folder
(batching/), what they gave, and a page of pictures.

    pgenc batch plan.toml --jobs 2 --out runs/lib
    pgenc batch --spec specs/porous/d2_60_70.pgen --count 200 --jobs 2 --out runs/lib
    pgenc batch plan.toml --dask tcp://scheduler:8786 --out runs/lib
    pgenc runs runs/lib --status unknown --json
    pgenc gallery runs/lib

Exit codes of `batch`: 0 every task recorded verified or infeasible, 3 some unknown or
failed (rerun with `--redo unknown,failed` to try them again), 130 stopped by Ctrl-C
(rerun the same command to resume), 1 bad input.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

COMMANDS = ("batch", "runs", "gallery")
EXIT_OK, EXIT_INPUT, EXIT_NO_ANSWER, EXIT_STOPPED = 0, 1, 3, 130


def add_parsers(sub):
    c = sub.add_parser("batch", help="run many tasks (a TOML plan, or one spec N times) on a local pool or a "
                                     "Dask cluster, into a resumable run folder")
    c.add_argument("plan", nargs="?", default=None, help="TOML plan (specs x seeds x targets x cases x backends)")
    c.add_argument("--spec", default=None, help="instead of a plan: N tasks of this spec, one solution each")
    c.add_argument("--count", type=int, default=None, help="with --spec: how many tasks (seeds 1..N)")
    c.add_argument("--out", required=True, help="run folder (index.sqlite, tasks/, index.html)")
    c.add_argument("--jobs", type=int, default=None, help="worker processes of the local pool (default: CPU cores)")
    c.add_argument("--dask", default=None, metavar="ADDRESS",
                   help="run on a Dask distributed scheduler (tcp://host:8786) instead of the local pool")
    c.add_argument("--timeout", type=float, default=None, help="with --spec: seconds per task (default: the spec's)")
    c.add_argument("--backend", default=None, help="with --spec: the backend (default: the spec's, else auto)")
    c.add_argument("--redo", default="", metavar="STATUSES",
                   help="run recorded tasks of these statuses again, e.g. unknown,failed")
    c.add_argument("--no-gallery", action="store_true", help="do not write OUT/index.html at the end")
    c.add_argument("--json", action="store_true", help="print the summary as JSON")

    c = sub.add_parser("runs", help="query a batch's run index")
    c.add_argument("folder", help="a `pgenc batch --out` folder")
    c.add_argument("--status", default=None, help="only tasks of this status (verified, infeasible, unknown, failed)")
    c.add_argument("--run", default=None, help="only tasks of this plan run")
    c.add_argument("--json", action="store_true", help="print the rows as a JSON list")

    c = sub.add_parser("gallery", help="write FOLDER/index.html: every task's images or design with its values")
    c.add_argument("folder", help="a `pgenc batch --out` folder")


def run(args) -> int:
    return {"batch": cmd_batch, "runs": cmd_runs, "gallery": cmd_gallery}[args.cmd](args)


def cmd_batch(args) -> int:
    import os

    from .core.errors import PgenError
    from .batching.plan import read_plan, spec_plan
    from .batching.run import run_batch

    if (args.plan is None) == (args.spec is None):
        raise PgenError("E050", "give a plan file or --spec S --count N (one of the two)",
                        hint="pgenc batch plan.toml --out runs/lib, or pgenc batch --spec my.pgen --count 100 --out runs/lib")
    if args.spec is not None:
        if args.count is None:
            raise PgenError("E050", "--spec needs --count N (how many tasks)")
        plan = spec_plan(args.spec, args.count, timeout=args.timeout, backend=args.backend)
    else:
        for flag, value in (("--count", args.count), ("--timeout", args.timeout), ("--backend", args.backend)):
            if value is not None:
                raise PgenError("E050", f"{flag} goes with --spec; a plan sets it in its [[run]] tables")
        plan = read_plan(args.plan)
    redo = tuple(s.strip() for s in args.redo.split(",") if s.strip())
    engine = _engine(args.dask, args.jobs if args.jobs is not None else (None if args.dask else os.cpu_count() or 1))
    print(f"{len(plan.tasks)} tasks ({plan.describe()}) on {engine.describe()} -> {args.out}", file=sys.stderr)
    report = run_batch(plan, args.out, engine, redo=redo, progress=True)
    print(report.line())
    if not args.no_gallery:
        from .batching.gallery import write_gallery

        print(f"wrote {write_gallery(args.out)}", file=sys.stderr)
    if args.json:
        print(json.dumps({"out": str(report.out), "planned": report.planned, "skipped": report.skipped,
                          "adopted": report.adopted, "counts": report.counts, "wall_seconds": round(report.wall, 3),
                          "interrupted": report.interrupted}, indent=2))
    if report.interrupted:
        print("stopped: rerun the same command to resume (recorded tasks are not run again)", file=sys.stderr)
        return EXIT_STOPPED
    from .batching.index import RunIndex

    index = RunIndex(args.out, create=False)
    open_tasks = sum(1 for r in index.rows() if r["status"] in ("unknown", "failed"))
    index.close()
    if open_tasks:
        print(f"{open_tasks} tasks unknown or failed: `pgenc runs {args.out} --status failed` says why; "
              "`--redo unknown,failed` runs them again", file=sys.stderr)
        return EXIT_NO_ANSWER
    return EXIT_OK


def _engine(address, jobs):
    from .batching.engines import DaskEngine, LocalPool

    if address is not None:
        if jobs is not None:
            from .core.errors import PgenError

            raise PgenError("E050", "--jobs sizes the local pool; with --dask the cluster's workers decide",
                            hint="start the Dask workers with `--nthreads 1 --nworkers J`")
        return DaskEngine(address)
    return LocalPool(jobs)


def cmd_runs(args) -> int:
    from .core.errors import PgenError
    from .batching.index import STATUSES, RunIndex

    if args.status is not None and args.status not in STATUSES:
        raise PgenError("E050", f"--status takes one of {', '.join(STATUSES)}, not `{args.status}`")
    index = RunIndex(args.folder, create=False)
    rows = index.rows(status=args.status, run=args.run)
    index.close()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_rows(rows)
        print(f"{len(rows)} tasks", file=sys.stderr)
    return EXIT_OK


def cmd_gallery(args) -> int:
    from .batching.gallery import write_gallery

    print(f"wrote {write_gallery(Path(args.folder))}")
    return EXIT_OK


def print_rows(rows: list, stream=None) -> None:
    """A plain table of index rows."""
    stream = stream or sys.stdout
    cols = [("key", 28), ("status", 10), ("termination", 11), ("objective", 11), ("error", 9),
            ("solve_s", 8), ("attempts", 8)]
    print("  ".join(f"{c:<{w}}" for c, w in cols), file=stream)
    for r in rows:
        cells = [r["key"], r["status"], r.get("termination") or "", _num(r.get("objective")), _num(r.get("error")),
                 _num(r.get("solve_seconds")), str(r.get("attempts") or "")]
        print("  ".join(f"{str(v)[:w]:<{w}}" for v, (_, w) in zip(cells, cols)), file=stream)


def _num(v) -> str:
    return "" if v is None else f"{v:.4g}"
