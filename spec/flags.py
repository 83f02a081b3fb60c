"""Command-line flags that each have an `FTL_<PREFIX>_<FLAG>` environment variable, for every CLI of the harness.

A flag beats its variable, which beats the default; a bad value is a FlagError naming the flag or the variable.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

# Python's own messages for int("x") and float("x"); a CLI may show "invalid value 'x'" instead.
INT_MESSAGE = "invalid literal"
FLOAT_MESSAGE = "could not convert"


TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = int(text)
    if value < 1:
        raise ValueError(f"must be >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError(f"must be a number > 0, got {text!r}")
    return value


def boolean(text: str) -> bool:
    """A yes/no word: 1, true, yes, on or 0, false, no, off."""
    if text.lower() in TRUE:
        return True
    if text.lower() in FALSE:
        return False
    raise ValueError(f"must be one of {', '.join(TRUE + FALSE)}, got {text!r}")


class FlagError(ValueError):
    """A flag or environment value that does not parse; the message starts with the flag or variable."""


@dataclass(frozen=True)
class Flag:
    """One flag: its parser, help text, the default shown in --help, and its environment variable's prefix."""

    name: str
    parse: Callable[[str], Any]
    help: str
    shown: str | None = None
    kind: Literal["value", "list", "switch"] = "value"
    prefix: str = ""
    default: Any = None

    @property
    def option(self) -> str:
        return f"--{self.name}"

    @property
    def env(self) -> str:
        return self.prefix + self.name.upper().replace("-", "_")

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    @property
    def metavar(self) -> str:
        return self.name.upper().replace("-", "_")


def add_arguments(
    parser: argparse.ArgumentParser, flags: Iterable[Flag], shown: Mapping[str, str | None] | None = None
) -> None:
    """Add each flag (default None, so a missing one can fall back to its variable); help names default and variable.

    `shown` overrides a flag's shown default by name (a subcommand's own defaults).
    """
    for flag in flags:
        default = (shown or {}).get(flag.name, flag.shown)
        help_text = f"{flag.help} [{'' if default is None else f'default: {default}; '}env {flag.env}]"
        if flag.kind == "switch":
            parser.add_argument(flag.option, dest=flag.dest, action=argparse.BooleanOptionalAction, help=help_text)
        elif flag.kind == "list":
            parser.add_argument(flag.option, dest=flag.dest, action="append", metavar="NAME", help=help_text)
        else:
            parser.add_argument(flag.option, dest=flag.dest, default=None, metavar=flag.metavar, help=help_text)


def resolve(
    flags: Iterable[Flag],
    args: argparse.Namespace,
    environ: Mapping[str, str],
    *,
    defaults: Mapping[str, str | None] | None = None,
    opaque: tuple[str, ...] = (INT_MESSAGE,),
    empty_env: bool = False,
) -> dict[str, Any]:
    """Parsed values by dest of the flags given on the command line or else in `environ`.

    A flag given neither way is left out, unless `defaults` has a text for it (parsed like a given value;
    None gives None). A parser's message containing one of `opaque` becomes "invalid value '<text>'".
    An empty variable counts as unset unless `empty_env`.
    """
    values: dict[str, Any] = {}
    for flag in flags:
        raw, source = getattr(args, flag.dest), flag.option
        given = flag.env in environ if empty_env else bool(environ.get(flag.env))
        if raw is None and given:
            raw, source = environ[flag.env], flag.env
        if raw is None and defaults is not None and flag.name in defaults:
            raw = defaults[flag.name]
            if raw is None:
                values[flag.dest] = None
                continue
        if raw is None:
            continue
        if isinstance(raw, bool):
            values[flag.dest] = raw
        elif isinstance(raw, list):
            values[flag.dest] = tuple(item for text in raw for item in _parsed(flag, text, source, opaque))
        else:
            values[flag.dest] = _parsed(flag, raw, source, opaque)
    return values


def _parsed(flag: Flag, raw: str, source: str, opaque: tuple[str, ...]) -> Any:
    try:
        return flag.parse(raw)
    except ValueError as exc:
        message = str(exc)
        detail = message if message and not any(part in message for part in opaque) else f"invalid value {raw!r}"
        raise FlagError(f"{source}: {detail}") from None
