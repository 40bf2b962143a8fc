"""`pgenc`: check, compile, solve and format .pgen specs; make datasets and surrogates
(`dataset`, `train`, `property`: pgen/surrogate_cli.py; other modules named in
`COMMAND_MODULES` bring their own subcommands).

Exit codes: 0 success (a verified solution, or a proof of infeasibility for
`solve`), 1 an error in the input, 2 no solution (infeasible), 3 no answer
(timeout / unknown / solver error / verification failure).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .core.errors import PgenError
from .core.files import atomic_write_bytes
from .core.results import Termination

EXIT_OK, EXIT_INPUT, EXIT_INFEASIBLE, EXIT_NO_ANSWER = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pgenc", description="Compile and solve .pgen specs.")
    sub = p.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("check", help="parse and check a spec (names, data, networks, shapes); lowering is `compile --stats`")
    c.add_argument("spec")
    c.add_argument("--net-check", action="store_true",
                   help="also run every network as imported against onnxruntime on random inputs")

    c = sub.add_parser("compile", help="write the native model (LP, MPS, SMT-LIB2, CP-SAT text)")
    c.add_argument("spec", help=".pgen spec, or a .vnnlib property with --net")
    c.add_argument("--net", default=None, help="the ONNX network a .vnnlib property is about")
    c.add_argument("--backend", default=None, help="cbc, highs, z3, cpsat or auto")
    c.add_argument("-o", "--output", default=None, help="file to write (.lp, .mps, .smt2, .txt); stdout if absent")
    c.add_argument("--stats", action="store_true", help="print model statistics")

    c = sub.add_parser("solve", help="solve a spec, verify the answer and write it")
    c.add_argument("spec")
    c.add_argument("--backend", default=None, help="cbc, highs, z3, cpsat or auto (default: the spec's, else auto)")
    c.add_argument("--timeout", type=float, default=None, help="seconds (default: the spec's, else 60)")
    c.add_argument("--seed", type=int, default=None)
    c.add_argument("--out", default=None, help="run folder to write (spec, manifest, result, values; "
                   "for images: NNNN.png/.npy/.json, contact_sheet.png, summary.json)")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.add_argument("--confirm", action="store_true",
                   help="re-decide an infeasible verdict by a second method (brute force, input branch "
                        "and bound, or another solver); a disagreement is an error")
    c.add_argument("--plot", default=None, metavar="FILE.png",
                   help="draw the best incumbent and the best proved bound over time (which member found what)")
    c.add_argument("--count", type=int, default=None,
                   help="images to make (specs with an `image`; default: the spec's `sample`, else 1)")
    c.add_argument("--apart", type=float, default=None, metavar="D",
                   help="samples pairwise at least D apart: cells that differ for images and Booleans, L1 for "
                        "numbers (default: the spec's `apart`, else distinct)")
    c.add_argument("--jobs", type=int, default=1, help="draws solved at once in worker processes (images)")
    c.add_argument("--max-draws", type=int, default=None,
                   help="draws to try before giving up (images; default 3 x count + 10)")
    c.add_argument("--draw-work", type=float, default=None,
                   help="images: deterministic solver seconds a draw may spend without an answer before a fresh "
                        "draw replaces it (default 12; 0: each draw keeps its whole --timeout)")
    c.add_argument("--no-quick", action="store_true",
                   help="images from the exact solver only: skip the quick grown-image search a draw tries first")

    c = sub.add_parser("bounds", help="precompute the ReLU bounds of a spec's networks once (interval, LP, a MILP per "
                                      "neuron) and cache them for later solves")
    c.add_argument("spec")
    c.add_argument("--time", type=float, default=600.0, help="seconds for all layers (default 600)")
    c.add_argument("--neuron-time", type=float, default=2.0,
                   help="seconds per neuron MILP; its dual bound is taken when it stops (default 2)")
    c.add_argument("--jobs", type=int, default=2, help="neuron MILPs at once (default 2)")
    c.add_argument("--json", action="store_true", help="print the per-layer records as JSON")

    c = sub.add_parser("verify", help="decide a VNNLIB property on an ONNX network: sat (with a witness) or unsat")
    c.add_argument("net", help="ONNX network")
    c.add_argument("prop", help="VNNLIB property (the unsafe set)")
    c.add_argument("--backend", default="auto")
    c.add_argument("--timeout", type=float, default=300.0)
    c.add_argument("--witness", default=None, help="write the witness input as .npy")
    c.add_argument("--confirm", action="store_true",
                   help="re-decide an `unsat` by a second method; a disagreement is an error")

    c = sub.add_parser("fmt", help="print the spec in canonical form")
    c.add_argument("spec")
    c.add_argument("-i", "--in-place", action="store_true", help="rewrite the file")

    for module in _command_modules():
        module.add_parsers(sub)
    return p


# Modules that bring their own subcommands: each has `COMMANDS` (the names it owns),
# `add_parsers(sub)` and `run(args) -> exit code` (its own errors become one `error:` line).
COMMAND_MODULES = ("surrogate_cli", "refine_cli", "score_cli", "baseline_cli", "batch_cli")


def _command_modules() -> list:
    import importlib

    return [importlib.import_module(f"{__package__}.{name}") for name in COMMAND_MODULES]


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        for module in _command_modules():
            if args.cmd in module.COMMANDS:
                return module.run(args)
        return {"check": cmd_check, "compile": cmd_compile, "solve": cmd_solve, "fmt": cmd_fmt,
                "verify": cmd_verify, "bounds": cmd_bounds}[args.cmd](args)
    except PgenError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `pgenc ... | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _load(path):
    from .api import load

    return load(path)


def cmd_check(args) -> int:
    """Parse and check (names, data, networks, shapes); nothing is lowered, so this stays fast."""
    checked = _load(args.spec).checked
    entries = {"bool": 0, "int": 0, "real": 0}
    for info in checked.vars.values():
        entries[info.kind] += int(info.lb.size)
    n_vars, n_req, n_nets = len(checked.vars), len(checked.requires), len(checked.nets)
    print(f"{args.spec}: ok ({n_vars} variable{'s' * (n_vars != 1)} of {sum(entries.values())} entries: "
          f"{entries['bool']} bool, {entries['int']} int, {entries['real']} real; "
          f"{n_req} require{'s' * (n_req != 1)}; {n_nets} network{'s' * (n_nets != 1)}; "
          f"objective: {checked.objective.sense})")
    for name, fam in checked.grids.items():
        size = " x ".join(map(str, fam.shape))
        if fam.phases is not None:
            cells = [f"{p} " + ("free" if c is None else f"{c[0]}" if c[0] == c[1] else f"{c[0]}..{c[1]}")
                     for p, c in zip(fam.phases, fam.phase_cells)]
            rules = [f"{len(fam.phases)} phases (cells: {', '.join(cells)})"]
            for word, pairs in (("apart", fam.apart), ("touch", fam.touch)):
                rules += [f"{word} {fam.phases[a]} {fam.phases[b]}" for a, b in pairs]
            rules += [f"open {fam.phases[k]}" for k in fam.open]
            print(f"  image {name}: {size}; " + "; ".join(rules))
            continue
        rules = [f"{fam.grains} grain{'s' * (fam.grains != 1)}"] if fam.grains else ["no grain rules"]
        if fam.grains:
            rules.append(f"seeds {'given' if fam.seeds is not None else 'random'}, dag {fam.dag}"
                         + (f", compact {'/'.join(map(str, fam.compact))}" if fam.compact else ""))
        rules.append(f"border {fam.border}, holes {fam.holes}")
        print(f"  image {name}: {size}; " + "; ".join(rules))
    if args.net_check:
        from .compiler.nn.net_check import net_check

        for name, net in checked.nets.items():
            print(f"  network {name}: " + net_check(net).line())
    return EXIT_OK


_EXT = {".lp": ("highs", "lp"), ".mps": ("highs", "mps"), ".smt2": ("z3", "smt2"), ".txt": ("cpsat", "cpsat.txt")}


def cmd_compile(args) -> int:
    if args.spec.endswith(".vnnlib"):
        from .api import load_vnnlib

        if not args.net:
            raise PgenError("E018", "a .vnnlib property needs the network: add --net NET.onnx")
        problem = load_vnnlib(args.spec, args.net)
    else:
        problem = _load(args.spec)
    backend, fmt = args.backend, None
    if args.output:
        ext = Path(args.output).suffix.lower()
        if ext not in _EXT:
            raise PgenError("E018", f"unknown output extension `{ext}`", hint="use .lp, .mps, .smt2 or .txt")
        default_backend, fmt = _EXT[ext]
        backend = backend or default_backend
    backend = backend or problem.options.get("backend", "highs")
    if backend == "auto":
        backend = "highs"
    text = problem.compile(backend, fmt)
    if args.stats:
        print(json.dumps(problem.model.stats(), indent=2), file=sys.stderr)
    if args.output:
        _atomic_write(Path(args.output), text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _atomic_write(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def cmd_solve(args) -> int:
    from .runtime.output import write_run

    if args.timeout is not None and not args.timeout > 0:
        raise PgenError("E018", f"--timeout must be positive, not {args.timeout:g}", hint="give seconds, e.g. --timeout 60")
    problem = _load(args.spec)
    if args.out:
        _check_writable(Path(args.out))
    if args.plot and (problem.checked.grids or problem.checked.objective.sense not in ("minimize", "maximize")):
        raise PgenError("E018", "--plot draws an optimisation's incumbent and bound over time; this spec "
                        + ("makes images" if problem.checked.grids else "has no objective"),
                        hint="leave out --plot")
    if problem.checked.grids:
        return cmd_sample(args, problem)
    if args.count is not None or args.apart is not None or "sample" in problem.options:
        return cmd_sample_designs(args, problem)
    result = problem.solve(backend=args.backend, timeout=args.timeout, seed=args.seed, progress=True)
    confirmation = _confirm(args, problem, result, args.timeout or problem.options.get("timeout", 60.0))
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(result.summary())
        for name, value in result.values.items():
            print(f"{name} = {_fmt_value(value)}")
        if result.message and result.termination not in (Termination.OPTIMAL, Termination.FEASIBLE):
            print(f"message: {result.message}", file=sys.stderr)
        for note in result.stats.get("notes", []):
            print(f"note: {note}", file=sys.stderr)
        if confirmation is not None:
            print(confirmation.line())
    if args.out and result.has_solution:
        write_run(args.out, problem, result)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.plot:
        from .runtime.timeline_plot import draw

        draw(result.stats.get("timeline", []), args.plot, problem.checked.objective.sense != "maximize",
             title=f"{Path(args.spec).name}: {result.termination}", wall=result.wall)
        print(f"wrote {args.plot}", file=sys.stderr)
    if result.has_solution:
        return EXIT_OK
    if result.termination == Termination.INFEASIBLE:
        return EXIT_INFEASIBLE
    return EXIT_NO_ANSWER


def cmd_bounds(args) -> int:
    """Seed 002's Algorithm 1, once: a table of how many neurons each step left unstable.
    A network that changed on disk since its bounds were cached is named (its old bounds
    cannot be read: the cache key holds the weights)."""
    import time

    from .compiler.bound_cache import network_changes

    for name, value in (("--time", args.time), ("--neuron-time", args.neuron_time), ("--jobs", args.jobs)):
        if not value > 0:
            raise PgenError("E018", f"{name} must be positive, not {value:g}")
    problem = _load(args.spec)
    for path, old, new in network_changes(problem.spec, problem.checked.base_dir):
        print(f"note: network `{path}` changed on disk since its bounds were cached "
              f"(sha256 {old[:12]} -> {new[:12]}); computing them again", file=sys.stderr)
    t0 = time.perf_counter()

    def progress(r):   # one line per layer as it finishes: a long run shows where it is
        if not args.json:
            src = r["source"] + (", cached" if r.get("cached") else "")
            steps = ", ".join(f"{k} {v}" for k, v in r["unstable"].items())
            print(f"{r['layer']}: {r['neurons']} neurons; unstable after {steps}; {r['seconds']:.2f} s; {src}",
                  file=sys.stderr, flush=True)

    layers = problem.precompute_bounds(args.time, args.neuron_time, args.jobs, on_layer=progress)
    seconds = time.perf_counter() - t0
    if args.json:
        print(json.dumps({"layers": layers, "seconds": round(seconds, 3)}, indent=2))
        return EXIT_OK
    if not layers:
        print("no ReLU layer to bound: the spec's networks are binarized, or their neurons are all stable")
        return EXIT_OK
    steps = [k for k in ("interval", "relaxation", "cache", "lp", "milp") if any(k in r["unstable"] for r in layers)]
    print(f"{'layer':<24}{'neurons':>8}  unstable after " + "  ".join(f"{k:>10}" for k in steps)
          + f"  {'seconds':>8}  source")
    for r in layers:
        cells = "  ".join(f"{r['unstable'].get(k, '-'):>10}" for k in steps)
        src = r["source"] + (", cached" if r.get("cached") else "")
        print(f"{r['layer']:<24}{r['neurons']:>8}  {'':>14}{cells}  {r['seconds']:>8.2f}  {src}")
    complete = all(r.get("cached") or r["source"] != "computed" for r in layers)
    print(f"{seconds:.1f} s; " + ("every layer is cached for later solves"
                                  if complete else "some layers ran out of --time and were not cached: give more"))
    return EXIT_OK


def cmd_sample(args, problem) -> int:
    """Porous images: N distinct verified images, one line each, a run folder with pictures.
    Exit 0 when all are made, 3 otherwise (saying why)."""
    from .core.progress import Progress
    from .runtime.sample import DEFAULT_DRAW_TIMEOUT

    opts = problem.options
    count = args.count if args.count is not None else int(opts.get("sample", 1))
    if count < 1:
        raise PgenError("E018", f"--count must be at least 1, not {count}")
    if args.jobs < 1:
        raise PgenError("E018", f"--jobs must be at least 1, not {args.jobs}")
    if args.draw_work is not None and not args.draw_work >= 0:
        raise PgenError("E018", f"--draw-work must be 0 (off) or more deterministic seconds, not {args.draw_work}")
    seed = args.seed if args.seed is not None else int(opts.get("seed", 0))
    timeout = args.timeout if args.timeout is not None else float(opts.get("timeout", DEFAULT_DRAW_TIMEOUT))
    bar = Progress(count, "images")

    def on_cell(cell, run):
        bar.clear()
        print(cell_line(cell), flush=True)
        bar.update(1)

    run = problem.sample(count, seed=seed, timeout=timeout, backend=args.backend, jobs=args.jobs,
                         max_draws=args.max_draws, quick=not args.no_quick, on_cell=on_cell, apart=args.apart,
                         **({} if args.draw_work is None else {"draw_work": args.draw_work}))
    bar.close()
    line = (f"made {run.made} of {run.asked} images in {run.wall:.1f} s ({run.draws} draws: "
            f"{run.infeasible} proved infeasible, {run.timed_out} timed out, {run.failed} failed"
            + (f", {run.duplicates} duplicates" if run.duplicates else "")
            + (f", {run.too_close} closer than {run.apart} cells" if run.too_close else "")
            + (f"; {run.rejected} candidates cut off by their true value" if run.rejected else "") + ")")
    print(line)
    for m in run.messages[:5]:
        print(f"  {m}", file=sys.stderr)
    if args.json:
        print(json.dumps({"summary": run.summary(), "images": [c.record for c in run.cells]}, indent=2))
    if args.out and run.cells:
        from .runtime.cell_output import cells_for_output, write_cells

        write_cells(args.out, cells_for_output(run), run_summary(problem, run, seed, timeout, args))
        print(f"wrote {args.out}", file=sys.stderr)
    if run.complete:
        return EXIT_OK
    if run.exhausted:
        if run.apart > 1:  # a greedy set: maximal (nothing more fits), not the most there could be
            print(f"no further image satisfies the spec at least {run.apart} cells from the {run.made} made "
                  "(proved: the next draw is infeasible)", file=sys.stderr)
        else:
            print(f"only {run.made} distinct images satisfy the spec (proved: the next draw is infeasible)",
                  file=sys.stderr)
    elif run.made == 0 and run.draws and run.infeasible == run.draws:
        print(f"every draw ({run.draws}) was proved infeasible: no image with these seeds, DAGs and `s` meets "
              "the spec; check that the intervals lie within what the network can output", file=sys.stderr)
    else:
        print("fewer images than asked: raise --timeout or --max-draws, or widen the spec's intervals",
              file=sys.stderr)
    return EXIT_NO_ANSWER


def cmd_sample_designs(args, problem) -> int:
    """Designs (a spec without an `image`, with `sample`, --count or --apart): N verified
    designs pairwise `apart`, one line each. Exit 0 when all are made, 2 when the spec is
    proved infeasible, 3 otherwise (as for images: fewer than asked, saying why)."""
    from .runtime.sample_designs import DEFAULT_DESIGN_TIMEOUT

    opts = problem.options
    count = args.count if args.count is not None else int(opts.get("sample", 1))
    if count < 1:
        raise PgenError("E018", f"--count must be at least 1, not {count}")
    text_out = sys.stderr if args.json else sys.stdout  # --json: stdout holds the JSON alone

    def on_design(design, run):
        near = "" if design.nearest is None else f"  nearest earlier at {design.nearest:g}"
        obj = "" if design.objective is None else f"  objective {design.objective:.6g}"
        values = "  ".join(f"{k} = {_fmt_value(v)}" for k, v in design.values.items())
        print(f"{design.index:4d}  {values}{obj}{near}", flush=True, file=text_out)

    run = problem.sample(count, seed=args.seed, backend=args.backend, apart=args.apart, on_design=on_design,
                         timeout=args.timeout if args.timeout is not None
                         else float(opts.get("timeout", DEFAULT_DESIGN_TIMEOUT)))
    print(f"made {run.made} of {run.asked} designs at least {run.apart:g} apart in {run.wall:.1f} s "
          f"({run.backend}; stopped: {run.stopped})", file=text_out)
    for m in run.messages[:5]:
        print(f"  {m}", file=sys.stderr)
    if args.json:
        print(json.dumps(run.summary(), indent=2))
    if args.out and run.designs:
        from .core.files import atomic_folder

        with atomic_folder(Path(args.out)) as tmp:
            (tmp / "spec.pgen").write_text(problem.text)
            (tmp / "designs.json").write_text(json.dumps(run.summary(), indent=2) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    if run.complete:
        return EXIT_OK
    if run.exhausted:
        if run.made == 0:
            return EXIT_INFEASIBLE
        print(f"no further design satisfies the spec at least {run.apart:g} from the {run.made} made (proved: the "
              "next solve is infeasible)", file=sys.stderr)
    return EXIT_NO_ANSWER


def cell_line(cell) -> str:
    rec = cell.record
    parts = [f"{cell.index:04d}"]
    for s in rec.get("surrogate", []):
        mark = "in" if s["true_in_interval"] else "OUT"
        parts.append(f"{s['term']} = {s['value']:.4g} (true {s['true']:.4g}, {mark})")
    if not rec.get("surrogate"):
        for g, info in rec["images"].items():
            parts.append(f"{g}: D_xx {info['true_D_xx']:.4f}, D_yy {info['true_D_yy']:.4f}")
    parts.append(f"{rec['time_seconds']:.2f} s")
    parts.append(rec["solver"])
    if rec["candidates"] > 1:
        parts.append(f"{rec['candidates']} candidates")
    parts.append("verified")
    return "  ".join(parts)


def run_summary(problem, run, seed: int, timeout: float, args) -> dict:
    import numpy as np

    errors = [s["error"] for c in run.cells for s in c.record.get("surrogate", [])]
    inside = [s["true_in_interval"] for c in run.cells for s in c.record.get("surrogate", [])]
    times = [c.record["time_seconds"] for c in run.cells]
    summary = run.summary()
    summary.update({"spec": str(Path(args.spec).resolve()), "seed": seed, "timeout_per_draw": timeout,
                    "backend": args.backend or problem.options.get("backend", "auto"), "jobs": args.jobs,
                    "quick_search": not args.no_quick,
                    "surrogate_vs_true_mae": round(float(np.mean(errors)), 4) if errors else None,
                    "true_in_interval_share": round(float(np.mean(inside)), 4) if inside else None,
                    "median_seconds": round(float(np.median(times)), 4) if times else None,
                    "max_seconds": round(float(np.max(times)), 4) if times else None})
    return summary


def _check_writable(out: Path) -> None:
    probe = out.parent if not out.exists() else out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe if str(probe) else ".", os.W_OK):
        raise PgenError("E040", f"cannot write the output folder `{out}`: permission denied",
                        hint="choose a folder you can write to with --out")


def _fmt_value(v) -> str:
    import numpy as np

    arr = np.asarray(v)
    return np.array2string(arr, precision=6, suppress_small=True, max_line_width=100, threshold=60)


def cmd_verify(args) -> int:
    """VNN-COMP style: print `sat` (and the witness) or `unsat`; `unknown` on a timeout.

    Exit codes: 0 decided (sat or unsat), 3 unknown (timeout / solver error), 1 bad input."""
    import numpy as np

    from .api import load_vnnlib

    if not args.timeout > 0:
        raise PgenError("E018", f"--timeout must be positive, not {args.timeout:g}")
    problem = load_vnnlib(args.prop, args.net)
    result = problem.solve(backend=args.backend, timeout=args.timeout, progress=True)
    confirmation = _confirm(args, problem, result, args.timeout)
    if result.has_solution:
        x = np.asarray(result.values["X"])
        print("sat")
        print("witness X = " + np.array2string(x, precision=9, max_line_width=100, threshold=20))
        if args.witness:
            _atomic_write_npy(Path(args.witness), x)
        diff = result.stats.get("network_max_difference")
        print(f"backend {result.backend}, {result.wall:.2f} s, verified with onnxruntime"
              + (f" (solver's network outputs within {diff:.2g} of onnxruntime's)" if diff is not None else ""),
              file=sys.stderr)
        return EXIT_OK
    if result.termination == Termination.INFEASIBLE:
        print("unsat")
        if confirmation is not None:
            print(confirmation.line())
        print(f"backend {result.backend}, {result.wall:.2f} s", file=sys.stderr)
        return EXIT_OK
    print("unknown")
    print(f"{result.termination}: {result.message}", file=sys.stderr)
    return EXIT_NO_ANSWER


def _confirm(args, problem, result, timeout: float):
    """`--confirm`: an infeasible verdict re-decided by a second method (runtime/confirm.py);
    its line goes into the output, and into the result's stats for --json and run folders.
    A disagreement raises (an error with both answers)."""
    if not getattr(args, "confirm", False) or result.termination != Termination.INFEASIBLE:
        return None
    from .runtime.confirm import confirm

    print("confirming the infeasible verdict by a second method ...", file=sys.stderr)
    confirmation = confirm(problem, result, timeout, seed=args.seed if getattr(args, "seed", None) is not None else 0)
    result.stats = {**result.stats, "confirmation": confirmation.line()}
    return confirmation


def _atomic_write_npy(path: Path, arr) -> None:
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, arr)
    atomic_write_bytes(path, buf.getvalue())


def cmd_fmt(args) -> int:
    from .dsl.parser import parse_with_comments
    from .dsl.printer import format_spec

    path = Path(args.spec)
    try:
        text = path.read_text()
    except OSError as e:
        raise PgenError("E040", f"cannot read `{path}`: {e.strerror}") from None
    try:
        out = format_spec(*parse_with_comments(text, str(path)))
    except PgenError as e:
        raise e.located(str(path), text)
    if args.in_place:
        _atomic_write(path, out)
    else:
        sys.stdout.write(out)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
