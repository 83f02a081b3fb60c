"""`ftl-spec`: validate a contract document and print its summary.

Exit 0 when the document loads, 2 with a one-line reason when it does not.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

from spec import BUNDLED_SPEC, SpecError, load


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    parser = argparse.ArgumentParser(prog="ftl-spec", description="Validate the contract and print a summary.")
    parser.add_argument(
        "--spec",
        default=os.environ.get("FTL_SPEC", str(BUNDLED_SPEC)),
        help="OpenAPI 3.2 document (env FTL_SPEC; default: the bundled spec/openapi.yaml)",
    )
    args = parser.parse_args(argv)
    try:
        contract = load(args.spec)
    except SpecError as exc:
        print(f"ftl-spec: {exc}", file=sys.stderr)
        return 2
    tags = Counter(op.tags[0] if op.tags else "untagged" for op in contract.operations.values())
    print(f"{contract.source}: valid OpenAPI {contract.document['openapi']}, {len(contract.operations)} operations")
    for tag in contract.tags:
        if tags.get(tag):
            print(f"  {tag:<14} {tags[tag]:>3}")
    stream = contract.stream
    print(
        f"stream {stream.operation.operation_id}: events {', '.join(stream.event_names)}; "
        f"heartbeat every {stream.heartbeat_interval_ms} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
