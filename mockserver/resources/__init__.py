"""Domain behaviour of the mock, one module per resource, keyed by the spec's operationId.

Each resource module exports `HANDLERS: dict[str, Handler]` (and may export `PROJECTIONS`: what an operation
answers about one job, for a design that pushes it in the stream); operations without a handler are
answered from the spec's examples (after validation and authentication). A resource module that
fails to import fails the mock: it never falls back to examples in silence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from types import ModuleType
from typing import Any

from mockserver.context import Handler
from mockserver.errors import MockError
from mockserver.resources import (
    baselines,
    batch_tests,
    configs,
    control,
    datasets,
    deployments,
    jobs,
    metrics,
    predictions,
    streams,
    traces,
)
from mockserver.store import Store

RESOURCE_MODULES: tuple[ModuleType, ...] = (
    jobs,
    predictions,
    metrics,
    control,
    configs,
    datasets,
    deployments,
    baselines,
    batch_tests,
    traces,
    streams,
)


def handlers(modules: tuple[ModuleType, ...] = RESOURCE_MODULES) -> dict[str, Handler]:
    """Every operationId with domain behaviour, mapped to its handler; two handlers for one operation fail."""
    table: dict[str, Handler] = {}
    owners: dict[str, str] = {}
    for module in modules:
        found: Mapping[str, Handler] = module.HANDLERS
        for op_id, handler in found.items():
            if op_id in table:
                raise MockError(f"operation {op_id} has two handlers, in {owners[op_id]} and {module.__name__}")
            table[op_id] = handler
            owners[op_id] = module.__name__
    return table


def projections(store: Store, modules: tuple[ModuleType, ...] = RESOURCE_MODULES) -> dict[str, Callable[[str], Any]]:
    """Per operationId, what it answers about one job (`job_id -> body`): the modules' `PROJECTIONS`, on `store`."""
    table: dict[str, Callable[[str], Any]] = {}
    for module in modules:
        for op_id, project in getattr(module, "PROJECTIONS", {}).items():
            if op_id in table:
                raise MockError(f"operation {op_id} has two projections; one is in {module.__name__}")
            table[op_id] = partial(project, store)
    return table
