"""The load scenarios `ftl-load` runs: each a `load.tab.Tab` in its own module, registered here once.

`--mode` and `--designs` offer them in this order; `--mode both` compares `COMPARED`, the first being the baseline.
A scenario's name is the design it is compared as: its tab's behaviour against the contract its `design` names.
"""

from __future__ import annotations

from load.errors import LoadError
from load.scenarios import debounced, epoch_filter, gzip, polling, push, sse
from load.tab import Tab, registry

SCENARIOS = registry(
    polling.Polling,
    sse.RefetchOnEvent,
    push.UsePayload,
    debounced.DebouncedRefetch,
    epoch_filter.EpochFilter,
    gzip.GzipRefetch,
)
COMPARED = ("polling", "sse")
ALL = tuple(SCENARIOS)
"""`--designs all`: every scenario, the baseline first."""


def scenario(name: str) -> type[Tab]:
    """The registered scenario called `name`; LoadError naming the ones there are."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise LoadError(f"no load scenario {name!r}; there are: {', '.join(SCENARIOS)}") from None
