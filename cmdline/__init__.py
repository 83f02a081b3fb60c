"""The command-line shell of every ftl-harness command: flags with `FTL_*` variables, value parsers, errors, output.

The bottom layer of the project: it imports none of the other packages, and every command stands on it,
so the same mistake gets the same words and every command answers `--version`.
"""

from __future__ import annotations

from cmdline import values
from cmdline.flags import Flag, Parser, add_arguments, parser_for, resolve
from cmdline.output import (
    PROGRESS_INTERVAL_S,
    ProgressLines,
    Snapshot,
    WatchedProgress,
    append_step_summary,
    console,
    print_whole,
    progress_bar,
    progress_line,
)
from cmdline.shell import UsageError, fail, guarded, one_line, unreachable, version

__all__ = [
    "PROGRESS_INTERVAL_S",
    "Flag",
    "Parser",
    "ProgressLines",
    "Snapshot",
    "UsageError",
    "WatchedProgress",
    "add_arguments",
    "append_step_summary",
    "console",
    "fail",
    "guarded",
    "one_line",
    "parser_for",
    "print_whole",
    "progress_bar",
    "progress_line",
    "resolve",
    "unreachable",
    "values",
    "version",
]
