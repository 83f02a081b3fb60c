"""Resource lifecycles, run directly along the spec's links once per run: create, follow every link, delete, read again.

Schemathesis' stateful phase spreads its examples over every link of the spec and may never put a
delete before a read of the same resource. Here each resource the gate can create is created fresh,
every link of its creator is followed once (the created resource must be there:
`ensure_resource_availability`), then each linked delete is sent and each linked read repeated (a
deleted resource must be gone: `use_after_free`). Deterministic, so a delete that does not delete
fails every run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from contracts import checks
from contracts.curl import curl
from contracts.examples import request_example
from contracts.exchange import Exchange, build
from contracts.provisioning import KINDS, Kind, Provisioner, body_bytes, id_pointer
from contracts.results import Results, Violation
from spec import Contract, Operation

RESPONSE_BODY = "$response.body#"
GONE = (404, 410)


@dataclass(frozen=True)
class Followed:
    """One link of a fresh resource followed: the request sent and its answer, after a linked delete if `delete`."""

    creator: str
    identifier: str
    target: str
    sent: Exchange
    delete: str | None = None
    deleted_status: int = 0


@checks.check(checks.Kind.LIFECYCLE)
def ensure_resource_availability(followed: Followed) -> list[str]:
    """A resource just created is there for every link of its creator."""
    if followed.sent.status not in GONE:
        return []
    return [
        f"{followed.creator} created {followed.identifier!r}, then {followed.target} "
        f"answered HTTP {followed.sent.status} for it"
    ]


def _found_or_gone(followed: Followed) -> bool:
    """A read after a delete that neither found the resource nor missed it says nothing about the delete."""
    return 200 <= followed.sent.status < 300 or followed.sent.status in GONE


@checks.check(checks.Kind.LIFECYCLE, applies=_found_or_gone)
def use_after_free(followed: Followed) -> list[str]:
    """A resource its linked delete deleted is gone for every linked read."""
    if not 200 <= followed.sent.status < 300:
        return []
    return [
        f"{followed.delete} answered HTTP {followed.deleted_status} for {followed.identifier!r}, "
        f"then {followed.target} still answered HTTP {followed.sent.status} for it (expected 404)"
    ]


USE_AFTER_FREE = use_after_free.__name__
AVAILABILITY = ensure_resource_availability.__name__


class Lifecycles:
    """Follows the links of every resource kind the selection touches and judges the two lifecycle rules."""

    def __init__(self, contract: Contract, provisioner: Provisioner, results: Results) -> None:
        self.contract = contract
        self.provisioner = provisioner
        self.results = results

    def run(self, selected: Iterable[str]) -> None:
        """One lifecycle per kind whose creator or one of whose linked deletes is selected."""
        chosen = set(selected)
        with httpx.Client(timeout=self.provisioner.timeout) as client:
            for kind in KINDS:
                if kind.billed:
                    continue
                creator = self.contract.operation(kind.creator)
                links = self._links(creator)
                deletes = [op for op, _, _ in links if op.method == "DELETE" and op.operation_id in chosen]
                if creator.operation_id in chosen or deletes:
                    self._lifecycle(client, kind, creator, links, chosen)

    def _links(self, creator: Operation) -> list[tuple[Operation, dict[str, Any], dict[str, Any]]]:
        found = []
        for link in creator.success.links.values():
            target = self.contract.operations.get(str(link.get("operationId")))
            if target is not None:
                found.append((target, dict(link.get("parameters") or {}), dict(link.get("requestBody") or {})))
        return found

    def _lifecycle(
        self,
        client: httpx.Client,
        kind: Kind,
        creator: Operation,
        links: list[tuple[Operation, dict[str, Any], dict[str, Any]]],
        chosen: set[str],
    ) -> None:
        created = self.provisioner.create(client, kind)
        if isinstance(created, str):
            self._skip_all(creator, links, chosen, f"no {kind.name} could be created: {created}")
            return
        pointer, identifier = id_pointer(creator), created["id"]
        reads = [(t, p, b) for t, p, b in links if t.method in ("GET", "HEAD")]
        if creator.operation_id in chosen:
            self._availability(client, creator, links, pointer, identifier)
        for target, parameters, body in links:
            if target.method == "DELETE" and target.operation_id in chosen:
                self._use_after_free(client, creator, target, parameters, body, reads, pointer, identifier)

    def _availability(
        self,
        client: httpx.Client,
        creator: Operation,
        links: list[tuple[Operation, dict[str, Any], dict[str, Any]]],
        pointer: str,
        identifier: str,
    ) -> None:
        for target, parameters, body in links:
            if target.method == "DELETE":
                continue
            sent = self._follow(client, target, parameters, body, pointer, identifier)
            if sent is not None:
                followed = Followed(creator.operation_id, identifier, target.operation_id, sent)
                self._judge(creator.operation_id, AVAILABILITY, followed)

    def _use_after_free(
        self,
        client: httpx.Client,
        creator: Operation,
        delete: Operation,
        parameters: dict[str, Any],
        body: dict[str, Any],
        reads: list[tuple[Operation, dict[str, Any], dict[str, Any]]],
        pointer: str,
        identifier: str,
    ) -> None:
        name = delete.operation_id
        if not reads:
            self.results.skipped(
                name, USE_AFTER_FREE, f"no read of the same resource is linked from {creator.operation_id}"
            )
            return
        deleted = self._follow(client, delete, parameters, body, pointer, identifier)
        if deleted is None or not 200 <= deleted.status < 300:
            status = f"HTTP {deleted.status}" if deleted is not None else "no answer"
            self.results.skipped(name, USE_AFTER_FREE, f"the delete of a fresh resource answered {status}")
            return
        for read, read_parameters, read_body in reads:
            sent = self._follow(client, read, read_parameters, read_body, pointer, identifier)
            if sent is not None:
                followed = Followed(creator.operation_id, identifier, read.operation_id, sent, name, deleted.status)
                self._judge(name, USE_AFTER_FREE, followed)

    def _judge(self, operation: str, name: str, followed: Followed) -> None:
        """Record what the registered check `name` finds in one followed link (nothing where it does not apply)."""
        check = checks.CHECKS[name]
        if check.applies is not None and not check.applies(followed):
            return
        found = check.function(followed)
        for message in found:
            self._violation(operation, name, message, followed.sent)
        if not found:
            self.results.passed(operation, name)

    def _follow(
        self,
        client: httpx.Client,
        target: Operation,
        parameters: Mapping[str, Any],
        body_links: Mapping[str, Any],
        pointer: str,
        identifier: str,
    ) -> Exchange | None:
        """Send `target` with the link's values filled from the created resource."""
        path_values: dict[str, str] = {}
        query: dict[str, str] = {}
        for name, expression in parameters.items():
            if expression != RESPONSE_BODY + pointer:
                return None
            parameter = target.parameter(str(name))
            if parameter is None:
                return None
            if parameter.location == "path":
                path_values[str(name)] = identifier
            elif parameter.location == "query":
                query[str(name)] = identifier
        body = request_example(target)
        for name, expression in body_links.items():
            if expression == RESPONSE_BODY + pointer and isinstance(body, dict):
                body = {**body, str(name): identifier}
        if set(path_values) != {p.name for p in target.parameters_in("path")}:
            return None
        path = target.path_for(**path_values)
        headers = self.provisioner.auth.headers_for(target, job_values=[identifier]) or {}
        response = self.provisioner.send(client, target, headers=headers, body=body, path=path, query=query)
        status = response.status_code if response is not None else 0
        self.results.answered(target.operation_id, status)
        return build(
            method=target.method,
            url=str(response.request.url) if response is not None else self.provisioner.base_url + path,
            path_params={p.name: identifier for p in target.parameters_in("path")},
            headers=headers,
            body=None,
            status=status,
            response_headers=dict(response.headers) if response is not None else {},
            content=body_bytes(response) if response is not None else None,
        )

    def _skip_all(
        self,
        creator: Operation,
        links: list[tuple[Operation, dict[str, Any], dict[str, Any]]],
        chosen: set[str],
        reason: str,
    ) -> None:
        if creator.operation_id in chosen:
            self.results.skipped(creator.operation_id, AVAILABILITY, reason)
        for target, _, _ in links:
            if target.method == "DELETE" and target.operation_id in chosen:
                self.results.skipped(target.operation_id, USE_AFTER_FREE, reason)

    def _violation(self, operation: str, check: str, message: str, sent: Exchange) -> None:
        query = f"?{urlencode(sent.query)}" if sent.query else ""
        url = self.provisioner.base_url + sent.path + query
        command = curl(sent.method, url, dict(sent.headers), secret_headers=self.provisioner.auth.secret_headers)
        excerpt = checks.excerpt(sent.status, sent.content_type, sent.text)
        self.results.failed(Violation(operation, check, message, command, excerpt, sent))
