"""Metric regression baselines (camelCase rows), shared by every user.

The platform reads and writes them with its service role, so no row has an owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mockserver.store.table import Row, Table, newest_first


class Baselines(Table):
    """Baselines by id."""

    def __init__(self, schema: Mapping[str, Any] | None = None) -> None:
        super().__init__("baselines", schema)

    def of_model(self, model_name: str, version: str | None = None) -> list[Row]:
        """The baselines of a model (and version, when given), newest first."""
        rows = (
            row
            for row in self.rows.values()
            if row.get("modelName") == model_name and (version is None or row.get("version") == version)
        )
        return newest_first(rows, "createdAt")
