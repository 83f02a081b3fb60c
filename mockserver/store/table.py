"""The base of the store's tables: rows keyed by id, checked against the spec's schema of the row.

Public to resource handlers for `Row` and the ordering helpers; a new table subclasses `Table`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from mockserver.wire import instant
from spec import Contract, Schema

Row = dict[str, Any]
OWNER = "user_id"  # the column naming the user a row belongs to, in every table that has one


class StoreError(ValueError):
    """Seed data that cannot be loaded; the message names the key and the problem."""


def newest_first(rows: Iterable[Row], field: str = "created_at") -> list[Row]:
    """Rows ordered by a time stamp column, newest first (stable for equal times)."""
    return sorted(rows, key=lambda row: instant(row.get(field)), reverse=True)


def component(contract: Contract, name: str) -> Mapping[str, Any]:
    """A dereferenced component schema of the contract."""
    schemas = contract.resolved.get("components", {}).get("schemas", {})
    if name not in schemas:
        raise StoreError(f"the spec has no schema {name!r} for a store table")
    return dict(schemas[name])


def columns(schema: Mapping[str, Any]) -> tuple[str, ...]:
    """The property names of an object schema, in document order, through `allOf`."""
    names: dict[str, None] = {}
    for part in [schema, *(schema.get("allOf") or [])]:
        for name in (part.get("properties") or {}) if isinstance(part, Mapping) else {}:
            names[name] = None
    return tuple(names)


class ColumnTypes:
    """Per-column schemas of a row: a column keeps only a value of its type, as a database would.

    Uploads may carry keys their request schema does not declare; those must never corrupt a row.
    """

    def __init__(self, schema: Mapping[str, Any] | None) -> None:
        parts = [schema, *(schema.get("allOf") or [])] if schema else []
        self._schemas = {
            name: Schema(sub)
            for part in parts
            if isinstance(part, Mapping)
            for name, sub in (part.get("properties") or {}).items()
        }

    def typed(self, column: str, value: Any) -> Any:
        """`value` when the column's schema accepts it (or the column is untyped), else None."""
        schema = self._schemas.get(column)
        return value if value is None or schema is None or schema.is_valid(value) else None


def nullable_columns(schema: Mapping[str, Any]) -> tuple[str, ...]:
    """The properties of an object schema that may hold null (a stored row carries them as null)."""
    found: dict[str, None] = {}
    for part in [schema, *(schema.get("allOf") or [])]:
        for name, sub in ((part.get("properties") or {}) if isinstance(part, Mapping) else {}).items():
            if Schema(sub).is_valid(None):
                found[name] = None
    return tuple(found)


class Table:
    """Rows keyed by their `id`, in insertion order, checked against one spec schema on load."""

    key = "id"

    def __init__(self, table: str, schema: Mapping[str, Any] | None = None) -> None:
        self.table = table
        self.schema = Schema(dict(schema)) if schema is not None else None
        self.rows: dict[str, Row] = {}

    def check(self, rows: Any) -> list[Row]:
        """Seed rows as a list of fresh dicts; StoreError naming the row and rule otherwise."""
        if not isinstance(rows, list):
            raise StoreError(f"{self.table}: must be a list of rows")
        checked: list[Row] = []
        for index, row in enumerate(rows):
            where = f"{self.table}[{index}]"
            if not isinstance(row, dict):
                raise StoreError(f"{where}: must be a mapping")
            if self.key not in row or not isinstance(row[self.key], str) or not row[self.key]:
                raise StoreError(f"{where}: {self.key} is required and must be a non-empty string")
            prepared = self.prepare(copy.deepcopy(row))
            if self.schema is not None:
                for violation in self.schema.violations(prepared, where):
                    raise StoreError(str(violation))
            checked.append(prepared)
        return checked

    def prepare(self, row: Row) -> Row:
        """A seed row as the table stores it (before it is checked); the row itself by default."""
        return row

    def load(self, rows: list[Row]) -> None:
        """Replace all rows with checked seed rows."""
        self.rows = {row[self.key]: row for row in rows}

    def dump(self) -> list[Row]:
        """All rows as seed data."""
        return copy.deepcopy(list(self.rows.values()))

    def get(self, key: str) -> Row | None:
        """The row with this key."""
        return self.rows.get(key)

    def owned(self, key: str, user_id: str | None) -> Row | None:
        """The row with this key when `user_id` owns it (someone else's row is as good as absent)."""
        row = self.rows.get(key)
        return row if row is not None and user_id is not None and row.get(OWNER) == user_id else None

    def put(self, row: Row) -> Row:
        """Insert or replace a row."""
        self.rows[row[self.key]] = row
        return row

    def delete(self, key: str) -> Row | None:
        """Remove a row; the removed row or None."""
        return self.rows.pop(key, None)

    def of_user(self, user_id: str | None) -> Iterator[Row]:
        """The rows a user owns, in insertion order."""
        return (row for row in self.rows.values() if row.get(OWNER) == user_id)

    def __len__(self) -> int:
        return len(self.rows)
