"""What a gate run found: per operation and check, how often it passed, what it violated, why it was skipped.

Every part of the gate (Schemathesis, the stream checks, the live cross-check) records into one `Results`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

# Distinct violations kept per operation and check; the rest are only counted.
KEPT_VIOLATIONS = 5


class Verdict(StrEnum):
    """The outcome of one check on one operation."""

    PASSED = "passed"
    FAILED = "failed"
    KNOWN = "known"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Violation:
    """One broken rule: where, which check, what happened, and how to reproduce it."""

    operation: str
    check: str
    message: str
    curl: str | None = None
    response: str | None = None


@dataclass
class Tally:
    """Everything recorded for one (operation, check) pair."""

    operation: str
    check: str
    passes: int = 0
    violations: list[Violation] = field(default_factory=list)
    violation_count: int = 0
    skip_reasons: list[str] = field(default_factory=list)


class Results:
    """A thread-safe collector of check outcomes and of the number of requests the gate sent."""

    def __init__(self) -> None:
        self._tallies: dict[tuple[str, str], Tally] = {}
        self._lock = threading.Lock()
        self.requests = 0

    def _tally(self, operation: str, check: str) -> Tally:
        key = (operation, check)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = Tally(operation, check)
        return tally

    def passed(self, operation: str, check: str, count: int = 1) -> None:
        """Record that `check` held for `operation` (`count` times)."""
        with self._lock:
            self._tally(operation, check).passes += count

    def failed(self, violation: Violation) -> None:
        """Record a violation (identical messages are counted once)."""
        with self._lock:
            tally = self._tally(violation.operation, violation.check)
            tally.violation_count += 1
            if len(tally.violations) < KEPT_VIOLATIONS and all(
                v.message != violation.message for v in tally.violations
            ):
                tally.violations.append(violation)

    def skipped(self, operation: str, check: str, reason: str) -> None:
        """Record that `check` could not run on `operation`, and why."""
        with self._lock:
            tally = self._tally(operation, check)
            if reason not in tally.skip_reasons:
                tally.skip_reasons.append(reason)

    def count_requests(self, count: int = 1) -> None:
        """Add requests the gate sent."""
        with self._lock:
            self.requests += count

    def __iter__(self) -> Iterator[Tally]:
        with self._lock:
            return iter(sorted(self._tallies.values(), key=lambda t: (t.operation, t.check)))

    def __len__(self) -> int:
        return len(self._tallies)

    @property
    def violation_count(self) -> int:
        """All violations recorded, including repeats."""
        with self._lock:
            return sum(t.violation_count for t in self._tallies.values())
