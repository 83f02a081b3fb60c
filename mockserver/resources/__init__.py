"""Domain behaviour of the mock, one module per resource, keyed by the spec's operationId.

Each resource module exports `HANDLERS: dict[str, Handler]`; operations without a handler are
answered from the spec's examples (after validation and authentication).
"""

from __future__ import annotations

from mockserver.context import Handler

RESOURCE_MODULES = (
    "jobs",
    "predictions",
    "metrics",
    "control",
    "configs",
    "datasets",
    "deployments",
    "baselines",
    "batch_tests",
    "traces",
    "streams",
)


def handlers() -> dict[str, Handler]:
    """Every operationId with domain behaviour, mapped to its handler."""
    import importlib

    table: dict[str, Handler] = {}
    for name in RESOURCE_MODULES:
        try:
            module = importlib.import_module(f"mockserver.resources.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"mockserver.resources.{name}":
                continue
            raise
        for op_id, handler in module.HANDLERS.items():
            if op_id in table:
                raise RuntimeError(f"operation {op_id} has two handlers")
            table[op_id] = handler
    return table
