"""pgen: constrained generation and inverse design with neural surrogates.

    import pgen
    problem = pgen.load("specs/inverse/gray_ramp.pgen")
    result = problem.solve(backend="highs")
"""
from .api import Problem, compile_string, load

__all__ = ["Problem", "compile_string", "load"]
__version__ = "0.1.0"
