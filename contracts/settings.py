"""Settings of one gate run; every field has a CLI flag and an `FTL_GATE_*` environment variable.

The defaults run the whole contract against the embedded mock in well under three minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from contracts.divergences import DEFAULT_FILE

# Examples per operation and phase; the default run stays under three minutes on two shared cores.
DEFAULT_MAX_EXAMPLES = 50
# The embedded mock runs 20x faster, so a heartbeat comes every 0.75 s instead of 15 s.
EMBEDDED_TIME_SCALE = 0.05


@dataclass(frozen=True)
class GateSettings:
    """What to check, against what, with which credentials and bounds, and where to report."""

    base_url: str | None = None
    spec: str | None = None
    api_key: str | None = None
    bearer: str | None = None
    job_token: str | None = None
    other_api_key: str | None = None
    other_bearer: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_examples: int = DEFAULT_MAX_EXAMPLES
    seed: int | None = None
    stateful: bool = True
    junit_xml: Path | None = None
    report: Path | None = None
    known_divergences: Path = DEFAULT_FILE
    strict: bool = False
    stream_events: int = 200
    stream_seconds: float | None = None
    time_scale: float | None = None
    heartbeat_tolerance: float = 0.5
    delivery_bound: float = 5.0
    live: bool = True
    stream_job: str | None = None
    request_timeout: float = 10.0
    quiet: bool = False
    # Ids of existing resources to use where the gate cannot create its own (`job`, `dataset`, …).
    existing: Mapping[str, str] = field(default_factory=dict)
    # `allow`: a 5xx the contract declares for a documented condition is reported, not failed; `fail`: it fails.
    declared_server_errors: str = "allow"
    # A design from spec/designs/ (or an overlay file): its contract is checked, and the embedded mock serves it.
    design: str | None = None

    @property
    def embedded(self) -> bool:
        """True when the gate starts its own mock."""
        return not self.base_url

    @property
    def effective_time_scale(self) -> float:
        """The target's time scale: the flag, else 1 for remote targets and the embedded mock's own."""
        if self.time_scale is not None:
            return self.time_scale
        return EMBEDDED_TIME_SCALE if self.embedded else 1.0
