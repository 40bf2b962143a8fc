"""pgen: constrained generation and inverse design with neural surrogates.

    import pgen
    problem = pgen.load("specs/inverse/gray_ramp.pgen")
    result = problem.solve(backend="highs")
"""
__all__ = ["Problem", "compile_string", "load", "load_vnnlib"]
__version__ = "0.1.0"


def __getattr__(name):
    # lazy: solver workers import pgen.runtime.* and pgen.compiler.* without the front end
    # (every `import pgen.x` runs this file first; the API pulls in lark, scipy and the checker)
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'pgen' has no attribute {name!r}")
