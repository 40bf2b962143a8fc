"""A small progress bar on stderr for long work (no dependency).

On a terminal it redraws one line; otherwise (CI logs, pipes) it prints a line at every
10 % so logs stay short."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, stream=None, enabled: bool = True):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.done = 0
        self.start = time.perf_counter()
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_decile = -1

    def update(self, n: int = 1, note: str = ""):
        self.done += n
        if not self.enabled:
            return
        frac = min(self.done / self.total, 1.0)
        elapsed = time.perf_counter() - self.start
        eta = elapsed / frac - elapsed if frac > 0 else float("nan")
        bar = "#" * int(frac * 24)
        line = (f"{self.label} [{bar:<24}] {self.done}/{self.total} {elapsed:6.1f} s"
                f" eta {eta:5.0f} s {note}")
        if self._tty:
            self.stream.write("\r" + line[:120])
            if self.done >= self.total:
                self.stream.write("\n")
            self.stream.flush()
        else:
            decile = int(frac * 10)
            if decile != self._last_decile:
                self._last_decile = decile
                print(line, file=self.stream, flush=True)

    def close(self):
        if self.enabled and self._tty and self.done < self.total:
            self.stream.write("\n")
