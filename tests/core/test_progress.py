"""The stderr progress bar: counted steps with an ETA, or a proved share without one."""
from __future__ import annotations

import io

from pgen.core import progress as progress_module
from pgen.core.progress import Progress


def test_counted_steps_print_a_line_per_decile_in_a_log():
    out = io.StringIO()
    bar = Progress(20, "cells", stream=out)
    for _ in range(20):
        bar.update()
    lines = out.getvalue().splitlines()
    assert len(lines) == 11  # the first step, then 10 %, 20 %, ... 100 % (a log stays short)
    assert lines[-1].startswith("cells [") and "20/20" in lines[-1] and "eta" in lines[-1]


def test_a_share_shows_percent_without_eta_and_keeps_a_log_alive(monkeypatch):
    out = io.StringIO()
    bar = Progress(1, "proved", stream=out, fraction=True)
    bar.set_fraction(0.905, "(10 boxes)")
    bar.set_fraction(0.906, "(20 boxes)")  # same decile, too soon: no line
    monkeypatch.setattr(progress_module, "LOG_EVERY", 0.0)
    bar.set_fraction(0.907, "(30 boxes)")  # same decile, but LOG_EVERY has passed: a line
    bar.set_fraction(1.0, "(40 boxes)")
    lines = out.getvalue().splitlines()
    assert [line.split("] ")[1].split()[0] for line in lines] == ["90.5", "90.7", "100.0"]
    assert all("eta" not in line and "%" in line for line in lines)
    assert lines[-1].endswith("(40 boxes)")
