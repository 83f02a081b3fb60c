"""Errors raised while loading or using the contract.

One hierarchy for the package: `SpecError` carries the JSON pointer and the rule that was broken;
`PointerError` is the one raised for a malformed JSON pointer, or one that cannot be followed to set a value.
"""

from __future__ import annotations


class SpecError(Exception):
    """The contract document is unreadable or breaks a rule; names where and which rule."""

    def __init__(self, pointer: str, rule: str, message: str) -> None:
        self.pointer = pointer
        self.rule = rule
        self.message = message
        super().__init__(f"{pointer or '/'}: {rule}: {message}")


class PointerError(SpecError, ValueError):
    """A JSON pointer that is malformed, or that cannot be followed to set a value: `'a/b': must start with /`."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(pointer, "json-pointer", message)
        self.args = (f"{pointer!r}: {message}",)
