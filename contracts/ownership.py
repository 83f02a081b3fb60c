"""Ownership: another user must not read, change, delete, stream or take over what the first user owns.

For every selected operation that names a resource (a path, query or body parameter that the spec's links
bind to a kind, a creator's reference to another kind, or the id an upsert chooses; see
`contracts.provisioning`), the gate creates a fresh resource as the first user and sends the operation as
the second user with that resource's id in that parameter, one parameter at a time (the others name the
second user's own resources). A write is also watched from the owner's side: the owner's linked reads
before and after it. Each attempt is judged by the rules of `OWNERSHIP_CHECKS`; the contract's own
description of a request (its example) is what is sent, with the other user's marker in its free text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, cast
from urllib.parse import urlencode

import httpx

from contracts import checks
from contracts.credentials import SCHEME_CREDENTIAL, Authenticator, Credentials
from contracts.curl import curl
from contracts.examples import is_form, request_example
from contracts.exchange import Exchange, build
from contracts.progress import Progress
from contracts.provisioning import (
    BY_NAME,
    KINDS,
    OTHER,
    OWNER_DICTIONARY,
    OWNER_FIELD,
    RESPONSE_BODY,
    Kind,
    Provisioner,
    body_bytes,
    id_pointer,
    kind_of,
    named_resources,
    streams,
)
from contracts.results import Results, Violation
from spec import Contract, Operation, pointers

CROSS_USER_ACCESS = "cross_user_access"
# Statuses with which the contract says "not yours" (§1.5: another user's resource is a 404, sometimes a 403).
REJECTIONS = ("403", "404")
READS = ("GET", "HEAD")
# Written into the free-text fields of the other user's writes, so that the owner's reads show where it landed.
MARKER = "ftl-gate-other-user-{run}"
# A string whose schema has one of these is no free text (the marker would break the request).
FREE_TEXT_RULES = ("enum", "const", "format", "pattern", "contentMediaType", "contentEncoding")
BILLED = "an accepted request would start a billed deployment"
NO_CREDENTIALS = "no credentials of another user for it (--other-api-key, --other-bearer)"


@dataclass(frozen=True)
class Read:
    """One read of the owner's resource by its owner."""

    operation: str
    status: int
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Attempt:
    """The other user's request on the owner's resource, its answer, and what the owner read around it."""

    operation: Operation
    kind: str
    # Where the owner's id went (`/path/jobId`, `/body/predictions/0/job_id`) and the id itself.
    pointer: str
    value: str
    sent: Exchange
    before: tuple[Read, ...] = ()
    after: tuple[Read, ...] = ()
    # Values of the owner's resource nobody else may receive (a job's token).
    secrets: tuple[str, ...] = ()
    marker: str | None = None
    credentials: str = "the other user's credentials"


Rule = Callable[[Attempt], list[str]]


@checks.check(checks.Kind.OWNERSHIP)
def cross_user_access(attempt: Attempt) -> list[str]:
    """Another user's request on the owner's resource is refused and changes nothing the owner sees.

    A success fails where the operation declares how it refuses someone else's resource (403 or 404);
    where it declares no refusal (a delete that answers 200 whatever it matched), the owner's reads
    decide: the owner must still reach the resource, and not see what the other user wrote.
    """
    found = []
    sent = attempt.sent
    what = f"the first user's {attempt.kind} {attempt.value!r} at {attempt.pointer}"
    declared = [status for status in REJECTIONS if status in attempt.operation.responses]
    if 200 <= sent.status < 300 and declared:
        found.append(
            f"with {attempt.credentials}, HTTP {sent.status} for {what}: another user's resource must be "
            "refused as an unknown one is"
        )
    if any(secret in sent.text for secret in attempt.secrets if secret):
        found.append(f"the answer to {attempt.credentials} carries the token of {what}")
    for before, after in zip(attempt.before, attempt.after, strict=True):
        if before.ok and not after.ok:
            found.append(
                f"afterwards the owner's {after.operation} answered HTTP {after.status} for it "
                f"(HTTP {before.status} before): the owner lost it"
            )
        elif attempt.marker and attempt.marker in after.text and attempt.marker not in before.text:
            found.append(f"afterwards the owner's {after.operation} shows what the other user wrote")
    return found


OWNERSHIP_CHECKS: Mapping[str, Rule] = MappingProxyType(
    {c.name: cast(Rule, c.function) for c in checks.of_kind(checks.Kind.OWNERSHIP)}
)


# --- which parameter names whose resource ----------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """A parameter that names a resource: where it is (`body`, `/predictions/*/job_id`) and what it names."""

    location: str
    pattern: str
    name: str

    @property
    def kind(self) -> Kind:
        return kind_of(self.name)


def resource_slots(contract: Contract) -> dict[str, tuple[Slot, ...]]:
    """Per operation, every parameter that names a resource someone owns.

    The bound parameters of `named_resources`, plus, for each creator, the fields of its request that
    name other kinds (`refs`) and the id it chooses itself when its body carries one (an upsert:
    `create_job`'s `job_id` names a job that may already be someone else's).
    """
    found: dict[str, list[Slot]] = {}
    for operation_id, keys in named_resources(contract).items():
        found[operation_id] = [_slot(key, name) for key, name in keys.items()]
    for kind in KINDS:
        slots = found.setdefault(kind.creator, [])
        slots.extend(Slot("body", pointer, name) for pointer, name in kind.refs.items())
        chosen = pointers.parse(id_pointer(contract.operation(kind.creator)))
        if len(chosen) == 1 and chosen[0] in _body_schema(contract.operation(kind.creator)).get("properties", {}):
            slots.append(Slot("body", pointers.join(*chosen), kind.name))
    return {operation: tuple(slots) for operation, slots in found.items() if slots}


def _slot(key: str, name: str) -> Slot:
    location, _, path = key.partition(".")
    tokens = path.replace("[*]", ".*").split(".")
    return Slot(location, pointers.join(*tokens), name)


def _body_schema(operation: Operation) -> Mapping[str, Any]:
    body = operation.request_body
    media = next(iter(body.content.values()), None) if body is not None else None
    raw = media.schema.raw if media is not None and media.schema is not None else None
    return raw if isinstance(raw, Mapping) else {}


def free_text(body: Any, schema: Mapping[str, Any], marker: str, skip: Iterable[str] = ()) -> Any:
    """`body` with `marker` in every string the schema leaves free (no enum, format or pattern), except at `skip`."""
    skipped = set(skip)

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, dict):
            return {key: walk(value, pointers.join(*pointers.parse(where), key)) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value, f"{where}/{index}") for index, value in enumerate(node)]
        if isinstance(node, str) and where not in skipped and _is_free_text(pointers.schema_at(schema, where)):
            return marker
        return node

    return walk(body, "")


def _is_free_text(schema: Mapping[str, Any]) -> bool:
    types = schema.get("type")
    allowed = types if isinstance(types, list) else [types]
    return "string" in allowed and not any(rule in schema for rule in FREE_TEXT_RULES)


# --- running the attempts ----------------------------------------------------------------------------


@dataclass
class _Victim:
    """A resource of the first user's, made for the ownership check (or given with --existing)."""

    values: dict[str, str]
    reads: list[tuple[Operation, dict[str, str]]] = field(default_factory=list)


class Ownership:
    """Creates the owner's resources, sends the other user's attempts on them and judges each one."""

    def __init__(
        self,
        contract: Contract,
        owner: Provisioner,
        other: Credentials,
        results: Results,
        progress: Progress | None = None,
    ) -> None:
        self.contract = contract
        self.owner = owner
        self.results = results
        self.progress = progress
        self.slots = resource_slots(contract)
        self.marker = MARKER.format(run=owner.resources.run)
        self.other_auth = Authenticator(contract, other)
        self.other = Provisioner(contract, self.other_auth, owner.base_url, results, timeout=owner.timeout)
        self.given = other
        self._victims: dict[str, _Victim | str] = {}
        self._other_job: dict[str, str] | str | None = None
        self.warnings: list[str] = []

    # --- the other user's own job -----------------------------------------------------------------------

    def provide_other(self) -> dict[str, str] | str:
        """The other user's own job (`job_id`, `job_token`, `user_id`), created once; or why there is none."""
        if self._other_job is None:
            self._other_job = self._create_other_job()
            values = self.owner.resources.values
            if isinstance(self._other_job, dict):
                values.update({f"{OTHER}.{name}": value for name, value in self._other_job.items()})
            else:
                self.owner.resources.missing[OTHER] = self._other_job
        return self._other_job

    def _create_other_job(self) -> dict[str, str] | str:
        if not self.other_auth.credentials.kinds():
            return "no credentials of another user (--other-api-key, --other-bearer)"
        with httpx.Client(timeout=self.owner.timeout) as client:
            created = self.other.create(client, BY_NAME["job"])
        if isinstance(created, str):
            return f"as the other user, {created}"
        return {"job_id": created["id"], "job_token": created.get("token", ""), "user_id": created.get("user_id", "")}

    # --- the run --------------------------------------------------------------------------------------

    def run(self, selected: Sequence[str]) -> None:
        """Try every selected operation that names a resource as the other user, and record the verdicts."""
        chosen = [op for op in selected if op in self.contract.operations]
        if self.progress is not None:
            self.progress.start("ownership", total=len(chosen))
        self._check_other_credentials()
        with httpx.Client(timeout=self.owner.timeout) as client:
            for operation_id in chosen:
                self._operation(client, self.contract.operation(operation_id))
                if self.progress is not None:
                    self.progress.advance("ownership")
        if self.progress is not None:
            self.progress.finish("ownership")

    def _check_other_credentials(self) -> None:
        """Drop a credential of the other user the target rejects, so no refusal is mistaken for an owner check."""
        kept = {}
        for kind in ("api_key", "bearer"):
            secret = getattr(self.given, kind)
            if not secret:
                continue
            status = self._accepted(Credentials(**{kind: secret}))
            if status in (401, 403):
                self.warnings.append(f"the other user's {kind.replace('_', ' ')} was rejected (HTTP {status})")
            else:
                kept[kind] = secret
        self.other_auth.credentials = Credentials(**kept)

    def _accepted(self, credentials: Credentials) -> int | None:
        alone = Authenticator(self.contract, credentials)
        for operation in self.contract.operations.values():
            if operation.method != "GET" or streams(operation) or any(p.required for p in operation.parameters):
                continue
            headers = alone.headers_for(operation) if operation.requires_auth else None
            if headers is None:
                continue
            self.results.count_requests()
            try:
                return httpx.get(
                    self.owner.base_url + operation.path, headers=headers, timeout=self.owner.timeout
                ).status_code
            except httpx.HTTPError:
                return None
        return None

    def _operation(self, client: httpx.Client, operation: Operation) -> None:
        name = operation.operation_id
        slots = self.slots.get(name, ())
        if not operation.requires_auth:
            self._skip(name, "does not apply: the operation needs no credentials (public by design)")
            return
        if not slots:
            self._skip(name, "does not apply: the operation names no resource another user could own")
            return
        owned = [slot for slot in slots if slot.kind.shared is None]
        if not owned:
            self._skip(name, f"does not apply: {slots[0].kind.shared}")
            return
        creator = next((kind for kind in KINDS if kind.creator == name), None)
        if creator is not None and creator.billed and not self.owner.billed:
            self._skip(name, f"not tried against a --base-url target: {BILLED}")
            return
        for slot in owned:
            for attempt in self._attempts(client, operation, slot, owned, creator):
                if isinstance(attempt, str):
                    self._skip(name, attempt)
                    continue
                for check, rule in OWNERSHIP_CHECKS.items():
                    findings = rule(attempt)
                    if findings:
                        self._violation(check, attempt, findings)
                    else:
                        self.results.passed(name, check)

    def _attempts(
        self, client: httpx.Client, operation: Operation, slot: Slot, owned: list[Slot], creator: Kind | None
    ) -> Iterable[Attempt | str]:
        other = self._other_values(operation)
        if isinstance(other, str):
            yield other
            return
        claims_owner = OWNER_FIELD in _body_schema(operation).get("properties", {}) and bool(other.get("user_id"))
        variants = [("the other user's credentials", self._headers(operation, other), False)]
        if claims_owner:
            variants.append(("no credentials and the other user's id in the body", {}, True))
        for credentials, headers, claimed in variants:
            if headers is None:
                yield self._no_credentials()
                continue
            victim = self._victim(client, slot.kind)
            if isinstance(victim, str):
                yield f"no {slot.kind.name} of the first user: {victim}"
                return
            value = victim.values.get("user_id" if slot.name == OWNER_DICTIONARY else "id", "")
            body = self._body(operation, slot, value, owned, creator, other)
            if claimed:
                body = pointers.replaced(body, pointers.join(OWNER_FIELD), other["user_id"])
            request = (*self._parameters(slot, value, owned, other), body)
            attempt = self._attempt(client, operation, slot, value, victim, request, headers, credentials)
            yield attempt
            if any(before.ok and not after.ok for before, after in zip(attempt.before, attempt.after, strict=True)):
                # The owner lost it: the next attempt gets a fresh one.
                self._victims.pop(slot.kind.name, None)

    def _attempt(
        self,
        client: httpx.Client,
        operation: Operation,
        slot: Slot,
        value: str,
        victim: _Victim,
        request: tuple[dict[str, str], dict[str, str], Any],
        headers: dict[str, str],
        credentials: str,
    ) -> Attempt:
        path_params, query, body = request
        write = operation.method not in READS
        before = self._read_all(client, victim) if write else []
        path = operation.path_for(**path_params) if path_params else operation.path
        response = self.owner.send(client, operation, headers=headers, body=body, path=path, query=query or None)
        after = self._read_all(client, victim) if write else []
        url = self.owner.base_url + path + (f"?{urlencode(query)}" if query else "")
        sent = build(
            method=operation.method,
            url=str(response.request.url) if response is not None else url,
            path_params=path_params,
            headers=headers,
            body=None,
            status=response.status_code if response is not None else 0,
            response_headers=dict(response.headers) if response is not None else {},
            content=body_bytes(response) if response is not None else None,
        )
        sent = replace(sent, body=body)
        concrete = self._concrete(slot, body)
        return Attempt(
            operation=operation,
            kind=slot.kind.name if slot.name != OWNER_DICTIONARY else "job's owner",
            pointer=f"/{slot.location}{concrete}",
            value=value,
            sent=sent,
            before=tuple(before),
            after=tuple(after),
            secrets=tuple(v for k, v in victim.values.items() if k == "token"),
            marker=self.marker if write else None,
            credentials=credentials,
        )

    @staticmethod
    def _concrete(slot: Slot, body: Any) -> str:
        if slot.location != "body":
            return slot.pattern
        found = [where for where, value in pointers.expand(body, slot.pattern) if value is not pointers.MISSING]
        return found[0] if found else slot.pattern

    # --- the request ------------------------------------------------------------------------------------

    def _other_values(self, operation: Operation) -> dict[str, str] | str:
        """The other user's own job `id` and `user_id`, for the parameters that do not carry the owner's."""
        job = self.provide_other() if self.other_auth.credentials.kinds() else self._no_credentials()
        if isinstance(job, str):
            if _token_only(operation):
                return f"no job of the other user to authenticate with: {job}"
            return {} if self.other_auth.credentials.kinds() else self._no_credentials()
        return {"id": job["job_id"], "user_id": job["user_id"]}

    def _no_credentials(self) -> str:
        return "; ".join([NO_CREDENTIALS, *self.warnings])

    def _headers(self, operation: Operation, other: Mapping[str, str]) -> dict[str, str] | None:
        found = self.other_auth.headers_for(operation, job_values=[other.get("id")])
        return dict(found) if found is not None else None

    def _body(
        self,
        operation: Operation,
        slot: Slot,
        value: str,
        owned: list[Slot],
        creator: Kind | None,
        other: Mapping[str, str],
    ) -> Any:
        if operation.request_body is None:
            return None
        if creator is not None:
            refs = {slot.pattern: value} if slot.location == "body" and slot.pattern in creator.refs else {}
            body = self.owner.body_for(creator, refs)
        else:
            body = request_example(operation)
        keys = [s.pattern for s in owned if s.location == "body"]
        marked = free_text(body, _body_schema(operation), self.marker, _expanded(body, keys))
        for each in owned:
            if each.location != "body":
                continue
            own = other.get("user_id" if each.name == OWNER_DICTIONARY else "id") or None
            chosen = value if each == slot else own
            if chosen is not None and (each == slot or each.kind.name == "job"):
                marked = _set_all(marked, each.pattern, chosen)
        return marked

    @staticmethod
    def _parameters(
        slot: Slot, value: str, owned: list[Slot], other: Mapping[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        found: dict[str, dict[str, str]] = {"path": {}, "query": {}}
        for each in owned:
            if each.location not in found:
                continue
            own = other.get("user_id" if each.name == OWNER_DICTIONARY else "id") if each.kind.name == "job" else None
            chosen = value if each == slot else own or value
            found[each.location][pointers.parse(each.pattern)[0]] = chosen
        return found["path"], found["query"]

    # --- the owner's side -------------------------------------------------------------------------------

    def _victim(self, client: httpx.Client, kind: Kind) -> _Victim | str:
        known = self._victims.get(kind.name)
        if known is None:
            known = self._victims[kind.name] = self._make_victim(client, kind)
        return known

    def _make_victim(self, client: httpx.Client, kind: Kind) -> _Victim | str:
        # What it names are victims too: the provisioned ones may be gone (the fuzzer deletes what it finds).
        refs = {}
        for pointer, name in kind.refs.items():
            named = self._victim(client, BY_NAME[name])
            if isinstance(named, _Victim):
                refs[pointer] = named.values["id"]
        created = self.owner.create(client, kind, refs)
        if isinstance(created, str):
            given = self.owner.existing.get(kind.name)
            if not given:
                return created + f" (or pass --existing {kind.name}=ID)"
            created = {"id": given}
        return _Victim(dict(created), self._reads(kind, created["id"]))

    def _reads(self, kind: Kind, identifier: str) -> list[tuple[Operation, dict[str, str]]]:
        """The owner's reads of the resource: the creator's links to reads whose every parameter is its id."""
        creator = self.contract.operation(kind.creator)
        expression = RESPONSE_BODY + id_pointer(creator)
        found = []
        for link in creator.success.links.values():
            target = self.contract.operations.get(str(link.get("operationId")))
            parameters = link.get("parameters") or {}
            if target is None or target.method not in READS or streams(target) or link.get("requestBody"):
                continue
            if parameters and all(value == expression for value in parameters.values()):
                found.append((target, {str(name): identifier for name in parameters}))
        return found

    def _read_all(self, client: httpx.Client, victim: _Victim) -> list[Read]:
        found = []
        for operation, values in victim.reads:
            path = {p.name: values[p.name] for p in operation.parameters_in("path") if p.name in values}
            query = {p.name: values[p.name] for p in operation.parameters_in("query") if p.name in values}
            headers = self.owner.auth.headers_for(operation, job_values=list(values.values())) or {}
            response = self.owner.send(
                client,
                operation,
                headers=headers,
                path=operation.path_for(**path) if path else None,
                query=query or None,
            )
            status = response.status_code if response is not None else 0
            text = body_bytes(response).decode("utf-8", errors="replace") if response is not None else ""
            found.append(Read(operation.operation_id, status, text))
        return found

    # --- recording ----------------------------------------------------------------------------------------

    def _skip(self, operation: str, reason: str) -> None:
        self.results.skipped(operation, CROSS_USER_ACCESS, reason)

    def _violation(self, check: str, attempt: Attempt, findings: list[str]) -> None:
        sent = attempt.sent
        query = f"?{urlencode(sent.query)}" if sent.query else ""
        url = self.owner.base_url + sent.path + query
        body = None if is_form(attempt.operation) else sent.body
        command = curl(sent.method, url, dict(sent.headers), body, secret_headers=self.owner.auth.secret_headers)
        excerpt = checks.excerpt(sent.status, sent.content_type, sent.text)
        message = "; ".join(findings)
        self.results.failed(
            Violation(attempt.operation.operation_id, check, message, command, excerpt, sent, attempt.pointer)
        )


def _expanded(body: Any, patterns: Iterable[str]) -> list[str]:
    return [where for pattern in patterns for where, _ in pointers.expand(body, pattern)]


def _set_all(body: Any, pattern: str, value: str) -> Any:
    """`body` with `value` at every place `pattern` reaches (a missing last member is added)."""
    places = [where for where, _ in pointers.expand(body, pattern)]
    for where in places:
        if "/*" in where:
            continue
        try:
            body = pointers.replaced(body, where, value)
        except pointers.PointerError:
            continue
    return body


def _token_only(operation: Operation) -> bool:
    """True when only a job token opens the operation (the other user needs a job of its own for it)."""
    schemes = [scheme for requirement in operation.security for scheme in requirement.schemes]
    return bool(schemes) and all(SCHEME_CREDENTIAL.get(scheme) == "job_token" for scheme in schemes)
