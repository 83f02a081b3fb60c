"""The contract's design variants: OpenAPI Overlay documents in `spec/designs/`, each a changed contract.

A design is named by its file's stem (`sse-push` is `spec/designs/sse-push.yaml`) or given as a file path.
`spec.load(design=NAME)` applies it over the base document and checks the result like the base.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from spec._errors import OverlayError

DESIGNS_DIR = Path(__file__).with_name("designs")
SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Design:
    """One design: its name (the file's stem) and its overlay file."""

    name: str
    path: Path


def designs() -> tuple[str, ...]:
    """The bundled designs' names, sorted."""
    return tuple(sorted(p.stem for p in DESIGNS_DIR.iterdir() if p.suffix in SUFFIXES))


def find_design(name_or_path: str | os.PathLike[str]) -> Design:
    """The bundled design called `name`, or the overlay file at a path; OverlayError naming the designs there are."""
    text = os.fspath(name_or_path)
    for suffix in SUFFIXES:
        bundled = DESIGNS_DIR / f"{text}{suffix}"
        if bundled.is_file():
            return Design(text, bundled)
    given = Path(text)
    if given.suffix in SUFFIXES and given.is_file():
        return Design(given.stem, given)
    known = ", ".join(designs()) or "none"
    raise OverlayError(text, None, "design", f"no design {text!r}: give a bundled name ({known}) or an overlay file")
