"""Injected faults per operation: added latency, an error status with a probability, a dropped connection.

Set through `PUT /__mock/faults` as `{"<operationId>" | "*": {latency_ms, error_status, error_probability,
drop_connection}}`; an operation's own entry wins over `*`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

WILDCARD = "*"
FIELDS = ("latency_ms", "error_status", "error_probability", "drop_connection")


class FaultError(ValueError):
    """A fault table that cannot be used; the message names the entry and the field."""


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to the requests of one operation; `drop_connection` is a probability (true = 1)."""

    latency_ms: float = 0.0
    error_status: int | None = None
    error_probability: float = 1.0
    drop_connection: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The fault as the admin API shows it."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Decision:
    """The fault drawn for one request."""

    latency_s: float
    error_status: int | None
    drop: bool


NO_FAULT = Decision(0.0, None, False)


class Faults:
    """The fault table of one mock."""

    def __init__(self, operation_ids: Iterable[str], seed: int | None = None) -> None:
        self.operation_ids = frozenset(operation_ids)
        self._table: dict[str, Fault] = {}
        self._random = random.Random(seed)

    def __bool__(self) -> bool:
        return bool(self._table)

    def replace(self, table: Any) -> None:
        """Install a new table (checked as a whole: nothing changes when any entry is wrong)."""
        if not isinstance(table, Mapping):
            raise FaultError('faults: must be an object of {"<operationId>" or "*": {fault fields}}')
        parsed = {str(name): self._parse(str(name), spec) for name, spec in table.items()}
        self._table = parsed

    def clear(self) -> None:
        """Remove every fault."""
        self._table = {}

    def as_json(self) -> dict[str, Any]:
        """The table as the admin API shows it."""
        return {name: fault.as_json() for name, fault in self._table.items()}

    def draw(self, operation_id: str) -> Decision:
        """The fault for one request of `operation_id` (NO_FAULT when none applies)."""
        fault = self._table.get(operation_id) or self._table.get(WILDCARD)
        if fault is None:
            return NO_FAULT
        chance = self._random.random
        drop = fault.drop_connection > 0 and chance() < fault.drop_connection
        error = fault.error_status if fault.error_status is not None and chance() < fault.error_probability else None
        return Decision(fault.latency_ms / 1000.0, error, drop)

    def _parse(self, name: str, spec: Any) -> Fault:
        if name != WILDCARD and name not in self.operation_ids:
            raise FaultError(f"faults.{name}: no operation has this operationId (use one of the spec's or '*')")
        if not isinstance(spec, Mapping):
            raise FaultError(f"faults.{name}: must be an object with any of {', '.join(FIELDS)}")
        unknown = sorted(set(spec) - set(FIELDS))
        if unknown:
            raise FaultError(f"faults.{name}: unexpected fields {', '.join(unknown)} (allowed: {', '.join(FIELDS)})")
        latency = _number(spec.get("latency_ms", 0), f"faults.{name}.latency_ms", 0, 600_000)
        status = spec.get("error_status")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599):
            raise FaultError(f"faults.{name}.error_status: must be an integer from 400 to 599")
        probability = _number(spec.get("error_probability", 1.0), f"faults.{name}.error_probability", 0, 1)
        drop_raw = spec.get("drop_connection", False)
        drop = (
            float(drop_raw) if isinstance(drop_raw, bool) else _number(drop_raw, f"faults.{name}.drop_connection", 0, 1)
        )
        return Fault(latency, status, probability, drop)


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise FaultError(f"{where}: must be a number from {low:g} to {high:g}")
    return float(value)
