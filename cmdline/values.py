"""Value parsers shared by every command: each takes the text of a flag or variable and returns its value.

A parser raises ValueError worded as the rule the text broke, `must be <rule>, got '<text>'`, so every
command says the same thing about the same mistake. Paths come back absolute, resolved against the
caller's working folder at once, so no later change of folder (a subprocess's `cwd`) can move them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
SIZE = re.compile(r"(?i)\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*")
SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def refuse(rule: str, text: str, why: str = "") -> NoReturn:
    """Raise the ValueError every parser raises: `must be <rule>, got '<text>'` (plus why, when known)."""
    raise ValueError(f"must be {rule}, got {text!r}" + (f" ({why})" if why else ""))


def whole_number(text: str) -> int:
    """Any integer."""
    try:
        return int(text.strip())
    except ValueError:
        refuse("a whole number", text)


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _whole_in(text, 1, None, "a whole number >= 1")


def count(text: str) -> int:
    """An integer >= 0."""
    return _whole_in(text, 0, None, "a whole number >= 0")


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _number(text, "a number > 0")
    if not 0 < value < math.inf:
        refuse("a number > 0", text)
    return value


def number_between(low: float, high: float) -> Callable[[str], float]:
    """A parser of numbers from `low` to `high`, both included."""
    rule = f"a number from {low:g} to {high:g}"

    def parse(text: str) -> float:
        value = _number(text, rule)
        if not low <= value <= high:
            refuse(rule, text)
        return value

    return parse


def time_scale(text: str) -> float:
    """A factor > 0 on every interval, as a number (`0.05`) or a fraction (`1/240`)."""
    rule = "a number > 0 or a fraction such as 1/240"
    numerator, slash, denominator = text.strip().partition("/")
    try:
        value = float(numerator) / float(denominator) if slash else float(numerator)
    except (ValueError, ZeroDivisionError):
        refuse(rule, text)
    if not 0 < value < math.inf:
        refuse(rule, text)
    return value


def duration(text: str) -> float:
    """Seconds in `1h`, `20m`, `90s`, `1h30m`, `250ms` or a bare number of seconds; > 0."""
    rule = "a duration such as 90s, 20m, 1h or 1h30m"
    cleaned = text.strip().lower()
    try:
        value = float(cleaned)
    except ValueError:
        parts = DURATION.findall(cleaned)
        if not parts or "".join(number + unit for number, unit in parts) != cleaned:
            refuse(rule, text)
        value = sum(float(number) * DURATION_UNITS[unit] for number, unit in parts)
    if not 0 < value < math.inf:
        refuse(rule, text)
    return value


def size(text: str) -> int:
    """Bytes in `1048576`, `512KiB` or `10MiB`; >= 1."""
    rule = "a size such as 1048576, 512KiB or 10MiB"
    found = SIZE.fullmatch(text)
    if not found:
        refuse(rule, text)
    number, unit = found.groups()
    value = int(float(number) * SIZE_UNITS[(unit or "").lower()[:1]])
    if value < 1:
        refuse(rule, text, "at least 1 byte")
    return value


def port(text: str) -> int:
    """A TCP port; 0 asks for any free one."""
    return _whole_in(text, 0, 65535, "a port from 0 (any free port) to 65535")


def boolean(text: str) -> bool:
    """A yes/no word: 1, true, yes, on or 0, false, no, off."""
    word = text.strip().lower()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    refuse(f"one of {', '.join(TRUE + FALSE)}", text)


def choice(*options: str) -> Callable[[str], str]:
    """A parser of one word out of `options` (any case), returned in lower case."""

    def parse(text: str) -> str:
        word = text.strip().lower()
        if word not in options:
            refuse(f"one of {', '.join(options)}", text)
        return word

    return parse


def http_url(text: str) -> str:
    """An http:// or https:// URL with a host, without its trailing slash."""
    cleaned = text.strip()
    scheme, _, rest = cleaned.partition("://")
    if scheme.lower() not in ("http", "https") or not rest.strip("/"):
        refuse("an http:// or https:// URL", text)
    return cleaned.rstrip("/")


def names(text: str) -> tuple[str, ...]:
    """Comma-separated names, blanks dropped."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def whole_numbers(text: str) -> list[int]:
    """Comma-separated integers >= 1, at least one."""
    rule = "whole numbers >= 1 separated by commas, such as 50,100,200"
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        refuse(rule, text)
    if not values or min(values) < 1:
        refuse(rule, text)
    return values


def positive_numbers(text: str) -> list[float]:
    """Comma-separated finite numbers > 0, at least one, each once."""
    rule = "numbers > 0 separated by commas, each once, such as 0.25,1,2,4"
    try:
        found = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        refuse(rule, text)
    if not found or not all(0 < value < math.inf for value in found) or len(set(found)) != len(found):
        refuse(rule, text)
    return found


def absolute(text: str) -> Path:
    """The path as the caller means it: `~` expanded, relative to the current folder, normalised."""
    return Path(os.path.abspath(os.path.expanduser(text.strip())))


def input_file(text: str) -> Path:
    """An existing file."""
    path = absolute(text)
    if not path.is_file():
        refuse("an existing file", text, "a folder" if path.is_dir() else "not found")
    return path


def file_or_name(text: str) -> str:
    """A file (made absolute) when one exists at `text`, else the text itself: a bundled name."""
    path = absolute(text)
    return str(path) if path.exists() else text.strip()


def output_file(text: str) -> Path:
    """A file that can be written: not a folder, under a folder that exists or can be made, writable."""
    path = absolute(text)
    if path.is_dir():
        refuse("a file path", text, "it is a folder")
    _check_creatable(path, text, "a file path")
    return path


def output_dir(text: str) -> Path:
    """A folder that exists or can be made, and can be written in."""
    path = absolute(text)
    if path.exists() and not path.is_dir():
        refuse("a folder path", text, "it is a file")
    _check_creatable(path, text, "a folder path")
    return path


def _check_creatable(path: Path, text: str, rule: str) -> None:
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        refuse(rule, text, f"{ancestor} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        refuse(rule, text, f"cannot write in {ancestor}")


def _whole_in(text: str, low: int, high: int | None, rule: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        refuse(rule, text)
    if value < low or (high is not None and value > high):
        refuse(rule, text)
    return value


def _number(text: str, rule: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        refuse(rule, text)
