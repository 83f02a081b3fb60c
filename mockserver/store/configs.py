"""Training configurations (`training_configs`), private to their owner unless made public.

A public configuration is found by its `public_id` without authentication.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mockserver.store.table import Row, Table, newest_first


class Configs(Table):
    """Configurations by id."""

    def __init__(self, schema: Mapping[str, Any] | None = None) -> None:
        super().__init__("configs", schema)

    def newest(self, user_id: str | None) -> list[Row]:
        """A user's configurations, newest first."""
        return newest_first(self.of_user(user_id))

    def public(self, public_id: str) -> Row | None:
        """The public configuration with this `public_id`."""
        return next(
            (row for row in self.rows.values() if row.get("is_public") is True and row.get("public_id") == public_id),
            None,
        )
