"""A small progress bar on stderr for long work (no dependency).

On a terminal it redraws one line; otherwise (CI logs, pipes) it prints a line at every
10 % so logs stay short."""
from __future__ import annotations

import sys
import time


LOG_EVERY = 10.0  # seconds between log lines of a fraction that stays in one decile


class Progress:
    """`total` steps of equal cost (counts and an ETA shown), or with `fraction=True` a
    share in [0, 1] set by `set_fraction` whose pace says nothing of what is left (no ETA:
    the volume a branch and bound has proved grows fast, then slowly)."""

    def __init__(self, total: int, label: str, stream=None, enabled: bool = True, fraction: bool = False):
        self.total = 1000 if fraction else max(int(total), 1)
        self.fraction = fraction
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.done = 0
        self.start = time.perf_counter()
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_decile = -1
        self._last_print = float("-inf")

    def set_fraction(self, frac: float, note: str = ""):
        self.update(int(min(max(frac, 0.0), 1.0) * self.total) - self.done, note)

    def update(self, n: int = 1, note: str = ""):
        self.done += n
        if not self.enabled:
            return
        frac = min(self.done / self.total, 1.0)
        elapsed = time.perf_counter() - self.start
        bar = "#" * int(frac * 24)
        if self.fraction:
            line = f"{self.label} [{bar:<24}] {100 * frac:5.1f} % {elapsed:6.1f} s {note}"
        else:
            eta = elapsed / frac - elapsed if frac > 0 else float("nan")
            line = (f"{self.label} [{bar:<24}] {self.done}/{self.total} {elapsed:6.1f} s"
                    f" eta {eta:5.0f} s {note}")
        if self._tty:
            self.stream.write("\r" + line[:120])
            if self.done >= self.total:
                self.stream.write("\n")
            self.stream.flush()
        else:
            decile = int(frac * 10)
            # a share may sit in one decile for long (the last few % of a proof): then a line
            # every LOG_EVERY seconds, so a log shows the work is alive
            if decile != self._last_decile or (self.fraction and elapsed - self._last_print >= LOG_EVERY):
                self._last_decile = decile
                self._last_print = elapsed
                print(line, file=self.stream, flush=True)

    def clear(self):
        """Wipe the bar's line on a terminal, so that a normal line can be printed there."""
        if self.enabled and self._tty:
            self.stream.write("\r" + " " * 120 + "\r")
            self.stream.flush()

    def close(self):
        if self.enabled and self._tty and self.done < self.total:
            self.stream.write("\n")
