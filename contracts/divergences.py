"""Known divergences: precise descriptions of where the platform breaks the contract, read from `spec/divergences.yaml`.

An entry excuses a violation only when everything it states holds: the operation, one of its checks,
the response status, the request condition (JSON Schemas over the request's path, query, headers and
body), and where given the response message and the JSON pointer the violation names. A 500 to a NaN
epoch is excused; a 500 to everything is not. Each entry carries a concrete probe request (or says why
it has none) that `contracts.probes` sends to confirm the platform still behaves that way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from contracts.errors import GateError
from contracts.exchange import Exchange, body_of
from contracts.results import Results, Tally, Verdict, Violation
from spec import Contract, Operation, Schema, pointers

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "spec" / "divergences.yaml"
REQUIRED = ("id", "operation", "checks", "status", "platform", "contract", "reference")
FIELDS = (*REQUIRED, "request", "message", "pointer", "probe", "not_probed")
REQUEST_PARTS = ("path", "query", "headers", "body")
PROBE_FIELDS = ("credentials", "path", "query", "headers", "body", "raw_body", "form", "content_type")
REQUEST_FIELDS = PROBE_FIELDS
# Which credential a probe sends: a kind the gate was given, the provisioned job's token, the other user's
# key, session or own job's token (`{other.job_id}`), or none at all.
PROBE_CREDENTIALS = (
    "default",
    "api_key",
    "bearer",
    "job_token",
    "other_api_key",
    "other_bearer",
    "other_job_token",
    "none",
)
# `{job.id}` in a probe value: a value provisioned before the run (see contracts.provisioning).
PLACEHOLDER = re.compile(r"\{([a-z_]+(?:\.[a-z_]+)?)\}")
ID_FORM = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ABSENT = object()


@dataclass(frozen=True)
class Probe:
    """A concrete request that shows the divergence: sent on every run against a real target."""

    credentials: str = "default"
    path: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = _ABSENT
    raw_body: str | None = None
    form: Mapping[str, Any] | None = None
    content_type: str | None = None
    # Requests sent first, each to its own operation, that must succeed (a state the divergence needs).
    setup: tuple[tuple[str, Probe], ...] = ()

    @property
    def has_json_body(self) -> bool:
        """True when the probe sends `body` as JSON."""
        return self.body is not _ABSENT

    def placeholders(self) -> set[str]:
        """Every `{name}` the probe's values use (its setup's included)."""
        found = set(PLACEHOLDER.findall(repr(self._values())))
        for _, step in self.setup:
            found |= step.placeholders()
        return found

    def _values(self) -> list[Any]:
        body = self.body if self.has_json_body else None
        return [self.path, self.query, self.headers, body, self.raw_body, self.form]

    def filled(self, values: Mapping[str, str]) -> Probe:
        """A copy with every placeholder replaced by its value (KeyError naming a missing one)."""
        return Probe(
            credentials=self.credentials,
            path=fill(self.path, values),
            query=fill(self.query, values),
            headers=fill(self.headers, values),
            body=fill(self.body, values) if self.has_json_body else _ABSENT,
            raw_body=fill(self.raw_body, values),
            form=fill(self.form, values),
            content_type=self.content_type,
            setup=tuple((operation, step.filled(values)) for operation, step in self.setup),
        )

    def request_document(self) -> dict[str, Any]:
        """The probe as the request document conditions are written against."""
        headers = {str(k).lower(): str(v) for k, v in self.headers.items()}
        if self.has_json_body:
            body: Any = self.body
        elif self.raw_body is not None:
            body = body_of(self.raw_body, self.content_type or "application/json")
        else:
            body = dict(self.form) if self.form is not None else None
        query = {str(k): v if isinstance(v, list) else str(v) for k, v in self.query.items()}
        return {
            "path": {str(k): str(v) for k, v in self.path.items()},
            "query": query,
            "headers": headers,
            "body": body,
        }


def fill(value: Any, values: Mapping[str, str]) -> Any:
    """`value` with every `{placeholder}` in its strings replaced (KeyError naming a missing one)."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda found: values[found.group(1)], value)
    if isinstance(value, dict):
        return {key: fill(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, values) for item in value]
    return value


@dataclass(frozen=True, eq=False)
class Divergence:
    """One accepted difference between the platform and the contract, stated precisely."""

    id: str
    operation: str
    checks: tuple[str, ...]
    statuses: tuple[int, ...]
    platform: str
    contract: str
    reference: str
    request: Mapping[str, Schema] = field(default_factory=dict)
    message: re.Pattern[str] | None = None
    pointer: str | None = None
    probe: Probe | None = None
    not_probed: str | None = None
    spec_operation: Operation | None = field(default=None, repr=False, compare=False)

    def matches(self, violation: Violation) -> bool:
        """True when this entry excuses `violation`: every condition it states holds."""
        if violation.operation != self.operation or violation.check not in self.checks:
            return False
        if violation.exchange is None or not self.describes(violation.exchange):
            return False
        return self.pointer is None or pointer_under(violation.pointer, self.pointer)

    def describes(self, exchange: Exchange) -> bool:
        """True when the request and response fit the entry (status, request condition, message)."""
        if exchange.status not in self.statuses:
            return False
        if self.message is not None and not self.message.search(exchange.text):
            return False
        return self.request_matches(exchange.request_document())

    def request_matches(self, document: Mapping[str, Any]) -> bool:
        """True when every request part the entry constrains satisfies its schema.

        Path and query values arrive as text; those that parse as their parameter's type are compared
        as that type (`limit=5000` is the integer 5000), the rest stay text (`epoch=abc`).
        """
        typed = {**document, "path": self._typed(document.get("path"), "path")}
        typed["query"] = self._typed(document.get("query"), "query")
        return all(schema.is_valid(typed.get(part)) for part, schema in self.request.items())

    def _typed(self, values: Any, location: str) -> Any:
        if not isinstance(values, Mapping) or self.spec_operation is None:
            return values
        typed = {}
        for name, value in values.items():
            parameter = self.spec_operation.parameter(str(name), location)
            typed[name] = parameter.coerce(value) if parameter is not None and isinstance(value, str) else value
        return typed

    @property
    def summary(self) -> str:
        """What the entry excuses, in one line: status, the parts with a condition, message, pointer."""
        parts = [f"HTTP {'/'.join(str(s) for s in self.statuses)}"]
        if self.request:
            parts.append(f"to a {' and '.join(self.request)} that fits the entry")
        if self.message is not None:
            parts.append(f"saying /{self.message.pattern}/")
        if self.pointer is not None:
            parts.append(f"at {self.pointer}")
        return " ".join(parts)


def pointer_under(pointer: str | None, prefix: str) -> bool:
    """True when `pointer` is `prefix` or below it; a `*` token of the prefix matches any one token."""
    if pointer is None:
        return False
    have, want = pointer.split("/")[1:], prefix.rstrip("/").split("/")[1:]
    return len(have) >= len(want) and all(w in ("*", h) for h, w in zip(have, want, strict=False))


@dataclass(frozen=True)
class Row:
    """The verdict of one check on one operation, with what led to it."""

    tally: Tally
    verdict: Verdict
    known: tuple[tuple[Violation, Divergence], ...]
    new: tuple[Violation, ...]


def load(
    path: str | Path, contract: Contract, checks: Iterable[str], placeholders: Mapping[str, str] | None = None
) -> tuple[Divergence, ...]:
    """Read and check a divergences file; GateError names the entry and the problem.

    A condition may use `$ref: '#/components/schemas/Name'` to say "what the contract accepts": the
    schema is taken from `document` (the dereferenced spec), not restated.
    """
    source = Path(path)
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GateError(f"cannot read known divergences {source}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise GateError(f"{source}: not valid YAML: {exc}") from None
    entries = document.get("divergences") if isinstance(document, dict) else document
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise GateError(f"{source}: expected a list of entries under `divergences`")
    context = _Context(contract, set(checks), dict(placeholders or {}))
    loaded = tuple(_entry(f"{source}: entry {index + 1}", entry, context) for index, entry in enumerate(entries))
    seen: set[str] = set()
    for entry in loaded:
        if entry.id in seen:
            raise GateError(f"{source}: two entries have the id {entry.id!r}")
        seen.add(entry.id)
    return loaded


@dataclass(frozen=True)
class _Context:
    contract: Contract
    checks: set[str]
    # Placeholder name -> a sample value of its kind; empty: any name is accepted.
    placeholders: Mapping[str, str]

    @property
    def operations(self) -> set[str]:
        return set(self.contract.operations)


def _entry(where: str, entry: Any, context: _Context) -> Divergence:
    if not isinstance(entry, Mapping):
        raise GateError(f"{where}: must be a mapping with {', '.join(REQUIRED)}")
    if isinstance(entry.get("id"), str):
        where = f"{where} ({entry['id']})"
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise GateError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
    # YAML reads a bare `400.` as a number; any scalar is fine as prose.
    prose = {k: str(v) if isinstance(v, int | float) else v for k, v in entry.items() if k in ("platform", "contract")}
    for name in REQUIRED:
        if entry.get(name) in (None, "", []):
            raise GateError(f"{where}: `{name}` is required")
    for name in ("id", "operation", "platform", "contract", "reference"):
        value = prose.get(name, entry[name])
        if not isinstance(value, str) or not value.strip():
            raise GateError(f"{where}: `{name}` must be a non-empty string")
    if not ID_FORM.match(entry["id"]):
        raise GateError(f"{where}: `id` must be lower-case words joined by '-'")
    if entry["operation"] not in context.operations:
        raise GateError(f"{where}: no operation {entry['operation']!r} in the spec")
    checks = _checks(where, entry["checks"], context.checks)
    statuses = _statuses(where, entry["status"])
    request = _conditions(where, entry.get("request"), context.contract.resolved)
    message = _message(where, entry.get("message"))
    pointer = entry.get("pointer")
    if pointer is not None and (not isinstance(pointer, str) or not pointer.startswith("/")):
        raise GateError(f"{where}: `pointer` must be a JSON pointer starting with '/'")
    probe, not_probed = _probe_or_reason(where, entry, context.placeholders, context.operations)
    divergence = Divergence(
        id=entry["id"],
        operation=entry["operation"],
        spec_operation=context.contract.operation(entry["operation"]),
        checks=checks,
        statuses=statuses,
        platform=prose["platform"].strip(),
        contract=prose["contract"].strip(),
        reference=str(entry["reference"]),
        request=request,
        message=message,
        pointer=pointer,
        probe=probe,
        not_probed=not_probed,
    )
    if probe is not None:
        samples = {name: context.placeholders.get(name, "sample") for name in probe.placeholders()}
        if not divergence.request_matches(probe.filled(samples).request_document()):
            raise GateError(f"{where}: the probe does not satisfy the entry's own `request` condition")
    return divergence


def _checks(where: str, value: Any, known: set[str]) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise GateError(f"{where}: `checks` must be a check name or a list of them")
    for name in names:
        if name not in known:
            raise GateError(f"{where}: unknown check {name!r}")
    return tuple(names)


def _statuses(where: str, value: Any) -> tuple[int, ...]:
    statuses = value if isinstance(value, list) else [value]
    if not all(isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in statuses):
        raise GateError(f"{where}: `status` must be an HTTP status (100-599) or a list of them")
    return tuple(statuses)


def _conditions(where: str, value: Any, document: Mapping[str, Any]) -> dict[str, Schema]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise GateError(f"{where}: `request` must map {', '.join(REQUEST_PARTS)} to JSON Schemas")
    compiled = {}
    for part, schema in value.items():
        if part not in REQUEST_PARTS:
            raise GateError(f"{where}: `request.{part}`: not a request part ({', '.join(REQUEST_PARTS)})")
        try:
            compiled[part] = Schema(_inlined(where, schema, document))
        except Exception as exc:  # jsonschema-rs raises its own types for invalid schemas
            raise GateError(f"{where}: `request.{part}` is not a valid JSON Schema: {exc}") from None
    return compiled


def _inlined(where: str, schema: Any, document: Mapping[str, Any]) -> Any:
    """`schema` with every `$ref` to the contract's components replaced by the (dereferenced) schema."""
    if isinstance(schema, list):
        return [_inlined(where, item, document) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    reference = schema.get("$ref")
    if isinstance(reference, str):
        target = (
            pointers.get(document, reference.removeprefix("#"))
            if reference.startswith("#/components/")
            else pointers.MISSING
        )
        if target is pointers.MISSING:
            raise GateError(f"{where}: `$ref` {reference!r} names nothing in the contract's components")
        return target
    return {key: _inlined(where, item, document) for key, item in schema.items()}


def _message(where: str, value: Any) -> re.Pattern[str] | None:
    if value is None:
        return None
    try:
        return re.compile(str(value))
    except re.error as exc:
        raise GateError(f"{where}: `message` is not a valid regular expression: {exc}") from None


def _probe_or_reason(
    where: str, entry: Mapping[str, Any], placeholders: Mapping[str, str], operations: set[str]
) -> tuple[Probe | None, str | None]:
    raw, reason = entry.get("probe"), entry.get("not_probed")
    if (raw is None) == (reason is None):
        raise GateError(f"{where}: give either a `probe` request or `not_probed` with the reason, not both")
    if reason is not None:
        if not isinstance(reason, str) or not reason.strip():
            raise GateError(f"{where}: `not_probed` must say why")
        return None, reason.strip()
    if not isinstance(raw, Mapping):
        raise GateError(f"{where}: `probe` must be a mapping ({', '.join(PROBE_FIELDS)})")
    setup = raw.get("setup") or []
    if not isinstance(setup, list):
        raise GateError(f"{where}: `probe.setup` must be a list of requests, each naming its `operation`")
    steps = []
    for index, step in enumerate(setup):
        if not isinstance(step, Mapping) or step.get("operation") not in operations:
            raise GateError(f"{where}: `probe.setup[{index}]` must name an `operation` of the spec")
        fields = {k: v for k, v in step.items() if k != "operation"}
        steps.append((str(step["operation"]), _request(where, f"probe.setup[{index}]", fields, REQUEST_FIELDS)))
    request = {k: v for k, v in raw.items() if k != "setup"}
    probe = replace(_request(where, "probe", request, PROBE_FIELDS), setup=tuple(steps))
    unknown = sorted(probe.placeholders() - set(placeholders)) if placeholders else []
    if unknown:
        known = ", ".join(sorted(placeholders))
        raise GateError(f"{where}: probe placeholder {{{unknown[0]}}} is unknown ({known})")
    return probe, None


def _request(where: str, label: str, raw: Mapping[str, Any], allowed: tuple[str, ...]) -> Probe:
    """One probe request from its YAML mapping; GateError naming the field."""
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise GateError(f"{where}: `{label}.{unknown[0]}` is not a probe field ({', '.join(allowed)})")
    credentials = raw.get("credentials", "default")
    if credentials not in PROBE_CREDENTIALS:
        raise GateError(f"{where}: `{label}.credentials` must be one of {', '.join(PROBE_CREDENTIALS)}")
    bodies = [name for name in ("body", "raw_body", "form") if name in raw]
    if len(bodies) > 1:
        raise GateError(f"{where}: a probe sends one of body, raw_body or form, not {' and '.join(bodies)}")
    for name in ("path", "query", "headers", "form"):
        if name in raw and not isinstance(raw[name], Mapping):
            raise GateError(f"{where}: `{label}.{name}` must be a mapping")
    return Probe(
        credentials=credentials,
        path=dict(raw.get("path") or {}),
        query=dict(raw.get("query") or {}),
        headers={str(k): str(v) for k, v in (raw.get("headers") or {}).items()},
        body=raw.get("body", _ABSENT),
        raw_body=str(raw["raw_body"]) if "raw_body" in raw else None,
        form=dict(raw["form"]) if "form" in raw else None,
        content_type=str(raw["content_type"]) if "content_type" in raw else None,
    )


def matcher(entries: Iterable[Divergence]) -> Any:
    """A `Results` matcher: the first entry that excuses a violation, or None."""
    by_operation: dict[str, list[Divergence]] = {}
    for entry in entries:
        by_operation.setdefault(entry.operation, []).append(entry)

    def match(violation: Violation) -> Divergence | None:
        return next((e for e in by_operation.get(violation.operation, ()) if e.matches(violation)), None)

    return match


def classify(results: Results, *, strict: bool = False) -> list[Row]:
    """The verdict of every recorded (operation, check): failed, known, passed or skipped."""
    rows = []
    for tally in results:
        if tally.violation_count or (tally.known_count and strict):
            verdict = Verdict.FAILED
        elif tally.known_count:
            verdict = Verdict.KNOWN
        elif tally.passes:
            verdict = Verdict.PASSED
        else:
            verdict = Verdict.SKIPPED
        rows.append(Row(tally, verdict, tuple(tally.known), tuple(tally.violations)))
    return rows
