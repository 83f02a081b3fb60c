"""What a gate run found: per operation and check, how often it judged and held, what it violated, why it was skipped.

Every part of the gate (Schemathesis, the stream checks, the live cross-check, the lifecycles) records
into one `Results`. A violation is matched against the known divergences when it is recorded, so a
known one can never crowd a new one out of the kept examples. A check counts as passed only when it
judged at least one response it applies to; the parts call `passed` only then.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contracts.exchange import Exchange

# Distinct violations kept per operation, check and kind (new or known); the rest are only counted.
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
    exchange: Exchange | None = None
    pointer: str | None = None


@dataclass
class Tally:
    """Everything recorded for one (operation, check) pair."""

    operation: str
    check: str
    passes: int = 0
    violations: list[Violation] = field(default_factory=list)
    violation_count: int = 0
    known: list[tuple[Violation, Any]] = field(default_factory=list)
    known_count: int = 0
    # Excused violations by the id of the entry that excused them.
    known_by: Counter[str] = field(default_factory=Counter)
    skip_reasons: list[str] = field(default_factory=list)


@dataclass
class DeclaredServerError:
    """5xx answers an operation declares for a documented condition (not a violation unless asked)."""

    operation: str
    status: int
    condition: str
    count: int = 0
    example: Exchange | None = None


# Finds the known divergence that excuses a violation, or None.
Matcher = Callable[[Violation], Any]


def _no_match(violation: Violation) -> Any:
    return None


class Results:
    """A thread-safe collector of check outcomes, answers seen and requests sent."""

    def __init__(self, matcher: Matcher = _no_match) -> None:
        self._tallies: dict[tuple[str, str], Tally] = {}
        self._lock = threading.Lock()
        self._matcher = matcher
        self.requests = 0
        self.statuses: dict[str, Counter[int]] = {}
        self.declared: dict[tuple[str, int], DeclaredServerError] = {}

    def use(self, matcher: Matcher) -> None:
        """Match later violations against known divergences with `matcher`."""
        self._matcher = matcher

    def _tally(self, operation: str, check: str) -> Tally:
        key = (operation, check)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = Tally(operation, check)
        return tally

    def passed(self, operation: str, check: str, count: int = 1) -> None:
        """Record that `check` judged `count` responses of `operation` and held."""
        with self._lock:
            self._tally(operation, check).passes += count

    def failed(self, violation: Violation) -> None:
        """Record a violation, as known when a divergence excuses it (identical messages are kept once)."""
        entry = self._matcher(violation)
        with self._lock:
            tally = self._tally(violation.operation, violation.check)
            if entry is None:
                tally.violation_count += 1
                if len(tally.violations) < KEPT_VIOLATIONS and all(
                    v.message != violation.message for v in tally.violations
                ):
                    tally.violations.append(violation)
            else:
                tally.known_count += 1
                tally.known_by[str(getattr(entry, "id", entry))] += 1
                if len(tally.known) < KEPT_VIOLATIONS and all(
                    v.message != violation.message or e is not entry for v, e in tally.known
                ):
                    tally.known.append((violation, entry))

    def skipped(self, operation: str, check: str, reason: str) -> None:
        """Record that `check` could not judge anything on `operation`, and why."""
        with self._lock:
            tally = self._tally(operation, check)
            if reason not in tally.skip_reasons:
                tally.skip_reasons.append(reason)

    def answered(self, operation: str, status: int) -> None:
        """Record a status `operation` answered (0 when no answer came)."""
        with self._lock:
            self.statuses.setdefault(operation, Counter())[status] += 1

    def declared_server_error(self, operation: str, status: int, condition: str, example: Exchange | None) -> None:
        """Record a 5xx the operation declares for a documented condition."""
        with self._lock:
            found = self.declared.get((operation, status))
            if found is None:
                found = self.declared[(operation, status)] = DeclaredServerError(operation, status, condition)
            found.count += 1
            if found.example is None:
                found.example = example

    def count_requests(self, count: int = 1) -> None:
        """Add requests the gate sent."""
        with self._lock:
            self.requests += count

    def successes(self, operation: str, success_statuses: Callable[[int], bool]) -> int:
        """How many answers of `operation` had a status for which `success_statuses` holds."""
        with self._lock:
            seen = self.statuses.get(operation, Counter())
            return sum(count for status, count in seen.items() if success_statuses(status))

    def has(self, operation: str, check: str) -> bool:
        """True when anything was recorded for the pair."""
        with self._lock:
            return (operation, check) in self._tallies

    def __iter__(self) -> Iterator[Tally]:
        with self._lock:
            return iter(sorted(self._tallies.values(), key=lambda t: (t.operation, t.check)))

    def __len__(self) -> int:
        return len(self._tallies)

    @property
    def violation_count(self) -> int:
        """All new violations recorded, including repeats."""
        with self._lock:
            return sum(t.violation_count for t in self._tallies.values())
