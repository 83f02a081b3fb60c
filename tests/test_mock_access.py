"""Who may talk to ftl-mock: the admin token, the loopback rule, JSON-only same-origin admin writes,
the Host check, secrets in the data dump and signed download URLs; each tested both ways on real processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from mockserver import process
from mockserver.access import ADMIN_TOKEN_HEADER, HostCheck
from mockserver.signing import UrlSigner
from tests.conftest import ALICE_KEY, ALICE_SESSION_TOKEN, BOB_SESSION_TOKEN, DEMO_JOB, DEMO_JOB_TOKEN, ROOT, path_of

TOKEN = "admin-token-for-the-tests-0123456789"
KEY = {"X-API-Key": ALICE_KEY}
SESSION = {"Authorization": f"Bearer {ALICE_SESSION_TOKEN}"}
PUBLIC_CONFIG = "sft-support-bot-demo"
PUBLIC_CONFIG_ID = "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b"  # Alice's, shared as PUBLIC_CONFIG


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FTL_MOCK_")} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "mockserver", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
    )


# --- the admin token ------------------------------------------------------------------------------


@pytest.fixture
def locked(mock_factory) -> process.MockProcess:  # type: ignore[no-untyped-def]
    return mock_factory(env={"FTL_MOCK_ADMIN_TOKEN": TOKEN})


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/__mock/health", None),
        ("GET", "/__mock/", None),
        ("GET", "/__mock/data", None),
        ("POST", "/__mock/reset", {}),
        ("PUT", "/__mock/faults", {}),
        ("DELETE", "/__mock/journal", None),
        ("GET", "/__mock/no-such-route", None),
    ],
)
def test_with_an_admin_token_every_admin_route_needs_it(locked, method, path, body) -> None:
    missing = httpx.request(method, locked.url + path, json=body, timeout=10)
    wrong = httpx.request(method, locked.url + path, json=body, headers={ADMIN_TOKEN_HEADER: TOKEN + "x"}, timeout=10)
    right = httpx.request(method, locked.url + path, json=body, headers={ADMIN_TOKEN_HEADER: TOKEN}, timeout=10)
    assert missing.status_code == 401 and f"{ADMIN_TOKEN_HEADER}: required" in missing.json()["error"]
    assert wrong.status_code == 401 and "does not match" in wrong.json()["error"]
    assert right.status_code == (404 if "no-such" in path else 200), right.text


def test_the_admin_token_guards_the_admin_api_only(locked) -> None:
    assert httpx.get(locked.url + path_of("list_jobs"), headers=KEY, timeout=10).status_code == 200
    datasets = httpx.get(locked.url + path_of("get_public_datasets", id=PUBLIC_CONFIG), timeout=10).json()["datasets"]
    assert httpx.get(datasets[0]["download_url"], timeout=10).status_code == 200, "a signed URL is its own credential"


def test_without_an_admin_token_the_admin_api_is_open_on_loopback(mock) -> None:
    assert httpx.get(f"{mock.admin}/health", timeout=10).status_code == 200


@pytest.mark.parametrize("token", ["short", "sixteen chars ok", "naïve-token-with-accent"])
def test_a_weak_admin_token_is_a_usage_error(token) -> None:
    result = run_cli("--admin-token", token, "--port", "0")
    assert result.returncode == 2
    assert result.stderr.startswith("ftl-mock: error: --admin-token: must be at least 16 printable ASCII")
    assert len(result.stderr.strip().splitlines()) == 1


# --- the loopback rule -----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_listening_beyond_loopback_without_an_admin_token_is_refused(host) -> None:
    result = run_cli("--host", host, "--port", "0")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ftl-mock: error: --host {host}: ")
    assert "--admin-token" in lines[0] and "127.0.0.1" in lines[0]
    assert result.stdout == "", "nothing served, no banner"


def test_listening_beyond_loopback_with_an_admin_token_serves_and_prints_no_secrets() -> None:
    mock = process.start("--host", "0.0.0.0", env={"FTL_MOCK_ADMIN_TOKEN": TOKEN})
    try:
        banner = "\n".join(mock.banner)
        assert TOKEN not in banner and ALICE_KEY not in banner and ALICE_SESSION_TOKEN not in banner
        assert DEMO_JOB_TOKEN not in banner and "not shown beyond loopback" in banner
        # The handle reads them through the admin API, with the token.
        assert (mock.api_key, mock.session_token, mock.job_token) == (ALICE_KEY, ALICE_SESSION_TOKEN, DEMO_JOB_TOKEN)
        port = mock.url.rpartition(":")[2]
        local = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{local}/__mock/health", timeout=10).status_code == 401
        assert httpx.get(f"{local}/__mock/health", headers=mock.admin_headers, timeout=10).status_code == 200
    finally:
        mock.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_listening_on_loopback_needs_no_token_and_shows_the_demo_credentials(mock_factory, host) -> None:
    mock = mock_factory("--host", host)
    banner = "\n".join(mock.banner)
    assert ALICE_KEY in banner and ALICE_SESSION_TOKEN in banner and DEMO_JOB_TOKEN in banner


# --- admin writes: JSON only, same origin only -----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/__mock/reset"), ("PUT", "/__mock/faults"), ("POST", f"/__mock/jobs/{DEMO_JOB}/predictions")],
)
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_an_admin_write_that_is_not_json_is_415_and_changes_nothing(mock, method, path, content_type) -> None:
    job = {"job_id": "job_kept_by_415"}
    assert httpx.post(mock.url + path_of("create_job"), json=job, headers=KEY, timeout=10).status_code == 200
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.request(method, mock.url + path, content=b"{}", headers=headers, timeout=10)
    assert response.status_code == 415
    assert response.json()["error"].startswith("Content-Type: admin writes must be application/json")
    status = httpx.get(mock.url + path_of("get_job_status", jobId="job_kept_by_415"), headers=KEY, timeout=10)
    assert status.status_code == 200, "the reset did not happen"
    assert httpx.get(f"{mock.admin}/faults", timeout=10).json() == {}


def test_an_admin_request_from_another_origin_is_403_and_from_its_own_origin_is_served(mock) -> None:
    foreign = httpx.post(f"{mock.admin}/reset", json={}, headers={"Origin": "http://evil.example"}, timeout=10)
    assert foreign.status_code == 403 and "same-origin only" in foreign.json()["error"]
    opaque = httpx.post(f"{mock.admin}/reset", json={}, headers={"Origin": "null"}, timeout=10)
    assert opaque.status_code == 403
    own = httpx.post(f"{mock.admin}/reset", json={}, headers={"Origin": mock.url}, timeout=10)
    assert own.status_code == 200
    # Reads too: another site's page may not see the journal or the data either.
    assert httpx.get(f"{mock.admin}/data", headers={"Origin": "http://evil.example"}, timeout=10).status_code == 403
    assert httpx.get(f"{mock.admin}/health", headers={"Origin": mock.url}, timeout=10).status_code == 200


# --- the Host check (DNS rebinding) ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/__mock/health", "/__mock/data", path_of("list_jobs")])
def test_a_host_the_mock_does_not_answer_to_is_421(mock, path) -> None:
    response = httpx.get(mock.url + path, headers={**KEY, "Host": "rebound.evil.example:8765"}, timeout=10)
    assert response.status_code == 421
    assert response.json()["error"].startswith("Host: 'rebound.evil.example:8765' is not an address of this mock")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "[::1]", "LOCALHOST."])
def test_loopback_hosts_are_answered(mock, host) -> None:
    port = mock.url.rpartition(":")[2]
    assert httpx.get(f"{mock.admin}/health", headers={"Host": f"{host}:{port}"}, timeout=10).status_code == 200


def test_allowed_hosts_adds_names(mock_factory) -> None:
    mock = mock_factory("--allowed-hosts", "ftl-mock.test, other.test")
    assert httpx.get(f"{mock.admin}/health", headers={"Host": "ftl-mock.test:80"}, timeout=10).status_code == 200
    assert httpx.get(f"{mock.admin}/health", headers={"Host": "third.test"}, timeout=10).status_code == 421


def test_the_host_check_rules() -> None:
    loopback = HostCheck("127.0.0.1")
    assert loopback.allows("localhost:1") and loopback.allows("[::1]:2") and not loopback.allows("10.0.0.1")
    wildcard = HostCheck("0.0.0.0")
    assert wildcard.allows("10.0.0.1:8765") and wildcard.allows("[fe80::1]") and not wildcard.allows("box.lan")
    assert HostCheck("0.0.0.0", ["*"]).allows("anything.example")
    assert HostCheck("box.lan").allows("BOX.LAN:8765")


def test_download_urls_use_the_mock_address_never_the_host_header(mock) -> None:
    port = mock.url.rpartition(":")[2]
    response = httpx.get(
        mock.url + path_of("get_public_datasets", id=PUBLIC_CONFIG), headers={"Host": f"localhost:{port}"}, timeout=10
    )
    urls = [dataset["download_url"] for dataset in response.json()["datasets"]]
    assert urls and all(url.startswith(f"http://127.0.0.1:{port}/__mock/storage/") for url in urls)


# --- secrets in the data dump ----------------------------------------------------------------------


def test_the_data_dump_shortens_secrets_unless_asked(mock) -> None:
    shown = httpx.get(f"{mock.admin}/data", timeout=10).json()
    full = httpx.get(f"{mock.admin}/data", params={"secrets": 1}, timeout=10).json()
    assert ALICE_KEY in {row["key"] for row in full["api_keys"]}
    assert f"{ALICE_KEY[:8]}…" in {row["key"] for row in shown["api_keys"]}
    text = httpx.get(f"{mock.admin}/data", timeout=10).text
    for secret in (ALICE_KEY, ALICE_SESSION_TOKEN, BOB_SESSION_TOKEN, DEMO_JOB_TOKEN):
        assert secret not in text
    assert all(len(token) == 9 for user in shown["users"] for token in user.get("sessions", []))
    assert all(job["job_token"].endswith("…") for job in shown["jobs"])
    assert {k: v for k, v in shown.items() if k not in ("users", "api_keys", "jobs")} == {
        k: v for k, v in full.items() if k not in ("users", "api_keys", "jobs")
    }
    assert httpx.get(f"{mock.admin}/data", params={"secrets": "yes"}, timeout=10).status_code == 400


def test_full_secrets_are_never_shown_to_another_origin(mock) -> None:
    url = f"{mock.admin}/data"
    foreign = httpx.get(url, params={"secrets": 1}, headers={"Origin": "http://evil.example"}, timeout=10)
    assert foreign.status_code == 403 and ALICE_KEY not in foreign.text
    own = httpx.get(url, params={"secrets": 1}, headers={"Origin": mock.url}, timeout=10)
    assert own.status_code == 200 and ALICE_KEY in own.text


def test_a_shortened_dump_cannot_be_loaded_back(mock) -> None:
    shown = httpx.get(f"{mock.admin}/data", timeout=10).json()
    response = httpx.put(f"{mock.admin}/data", json={"api_keys": shown["api_keys"]}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"].startswith("api_keys[0].key")
    assert "?secrets=1" in response.json()["error"]
    assert httpx.get(mock.url + path_of("list_jobs"), headers=KEY, timeout=10).status_code == 200, "keys unchanged"


def test_secrets_need_the_admin_token_when_one_is_set(locked) -> None:
    url = f"{locked.admin}/data"
    assert httpx.get(url, params={"secrets": 1}, timeout=10).status_code == 401
    full = httpx.get(url, params={"secrets": 1}, headers=locked.admin_headers, timeout=10).json()
    assert ALICE_KEY in {row["key"] for row in full["api_keys"]}


# --- signed download URLs --------------------------------------------------------------------------


def download_urls(mock: process.MockProcess) -> list[str]:
    response = httpx.get(mock.url + path_of("get_public_datasets", id=PUBLIC_CONFIG), timeout=10)
    return [dataset["download_url"] for dataset in response.json()["datasets"]]


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_a_signed_url_downloads_and_any_change_to_it_is_refused(mock) -> None:
    uploaded = httpx.post(
        mock.url + path_of("upload_dataset"),
        data={"name": "second", "format": "jsonl", "config_id": PUBLIC_CONFIG_ID},
        files={"file": ("second.jsonl", b'{"text": "two"}\n', "application/x-ndjson")},
        headers=SESSION,
        timeout=10,
    )
    assert uploaded.status_code == 200, uploaded.text
    urls = download_urls(mock)
    assert len(urls) == 2
    url = urls[0]
    query = parse_qs(urlsplit(url).query)
    token, expires = query["token"][0], query["expires"][0]
    assert httpx.get(url, timeout=10).status_code == 200
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    other_token = parse_qs(urlsplit(urls[1]).query)["token"][0]
    forged = [
        with_query(url, token=flipped),
        with_query(url, expires="-1"),
        with_query(url, expires=str(int(expires) + 86_400)),
        with_query(url, token=other_token),
        url.split("?")[0],
        url.replace(urlsplit(url).path, "/__mock/storage/no-such-dataset"),
    ]
    for changed in forged:
        response = httpx.get(changed, timeout=10)
        assert response.status_code == 403, changed
        assert response.json()["error"].startswith(("token:", "expires:"))


def test_a_signed_url_expires_after_its_lifetime(mock_factory) -> None:
    mock = mock_factory("--time-scale", "0.0005")  # an hour's URL lives 1.8 s
    url = download_urls(mock)[0]
    expires = int(parse_qs(urlsplit(url).query)["expires"][0])
    assert httpx.get(url, timeout=10).status_code == 200
    deadline = time.monotonic() + 10
    while (response := httpx.get(url, timeout=10)).status_code == 200:
        assert time.monotonic() < deadline, "the URL never expired"
        time.sleep(0.1)
    assert response.status_code == 403 and response.json()["error"].startswith("token: expired")
    assert time.time() >= expires


def test_a_signed_url_dies_with_the_process_that_signed_it(mock_factory) -> None:
    first, second = mock_factory(), mock_factory()
    url = download_urls(first)[0]
    moved = url.replace(first.url, second.url)
    assert httpx.get(moved, timeout=10).status_code == 403


def test_a_signed_url_of_a_deleted_dataset_is_404(mock) -> None:
    url = download_urls(mock)[0]
    dataset_id = urlsplit(url).path.rpartition("/")[2]
    deleted = httpx.delete(mock.url + path_of("delete_dataset", id=dataset_id), headers=SESSION, timeout=10)
    assert deleted.status_code == 200
    response = httpx.get(url, timeout=10)
    assert response.status_code == 404 and "was deleted" in response.json()["error"]


def test_the_signer_checks_resource_expiry_and_time() -> None:
    signer = UrlSigner(b"k" * 32)
    token = signer.sign("/a", 100)
    assert signer.problem("/a", token, "100", now=99.0) is None
    assert signer.problem("/a", token, "100", now=100.0) == "token: expired 0 s ago (at epoch second 100)"
    assert signer.problem("/b", token, "100", now=99.0) == "token: does not sign this file and expiry"
    assert signer.problem("/a", token, "101", now=99.0) == "token: does not sign this file and expiry"
    assert signer.problem("/a", token, "-1", now=99.0) is not None
    assert signer.problem("/a", "ünïcode", "100", now=99.0) is not None
    assert UrlSigner(b"j" * 32).problem("/a", token, "100", now=99.0) is not None
