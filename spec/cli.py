"""`ftl-spec`: validate a contract document (or a design overlaid on it) and print its summary.

Each flag has an `FTL_SPEC_<FLAG>` environment variable. Exit 0 when the document loads, 2 with a
one-line reason when it does not.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence

from cmdline import Flag, Parser, guarded, parser_for, resolve, values
from spec import BUNDLED_SPEC, Contract, SpecError, StreamContract, designs, find_design, load

PROG = "ftl-spec"
FLAGS = (
    Flag(
        "spec",
        values.input_file,
        "OpenAPI 3.2 document to validate",
        "the bundled spec/openapi.yaml",
        prefix="FTL_SPEC_",
    ),
    Flag(
        "design",
        values.file_or_name,
        f"design overlay applied over the document first: a name from spec/designs/ ({', '.join(designs())}) or a file",
        "none",
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
    if contract.design is not None:
        overlay = find_design(contract.design).path
        lines.insert(1, f"design {contract.design} ({overlay}) over {contract.source}")
        lines += [f"  {rule}" for rule in design_rules(stream)]
    return lines


def design_rules(stream: StreamContract) -> list[str]:
    """The stream rules a design adds, one line each (none for the base contract)."""
    found = []
    if stream.batch is not None:
        found.append(
            f"batch: {stream.trigger_event} events carry the rows at {stream.batch['items']}, "
            f"at most one per job every {stream.batch['window_ms']} ms"
        )
    if stream.filter is not None:
        found.append(
            f"filter: ?{stream.filter['parameter']}= keeps only items with that {stream.filter['item_pointer']}"
        )
    if stream.push is not None:
        found.append(
            f"push: {', '.join(stream.push['events'])} carry {stream.push['operation_id']}'s answer at "
            f"{stream.push['pointer']}"
        )
    if stream.limit is not None:
        found.append(
            f"limit: {stream.limit['streams']} open streams per {stream.limit['per']}, "
            f"one more gets HTTP {stream.limit['status']}"
        )
    if stream.content_coding is not None:
        found.append(f"content coding: {stream.content_coding} to clients that accept it, one flush per message")
    return found


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line; the return value is the exit code."""

    def body() -> int:
        args = build_parser().parse_args(argv)
        given = resolve(FLAGS, args, os.environ if environ is None else environ)
        print("\n".join(summary(load(given.get("spec", BUNDLED_SPEC), design=given.get("design")))))
        return 0

    return guarded(PROG, body, (SpecError,))


if __name__ == "__main__":
    raise SystemExit(main())
