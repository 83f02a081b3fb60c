"""When a Schemathesis check judged a response, so that a check is passed only when it looked at something.

Schemathesis records a check as successful even when it returned without judging (a use-after-free
check on a request no delete preceded, a negative-data check on valid data). One predicate per check
name says when the check applies to a recorded case and its answer, with the reason given when it
never did. The registry refuses a check it has no entry for, so a new check cannot pass in silence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transport import Response
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.generation.case import Case
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario, coverage_scenario
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

from contracts.errors import GateError
from spec import Operation

READS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Seen:
    """One recorded case, its answer and where it sits in its scenario."""

    case: Case
    response: Response
    operation: Operation
    recorder: ScenarioRecorder


@dataclass(frozen=True)
class Applies:
    """When a check judges a case, why it was skipped when it never did, and whom its verdict is about.

    `relevant` says why the check can never apply to an operation (None when it can); `subject` picks
    the case whose operation the verdict belongs to (a use-after-free is the delete's fault, not the read's).
    """

    predicate: Callable[[Seen], bool]
    reason: str
    relevant: Callable[[Operation], str | None] = lambda operation: None
    subject: Callable[[Seen], Case] = lambda seen: seen.case


def _always(seen: Seen) -> bool:
    return True


def _not_shape_probe(seen: Seen) -> bool:
    return not is_unexpected_http_status_case(seen.case)


def _declared(seen: Seen) -> Mapping[str, object] | None:
    response = seen.operation.response(seen.response.status_code)
    return response.content if response is not None else None


def _has_declared_content(seen: Seen) -> bool:
    return _not_shape_probe(seen) and bool(_declared(seen))


def _has_declared_headers(seen: Seen) -> bool:
    response = seen.operation.response(seen.response.status_code)
    return _not_shape_probe(seen) and response is not None and bool(response.headers)


def _has_declared_schema(seen: Seen) -> bool:
    response = seen.operation.response(seen.response.status_code)
    if not _not_shape_probe(seen) or response is None:
        return False
    return any(media.schema is not None or media.item_schema is not None for media in response.content.values())


def _negative(seen: Seen) -> bool:
    meta = seen.case.meta
    return meta is not None and meta.generation.mode.is_negative and _not_shape_probe(seen)


def _coverage(seen: Seen) -> CoveragePhaseData | None:
    meta = seen.case.meta
    data = meta.phase.data if meta is not None else None
    return data if isinstance(data, CoveragePhaseData) else None


def _missing_header(seen: Seen) -> bool:
    data = _coverage(seen)
    return (
        data is not None
        and data.parameter_location == ParameterLocation.HEADER
        and data.scenario == CoverageScenario.MISSING_PARAMETER
    )


def _unsupported_method(seen: Seen) -> bool:
    return coverage_scenario(seen.case) == CoverageScenario.UNSPECIFIED_HTTP_METHOD


def _options(seen: Seen) -> bool:
    return seen.response.request.method == "OPTIONS" and bool(seen.response.headers.get("allow"))


def _deleted_before(seen: Seen) -> Case | None:
    """The successful delete of the same resource earlier in the read's sequence, if any."""
    case = seen.case
    if case.method.upper() not in READS:
        return None
    for related in seen.recorder.find_related(case_id=case.id):
        if related.id == case.id or related.method.upper() != "DELETE" or not related.path_parameters:
            continue
        answer = seen.recorder.find_response(case_id=related.id)
        if answer is not None and 200 <= answer.status_code < 300 and _same_resource(related, case):
            return related
    return None


def _read_after_delete(seen: Seen) -> bool:
    return _deleted_before(seen) is not None


def _the_delete(seen: Seen) -> Case:
    return _deleted_before(seen) or seen.case


def _same_resource(deleted: Case, read: Case) -> bool:
    values = {str(v) for v in (deleted.path_parameters or {}).values()}
    return bool(values) and values <= {str(v) for v in (read.path_parameters or {}).values()}


def _created_before(seen: Seen) -> Case | None:
    parent = seen.recorder.find_parent(case_id=seen.case.id)
    if parent is None or parent.method.upper() != "POST":
        return None
    answer = seen.recorder.find_response(case_id=parent.id)
    return parent if answer is not None and 200 <= answer.status_code < 400 else None


def _read_after_create(seen: Seen) -> bool:
    return _created_before(seen) is not None


def _the_create(seen: Seen) -> Case:
    return _created_before(seen) or seen.case


# --- checks that can never apply to an operation -----------------------------------------------------


def _if_paginated(operation: Operation) -> str | None:
    return None if operation.pagination is not None else "does not apply: the operation pages no list (x-pagination)"


def _if_headers(operation: Operation) -> str | None:
    if any(response.headers for response in operation.responses.values()):
        return None
    return "does not apply: no response of the operation declares headers"


def _if_delete(operation: Operation) -> str | None:
    return None if operation.method == "DELETE" else "does not apply: the operation deletes nothing"


def _if_creator(operation: Operation) -> str | None:
    if operation.method == "POST" and operation.success.links:
        return None
    return "does not apply: the operation creates nothing the spec links to"


def _if_secured(operation: Operation) -> str | None:
    return None if operation.requires_auth else "does not apply: the operation needs no credentials"


def _if_required_header(operation: Operation) -> str | None:
    if any(p.required for p in operation.parameters_in("header")):
        return None
    return "does not apply: the operation has no required header"


def _auth(seen: Seen) -> bool:
    if not seen.operation.requires_auth:
        return False
    sent = {name.lower() for name in seen.response.request.headers}
    carried = bool(sent & {"authorization", "x-api-key", "x-workspace-api-key"})
    return 200 <= seen.response.status_code < 300 or not carried


def _paginated(seen: Seen) -> bool:
    return seen.operation.pagination is not None and 200 <= seen.response.status_code < 300


APPLIES: Mapping[str, Applies] = MappingProxyType(
    {
        "not_a_server_error": Applies(_always, "no answer was received"),
        "status_code_conformance": Applies(_not_shape_probe, "no answer was received"),
        "content_type_conformance": Applies(_has_declared_content, "no answer had a status that declares content"),
        "response_headers_conformance": Applies(
            _has_declared_headers, "no answer had a status that declares headers", _if_headers
        ),
        "response_schema_conformance": Applies(_has_declared_schema, "no answer had a status that declares a body"),
        "negative_data_rejection": Applies(_negative, "no invalid request was sent"),
        "missing_required_header": Applies(
            _missing_header, "no request left out a required header", _if_required_header
        ),
        "unsupported_method": Applies(_unsupported_method, "no request used an undeclared method"),
        "allow_header_conformance": Applies(_options, "no OPTIONS answer carried an Allow header"),
        "use_after_free": Applies(
            _read_after_delete,
            "no successful delete was followed by a read of the same resource",
            _if_delete,
            _the_delete,
        ),
        "ensure_resource_availability": Applies(
            _read_after_create, "no successful create was followed by a read", _if_creator, _the_create
        ),
        "ignored_auth": Applies(
            _auth, "no authenticated request got a success and none went without credentials", _if_secured
        ),
        "pagination_limit": Applies(_paginated, "no list was answered with success", _if_paginated),
    }
)


def check_registered(names: list[str]) -> None:
    """GateError when a check the run performs has no applicability entry."""
    missing = [name for name in names if name not in APPLIES]
    if missing:
        raise GateError(f"check {missing[0]!r} has no applicability rule in contracts/applicability.py")


def judged(check: str, seen: Seen) -> Case | None:
    """The case whose operation the verdict is about when `check` judged this answer, else None."""
    rule = APPLIES[check]
    return rule.subject(seen) if rule.predicate(seen) else None


def never_applies(check: str, operation: Operation) -> str | None:
    """Why `check` can never apply to `operation`, or None."""
    return APPLIES[check].relevant(operation)
