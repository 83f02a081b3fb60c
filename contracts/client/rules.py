"""What the contract asks of a stream client (`x-stream-contract.client`), scaled to a run's time scale.

The bottom of the client package: every bound a case, a check or an adapter uses is read here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts.errors import GateError
from spec import StreamContract

POINTER = "x-stream-contract.client"
# Slack on upper bounds (a client that reconnects "within" a bound): a fixed part for process and network
# latency on a shared machine, and a part proportional to the bound for timers that fire late under load.
SLACK_S = 0.3
SLACK_FRACTION = 0.25


@dataclass(frozen=True)
class ClientRules:
    """The contract's client rules at time scale 1, in milliseconds."""

    reconnect_after_end: bool
    floor_ms: int
    last_event_id: bool
    give_up_statuses: frozenset[int]
    retry_statuses: frozenset[int]
    backoff_initial_ms: int
    backoff_factor: float
    backoff_max_ms: int
    stall_heartbeats: float
    accept: str
    heartbeat_ms: int
    error_event: str

    @classmethod
    def of(cls, stream: StreamContract) -> ClientRules:
        """Read from the stream operation's `x-stream-contract.client`; GateError naming a missing or bad key."""
        raw = stream.rules.get("client")
        if not isinstance(raw, Mapping):
            raise GateError(f"the spec has no {POINTER} section: ftl-gate client needs the client rules there")
        reconnect = _mapping(raw, "reconnect")
        backoff = _mapping(raw, "backoff")
        return cls(
            reconnect_after_end=bool(_value(reconnect, "reconnect.after_end", bool)),
            floor_ms=int(_value(reconnect, "reconnect.floor_ms", int)),
            last_event_id=bool(_value(reconnect, "reconnect.last_event_id", bool)),
            give_up_statuses=_statuses(raw, "give_up_statuses"),
            retry_statuses=_statuses(raw, "retry_statuses"),
            backoff_initial_ms=int(_value(backoff, "backoff.initial_ms", int)),
            backoff_factor=float(_value(backoff, "backoff.factor", (int, float))),
            backoff_max_ms=int(_value(backoff, "backoff.max_ms", int)),
            stall_heartbeats=float(_value(raw, "stall_heartbeats", (int, float))),
            accept=str(_value(raw, "accept", str)),
            heartbeat_ms=stream.heartbeat_interval_ms,
            error_event=stream.error_event,
        )

    def scaled(self, time_scale: float) -> Bounds:
        """The rules' durations at a time scale, in seconds."""
        return Bounds(self, time_scale)


@dataclass(frozen=True)
class Bounds:
    """The client rules at one time scale: every duration in seconds."""

    rules: ClientRules
    time_scale: float

    @property
    def floor_s(self) -> float:
        """No reconnect sooner than this after a connection ended (unless the server sent `retry`)."""
        return self.rules.floor_ms * self.time_scale / 1000.0

    @property
    def backoff_max_s(self) -> float:
        """The longest a client may wait between attempts."""
        return self.rules.backoff_max_ms * self.time_scale / 1000.0

    @property
    def stall_s(self) -> float:
        """Silence after which a connection counts as dead."""
        return self.rules.stall_heartbeats * self.rules.heartbeat_ms * self.time_scale / 1000.0

    def backoff_s(self, failures: int) -> float:
        """The contract's delay after `failures` failed attempts in a row (1: the first retry)."""
        delay = self.rules.backoff_initial_ms * self.rules.backoff_factor ** max(failures - 1, 0)
        return min(delay, self.rules.backoff_max_ms) * self.time_scale / 1000.0

    def reconnect_within_s(self, retry_ms: int | None) -> float:
        """How long after an end a reconnect may take at most: the longest backoff, or the server's `retry`."""
        return max(self.backoff_max_s, (retry_ms or 0) / 1000.0)

    @staticmethod
    def slack(bound_s: float) -> float:
        """What an upper bound of `bound_s` seconds allows beyond itself."""
        return SLACK_S + SLACK_FRACTION * bound_s

    def environment(self) -> dict[str, str]:
        """The scaled bounds as the variables a client under test reads (see the README's protocol)."""
        return {
            "FTL_TIME_SCALE": f"{self.time_scale:g}",
            "FTL_RECONNECT_MS": _ms(self.floor_s),
            "FTL_BACKOFF_FACTOR": f"{self.rules.backoff_factor:g}",
            "FTL_BACKOFF_MAX_MS": _ms(self.backoff_max_s),
            "FTL_STALL_MS": _ms(self.stall_s),
            "FTL_GIVE_UP_STATUSES": ",".join(map(str, sorted(self.rules.give_up_statuses))),
            "FTL_RETRY_STATUSES": ",".join(map(str, sorted(self.rules.retry_statuses))),
        }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g}"


def _mapping(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if not isinstance(value, Mapping):
        raise GateError(f"{POINTER}.{key}: must be a mapping")
    return value


def _value(raw: Mapping[str, Any], where: str, kind: type | tuple[type, ...]) -> Any:
    value = raw.get(where.rsplit(".", 1)[-1])
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise GateError(f"{POINTER}.{where}: is required ({_kind_name(kind)})")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({bool: "true or false", int: "an integer", float: "a number", str: "a string"}[k] for k in kinds)


def _statuses(raw: Mapping[str, Any], key: str) -> frozenset[int]:
    value = raw.get(key)
    if not isinstance(value, list) or not all(isinstance(s, int) and 400 <= s <= 599 for s in value):
        raise GateError(f"{POINTER}.{key}: must be a list of HTTP error statuses (400-599)")
    return frozenset(value)
