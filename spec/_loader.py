"""`spec.load`: read, check and index a contract document, once per path (and design).

A broken document fails with a SpecError naming the JSON pointer and the rule; a broken design overlay with an
OverlayError naming its file, the action and the rule. A design's contract gets every check the base gets.
"""

from __future__ import annotations

import hashlib
import os
import threading
from importlib.metadata import version
from pathlib import Path
from typing import Any

from spec import _document, _overlay
from spec._contract import Contract, index
from spec._designs import Design, find_design
from spec._errors import SpecError

BUNDLED_SPEC = Path(__file__).with_name("openapi.yaml")

_cache: dict[tuple[object, ...], Contract] = {}
_lock = threading.Lock()


def load(path: str | os.PathLike[str] | None = None, *, design: str | os.PathLike[str] | None = None) -> Contract:
    """Load and check the contract at `path` (default: the bundled `spec/openapi.yaml`).

    With `design` (a name from `spec/designs/` or an overlay file) the design's overlay is applied first, and the
    overlaid document is checked like the base.
    """
    source = Path(path) if path is not None else BUNDLED_SPEC
    chosen = find_design(design) if design is not None else None
    key: tuple[object, ...] = (_stamp(source),)
    if chosen is not None:
        key += (_stamp(chosen.path),)
    with _lock:
        cached = _cache.get(key)
        if cached is None:
            cached = _cache[key] = _load(source, chosen)
        return cached


def _stamp(path: Path) -> tuple[str, int]:
    try:
        return str(path.resolve()), path.stat().st_mtime_ns
    except OSError as exc:
        raise SpecError("", "readable", f"cannot read {path}: {exc.strerror}") from None


def _load(source: Path, chosen: Design | None = None) -> Contract:
    document = _document.read(source)
    if chosen is not None:
        overlay = _overlay.read_overlay(chosen.path)
        document = _overlay.apply(document, overlay, chosen.path, str(source))
    try:
        contract = _checked(source, document, chosen)
    except SpecError as exc:
        if chosen is None:
            raise
        where = f"the contract of design {chosen.name} ({chosen.path} over {source})"
        raise SpecError(exc.pointer, exc.rule, f"{exc.message} (in {where})") from None
    return contract


def _checked(source: Path, document: dict[str, Any], chosen: Design | None) -> Contract:
    _document.check_operation_ids(document)
    resolved = _document.dereference(document)
    digest = _digest(source, chosen)
    _check_openapi_once(digest, document)
    _document.check_examples(resolved)
    contract = index(document, resolved, str(source), design=chosen.name if chosen else None)
    # The stream's rules are checked here (through its example), so a design's never fail on first use.
    _check_stream_example(contract)
    return contract


def _digest(source: Path, chosen: Design | None) -> str:
    """What identifies the document checked: the base's bytes, and the overlay's when there is one."""
    digest = hashlib.sha256(source.read_bytes())
    if chosen is not None:
        digest.update(b"\0overlay\0" + chosen.path.read_bytes())
    return digest.hexdigest()


def _cache_dir() -> Path:
    base = os.environ.get("FTL_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ftl-harness"


def _check_openapi_once(digest: str, document: dict[str, object]) -> None:
    """Validate against OpenAPI 3.2, remembering documents already found valid (by content hash).

    The full validation costs most of a load; every CLI call loads the contract, so a document
    that passed once is not validated again until its bytes or the validator's version change.
    """
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
