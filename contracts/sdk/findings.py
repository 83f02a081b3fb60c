"""What the SDK checks find: one finding per broken rule, with the field it concerns and how bad it is.

Failures fail the run (exit 1); warnings (undeclared parameters, headers the spec does not use) are only shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How a finding counts."""

    FAILURE = "failure"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One broken rule: the check, what is wrong, and the request field or result field it is about."""

    check: str
    message: str
    field: str | None = None
    severity: Severity = Severity.FAILURE

    @property
    def is_failure(self) -> bool:
        """True when the finding fails the run."""
        return self.severity is Severity.FAILURE

    def __str__(self) -> str:
        return self.message

    def as_json(self) -> dict[str, str | None]:
        """The finding as plain data."""
        return {"check": self.check, "severity": self.severity.value, "field": self.field, "message": self.message}


def failure(check: str, message: str, field: str | None = None) -> Finding:
    """A finding that fails the run."""
    return Finding(check, message, field, Severity.FAILURE)


def warning(check: str, message: str, field: str | None = None) -> Finding:
    """A finding that is reported but does not fail the run."""
    return Finding(check, message, field, Severity.WARNING)
