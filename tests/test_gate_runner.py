"""How the gate drives Schemathesis from the spec: the checks it turns off, and for which operations; the
headers it never sends; the media types it gives a serializer.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import schemathesis
from schemathesis.core.errors import SerializationNotPossible
from schemathesis.transport.requests import REQUESTS_TRANSPORT

import spec
from contracts.cli import main
from contracts.runner import _api_header, declared_media_types, serialize_every_declared_type, turned_off

NDJSON = "application/x-ndjson"


def test_negative_data_is_not_judged_on_form_uploads_only() -> None:
    contract = spec.load()
    forms, why = turned_off(contract)["negative_data_rejection"]
    expected = [
        op.operation_id
        for op in contract.operations.values()
        if op.request_body and set(op.request_body.content) == {"multipart/form-data"}
    ]
    assert forms == expected == ["upload_dataset"]
    assert "text on the wire" in why


def test_resource_availability_is_off_only_without_path_parameters() -> None:
    contract = spec.load()
    unaddressed, _ = turned_off(contract)["ensure_resource_availability"]
    assert "list_jobs" in unaddressed
    assert "get_predictions" not in unaddressed
    assert all(not contract.operation(op).parameters_in("path") for op in unaddressed)


def test_generated_framing_headers_and_names_http_cannot_carry_are_never_sent() -> None:
    assert all(_api_header(name) for name in ("X-API-Key", "Authorization", "Content-Type", "R927", "3k~xyo69tl400GX"))
    assert not any(_api_header(name) for name in ("Transfer-Encoding", "host", "Content-Length", "FPkP;", "a b", ""))


def test_every_declared_request_media_type_gets_a_serializer() -> None:
    contract = spec.load()
    declared = declared_media_types(contract)
    assert {"multipart/form-data", "application/json", "application/x-ndjson"} <= declared
    # What Schemathesis' negative fuzzing sent (seed 6, --include upload_dataset): the file part mutated to a
    # number, written as the one of its listed types that Schemathesis had no serializer for.
    upload = schemathesis.openapi.from_dict(dict(contract.document)).find_operation_by_id("upload_dataset")
    case = upload.Case(
        body={"file": 0, "name": "n", "format": "chatml"},
        media_type="multipart/form-data",
        multipart_content_types={"file": NDJSON},
    )
    REQUESTS_TRANSPORT.unregister_serializer(NDJSON)  # as Schemathesis comes, whatever ran before in this process
    with pytest.raises(SerializationNotPossible):
        REQUESTS_TRANSPORT.serialize_case(case)
    serialize_every_declared_type(contract)
    assert all(REQUESTS_TRANSPORT.get_first_matching_media_type(media) is not None for media in declared)
    sent = REQUESTS_TRANSPORT.serialize_case(case)
    assert ("file", ("file", b"0", NDJSON)) in sent["files"]  # as JSON, one line: one NDJSON record


def test_the_run_that_hit_it_passes(tmp_path: Path) -> None:
    # The seed whose negative fuzzing of the upload drew x-ndjson for a mutated file part (request_error before).
    junit = tmp_path / "gate.xml"
    code = main(["--include", "upload_dataset", "--seed", "6", "--quiet", "--junit-xml", str(junit)], {})
    failed = [c.get("name") for c in ET.parse(junit).iter("testcase") if c.find("failure") is not None]
    assert (code, failed) == (0, [])
