"""The members of the solve portfolio, one small class each (the interface: base.Strategy).

To add a member: write a Strategy subclass in its own module (`applies`, then `run` for an
in-process search or `start` for a worker), and list it in `default_members`.
"""
from __future__ import annotations

from .base import Events, Outcome, Strategy
from .branch_and_bound import InputBranchAndBound
from .constrained_adjoint import ConstrainedAdjoint
from .enumeration import Enumeration
from .exact import ExactBackend
from .gradient import GradientDescent
from .input_min import InputMinimise
from .neural_adjoint import NeuralAdjoint
from .region_vertices import RegionVertices
from .sampling import Sampling


def default_members(problem) -> list:
    """`--backend auto`: every member that applies. The exact backend always takes part; it
    lowers the problem in its own worker when members run in this process before or beside
    it (lowering with LP bound tightening takes seconds they should not wait for)."""
    quick = [m for m in (Sampling(), GradientDescent(), NeuralAdjoint(), ConstrainedAdjoint()) if m.applies(problem)]
    search = [m for m in (Enumeration(), InputBranchAndBound(), InputMinimise(), RegionVertices())
              if m.applies(problem)]
    return quick + search + [ExactBackend("auto", lower_in_worker=bool(quick or search))]


def member_notes(problem) -> list:
    """What members that do not apply have to say about it (e.g. an enumeration too large)."""
    notes = []
    for m in (Enumeration(), InputMinimise()):
        why = None if m.applies(problem) else m.skipped(problem)
        if why:
            notes.append(why)
    return notes


__all__ = ["Events", "Outcome", "Strategy", "ConstrainedAdjoint", "Enumeration", "ExactBackend", "GradientDescent", "InputBranchAndBound", "InputMinimise",
           "NeuralAdjoint", "RegionVertices", "Sampling", "default_members", "member_notes"]
