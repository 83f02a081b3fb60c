"""`ftl-mock` / `python -m mockserver`: banner, flags and their FTL_MOCK_* variables, usage errors, clean stops.

Real processes throughout; flag parsing also in-process, where precedence is quicker to pin down.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

import spec
from mockserver.cli import FLAGS, UsageError, bind, parse_settings
from mockserver.settings import RateLimit
from tests.conftest import ALICE_KEY, ROOT, path_of

BAD_RUNS = [
    (["--port", "eighty"], {}, "--port"),
    (["--port", "70000"], {}, "--port"),
    (["--time-scale", "0"], {}, "--time-scale"),
    ([], {"FTL_MOCK_TIME_SCALE": "fast"}, "FTL_MOCK_TIME_SCALE"),
    (["--rate-limit", "many"], {}, "--rate-limit"),
    (["--body-limit", "big"], {}, "--body-limit"),
    (["--journal-size", "-1"], {}, "--journal-size"),
    (["--log-level", "loud"], {}, "--log-level"),
    ([], {"FTL_MOCK_CORS": "maybe"}, "FTL_MOCK_CORS"),
]


def run_mock(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockserver", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


# --- banner ---------------------------------------------------------------------------------------


def test_banner_names_the_url_admin_and_working_demo_credentials(mock_factory) -> None:
    handle = mock_factory()
    banner = handle.banner
    lines = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in banner[1:]}
    assert banner[0].startswith("ftl-mock serving ")
    assert banner[0].strip().endswith(f"({len(spec.load().operations)} operations)")
    assert lines["admin"] == f"{handle.url}/__mock/"
    key, session_token = lines["api key"], lines["jwt"]
    token, _, job = lines["job token"].partition(" (job ")
    job = job.rstrip(")")
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        assert client.get(path_of("get_job_status", jobId=job), headers={"X-API-Key": key}).status_code == 200
        assert (
            client.get(path_of("list_datasets"), headers={"Authorization": f"Bearer {session_token}"}).status_code
            == 200
        )
        patched = client.patch(
            path_of("update_job_status", jobId=job),
            json={"status": "running"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert patched.status_code == 200
        assert client.get(lines["admin"] + "health").status_code == 200


def test_port_zero_prints_the_port_actually_bound(mock_factory) -> None:
    handle = mock_factory()
    port = int(handle.url.rsplit(":", 1)[1])
    assert port > 0
    assert httpx.get(f"http://127.0.0.1:{port}/__mock/health", timeout=10).status_code == 200


# --- flags and environment ------------------------------------------------------------------------


def test_every_flag_has_an_environment_variable_in_help() -> None:
    result = run_mock(["--help"])
    assert result.returncode == 0
    for flag in FLAGS:
        assert flag.option in result.stdout
        assert flag.env in result.stdout.replace("\n", " ").replace("  ", " ")


def test_flags_win_over_environment_and_environment_over_defaults() -> None:
    env = {"FTL_MOCK_JOURNAL_SIZE": "7", "FTL_MOCK_RATE_LIMIT": "5/10s", "FTL_MOCK_BODY_LIMIT": "2KiB"}
    settings = parse_settings(["--journal-size", "3"], env)
    assert settings.journal_size == 3
    assert settings.rate_limit == RateLimit(5, 10.0)
    assert settings.body_limit == 2048
    assert parse_settings([], {}).port == 8765
    # The same time scale as every other command reads, fractions included.
    assert parse_settings(["--time-scale", "1/240"], {}).time_scale == pytest.approx(1 / 240)


@pytest.mark.parametrize(("args", "env", "culprit"), BAD_RUNS)
def test_bad_values_are_usage_errors_naming_the_culprit(args, env, culprit) -> None:
    with pytest.raises(UsageError, match=culprit):
        parse_settings(args, env)


def test_environment_variables_configure_a_running_mock(mock_factory) -> None:
    handle = mock_factory(env={"FTL_MOCK_JOURNAL_SIZE": "4", "FTL_MOCK_RATE_LIMIT": "9/60s"})
    health = httpx.get(f"{handle.admin}/health", timeout=10).json()
    assert health["journal"]["size"] == 4
    assert health["rate_limit"] == "9/60s"


def test_environment_port_is_used_when_no_flag_is_given() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "FTL_MOCK_PORT": str(port), "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        assert lines[1].split("url:", 1)[1].strip() == f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- stopping (usage errors: tests/test_cli_mistakes.py) --------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_stop_the_mock_cleanly(mock_factory, sig) -> None:
    handle = mock_factory()
    # An open stream must not hold the shutdown up.
    with httpx.Client(timeout=10) as client:
        headers = {"X-API-Key": ALICE_KEY}
        with client.stream(
            "GET", handle.url + path_of("stream_predictions", jobId="job_demo_001"), headers=headers
        ) as stream:
            assert stream.status_code == 200
            handle.process.send_signal(sig)
            deadline = time.monotonic() + 15
            while handle.process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
    assert handle.process.returncode == 0
    assert "Traceback" not in handle.logged()


def test_the_socket_listens_before_the_banner_is_printed() -> None:
    """A client that connects as soon as it reads the banner is queued until uvicorn accepts, never refused."""
    sock = bind("127.0.0.1", 0)
    try:
        with socket.create_connection(sock.getsockname()[:2], timeout=5):
            pass
    finally:
        sock.close()
