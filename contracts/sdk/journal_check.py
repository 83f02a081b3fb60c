"""Checks each request the mock journalled against the contract: operation, parameters, body, credentials.

One plain function per rule (as Schemathesis does), registered in `REQUEST_CHECKS`; every rule asks the
`spec` package, none restates a path or a schema. Undeclared parameters and foreign headers are warnings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, cast
from urllib.parse import parse_qsl

import httpx

from contracts.checks import Kind, check, of_kind
from contracts.errors import GateError
from contracts.sdk.findings import Finding, failure, warning
from mockserver.client import AdminClientError, MockAdmin
from spec import Contract, Operation

MULTIPART = "multipart/form-data"
FORM = "application/x-www-form-urlencoded"
# Headers of HTTP itself (RFC 9110/9112 and what browsers and fetch add); no contract declares them.
TRANSPORT_HEADERS = frozenset(
    {
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "cache-control",
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "pragma",
        "referer",
        "te",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "sec-fetch-dest",
        "sec-fetch-mode",
        "sec-fetch-site",
    }
)
# The API key format the `bearerApiKey` scheme describes (`Authorization: Bearer wak_…`).
API_KEY_PREFIX = "wak_"
# The parameter extension that says the platform accepts a parameter and does nothing with it.
IGNORED_BY_PLATFORM = "x-ignored-by-platform"
# The journal keeps this many characters of a secret (`mockserver.journal.redact`).
REDACTED_KEEP = 8
ELLIPSIS = "…"


@dataclass(frozen=True)
class JournalEntry:
    """One request as `GET /__mock/journal` shows it (secrets redacted to their first characters)."""

    seq: int
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: str | None
    body_bytes: int
    operation_id: str | None
    credential: str | None
    status: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JournalEntry:
        """An entry from the admin API's JSON."""
        return cls(
            seq=int(data.get("seq") or 0),
            method=str(data["method"]).upper(),
            path=str(data["path"]),
            query=str(data.get("query") or ""),
            headers={str(k).lower(): str(v) for k, v in (data.get("headers") or {}).items()},
            body=data.get("body"),
            body_bytes=int(data.get("body_bytes") or 0),
            operation_id=data.get("operation_id"),
            credential=data.get("credential"),
            status=data.get("status"),
        )

    @property
    def query_pairs(self) -> list[tuple[str, str]]:
        """The query string as (name, value) pairs, in order."""
        return parse_qsl(self.query, keep_blank_values=True)

    @property
    def media_type(self) -> str | None:
        """The media type of the Content-Type header, without parameters."""
        value = self.headers.get("content-type")
        return value.split(";", 1)[0].strip().lower() if value else None

    @property
    def truncated(self) -> bool:
        """True when the journal kept only the start of the body."""
        return (
            self.body is not None and len(self.body.encode("utf-8")) != self.body_bytes and "more bytes)" in self.body
        )


class KnownCredentials:
    """Which scheme a redacted bearer value belongs to, from the tokens the mock holds (sessions, job tokens)."""

    def __init__(self, tokens: Mapping[str, str] | None = None) -> None:
        self._by_prefix: dict[str, set[str]] = {}
        for token, scheme in (tokens or {}).items():
            self._by_prefix.setdefault(token[:REDACTED_KEEP], set()).add(scheme)

    @classmethod
    def from_mock_data(cls, data: Mapping[str, Any]) -> KnownCredentials:
        """Session tokens of the users and the tokens of every job in a `GET /__mock/data` dump."""
        tokens: dict[str, str] = {}
        for user in data.get("users") or []:
            for session in user.get("sessions") or []:
                tokens[str(session)] = "sessionJwt"
        for job in data.get("jobs") or []:
            if job.get("job_token"):
                tokens[str(job["job_token"])] = "jobToken"
        return cls(tokens)

    def schemes_of(self, redacted: str) -> set[str]:
        """The schemes a redacted bearer value can belong to (empty when unknown)."""
        prefix = redacted.removesuffix(ELLIPSIS)[:REDACTED_KEEP]
        return set(self._by_prefix.get(prefix, set()))


def presented_schemes(
    contract: Contract, headers: Mapping[str, str], known: KnownCredentials, journalled: str | None = None
) -> dict[str, set[str]]:
    """The credentials a request carries: header name -> the security schemes its value can be."""
    found: dict[str, set[str]] = {}
    bearer_schemes: dict[str, str] = {}
    for name, definition in contract.security_schemes.items():
        if definition.get("type") == "apiKey" and definition.get("in") == "header":
            header = str(definition["name"]).lower()
            if headers.get(header, "").strip():
                found.setdefault(header, set()).add(name)
        elif definition.get("type") == "http" and str(definition.get("scheme", "")).lower() == "bearer":
            bearer_schemes[name] = str(definition.get("bearerFormat", ""))
    authorization = headers.get("authorization")
    if authorization is not None:
        found["authorization"] = _bearer_schemes(authorization, bearer_schemes, known, journalled)
    return found


def _bearer_schemes(
    value: str, schemes: Mapping[str, str], known: KnownCredentials, journalled: str | None
) -> set[str]:
    kind, _, token = value.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        return set()
    token = token.strip()
    key_schemes = {name for name, fmt in schemes.items() if API_KEY_PREFIX in fmt}
    if token.startswith(API_KEY_PREFIX):
        return key_schemes
    others = set(schemes) - key_schemes
    by_token = known.schemes_of(token) & others
    if by_token:
        return by_token
    if journalled in others:
        return {journalled}
    return others


@dataclass
class RequestContext:
    """One journalled request with what the checks share: its operation, path parameters and parsed body."""

    entry: JournalEntry
    contract: Contract
    known: KnownCredentials
    operation: Operation | None = None
    path_params: dict[str, str] = field(default_factory=dict)


RequestCheck = Callable[[RequestContext], Iterable[Finding]]


@check(Kind.SDK)
def operation_exists(ctx: RequestContext) -> Iterable[Finding]:
    """The method and path are an operation of the contract."""
    if ctx.operation is not None:
        return
    entry = ctx.entry
    allowed = ctx.contract.allowed_methods(entry.path)
    if allowed:
        yield failure(
            "operation_exists", f"method {entry.method} is not declared for {entry.path}; allowed: {', '.join(allowed)}"
        )
    else:
        yield failure(
            "operation_exists", f"no operation of the contract serves {entry.method} {entry.path}", entry.path
        )


@check(Kind.SDK)
def parameters_conform(ctx: RequestContext) -> Iterable[Finding]:
    """Path, query and header parameters are present when required and validate against their schemas."""
    op = ctx.operation
    if op is None:
        return
    for violation in op.check_parameters(ctx.path_params, ctx.entry.query_pairs, ctx.entry.headers):
        param = op.parameter(violation.location.split(".", 1)[0].split("[", 1)[0])
        kind = f"{param.location} parameter" if param is not None else "parameter"
        if violation.rule == "Required":
            yield failure("parameters_conform", f"required {kind} {violation.location} is missing", violation.location)
        else:
            yield failure("parameters_conform", f"{kind} {violation.location}: {violation.message}", violation.location)


@check(Kind.SDK, fails_run=False)
def query_declared(ctx: RequestContext) -> Iterable[Finding]:
    """Every query parameter sent is declared (a warning: the platform ignores the others)."""
    op = ctx.operation
    if op is None:
        return
    declared = {p.name for p in op.parameters_in("query")}
    for name in dict.fromkeys(name for name, _ in ctx.entry.query_pairs):
        if name not in declared:
            listed = ", ".join(sorted(declared)) or "none"
            yield warning("query_declared", f"query parameter {name!r} is not declared (declared: {listed})", name)


@check(Kind.SDK, fails_run=False)
def parameters_used(ctx: RequestContext) -> Iterable[Finding]:
    """No parameter sent is one the contract marks `deprecated` (a warning; `x-ignored-by-platform`: it is a no-op)."""
    op, entry = ctx.operation, ctx.entry
    if op is None:
        return
    sent = {("query", name) for name, _ in entry.query_pairs} | {("header", name) for name in entry.headers}
    for definition in declared_parameters(ctx.contract, op):
        location, name = str(definition.get("in")), str(definition.get("name"))
        key = (location, name.lower() if location == "header" else name)
        if key not in sent or not definition.get("deprecated"):
            continue
        if definition.get(IGNORED_BY_PLATFORM):
            why = "the platform ignores it (x-ignored-by-platform), so it does not do what the caller asks"
        else:
            why = "it is deprecated"
        yield warning("parameters_used", f"sends {location} parameter {name!r}: {why}", name)


def declared_parameters(contract: Contract, op: Operation) -> list[Mapping[str, Any]]:
    """The operation's parameter objects as written (path-level ones too), extensions included."""
    path_item = contract.resolved.get("paths", {}).get(op.path, {})
    merged = {(p.get("name"), p.get("in")): p for p in path_item.get("parameters") or [] if isinstance(p, Mapping)}
    merged.update({(p.get("name"), p.get("in")): p for p in op.raw.get("parameters") or [] if isinstance(p, Mapping)})
    return list(merged.values())


@check(Kind.SDK, fails_run=False)
def headers_used(ctx: RequestContext) -> Iterable[Finding]:
    """Every header sent is one HTTP itself, the security schemes or the operation's parameters use."""
    op = ctx.operation
    if op is None:
        return
    used = set(TRANSPORT_HEADERS) | {"authorization"}
    for definition in ctx.contract.security_schemes.values():
        if definition.get("type") == "apiKey" and definition.get("in") == "header":
            used.add(str(definition["name"]).lower())
    used |= {p.name.lower() for p in op.parameters_in("header")}
    for name in ctx.entry.headers:
        if name not in used:
            yield warning("headers_used", f"header {name!r} is not used by the contract", name)


@check(Kind.SDK)
def content_type_right(ctx: RequestContext) -> Iterable[Finding]:
    """A body is sent when required, with a media type the operation takes; none where it takes none."""
    op, entry = ctx.operation, ctx.entry
    if op is None:
        return
    body = op.request_body
    if entry.body_bytes == 0:
        if body is not None and body.required:
            yield failure("content_type_right", f"the operation requires a body ({', '.join(body.content)})", "body")
        return
    if body is None:
        yield warning("content_type_right", "sends a body the operation does not take", "body")
        return
    media = entry.media_type
    if media is None:
        yield failure(
            "content_type_right", f"body sent without Content-Type; expected {', '.join(body.content)}", "Content-Type"
        )
    elif not op.accepts_media_type(media):
        yield failure(
            "content_type_right",
            f"Content-Type {media} is not one the operation takes ({', '.join(body.content)})",
            "Content-Type",
        )


@check(Kind.SDK)
def body_conforms(ctx: RequestContext) -> Iterable[Finding]:
    """The body parses as its media type and validates against the declared schema."""
    op, entry = ctx.operation, ctx.entry
    if op is None or op.request_body is None or entry.body_bytes == 0:
        return
    media = entry.media_type
    if media is None or not op.accepts_media_type(media):
        return
    if entry.truncated:
        yield warning(
            "body_conforms", f"the journal kept only part of the {entry.body_bytes}-byte body; not validated", "body"
        )
        return
    try:
        parsed = parse_body(entry)
    except ValueError as exc:
        yield failure("body_conforms", f"body is not valid {media}: {exc}", "body")
        return
    for violation in op.check_json_body(parsed, media):
        yield failure("body_conforms", f"{violation.location}: {violation.message}", violation.location)
    schema = op.request_body.content[media].schema
    if schema is not None:
        for path in undeclared_properties(schema.raw, parsed, "body"):
            yield warning(
                "body_conforms", f"{path} is not declared by the request schema (the server ignores it)", path
            )


@check(Kind.SDK)
def credentials_accepted(ctx: RequestContext) -> Iterable[Finding]:
    """The credentials sent are of a scheme the operation accepts; none are sent where none are needed."""
    op, entry = ctx.operation, ctx.entry
    if op is None:
        return
    presented = presented_schemes(ctx.contract, entry.headers, ctx.known, entry.credential)
    accepted = op.scheme_names
    if not presented:
        if op.requires_auth:
            yield failure(
                "credentials_accepted", f"no credentials sent; the operation accepts {_names(accepted)}", "credentials"
            )
        return
    if not op.security or not accepted:
        for header in presented:
            yield warning("credentials_accepted", f"sends {header} to an operation that needs no credentials", header)
        return
    if not any(schemes & accepted for schemes in presented.values()):
        sent = "; ".join(f"{header} ({_names(schemes) or 'unrecognised'})" for header, schemes in presented.items())
        yield failure(
            "credentials_accepted",
            f"credentials of a scheme the operation does not accept: {sent}; it accepts {_names(accepted)}",
            ", ".join(presented),
        )


def _names(schemes: Iterable[str]) -> str:
    return " or ".join(sorted(schemes))


# What `JournalChecker.check` judges of each request the SDK sent, in order.
REQUEST_CHECKS: tuple[RequestCheck, ...] = tuple(cast(RequestCheck, c.function) for c in of_kind(Kind.SDK))
# The checks that can fail a request (the others only warn).
CHECK_NAMES = tuple(c.name for c in of_kind(Kind.SDK) if c.fails_run)


def parse_body(entry: JournalEntry) -> Any:
    """The journalled body parsed per its media type (JSON, URL-encoded or multipart form)."""
    text = entry.body or ""
    media = entry.media_type
    if media == MULTIPART:
        return _multipart_fields(entry.headers.get("content-type", ""), text)
    if media == FORM:
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None


def _multipart_fields(content_type: str, text: str) -> dict[str, Any]:
    raw = f"Content-Type: {content_type}\r\n\r\n".encode() + text.encode("utf-8")
    message = BytesParser(policy=HTTP).parsebytes(raw)
    if not message.is_multipart():
        raise ValueError("no multipart parts found")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        fields[str(name)] = data.decode("utf-8", errors="replace") if part.get_filename() is None else data
    return fields


def undeclared_properties(schema: Any, value: Any, where: str) -> list[str]:
    """Paths of object members a schema does not declare while allowing them (sent, but never read)."""
    if not isinstance(schema, Mapping):
        return []
    found: list[str] = []
    if isinstance(value, Mapping):
        properties = _declared_properties(schema)
        # additionalProperties false (or a schema) and patternProperties already judge the other members.
        judged = schema.get("additionalProperties", True) is not True or "patternProperties" in schema
        for key, member in value.items():
            path = f"{where}.{key}"
            if key in properties:
                found.extend(undeclared_properties(properties[key], member, path))
            elif properties and not judged:
                found.append(path)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            found.extend(undeclared_properties(schema["items"], item, f"{where}[{index}]"))
    return found


def _declared_properties(schema: Mapping[str, Any]) -> dict[str, Any]:
    properties = dict(schema.get("properties") or {})
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            if isinstance(sub, Mapping):
                properties.update(_declared_properties(sub))
    return properties


@dataclass(frozen=True)
class CheckedRequest:
    """A journalled request, the operation it reached (if any) and what the checks found."""

    entry: JournalEntry
    operation_id: str | None
    findings: tuple[Finding, ...]

    @property
    def failed(self) -> bool:
        """True when a finding fails the run."""
        return any(f.is_failure for f in self.findings)


class JournalChecker:
    """Runs every request check on journalled requests."""

    def __init__(
        self, contract: Contract, known: KnownCredentials | None = None, checks: Sequence[RequestCheck] = REQUEST_CHECKS
    ) -> None:
        self.contract = contract
        self.known = known or KnownCredentials()
        self.checks = tuple(checks)

    def check(self, entry: JournalEntry) -> CheckedRequest:
        """The findings on one request."""
        ctx = RequestContext(entry, self.contract, self.known)
        matched = self.contract.match(entry.method, entry.path)
        if matched is not None:
            ctx.operation, ctx.path_params = matched[0], dict(matched[1])
        findings = tuple(finding for check in self.checks for finding in check(ctx))
        return CheckedRequest(entry, ctx.operation.operation_id if ctx.operation else None, findings)

    def check_all(self, entries: Iterable[JournalEntry]) -> list[CheckedRequest]:
        """The findings on each request, in journal order."""
        return [self.check(entry) for entry in entries]


class SdkAdmin(MockAdmin):
    """The mock's admin API as the SDK checks use it: `MockAdmin`, with its failures as GateError."""

    def call(
        self, name: str, *, params: Mapping[str, Any] | None = None, body: Any = None, **path: str
    ) -> httpx.Response:
        try:
            return super().call(name, params=params, body=body, **path)
        except httpx.HTTPError as exc:
            raise GateError(f"mock admin API unreachable at {self.base}: {exc}") from None
        except AdminClientError as exc:
            raise GateError(f"mock admin API {exc}") from None

    def journal(self) -> list[JournalEntry]:
        """Every journalled request, oldest first; GateError when the journal dropped some."""
        data = self.call("get_journal").json()
        entries = [JournalEntry.from_json(e) for e in data.get("entries") or []]
        if int(data.get("total") or 0) > len(entries):
            raise GateError(
                f"the mock journal holds {len(entries)} of {data['total']} requests; "
                "start the mock with a larger --journal-size"
            )
        return entries

    def known_credentials(self) -> KnownCredentials:
        """The session and job tokens the mock holds now."""
        return KnownCredentials.from_mock_data(self.get_data(secrets=True))
