"""Training jobs (`local_training_jobs`), each with the job token its worker authenticates with.

Rows carry every column of the spec's job row plus `job_token`, which no response returns.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from mockserver.store.table import ColumnTypes, Row, Table, newest_first
from mockserver.wire import utc_now


def new_job_token() -> str:
    """A job token as the platform makes one: 32 random bytes in base64url (43 characters)."""
    return secrets.token_urlsafe(32)


class Jobs(Table):
    """Jobs by id; a job not owned by the caller is treated as absent by every reader."""

    def __init__(self, columns: Sequence[str], schema: Mapping[str, Any] | None = None) -> None:
        super().__init__("jobs", schema)
        self.columns = tuple(dict.fromkeys([*columns, "job_token"]))
        self._types = ColumnTypes(schema)

    def complete(self, fields: Mapping[str, Any]) -> Row:
        """A full row: every column present (null when not given), token and times filled in."""
        row = {name: self._types.typed(name, fields.get(name)) for name in self.columns}
        now = utc_now()
        row["job_token"] = fields.get("job_token") or new_job_token()
        row["status"] = fields.get("status") or "pending"
        row["created_at"] = fields.get("created_at") or now
        row["updated_at"] = fields.get("updated_at") or now
        return row

    def prepare(self, row: Row) -> Row:
        """Seed rows are completed to full rows like created ones."""
        return self.complete(row)

    def create(self, job_id: str, user_id: str, fields: Mapping[str, Any]) -> Row:
        """Insert a new job owned by `user_id` with the given writable fields."""
        return self.put(self.complete({**fields, "id": job_id, "user_id": user_id}))

    def update(self, row: Row, fields: Mapping[str, Any]) -> Row:
        """Write the given columns of a job (unknown keys are ignored) and touch `updated_at`."""
        for name, value in fields.items():
            if name in self.columns and name not in ("id", "created_at"):
                row[name] = self._types.typed(name, value)
        row["updated_at"] = utc_now()
        return row

    def newest(self, user_id: str | None, status: str | None = None) -> list[Row]:
        """A user's jobs, newest first, optionally only those with one status."""
        rows = (row for row in self.of_user(user_id) if status is None or row.get("status") == status)
        return newest_first(rows)
