"""Worker jobs that do more than one backend call (runtime.worker runs them)."""
from __future__ import annotations

import dataclasses
import time

from ..compiler.backends import call_backend, choose_backend
from ..compiler.lower import lower
from ..core.errors import PgenError
from ..core.options import SolveOptions


class LowerAndSolveJob:
    """Lower a checked spec and solve it with the automatic backend, all in the worker:
    lowering ACAS Xu (LP bound tightening) takes seconds that the parent's input branch and
    bound would otherwise lose. `run()` gives (raw result, model, backend name, var_base):
    what the parent needs to decode and verify the answer."""

    def __init__(self, checked, options: SolveOptions):
        self.checked, self.options = checked, options

    def run(self):
        start = time.perf_counter()
        try:
            lowered = lower(self.checked)
        except PgenError as e:  # the message says which spec file, as a lowering in the parent would
            raise e.located(self.checked.path, None)
        model, var_base = lowered.model, lowered.var_base
        name = choose_backend(model)
        # the parent's limit covers the lowering too
        remaining = max(1.0, self.options.timeout - (time.perf_counter() - start))
        options = dataclasses.replace(self.options, timeout=remaining)
        return call_backend(name, model, "solve", options, ""), model, name, var_base
