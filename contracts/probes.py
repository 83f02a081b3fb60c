"""Divergence probes: every known divergence is confirmed on every run against a target, not assumed.

Each entry of `spec/divergences.yaml` carries a concrete request (`probe`) that shows the platform's
behaviour. The gate sends it with the provisioned ids and judges the answer with the entry itself:
`confirmed` when the entry describes the answer and the check it excuses would report it, `not
reproduced` when it does not (fixed upstream: remove the entry; a failure under `--strict`), `not
probed` with the reason otherwise (an operation not selected, a credential or resource missing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
import jsonschema_rs

from contracts.credentials import Authenticator, Credentials
from contracts.curl import curl
from contracts.divergences import Divergence, Probe, pointer_under
from contracts.exchange import Exchange, build
from contracts.ownership import CROSS_USER_ACCESS
from contracts.provisioning import OTHER, Resources
from contracts.results import Results
from spec import Contract, Operation

AUTH_HEADERS = ("authorization", "x-api-key", "x-workspace-api-key")
AUTH_REJECTIONS = (401, 403)
# Probe credentials that are a provisioned job's token: the gate's own job's, or the other user's job's.
JOB_TOKENS = {"job_token": "job.token", "other_job_token": f"{OTHER}.job_token"}


class ProbeState(StrEnum):
    """What the probe of a divergence showed."""

    CONFIRMED = "confirmed"
    NOT_REPRODUCED = "not reproduced"
    NOT_PROBED = "not probed"


@dataclass(frozen=True)
class ProbeOutcome:
    """The probe of one divergence: its state, why, and what was sent and answered."""

    divergence: Divergence
    state: ProbeState
    detail: str
    curl: str | None = None
    exchange: Exchange | None = None


def not_probed(entries: Iterable[Divergence], reason: str) -> list[ProbeOutcome]:
    """Every entry reported as not probed, for one reason."""
    return [ProbeOutcome(entry, ProbeState.NOT_PROBED, reason) for entry in entries]


class Prober:
    """Sends the probe of each divergence of the selected operations and judges the answer."""

    def __init__(
        self,
        contract: Contract,
        auth: Authenticator,
        base_url: str,
        resources: Resources,
        results: Results,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.contract = contract
        self.auth = auth
        self.base_url = base_url.rstrip("/")
        self.resources = resources
        self.results = results
        self.timeout = timeout

    def run(self, entries: Iterable[Divergence], selected: Iterable[str]) -> list[ProbeOutcome]:
        """One outcome per entry, in file order."""
        chosen = set(selected)
        outcomes = []
        with httpx.Client(timeout=self.timeout) as client:
            for entry in entries:
                if entry.operation not in chosen:
                    outcomes.append(ProbeOutcome(entry, ProbeState.NOT_PROBED, "operation not selected"))
                elif entry.probe is None:
                    outcomes.append(ProbeOutcome(entry, ProbeState.NOT_PROBED, entry.not_probed or "no probe"))
                else:
                    outcomes.append(self._probe(client, entry, entry.probe))
        return outcomes

    def _probe(self, client: httpx.Client, entry: Divergence, probe: Probe) -> ProbeOutcome:
        operation = self.contract.operation(entry.operation)
        values = self.resources.placeholders()
        missing = sorted(name for name in probe.placeholders() if name not in values)
        if missing:
            kind = missing[0].split(".")[0]
            why = self.resources.missing.get(kind, f"nothing provisioned for {{{missing[0]}}}")
            return ProbeOutcome(entry, ProbeState.NOT_PROBED, f"no {kind}: {why}")
        filled = probe.filled(values)
        for operation_id, step in filled.setup:
            prepared = self.contract.operation(operation_id)
            step_headers = self._credentials(prepared, step)
            if step_headers is None:
                return ProbeOutcome(
                    entry, ProbeState.NOT_PROBED, f"setup {operation_id}: " + _missing_credential(step.credentials)
                )
            step_headers.update(step.headers)
            _, done = self._send(client, prepared, self.base_url + _path(prepared, step.path), step_headers, step)
            if done is None or not 200 <= done.status < 300:
                status = f"HTTP {done.status}" if done is not None else "no answer"
                return ProbeOutcome(entry, ProbeState.NOT_PROBED, f"setup {operation_id} answered {status}")
        headers = self._credentials(operation, filled)
        if headers is None:
            return ProbeOutcome(entry, ProbeState.NOT_PROBED, _missing_credential(probe.credentials))
        headers.update(filled.headers)
        url = self.base_url + _path(operation, filled.path)
        command, sent = self._send(client, operation, url, headers, filled)
        if sent is None:
            return ProbeOutcome(entry, ProbeState.NOT_REPRODUCED, "no answer", command)
        if sent.status in AUTH_REJECTIONS and sent.status not in entry.statuses:
            detail = f"the target rejected the probe's credentials (HTTP {sent.status})"
            return ProbeOutcome(entry, ProbeState.NOT_PROBED, detail, command, sent)
        reproduced = entry.describes(sent) and any(_reports(check, operation, sent, entry) for check in entry.checks)
        if reproduced:
            return ProbeOutcome(entry, ProbeState.CONFIRMED, f"HTTP {sent.status}", command, sent)
        detail = f"answered HTTP {sent.status} ({sent.text[:120].strip() or 'empty body'})"
        return ProbeOutcome(entry, ProbeState.NOT_REPRODUCED, detail, command, sent)

    def _credentials(self, operation: Operation, probe: Probe) -> dict[str, str] | None:
        kind = probe.credentials
        if kind == "none":
            return {}
        job_values = [value for value in probe.path.values()]
        if isinstance(probe.body, dict):
            job_values.extend(probe.body.values())
        if kind == "default":
            return dict(self.auth.headers_for(operation, job_values=job_values) or {})
        if kind in JOB_TOKENS:
            token = self.resources.values.get(JOB_TOKENS[kind])
            return {"Authorization": f"Bearer {token}"} if token else None
        secret = getattr(self.auth.credentials, kind, None)
        if not secret:
            return None
        alone = Authenticator(self.contract, Credentials(**{kind.removeprefix("other_"): secret}))
        found = alone.headers_for(operation)
        return dict(found) if found is not None else None

    def _send(
        self, client: httpx.Client, operation: Operation, url: str, headers: dict[str, str], probe: Probe
    ) -> tuple[str, Exchange | None]:
        content: bytes | None = None
        if probe.has_json_body:
            shown: Any = probe.body
            request = client.build_request(operation.method, url, headers=headers, params=probe.query, json=probe.body)
        elif probe.raw_body is not None:
            shown = probe.raw_body
            headers.setdefault("Content-Type", probe.content_type or "application/json")
            request = client.build_request(
                operation.method, url, headers=headers, params=probe.query, content=probe.raw_body.encode()
            )
        elif probe.form is not None:
            shown = dict(probe.form)
            request = client.build_request(
                operation.method, url, headers=headers, params=probe.query, files=_files(probe.form)
            )
        else:
            shown = None
            request = client.build_request(operation.method, url, headers=headers, params=probe.query)
        content = request.read() if request.stream is not None else None
        command = curl(operation.method, str(request.url), headers, shown, secret_headers=self.auth.secret_headers)
        self.results.count_requests()
        try:
            response = client.send(request)
        except httpx.HTTPError:
            return command, None
        return command, build(
            method=operation.method,
            url=str(request.url),
            path_params=dict(probe.path),
            headers=dict(request.headers),
            body=content,
            status=response.status_code,
            response_headers=dict(response.headers),
            content=response.content,
        )


def _path(operation: Operation, values: Mapping[str, Any]) -> str:
    return operation.path_for(**{p.name: str(values.get(p.name, "")) for p in operation.parameters_in("path")})


def _files(form: Mapping[str, Any]) -> dict[str, tuple[str | None, bytes, str | None]]:
    return {name: (None, str(value).encode(), None) for name, value in form.items()}


def _missing_credential(kind: str) -> str:
    flag = {
        "other_api_key": "--other-api-key",
        "other_bearer": "--other-bearer",
        "api_key": "--api-key",
        "bearer": "--bearer",
    }.get(kind)
    if kind == "job_token":
        return "no job token of a provisioned job"
    if kind == "other_job_token":
        return "no job of the other user (--other-api-key or --other-bearer)"
    return f"no credential for it ({flag})" if flag else "no credential satisfies the operation"


# --- would the check report it? ---------------------------------------------------------------------


def _reports(check: str, operation: Operation, sent: Exchange, entry: Divergence) -> bool:
    """True when `check` would report the probe's answer as a violation (the entry's pointer included)."""
    status = sent.status
    if check == "not_a_server_error":
        return status >= 500
    if check == "negative_data_rejection":
        return not 400 <= status < 500
    if check == "ignored_auth":
        return 200 <= status < 300 and not any(name in sent.headers for name in AUTH_HEADERS)
    if check == "status_code_conformance":
        return operation.response(status) is None
    if check == "content_type_conformance":
        response = operation.response(status)
        return response is not None and bool(response.content) and sent.media_type not in response.content
    if check == CROSS_USER_ACCESS:
        return 200 <= status < 300
    if check == "response_schema_conformance":
        return any(entry.pointer is None or pointer_under(p, entry.pointer) for p in _schema_pointers(operation, sent))
    return True


def _schema_pointers(operation: Operation, sent: Exchange) -> list[str]:
    response = operation.response(sent.status)
    media = response.content.get(sent.media_type) if response is not None else None
    if media is None or media.schema is None:
        return []
    body = sent.json()
    validator = jsonschema_rs.validator_for(media.schema.raw)
    return ["".join(f"/{part}" for part in error.instance_path) for error in validator.iter_errors(body)]
