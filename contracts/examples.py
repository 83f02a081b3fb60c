"""The spec's examples as the gate sends them: request bodies, success answers and the files of form uploads.

Generated uploads, provisioning, lifecycles and probes start from these examples, so every request the
gate builds by itself is one the contract itself shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spec import Contract, Operation


def request_example(operation: Operation) -> Any:
    """The example of the operation's request body (its first media type), or None."""
    body = operation.request_body
    media = next(iter(body.content.values()), None) if body is not None else None
    return media.example if media is not None else None


def success_example(operation: Operation) -> Any:
    """The example of the operation's success answer, or None."""
    media = operation.success.media()
    return media.example if media is not None else None


def is_form(operation: Operation) -> bool:
    """True when the operation takes its body as multipart form data."""
    body = operation.request_body
    return body is not None and any(media.startswith("multipart/") for media in body.content)


def example_files(contract: Contract) -> dict[str, dict[str, Any]]:
    """Per operation, the spec example's content of each uploaded file field (binary media in a form).

    Random bytes are never a valid dataset; with the example's file, generated uploads can succeed and
    stateful sequences can go on from them (upload, read, delete, read again).
    """
    found: dict[str, dict[str, Any]] = {}
    for operation in contract.operations.values():
        body = operation.request_body
        for media in body.content.values() if body else ():
            raw = media.schema.raw if media.schema is not None else {}
            properties = raw.get("properties", {}) if isinstance(raw, dict) else {}
            if not isinstance(media.example, dict):
                continue
            fields = {
                name: media.example[name]
                for name, sub in properties.items()
                if name in media.example and (sub.get("contentMediaType") or sub.get("format") == "binary")
            }
            if fields:
                found[operation.operation_id] = fields
    return found


def form_parts(
    files: Mapping[str, Any], body: Mapping[str, Any]
) -> tuple[dict[str, tuple[str, bytes, str]], dict[str, str]]:
    """A form body split into httpx `files` (the file fields) and `data` (the text fields)."""
    uploads = {
        name: (f"{name}.jsonl", str(value).encode(), "application/octet-stream")
        for name, value in body.items()
        if name in files
    }
    data = {name: str(value) for name, value in body.items() if name not in files}
    return uploads, data
