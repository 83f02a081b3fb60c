"""The mock's in-memory state: one table module per resource, seeded from a data file.

`Store` loads, resets to and dumps the seed; resource handlers read and change its tables.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from mockserver.store.accounts import Accounts

# Seed keys in load order; each maps to the attribute of the same name on Store.
TABLE_KEYS: tuple[str, ...] = ("users", "api_keys")


class StoreError(ValueError):
    """Seed data that cannot be loaded; the message names the key and the problem."""


class Store:
    """All mutable state of one mock instance."""

    def __init__(self, seed: Mapping[str, Any]) -> None:
        self._seed = copy.deepcopy(dict(seed))
        self.accounts = Accounts()
        self.load(self._seed)

    @classmethod
    def from_file(cls, path: Path) -> Store:
        """A store seeded from a YAML or JSON file."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"cannot read seed data {path}: {exc.strerror}") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise StoreError(f"seed data {path} is not valid {path.suffix.lstrip('.').upper() or 'YAML'}: {exc}") from None
        if not isinstance(data, dict):
            raise StoreError(f"seed data {path} must be a mapping of table names to rows")
        return cls(data)

    def reset(self) -> None:
        """Back to the seed data."""
        self.load(self._seed)

    def load(self, data: Mapping[str, Any]) -> None:
        """Replace all state with `data` (the shape `dump` returns)."""
        unknown = set(data) - set(self.table_keys())
        if unknown:
            raise StoreError(f"unknown tables in data: {', '.join(sorted(unknown))}")
        self.accounts.load(data.get("users", []), data.get("api_keys", []))

    def dump(self) -> dict[str, Any]:
        """All state as plain data, loadable by `load`."""
        users, keys = self.accounts.dump()
        return {"users": users, "api_keys": keys}

    @staticmethod
    def table_keys() -> tuple[str, ...]:
        """The seed keys this store understands."""
        return TABLE_KEYS
