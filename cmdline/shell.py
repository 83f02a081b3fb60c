"""The shell around every command: its version, and one line on stderr with exit 2 for every user mistake.

`guarded(prog, body, errors)` runs a command's body and turns a UsageError, or one of the package's own
setup errors, into `prog: error: <message>` on a single line.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from importlib import metadata

import httpx

DISTRIBUTION = "ftl-harness"
USAGE_EXIT = 2
# PyYAML's "  in "<file>", line 4, column 7:" marks, each followed by a snippet line and a caret line.
YAML_MARK = re.compile(r'\s*in "[^"]*", line (\d+), column (\d+):?\s*')
CARET = re.compile(r"\s*\^\s*")
ERRNO = re.compile(r"\[Errno -?\d+\]\s*")


class UsageError(Exception):
    """A mistake in a command line, an environment variable or a file it names; the message says which."""


def version() -> str:
    """The installed version of ftl-harness."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def one_line(message: str) -> str:
    """The message on one line: a YAML parser's marks become `line L, column C: problem`, other lines join with '; '."""
    lines = [line for line in message.splitlines() if line.strip()]
    if len(lines) <= 1:
        return message.strip()
    if any(YAML_MARK.fullmatch(line) for line in lines):
        return _yaml_line(lines)
    return "; ".join(line.strip() for line in lines)


def _yaml_line(lines: list[str]) -> str:
    texts: list[str] = []
    marks: list[tuple[str, str]] = []
    for index, line in enumerate(lines):
        found = YAML_MARK.fullmatch(line)
        before_caret = index + 1 < len(lines) and CARET.fullmatch(lines[index + 1])
        if found:
            marks.append((found.group(1), found.group(2)))
        elif not CARET.fullmatch(line) and not before_caret:
            texts.append(line.strip())
    head, problem = texts[0], texts[-1]
    prefix, context = head, ""
    if len(texts) > 1 and ": while " in head:
        prefix, _, context = head.partition(": while ")
        context = "while " + context
    elif len(texts) == 1:
        prefix, _, problem = head.rpartition(": ")
    line, column = marks[-1]
    where = f"line {line}, column {column}: {problem}"
    if context and len(marks) > 1:
        where += f" ({context} from line {marks[0][0]})"
    return f"{prefix}: {where}" if prefix else where


def fail(prog: str, message: str) -> int:
    """Print `prog: error: <message>` as one line on stderr; the exit code of a usage or setup error."""
    print(f"{prog}: error: {one_line(message)}", file=sys.stderr, flush=True)
    return USAGE_EXIT


def guarded(prog: str, body: Callable[[], int], errors: Sequence[type[Exception]] = ()) -> int:
    """Run a command's body; a UsageError or one of `errors` is one line and exit 2, Ctrl-C too.

    `--help` and `--version` end the body with SystemExit(0), which becomes the return value.
    """
    try:
        return body()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 0
    except Exception as exc:
        if isinstance(exc, (UsageError, *errors)):
            return fail(prog, str(exc))
        raise
    except KeyboardInterrupt:
        return fail(prog, "interrupted")


def unreachable(url: str, exc: Exception, timeout: float, flag: str = "--request-timeout") -> str:
    """One line on why a request to `url` got no answer: refused, unknown host, timed out (naming `flag`)."""
    if isinstance(exc, httpx.TimeoutException):
        return f"{url} did not answer within {timeout:g} s (a slower target needs a larger {flag})"
    reason = ERRNO.sub("", str(exc)).strip() or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot reach {url}: {reason[:1].lower()}{reason[1:]}"
    return f"cannot talk to {url}: {type(exc).__name__}: {reason}"
