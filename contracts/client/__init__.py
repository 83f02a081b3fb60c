"""Stream client conformance (`ftl-gate client`): any SSE client run against every scripted stream and judged.

`rules` (the contract's client rules) < `cases` (a case per scenario file); `tap` (a recording relay) <
`exchanges` (HTTP read back from its bytes); `protocol` (the client's output); `mock` (the admin API) <
`observation` < `checks` (the registry) < `runner` < `report` < `cli`.
`adapters/` holds the reference clients: httpx-sse, Node fetch, and the platform hook's naive parser.
"""

from contracts.client.checks import CHECKS, Check, Level, NotApplicable, check
from contracts.client.rules import Bounds, ClientRules

__all__ = ["CHECKS", "Bounds", "Check", "ClientRules", "Level", "NotApplicable", "check"]
