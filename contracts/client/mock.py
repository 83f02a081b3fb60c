"""The mock as a client run uses it, through its admin API: a job per case, the case's scenario bound to it,
the journal of the stream requests each job got.

One mock serves every case; each case has its own job, so its scenario, its stored predictions and its journal
entries are its own and cases can run side by side.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from contracts.errors import GateError
from mockserver.client import AdminClientError, MockAdmin
from spec import Operation

T = TypeVar("T")
JOB_PREFIX = "client-"


class CaseMock:
    """A running ftl-mock's admin API, as far as the client run needs it."""

    def __init__(self, url: str, api_key: str, stream: Operation, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.stream = stream
        self.admin = MockAdmin(self.url, timeout=timeout)
        # Adding jobs reads and writes the whole jobs table: two runs adding at once would lose one's jobs.
        self._jobs_lock = asyncio.Lock()

    async def aclose(self) -> None:
        """Release the HTTP client."""
        self.admin.close()

    async def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One admin call (the client blocks, so it runs in a thread); its failures as GateError."""
        try:
            return await asyncio.to_thread(method, *args, **kwargs)
        except httpx.HTTPError as exc:
            raise GateError(f"the mock's admin API did not answer at {self.admin.base}: {exc}") from None
        except AdminClientError as exc:
            raise GateError(f"the mock's admin API answered {exc}") from None

    def path(self, job_id: str) -> str:
        """The stream's path for a job."""
        (name,) = (p.name for p in self.stream.parameters_in("path"))
        return self.stream.path_for(**{name: job_id})

    async def add_jobs(self, names: Sequence[str]) -> dict[str, str]:
        """A job per name, owned by the API key's user (copies of one of its jobs); name -> job id."""
        async with self._jobs_lock:
            return await self._add_jobs(names)

    async def _add_jobs(self, names: Sequence[str]) -> dict[str, str]:
        data = await self._call(self.admin.get_data, secrets=True)
        owner = next((k.get("user_id") for k in data.get("api_keys", []) if k.get("key") == self.api_key), None)
        jobs = list(data.get("jobs", []))
        model = next((job for job in jobs if job.get("user_id") == owner), None)
        if model is None:
            raise GateError("the mock's data has no job of the API key's user to copy for the cases")
        taken = {job.get("id") for job in jobs}
        made = {}
        for name in names:
            job_id = JOB_PREFIX + name
            suffix = 1
            while job_id in taken:
                suffix += 1
                job_id = f"{JOB_PREFIX}{name}-{suffix}"
            taken.add(job_id)
            made[name] = job_id
            jobs.append({**model, "id": job_id, "job_token": secrets.token_urlsafe(32)})
        await self._call(self.admin.put_data, {"jobs": jobs})
        return made

    async def bind(self, job_id: str, scenario: Mapping[str, Any]) -> None:
        """Bind an inline scenario to the job's streams."""
        await self._call(self.admin.bind_stream, job_id, scenario)

    async def journal(self, path: str) -> list[dict[str, Any]]:
        """The journalled requests to `path`, oldest first."""
        entries = await self._call(self.admin.get_journal, operation_id=self.stream.operation_id)
        return [entry for entry in entries if entry.get("path") == path]
