"""The mock an SDK run talks to: the gate's embedded ftl-mock, and the demo values the SDK is given.

The SDK reaches it through the variables the real SDKs read (`FINETUNE_LAB_API_URL`, `FINETUNE_LAB_API_KEY`)
plus `FTL_JOB_TOKEN`, `FTL_JOB_ID` and `FTL_JWT` for the demo job's token and the demo session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from contracts import embedded
from mockserver.admin_routes import PREFIX


@dataclass(frozen=True)
class Demo:
    """Where the mock serves and the demo credentials its banner announced."""

    url: str
    api_key: str | None = None
    session_token: str | None = None
    job_token: str | None = None
    job_id: str | None = None

    @property
    def admin(self) -> str:
        """The mock's admin API."""
        return self.url + PREFIX

    def environment(self) -> dict[str, str]:
        """The variables a `--run` command sees (only those with a value)."""
        values = {
            "FINETUNE_LAB_API_URL": self.url,
            "FINETUNE_LAB_API_KEY": self.api_key,
            "FTL_JOB_TOKEN": self.job_token,
            "FTL_JOB_ID": self.job_id,
            "FTL_JWT": self.session_token,
            "FTL_MOCK_ADMIN_URL": self.admin,
        }
        return {name: value for name, value in values.items() if value}


@contextmanager
def embedded_mock(spec: str | None, time_scale: float) -> Iterator[Demo]:
    """Start ftl-mock on a free port for the duration of the block."""
    with embedded.start(spec=spec, time_scale=time_scale) as mock:
        creds = mock.credentials
        job_id, job_token = next(iter(creds.job_tokens.items()), (None, creds.job_token))
        yield Demo(mock.url, creds.api_key, creds.bearer, job_token, job_id)
