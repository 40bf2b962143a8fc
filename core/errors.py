"""Source spans and the one user-facing error: `file:line:col: error[E0xx]: message`.

Every error the user can cause is a `PgenError`; the CLI prints `render()`
(the source line, a caret under the span, a hint) and exits with status 1,
never a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Span:
    line: int
    column: int
    end_line: int
    end_column: int
    start_pos: int = 0
    end_pos: int = 0

    @staticmethod
    def unknown() -> "Span":
        return Span(0, 0, 0, 0)


NOSPAN = Span.unknown()

# One code per kind of diagnostic; tests pin the exact text of each.
CODES = {
    "E001": "syntax error",
    "E002": "unexpected end of input",
    "E010": "unknown name",
    "E011": "name declared twice",
    "E012": "shape mismatch",
    "E013": "index out of range",
    "E014": "wrong kind of value",
    "E015": "not linear",
    "E016": "empty domain or interval",
    "E017": "bad data file",
    "E018": "bad option",
    "E020": "network file problem",
    "E021": "unsupported network operation",
    "E022": "network shape mismatch",
    "E023": "bad grid rule",
    "E024": "imported network differs from onnxruntime",
    "E030": "backend cannot take this model",
    "E040": "output problem",
    "E050": "bad batch plan or run folder",
    "E060": "two methods disagree",
}


class PgenError(Exception):
    """An error in the user's input, located in a file when possible."""

    def __init__(self, code: str, message: str, span: Span = NOSPAN,
                 hint: Optional[str] = None, filename: Optional[str] = None,
                 source: Optional[str] = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.span = span
        self.hint = hint
        self.filename = filename
        self.source = source

    def located(self, filename: Optional[str], source: Optional[str]) -> "PgenError":
        """Fill in the file this error belongs to, unless it already names one."""
        if self.filename is None:
            self.filename = filename
        if self.source is None and self.filename == filename:
            self.source = source
        return self

    def render(self) -> str:
        where = self.filename or "<input>"
        span = self.span
        if span.line > 0:
            where = f"{where}:{span.line}:{span.column}"
        lines = [f"{where}: error[{self.code}]: {self.message}"]
        if self.source is not None and span.line > 0:
            src_lines = self.source.splitlines()
            if span.line <= len(src_lines):
                text = src_lines[span.line - 1]
                lines.append(f"  {span.line:>3} | {text}")
                width = 1
                if span.end_line == span.line and span.end_column > span.column:
                    width = span.end_column - span.column
                lines.append("      | " + " " * (span.column - 1) + "^" * width)
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()
