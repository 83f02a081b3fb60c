"""Errors raised while loading or using the contract.

One hierarchy for the package: `SpecError` carries the JSON pointer and the rule that was broken;
`PointerError` is the one raised for a malformed JSON pointer, or one that cannot be followed to set a value;
`OverlayError` names the design overlay file and its action instead of a pointer.
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


class OverlayError(SpecError):
    """A design overlay that cannot be read or applied: names the file, the action (when one is at fault) and the rule.

    `spec/designs/sse-push.yaml: actions[2]: overlay-target: target $.paths.x selects nothing in spec/openapi.yaml`
    """

    def __init__(self, file: object, action: int | None, rule: str, message: str) -> None:
        self.file = str(file)
        self.action = action
        pointer = f"/actions/{action}" if action is not None else ""
        super().__init__(pointer, rule, message)
        where = f"{self.file}: actions[{action}]" if action is not None else self.file
        self.args = (f"{where}: {rule}: {message}",)
