"""The embedded target: `ftl-mock` started as a subprocess on a free port when the gate gets no `--base-url`.

The launcher gives its URL and the demo credentials; the admin API's identities give another user's key and
session for the ownership checks. The process is stopped when the gate is done.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import httpx

from contracts.credentials import Credentials
from contracts.errors import GateError
from mockserver import process
from mockserver.client import AdminClientError
from mockserver.process import MockProcess

START_TIMEOUT_S = process.START_TIMEOUT_S


@dataclass
class EmbeddedMock:
    """A running `ftl-mock` subprocess and the credentials its banner announced."""

    mock: MockProcess
    credentials: Credentials

    @property
    def url(self) -> str:
        return self.mock.url

    def stop(self) -> None:
        """Stop the mock (terminate, then kill if it does not exit)."""
        self.mock.stop()

    def __enter__(self) -> EmbeddedMock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    *, spec: str | None, time_scale: float, timeout: float = START_TIMEOUT_S, design: str | None = None
) -> EmbeddedMock:
    """Start `python -m mockserver` on a free port (serving `design`, if given) and wait until it is healthy."""
    args = [
        "--time-scale",
        f"{time_scale:g}",
        *(["--spec", spec] if spec else []),
        *(["--design", design] if design else []),
    ]
    # The mock's own FTL_MOCK_* settings would change what the gate checks against; the flags decide.
    environ = {key: value for key, value in os.environ.items() if not key.startswith("FTL_MOCK_")}
    try:
        mock = process.start(*args, environ=environ, timeout=timeout, keep=50)
    except process.LaunchError as exc:
        raise GateError(str(exc)) from None
    return _with_other_user(EmbeddedMock(mock, _credentials(mock)))


def _credentials(mock: MockProcess) -> Credentials:
    token, job_id = mock.job_token, mock.job_id
    return Credentials(
        api_key=mock.api_key,
        bearer=mock.session_token,
        job_token=token,
        job_tokens={job_id: token} if job_id and token else {},
    )


def _with_other_user(mock: EmbeddedMock) -> EmbeddedMock:
    """Add another user's active key and session (from the admin API's identities) for the ownership checks."""
    try:
        # The other user's secrets in full: an explicit ask, since the admin API shortens them by default.
        identities = mock.mock.admin_client.identities(secrets=True)
    except (httpx.HTTPError, AdminClientError, ValueError, KeyError):
        return mock
    others = identities.others()
    keyed = next(
        (
            (user, key)
            for user in others
            for key in user.api_keys
            if key.active and {"all", "training"} & set(key.scopes or ["all"])
        ),
        None,
    )
    user = keyed[0] if keyed else next(iter(others), None)
    mock.credentials = replace(
        mock.credentials,
        other_api_key=keyed[1].key if keyed else None,
        other_bearer=next(iter(user.session_tokens), None) if user else None,
    )
    return mock
