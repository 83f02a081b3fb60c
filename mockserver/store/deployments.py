"""Cloud training deployments of every provider (`cloud_deployments`).

A record keeps what the create request chose and when the deployment started; its status is
computed on read by the deployments resource.
"""

from __future__ import annotations

from mockserver.store.table import Row, Table


class Deployments(Table):
    """Deployment records by their provider id (`deployment_id`, or `job_name` for SageMaker)."""

    def __init__(self) -> None:
        super().__init__("deployments")

    def of_provider(self, provider: str, key: str) -> Row | None:
        """The record of one provider with this id."""
        row = self.rows.get(key)
        return row if row is not None and row.get("provider") == provider else None

    def of_job(self, provider: str, job_id: str) -> Row | None:
        """The provider's deployment that runs a training job."""
        return next(
            (row for row in self.rows.values() if row.get("provider") == provider and row.get("job_id") == job_id),
            None,
        )
