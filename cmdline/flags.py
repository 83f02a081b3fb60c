"""Flags that each have an `FTL_<COMMAND>_<FLAG>` environment variable, and the argument parser of every command.

A flag beats its variable, which beats the default; a value that does not parse is a UsageError naming
the flag or the variable, in the parser's own words. Every parser answers `--version`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from cmdline.shell import UsageError, version


@dataclass(frozen=True)
class Flag:
    """One flag: its parser, help text, default and the prefix of its environment variable.

    `default` is text, parsed like a given value (None: the flag is left out when not given, so the
    caller's own default applies); `shown` is how --help names the default when the text would not say it.
    """

    name: str
    parse: Callable[[str], Any]
    help: str
    shown: str | None = None
    kind: Literal["value", "list", "switch"] = "value"
    prefix: str = ""
    default: str | None = None

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


class Parser(argparse.ArgumentParser):
    """argparse with `--version`, whose mistakes are UsageErrors (one line, exit 2) instead of usage dumps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--version", action="version", version=f"{self.prog} {version()}")

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def parser_for(
    prog: str, description: str, epilog: str, flags: Iterable[Flag], shown: Mapping[str, str | None] | None = None
) -> Parser:
    """A command's parser with its flags (see `add_arguments`)."""
    parser = Parser(prog=prog, description=description, epilog=epilog)
    add_arguments(parser, flags, shown)
    return parser


def add_arguments(
    parser: argparse.ArgumentParser, flags: Iterable[Flag], shown: Mapping[str, str | None] | None = None
) -> None:
    """Add each flag (default None, so a missing one falls back to its variable); help names default and variable.

    `shown` overrides a flag's shown default by name (a subcommand's own defaults).
    """
    for flag in flags:
        default = (shown or {}).get(flag.name, flag.shown if flag.shown is not None else flag.default)
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
) -> dict[str, Any]:
    """Parsed values by dest: the command line, else the environment (empty counts as unset), else the default.

    `defaults` overrides flags' default texts by name. A flag with neither is left out of the result.
    UsageError `<flag or variable>: <the parser's message>` when a value does not parse.
    """
    values: dict[str, Any] = {}
    for flag in flags:
        raw, source = getattr(args, flag.dest), flag.option
        if raw is None and environ.get(flag.env, "").strip():
            raw, source = environ[flag.env], flag.env
        if raw is None:
            raw, source = (defaults or {}).get(flag.name, flag.default), f"the default of {flag.option}"
        if raw is None:
            continue
        if isinstance(raw, bool):
            values[flag.dest] = raw
        elif isinstance(raw, list):
            values[flag.dest] = tuple(item for text in raw for item in _parsed(flag, text, source))
        else:
            values[flag.dest] = _parsed(flag, raw, source)
    return values


def _parsed(flag: Flag, raw: str, source: str) -> Any:
    try:
        return flag.parse(raw)
    except ValueError as exc:
        raise UsageError(f"{source}: {exc or f'invalid value {raw!r}'}") from None
