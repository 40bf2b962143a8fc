"""Front ends: .pgen text -> AST (and back); VNNLIB -> AST."""
from ..core.errors import PgenError
from .parser import parse
from .printer import format_spec

__all__ = ["PgenError", "parse", "format_spec"]
