"""Users, their session tokens and their API keys.

Looked up by the auth module; API keys carry scopes and an active flag, sessions map to users. A stored key
must have the form the contract's API key scheme asks for (`x-key-pattern`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from spec import SecurityScheme

ALL_SCOPES = "all"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored API key."""

    key: str
    user_id: str
    scopes: frozenset[str]
    active: bool = True
    name: str = ""

    @property
    def all_scopes(self) -> bool:
        """True for a key with the scope `all`, which grants every scope."""
        return ALL_SCOPES in self.scopes

    def has_scope(self, scope: str) -> bool:
        """True when the key grants `scope` (`all` grants every scope)."""
        return self.all_scopes or scope in self.scopes


class Accounts:
    """Users, sessions and API keys."""

    def __init__(self, key_scheme: SecurityScheme | None = None) -> None:
        self.key_scheme = key_scheme
        self.users: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, str] = {}
        self.keys: dict[str, ApiKey] = {}

    def load(self, users: Iterable[Mapping[str, Any]], keys: Iterable[Mapping[str, Any]]) -> None:
        """Replace users and keys with seed rows."""
        self.users = {str(u["id"]): dict(u) for u in users}
        self.sessions = {str(token): str(u["id"]) for u in self.users.values() for token in u.get("sessions", [])}
        self.keys = {}
        for row in keys:
            scopes = row.get("scopes")
            key = ApiKey(
                key=str(row["key"]),
                user_id=str(row["user_id"]),
                scopes=frozenset(scopes if scopes is not None else [ALL_SCOPES]),
                active=bool(row.get("active", True)),
                name=str(row.get("name", "")),
            )
            scheme = self.key_scheme
            if scheme is not None and not scheme.fits(key.key):
                pattern = scheme.key_pattern.pattern if scheme.key_pattern else ""
                shown = scheme.redaction.apply(key.key)
                raise ValueError(f"api_keys: {shown} does not have the form of an API key ({pattern})")
            if key.user_id not in self.users:
                raise ValueError(f"api_keys: key {key.name or key.key[:8]} names unknown user {key.user_id}")
            self.keys[key.key] = key

    def dump(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Users and keys as seed rows."""
        keys = [
            {"key": k.key, "user_id": k.user_id, "scopes": sorted(k.scopes), "active": k.active, "name": k.name}
            for k in self.keys.values()
        ]
        return [dict(u) for u in self.users.values()], keys

    def sessions_of(self, user_id: str) -> list[str]:
        """A user's session tokens, in seed order."""
        return [str(token) for token in self.users.get(user_id, {}).get("sessions", [])]

    def api_key(self, value: str) -> ApiKey | None:
        """The active key with this exact value."""
        key = self.keys.get(value)
        return key if key is not None and key.active else None

    def session_user(self, token: str) -> str | None:
        """The user id a session token belongs to."""
        return self.sessions.get(token)
