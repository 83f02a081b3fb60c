"""Training datasets (`training_datasets`) and the lines of their stored files.

Seed rows may carry `content` (lines, or JSON values written one per line); responses never do.
"""

from __future__ import annotations

import copy
import gzip
from collections.abc import Mapping, Sequence
from typing import Any

from mockserver.admin_routes import route
from mockserver.store.table import Row, StoreError, Table, newest_first
from mockserver.wire import text


def as_line(value: Any) -> str:
    """A stored file line: strings as they are, other JSON values compactly encoded."""
    return value if isinstance(value, str) else text(value)


class Datasets(Table):
    """Dataset rows by id; the stored file of each is kept as its list of lines."""

    def __init__(self, schema: Mapping[str, Any] | None = None) -> None:
        super().__init__("datasets", schema)
        self.content: dict[str, list[str]] = {}

    def check(self, rows: Any) -> list[Row]:
        """Seed rows checked against the spec; `content` must be a list when given."""
        checked = super().check(rows)
        for index, row in enumerate(checked):
            if not isinstance(row.get("content", []), list):
                raise StoreError(f"datasets[{index}].content: must be a list of lines or JSON values")
        return checked

    def load(self, rows: list[Row]) -> None:
        """Replace all datasets with checked seed rows."""
        self.content = {row["id"]: [as_line(v) for v in row.pop("content", None) or []] for row in rows}
        super().load(rows)

    def dump(self) -> list[Row]:
        """All rows with their `content` lines, as seed data."""
        return [{**copy.deepcopy(row), "content": list(self.content.get(key, []))} for key, row in self.rows.items()]

    def add(self, row: Row, lines: Sequence[str]) -> Row:
        """Store a new dataset row and its file lines."""
        self.content[row["id"]] = list(lines)
        return self.put(row)

    def delete(self, key: str) -> Row | None:
        """Remove a dataset row and its file."""
        self.content.pop(key, None)
        return super().delete(key)

    def lines(self, key: str) -> Sequence[str]:
        """The lines of a dataset's stored file (do not modify)."""
        return self.content.get(key, ())

    def newest(self, user_id: str | None) -> list[Row]:
        """A user's datasets, newest first."""
        return newest_first(self.of_user(user_id))

    def of_config(self, config_id: str) -> list[Row]:
        """The datasets attached to a training configuration, newest first."""
        return newest_first(row for row in self.rows.values() if row.get("config_id") == config_id)


def download_path(dataset_id: str) -> str:
    """The path of a dataset file's signed download URL on the mock (served by the admin API, signed over)."""
    return route("download").path_for(datasetId=dataset_id)


def gzipped(lines: Sequence[str]) -> bytes:
    """A stored file's bytes as the platform keeps them: gzipped JSONL."""
    return gzip.compress("".join(f"{line}\n" for line in lines).encode("utf-8"), mtime=0)
