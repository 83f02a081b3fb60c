"""The FineTune Lab training API contract, loaded, validated and indexed once.

`spec.load()` returns a `Contract`: operations by operationId and route, the one router (`Contract.router`,
used by the mock and the gate alike), compiled validators, security requirements and schemes
(`Contract.schemes`: header, credential, key pattern, redaction) and the SSE stream's event schemas and rules;
`Operation.path_for(**params)` fills a path. `spec.pointers` is the JSON-pointer module every package uses.
`spec.load(design=NAME)` is the contract of a design variant: an OpenAPI Overlay from `spec/designs/` (`designs()`
lists them) applied over the base with oas-patch, then checked like the base.
"""

from __future__ import annotations

from pathlib import Path

from spec._contract import Contract, StreamContract
from spec._designs import DESIGNS_DIR, Design, designs, find_design
from spec._errors import OverlayError, PointerError, SpecError
from spec._loader import BUNDLED_SPEC, load
from spec._operation import MediaType, Operation, Parameter, RequestBody, Response, SecurityRequirement, coerce
from spec._routing import Match, RouteMatch, Router
from spec._schema import Schema, Violation
from spec._security import CREDENTIALS, Redaction, SecurityScheme, SecuritySchemes

__all__ = [
    "BUNDLED_SPEC",
    "CREDENTIALS",
    "DESIGNS_DIR",
    "Contract",
    "Design",
    "Match",
    "MediaType",
    "Operation",
    "OverlayError",
    "Parameter",
    "PointerError",
    "Redaction",
    "RequestBody",
    "Response",
    "RouteMatch",
    "Router",
    "Schema",
    "SecurityRequirement",
    "SecurityScheme",
    "SecuritySchemes",
    "SpecError",
    "StreamContract",
    "Violation",
    "coerce",
    "designs",
    "find_design",
    "load",
]

SPEC_DIR = Path(__file__).parent
