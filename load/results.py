"""Reading what Locust wrote: its stats JSON, entry by entry, as counts, bytes, percentiles and series.

Entry names are `<kind>: <detail>` (`poll: get_prediction_trends`, `event: prediction`; see load.entries);
a kind groups the entries a comparison counts together.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from load.entries import detail_of, kind_of


@dataclass(frozen=True)
class Entry:
    """One Locust statistics entry (a request name and type)."""

    name: str
    requests: int
    failures: int
    content_bytes: int
    response_times: dict[int, int]
    per_second: dict[int, int]

    @property
    def kind(self) -> str:
        return kind_of(self.name)

    @property
    def detail(self) -> str:
        return detail_of(self.name)


def percentile(histogram: dict[int, int], fraction: float) -> float | None:
    """The value at `fraction` of a {value: count} histogram, or None when it is empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    needed = fraction * total
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= needed:
            return float(value)
    return float(max(histogram))


def read_entries(stats_json: Path) -> list[Entry]:
    """The entries of a Locust `--json-file` report."""
    raw = json.loads(stats_json.read_text(encoding="utf-8"))
    return [
        Entry(
            name=str(item["name"]),
            requests=int(item["num_requests"]),
            failures=int(item["num_failures"]),
            content_bytes=int(item.get("total_content_length") or 0),
            response_times={int(k): int(v) for k, v in (item.get("response_times") or {}).items()},
            per_second={int(k): int(v) for k, v in (item.get("num_reqs_per_sec") or {}).items()},
        )
        for item in raw
    ]


def find(entries: list[Entry], name: str) -> Entry | None:
    """The entry with this exact name, if any."""
    return next((e for e in entries if e.name == name), None)


def by_kind(entries: list[Entry], kind: str) -> list[Entry]:
    """Every entry of one kind."""
    return [e for e in entries if e.kind == kind]


def count(entries: list[Entry], kind: str) -> int:
    """Requests (or measurements) of one kind."""
    return sum(e.requests for e in by_kind(entries, kind))


def merged(entries: list[Entry]) -> dict[int, int]:
    """The response-time histogram of several entries together."""
    total: Counter[int] = Counter()
    for entry in entries:
        total.update(entry.response_times)
    return dict(total)


def latency(entries: list[Entry]) -> dict[str, float | None]:
    """Median and p99 (ms) of several entries together."""
    histogram = merged(entries)
    return {
        "median": percentile(histogram, 0.5),
        "p99": percentile(histogram, 0.99),
        "samples": sum(histogram.values()),
    }


def series(entries: list[Entry]) -> dict[int, int]:
    """Requests per wall-clock second (epoch seconds) of several entries together."""
    total: Counter[int] = Counter()
    for entry in entries:
        total.update(entry.per_second)
    return dict(sorted(total.items()))


def to_jsonable(value: Any) -> Any:
    """Floats to six significant digits for reports (a time scale of 1/60 must stay exact enough to chart)."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    return value
