"""The Python entry points: `pgen.load(path)` and `pgen.compile_string(text)`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .compiler.check import Checked, check
from .core.errors import PgenError
from .core.options import DEFAULT_TOLERANCE
from .dsl.parser import parse


class Problem:
    """A parsed and checked spec; lowered to the IR on first use."""

    def __init__(self, text: str, path: Optional[str] = None, base_dir: Optional[Path] = None,
                 spec=None, params: Optional[dict] = None):
        """From .pgen text, or from an AST made by another front end (`spec`; then
        `text` is that front end's source, which errors quote). `params`: values replacing
        some params' declared values (name -> number or nested list)."""
        self.text = text
        self.path = path
        self.params = dict(params or {})
        try:
            self.spec = spec if spec is not None else parse(text, path)
            self.checked: Checked = check(self.spec, path, base_dir, params=self.params)
        except PgenError as e:
            raise e.located(path, text)
        self._lowered = None
        self._net_property = False  # not computed yet (None: the problem is not of that form)
        self._net_objective = False
        self._net_maximum = False

    @property
    def options(self) -> dict:
        return dict(self.checked.options)

    def _lower(self):
        if self._lowered is None:
            # imported here: `pgenc check` never lowers, and the encoder's imports cost it ~20 ms
            from .compiler.lower import lower

            try:
                self._lowered = lower(self.checked)
            except PgenError as e:
                raise e.located(self.path, self.text)
        return self._lowered

    def precompute_bounds(self, seconds: float = 600.0, neuron_time: float = 2.0, jobs: int = 2,
                          on_layer=None) -> list:
        """Seed 002's Algorithm 1 on every ReLU layer of the spec's networks: interval, linear
        relaxation, LP, then a MILP per still-unstable neuron stopped after `neuron_time`
        seconds (its dual bound), `jobs` at a time, within `seconds` in all. Each layer whose
        MILPs all ran is cached on disk (compiler/bound_cache.py), so later solves of the same
        network over the same domain start from these bounds. Returns one record per layer
        (neurons, unstable after each step, source, seconds), also passed to `on_layer` as each
        layer finishes; this problem keeps the model."""
        from .compiler.lower import lower
        from .compiler.nn.encode import BoundBudget

        if self.checked.grids:
            raise PgenError("E018", "bound precomputation applies to ReLU networks over a design vector; "
                            "a porous spec's binarized networks need none", filename=self.path)
        try:
            self._lowered = lower(self.checked, budget=BoundBudget("milp", seconds, neuron_time, jobs,
                                                                   on_layer=on_layer))
        except PgenError as e:
            raise e.located(self.path, self.text)
        return self._lowered.bound_layers

    @property
    def model(self):
        """The exact IR model (networks encoded, bounds tightened): lowered on first use."""
        return self._lower().model

    @property
    def var_base(self) -> dict:
        """Where each spec variable starts in the model's variable vector."""
        return self._lower().var_base

    @property
    def net_property(self):
        """The problem as a property of one network over an input box (runtime.net_property),
        or None: what the input-space members of the portfolio search."""
        if self._net_property is False:
            from .runtime.net_property import net_property

            try:
                self._net_property = net_property(self.checked)
            except PgenError as e:
                raise e.located(self.path, self.text)
        return self._net_property

    @property
    def net_objective(self):
        """The problem as `minimize norm1(net(x) - t)` over an input box (runtime.net_objective),
        or None: what the minimising input branch and bound searches."""
        if self._net_objective is False:
            from .runtime.net_objective import net_objective

            self._net_objective = net_objective(self.checked)
        return self._net_objective

    @property
    def net_maximum(self):
        """The problem as `maximize norm1(net(x) - t)` over an input box (runtime.net_objective),
        or None: what the region-vertex walk answers. Read once (`t` may run the network)."""
        if self._net_maximum is False:
            from .runtime.net_objective import net_maximum

            self._net_maximum = net_maximum(self.checked)
        return self._net_maximum

    def solve(self, backend: Optional[str] = None, timeout: Optional[float] = None,
              seed: Optional[int] = None, tolerance: Optional[float] = None, verbose: bool = False,
              progress: bool = False, cores: int = 2):
        """`cores`: 2 (default) runs the in-process search beside the exact backend; 1 one
        after the other (what a batch task does, so that J tasks use J cores)."""
        from .runtime.solve import solve

        if self.checked.grids:  # exact `no holes`, draws and the grid verifier live in sample()
            raise PgenError("E018", "a spec with an `image` makes images: use `problem.sample(n)` "
                            "(`pgenc solve` does this)", filename=self.path,
                            hint="for one image: `problem.sample(1)`; its cells hold the image and its record")
        opts = self.checked.options
        backend = backend or opts.get("backend", "auto")
        try:
            return solve(self,
                         backend=backend,
                         timeout=timeout if timeout is not None else opts.get("timeout", 60.0),
                         seed=seed if seed is not None else opts.get("seed", 0),
                         tolerance=tolerance if tolerance is not None else opts.get("tolerance", DEFAULT_TOLERANCE),
                         verbose=verbose, progress=progress, cores=cores)
        except PgenError as e:
            raise e.located(self.path, self.text)

    def sample(self, count: Optional[int] = None, seed: Optional[int] = None, timeout: Optional[float] = None,
               backend: Optional[str] = None, jobs: int = 1, max_draws: Optional[int] = None,
               apart: Optional[float] = None, **kw):
        """`count` distinct verified images of a porous spec (runtime.sample.SampleRun; its
        `cells` hold each image, its grain labels and its record), or of another spec `count`
        verified designs (runtime.sample_designs.DesignSampleRun). `apart`: pairwise at least
        this far apart (Hamming for images and Booleans, L1 for numbers). Defaults: the spec's
        `sample`, `apart`, `seed`, `timeout` (per image or design) and `backend` options."""
        opts = self.checked.options
        count = int(count if count is not None else opts.get("sample", 1))
        apart = apart if apart is not None else opts.get("apart")
        seed = int(seed if seed is not None else opts.get("seed", 0))
        backend = backend or opts.get("backend", "auto")
        try:
            if not self.checked.grids:
                from .runtime.sample_designs import DEFAULT_DESIGN_TIMEOUT, sample_designs

                return sample_designs(self, count, seed=seed, backend=backend, apart=apart,
                                      timeout=float(timeout if timeout is not None
                                                    else opts.get("timeout", DEFAULT_DESIGN_TIMEOUT)), **kw)
            from .runtime.sample import DEFAULT_DRAW_TIMEOUT, sample

            return sample(self, count, seed=seed,
                          timeout=float(timeout if timeout is not None else opts.get("timeout", DEFAULT_DRAW_TIMEOUT)),
                          backend=backend, jobs=jobs, apart=apart,
                          max_draws=max_draws if max_draws is not None else opts.get("draws"), **kw)
        except PgenError as e:
            raise e.located(self.path, self.text)

    def compile(self, backend: str = "highs", fmt: Optional[str] = None) -> str:
        """The native model as text: LP / MPS (cbc, highs), SMT-LIB2 (z3), CP-SAT proto text."""
        from .compiler.backends import BACKENDS, check_backend, choose_backend
        from .runtime.worker import run_in_worker

        model = self.model
        name = choose_backend(model) if backend == "auto" else backend
        try:
            check_backend(name, model)
        except PgenError as e:
            raise e.located(self.path, self.text)
        b = BACKENDS[name]
        if not b.formats:
            raise PgenError("E018", f"backend `{name}` does not write model files exactly",
                            hint="LP and MPS files come from `--backend highs` (the same model)", filename=self.path)
        fmt = fmt or b.formats[0]
        if fmt not in b.formats:
            raise PgenError("E018", f"backend `{name}` writes {', '.join(b.formats)}, not `{fmt}`",
                            hint="pick the backend that matches the file extension", filename=self.path)
        try:
            return run_in_worker(name, model, "dump", fmt=fmt)
        except RuntimeError as e:
            raise PgenError("E030", f"backend `{name}` could not write the model: {str(e).splitlines()[0]}",
                            filename=self.path) from None


def load(path: str | Path, params: Optional[dict] = None) -> Problem:
    """A spec file; `params` replaces some params' values (`pgen.load(p, params={"gray": 0.3})`)."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise PgenError("E040", f"spec file `{p}` not found") from None
    except (IsADirectoryError, UnicodeDecodeError) as e:
        raise PgenError("E040", f"cannot read spec file `{p}`: {e}") from None
    return Problem(text, str(p), p.parent, params=params)


def compile_string(text: str, base_dir: str | Path | None = None, name: str = "<string>") -> Problem:
    return Problem(text, name, Path(base_dir) if base_dir is not None else Path("."))


def load_vnnlib(prop_path: str | Path, net_path: str | Path) -> Problem:
    """A VNNLIB property over an ONNX network, as a Problem (sat = a counterexample exists)."""
    from .compiler.nn.onnx_import import load_network
    from .dsl.vnnlib import load_vnnlib as read, to_spec

    prop, text = read(prop_path)
    net = load_network(net_path, display=str(net_path))
    spec = to_spec(prop, str(Path(net_path).resolve()), net.n_in, net.n_out, str(prop_path), text)
    return Problem(text, str(prop_path), Path("."), spec=spec)
