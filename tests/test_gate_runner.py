"""Which Schemathesis checks the gate turns off, and for which operations, comes from the spec."""

from __future__ import annotations

import spec
from contracts.runner import _api_header, turned_off


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
