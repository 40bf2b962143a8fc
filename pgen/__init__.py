"""pgen: constrained generation and inverse design with neural surrogates.

    import pgen
    problem = pgen.load("specs/inverse/gray_ramp.pgen")
    result = problem.solve(backend="highs")
    rows = pgen.batch("plan.toml", out="runs/lib")     # many solves; client=dask_client for a cluster
"""
__all__ = ["Problem", "batch", "compile_string", "load", "load_vnnlib"]
from .core.version import VERSION

__version__ = VERSION


def __getattr__(name):
    # lazy: solver workers import pgen.runtime.* and pgen.compiler.* without the front end
    # (every `import pgen.x` runs this file first; the API pulls in lark, scipy and the checker)
    if name == "batch":  # above the API: a batch's tasks load specs through it
        from .batching.run import batch

        return batch
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'pgen' has no attribute {name!r}")
