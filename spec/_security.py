"""The contract's security schemes, typed: which header carries which credential, in what form, shown how.

OpenAPI says the header and the HTTP scheme. The document's extensions on each scheme say the rest:
`x-credential` (the credential it carries: `api_key`, `session_token` or `job_token`), `x-key-prefix` and
`x-key-pattern` (how a value of that credential starts and the form it must have before it is looked up) and
`x-redaction` (how much of it a journal or a data dump may show).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from spec._errors import SpecError
from spec.pointers import join

CREDENTIALS = ("api_key", "session_token", "job_token")
"""The credentials of the API, by the one name every package uses for them."""
AUTHORIZATION = "Authorization"


@dataclass(frozen=True, slots=True)
class Redaction:
    """How a secret is shown where it is shown at all: its first `keep` characters, then `…`.

    A value sent as `Authorization: Bearer <token>` keeps the `Bearer ` word and the first characters of the token.
    """

    keep: int
    MARK = "…"

    def apply(self, value: str) -> str:
        """The shown form of a secret or of a header value carrying one: `wak_j6S4…`, `Bearer ftl-demo…`."""
        word, sep, token = value.partition(" ")
        if sep and word.lower() == "bearer":
            return f"{word} {token[: self.keep]}{self.MARK}"
        return f"{value[: self.keep]}{self.MARK}"

    def applied(self, value: str) -> bool:
        """True when `value` is a shown (shortened) secret rather than the secret itself."""
        return value.endswith(self.MARK)

    def revealed(self, shown: str) -> str:
        """What a shown value keeps of its secret (`Bearer wak_j6S4…` keeps `wak_j6S4`)."""
        word, sep, token = shown.partition(" ")
        kept = token if sep and word.lower() == "bearer" else shown
        return kept.removesuffix(self.MARK)[: self.keep]


@dataclass(frozen=True, slots=True)
class SecurityScheme:
    """One entry of `components.securitySchemes` with what its extensions add."""

    name: str
    kind: str
    header: str | None
    scheme: str | None
    bearer_format: str | None
    credential: str
    key_prefix: str | None
    key_pattern: re.Pattern[str] | None
    redaction: Redaction
    description: str

    @property
    def is_header_key(self) -> bool:
        """True for a key sent in a header of its own (`type: apiKey`, `in: header`)."""
        return self.kind == "apiKey" and self.header is not None

    @property
    def is_bearer(self) -> bool:
        """True for an `Authorization: Bearer <token>` scheme (`type: http`, `scheme: bearer`)."""
        return self.kind == "http" and self.scheme == "bearer"

    def headers(self, secret: str) -> dict[str, str]:
        """The request headers that present `secret` under this scheme (`X-API-Key: …`, `Authorization: Bearer …`)."""
        if self.is_bearer:
            return {AUTHORIZATION: f"Bearer {secret}"}
        if self.is_header_key and self.header is not None:
            return {self.header: secret}
        raise SpecError(
            self.pointer, "securitySchemes", f"{self.name}: {self.kind} credentials are not sent in a header"
        )

    def fits(self, secret: str) -> bool:
        """True when `secret` has the form `x-key-pattern` asks for (any value fits a scheme without one)."""
        return self.key_pattern is None or self.key_pattern.fullmatch(secret) is not None

    def looks_like(self, secret: str) -> bool:
        """True when `secret` starts the way this scheme's credential does (`x-key-prefix`; no prefix: never)."""
        return self.key_prefix is not None and secret.startswith(self.key_prefix)

    @property
    def pointer(self) -> str:
        """JSON pointer of the scheme in the document."""
        return join("components", "securitySchemes", self.name)


class SecuritySchemes(Mapping[str, SecurityScheme]):
    """Every security scheme of the contract by name, in document order, and what they share."""

    def __init__(self, schemes: Mapping[str, SecurityScheme]) -> None:
        self._schemes = dict(schemes)
        rules = {scheme.redaction for scheme in self._schemes.values()}
        if len(rules) > 1:
            raise SpecError(
                join("components", "securitySchemes"), "x-redaction", "every scheme must show its secrets the same way"
            )
        self.redaction = next(iter(rules), Redaction(0))
        """The one rule by which every secret is shown (journals, data dumps)."""

    def __getitem__(self, name: str) -> SecurityScheme:
        return self._schemes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._schemes)

    def __len__(self) -> int:
        return len(self._schemes)

    def carrying(self, credential: str) -> tuple[SecurityScheme, ...]:
        """The schemes that carry `credential` (`api_key`, `session_token`, `job_token`), in document order."""
        return tuple(scheme for scheme in self._schemes.values() if scheme.credential == credential)

    def credential_of(self, name: str) -> str | None:
        """The credential the scheme `name` carries, None for a name the contract does not declare."""
        scheme = self._schemes.get(name)
        return scheme.credential if scheme is not None else None

    @property
    def headers(self) -> frozenset[str]:
        """Every header that carries a credential, lower case (`x-api-key`, `authorization`, …)."""
        return frozenset(s.header.lower() for s in self._schemes.values() if s.header is not None)


def security_schemes(document: Mapping[str, Any]) -> SecuritySchemes:
    """The typed schemes of a (dereferenced) document; SpecError names a scheme whose extensions are wrong."""
    raw = (document.get("components") or {}).get("securitySchemes") or {}
    schemes = SecuritySchemes({name: _scheme(name, definition) for name, definition in raw.items()})
    for credential in CREDENTIALS:
        patterns = {
            (s.key_prefix, s.key_pattern.pattern if s.key_pattern else None) for s in schemes.carrying(credential)
        }
        if len(patterns) > 1:
            where = join("components", "securitySchemes")
            raise SpecError(
                where, "x-key-pattern", f"the schemes carrying {credential} must agree on its prefix and pattern"
            )
    return schemes


def _scheme(name: str, raw: Mapping[str, Any]) -> SecurityScheme:
    where = join("components", "securitySchemes", name)
    credential = raw.get("x-credential")
    if credential not in CREDENTIALS:
        raise SpecError(
            f"{where}/x-credential",
            "x-credential",
            f"must name the credential the scheme carries: {', '.join(CREDENTIALS)}",
        )
    kind = str(raw.get("type", ""))
    header = str(raw["name"]) if kind == "apiKey" and raw.get("in") == "header" and raw.get("name") else None
    scheme = str(raw["scheme"]).lower() if kind == "http" and raw.get("scheme") else None
    return SecurityScheme(
        name=name,
        kind=kind,
        header=AUTHORIZATION if kind == "http" else header,
        scheme=scheme,
        bearer_format=str(raw["bearerFormat"]) if raw.get("bearerFormat") else None,
        credential=str(credential),
        key_prefix=str(raw["x-key-prefix"]) if raw.get("x-key-prefix") else None,
        key_pattern=_pattern(raw.get("x-key-pattern"), f"{where}/x-key-pattern"),
        redaction=_redaction(raw.get("x-redaction"), f"{where}/x-redaction"),
        description=str(raw.get("description", "")),
    )


def _pattern(value: Any, where: str) -> re.Pattern[str] | None:
    if value is None:
        return None
    try:
        return re.compile(str(value))
    except re.error as exc:
        raise SpecError(where, "x-key-pattern", f"must be a regular expression ({exc})") from None


def _redaction(value: Any, where: str) -> Redaction:
    keep = value.get("keep") if isinstance(value, Mapping) else None
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
        raise SpecError(where, "x-redaction", "must be {keep: <characters of a secret a journal may show, 0 or more>}")
    return Redaction(keep)
