"""`spec.load`: read, check and index a contract document, once per path.

A broken document fails with a SpecError naming the JSON pointer and the rule.
"""

from __future__ import annotations

import hashlib
import os
import threading
from importlib.metadata import version
from pathlib import Path

from spec import _document
from spec._contract import Contract, index
from spec._errors import SpecError

BUNDLED_SPEC = Path(__file__).with_name("openapi.yaml")

_cache: dict[tuple[str, int], Contract] = {}
_lock = threading.Lock()


def load(path: str | os.PathLike[str] | None = None) -> Contract:
    """Load and check the contract at `path` (default: the bundled `spec/openapi.yaml`)."""
    source = Path(path) if path is not None else BUNDLED_SPEC
    try:
        key = (str(source.resolve()), source.stat().st_mtime_ns)
    except OSError as exc:
        raise SpecError("", "readable", f"cannot read {source}: {exc.strerror}") from None
    with _lock:
        cached = _cache.get(key)
        if cached is None:
            cached = _cache[key] = _load(source)
        return cached


def _load(source: Path) -> Contract:
    document = _document.read(source)
    _document.check_operation_ids(document)
    resolved = _document.dereference(document)
    _check_openapi_once(source, document)
    _document.check_examples(resolved)
    contract = index(document, resolved, str(source))
    _check_stream_example(contract)
    return contract


def _cache_dir() -> Path:
    base = os.environ.get("FTL_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ftl-harness"


def _check_openapi_once(source: Path, document: dict[str, object]) -> None:
    """Validate against OpenAPI 3.2, remembering documents already found valid (by content hash).

    The full validation costs most of a load; every CLI call loads the contract, so a document
    that passed once is not validated again until its bytes or the validator's version change.
    """
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    marker = _cache_dir() / f"openapi-valid-{version('openapi-spec-validator')}-{digest}"
    if marker.exists():
        return
    _document.check_openapi(document)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass


def _check_stream_example(contract: Contract) -> None:
    """The stream operation's transcript example must hold only declared, valid events."""
    stream = contract.stream
    media = stream.operation.success.content["text/event-stream"]
    example = media.example
    if not isinstance(example, str):
        return
    pointer = (
        f"{stream.operation.pointer}/responses/{stream.operation.success.status}/content/text~1event-stream/example"
    )
    for block in (b for b in example.replace("\r\n", "\n").split("\n\n") if b.strip()):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        for violation in stream.check_event(fields.get("event", "message"), fields.get("data", "")):
            raise SpecError(pointer, "example", f"does not match its schema: {violation}")
