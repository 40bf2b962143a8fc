"""pgen: constrained generation and inverse design with neural surrogates.

    import pgen
    problem = pgen.load("specs/inverse/gray_ramp.pgen")
    result = problem.solve(backend="highs")
"""
from .api import Problem, compile_string, load, load_vnnlib

__all__ = ["Problem", "compile_string", "load", "load_vnnlib"]
__version__ = "0.1.0"
