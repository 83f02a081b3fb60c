"""The contract gate: property-based HTTP checks (Schemathesis) and stream-aware SSE checks against any backend.

`run_gate(GateSettings(...), progress)` runs it; `ftl-gate` is its command line.
"""

from __future__ import annotations

from contracts.errors import GateError
from contracts.gate import GateRun, run_gate
from contracts.progress import NullProgress
from contracts.results import Verdict, Violation
from contracts.settings import GateSettings

__all__ = ["GateError", "GateRun", "GateSettings", "NullProgress", "Verdict", "Violation", "run_gate"]
