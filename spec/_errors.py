"""Errors raised while loading or using the contract.

One exception type for the package, carrying the JSON pointer and the rule that was broken.
"""

from __future__ import annotations


class SpecError(Exception):
    """The contract document is unreadable or breaks a rule; names where and which rule."""

    def __init__(self, pointer: str, rule: str, message: str) -> None:
        self.pointer = pointer
        self.rule = rule
        self.message = message
        super().__init__(f"{pointer or '/'}: {rule}: {message}")
