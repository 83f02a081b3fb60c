"""`ftl-spec`: validate a contract document and print its summary.

Its flag has an `FTL_SPEC_<FLAG>` environment variable. Exit 0 when the document loads, 2 with a
one-line reason when it does not.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence

from cmdline import Flag, Parser, guarded, parser_for, resolve, values
from spec import BUNDLED_SPEC, Contract, SpecError, load

PROG = "ftl-spec"
FLAGS = (
    Flag(
        "spec",
        values.input_file,
        "OpenAPI 3.2 document to validate",
        "the bundled spec/openapi.yaml",
        prefix="FTL_SPEC_",
    ),
)


def build_parser() -> Parser:
    """The argument parser; `--help` names the flag's default and environment variable."""
    return parser_for(
        PROG,
        "Validate the contract and print a summary.",
        "Exit codes: 0 the document is valid, 2 it is not (or a usage error).",
        FLAGS,
    )


def summary(contract: Contract) -> list[str]:
    """The lines `ftl-spec` prints for a valid contract."""
    tags = Counter(op.tags[0] if op.tags else "untagged" for op in contract.operations.values())
    lines = [f"{contract.source}: valid OpenAPI {contract.document['openapi']}, {len(contract.operations)} operations"]
    lines += [f"  {tag:<14} {tags[tag]:>3}" for tag in contract.tags if tags.get(tag)]
    stream = contract.stream
    lines.append(
        f"stream {stream.operation.operation_id}: events {', '.join(stream.event_names)}; "
        f"heartbeat every {stream.heartbeat_interval_ms} ms"
    )
    return lines


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line; the return value is the exit code."""

    def body() -> int:
        args = build_parser().parse_args(argv)
        path = resolve(FLAGS, args, os.environ if environ is None else environ).get("spec", BUNDLED_SPEC)
        print("\n".join(summary(load(path))))
        return 0

    return guarded(PROG, body, (SpecError,))


if __name__ == "__main__":
    raise SystemExit(main())
