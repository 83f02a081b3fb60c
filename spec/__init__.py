"""The FineTune Lab training API contract, loaded, validated and indexed once.

`spec.load()` returns a `Contract`: operations by operationId and route, the one router (`Contract.router`,
used by the mock and the gate alike), compiled validators, security requirements and schemes
(`Contract.schemes`: header, credential, key pattern, redaction) and the SSE stream's event schemas and rules;
`Operation.path_for(**params)` fills a path. `spec.pointers` is the JSON-pointer module every package uses.
"""

from __future__ import annotations

from pathlib import Path

from spec._contract import Contract, StreamContract
from spec._errors import PointerError, SpecError
from spec._loader import BUNDLED_SPEC, load
from spec._operation import MediaType, Operation, Parameter, RequestBody, Response, SecurityRequirement, coerce
from spec._routing import Match, RouteMatch, Router
from spec._schema import Schema, Violation
from spec._security import CREDENTIALS, Redaction, SecurityScheme, SecuritySchemes

__all__ = [
    "BUNDLED_SPEC",
    "CREDENTIALS",
    "Contract",
    "Match",
    "MediaType",
    "Operation",
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
    "load",
]

SPEC_DIR = Path(__file__).parent
