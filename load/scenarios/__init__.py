"""The load scenarios `ftl-load` runs: each a `load.tab.Tab` in its own module, registered here once.

`--mode` offers them in this order; `--mode both` compares `COMPARED`, the first being the baseline.
"""

from __future__ import annotations

from load.errors import LoadError
from load.scenarios import polling, sse
from load.tab import Tab, registry

SCENARIOS = registry(polling.Polling, sse.RefetchOnEvent)
COMPARED = ("polling", "sse")


def scenario(name: str) -> type[Tab]:
    """The registered scenario called `name`; LoadError naming the ones there are."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise LoadError(f"no load scenario {name!r}; there are: {', '.join(SCENARIOS)}") from None
