"""The admin client (`mockserver.client.MockAdmin`) against a real mock: one method per admin route, each doing
what its route does, the token sent when given; and `GET /__mock/identities`, which replaces reading the banner.
"""

from __future__ import annotations

import gzip
import inspect
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mockserver import client as client_module
from mockserver.admin_routes import ROUTES, TOKEN_HEADER, route
from mockserver.client import AdminClientError, Credentials, MockAdmin
from mockserver.process import MockProcess
from tests.conftest import (
    ALICE,
    ALICE_KEY,
    ALICE_SESSION_TOKEN,
    BOB,
    BOB_KEY,
    BOB_SESSION_TOKEN,
    DEMO_JOB,
    DEMO_JOB_TOKEN,
    ROOT,
    path_of,
)

TOKEN = "client-test-admin-token-0123456789"
DEMO = Credentials(ALICE, ALICE_KEY, ALICE_SESSION_TOKEN, DEMO_JOB, DEMO_JOB_TOKEN)


def test_the_client_has_one_method_per_admin_route() -> None:
    names = [route.name for route in ROUTES]
    missing = [name for name in names if not inspect.isfunction(getattr(MockAdmin, name, None))]
    assert not missing, f"admin routes without a MockAdmin method: {missing}"


def test_the_client_imports_nothing_of_the_server() -> None:
    imported = set(re.findall(r"^from (mockserver\.\w+) import", inspect.getsource(client_module), re.M))
    assert imported == {"mockserver.admin_routes"}


def test_a_route_fills_its_path_quoted_and_names_a_wrong_parameter() -> None:
    assert route("bind_stream").path_for(jobId="job 1/x") == "/__mock/streams/job%201%2Fx"
    with pytest.raises(ValueError, match="takes the path parameters jobId"):
        route("bind_stream").path_for(job="x")
    with pytest.raises(KeyError, match="no admin route 'nope'"):
        route("nope")


def test_index_health_and_reset(admin: MockAdmin) -> None:
    assert admin.index() == {f"{r.method} {r.full_path}": r.summary for r in ROUTES}
    assert admin.health()["status"] == "ok"
    admin.put_data({"traces": []})
    assert admin.get_data()["traces"] == []
    admin.reset()
    assert admin.get_data()["traces"], "the seed's traces are back"


def test_identities_name_every_user_with_their_credentials(admin: MockAdmin) -> None:
    found = admin.identities(secrets=True)
    assert found.demo == DEMO
    assert [user.user_id for user in found.users] == [ALICE, BOB]
    bob = found.user(BOB)
    assert (bob.credentials.api_key, bob.credentials.session_token) == (BOB_KEY, BOB_SESSION_TOKEN)
    assert bob.session_tokens == (BOB_SESSION_TOKEN,)
    assert [user.user_id for user in found.others()] == [BOB]
    alice = found.user(ALICE)
    assert any(not key.active for key in alice.api_keys), "revoked keys are listed, marked inactive"
    assert (DEMO_JOB, DEMO_JOB_TOKEN) in {(job.job_id, job.job_token) for job in alice.jobs}


def test_identities_shorten_secrets_unless_asked(admin: MockAdmin) -> None:
    shown = admin.identities()
    assert shown.demo.api_key == ALICE_KEY[:8] + "…"
    assert shown.demo.session_token == ALICE_SESSION_TOKEN[:8] + "…"
    assert shown.demo.job_token == DEMO_JOB_TOKEN[:8] + "…"
    assert shown.demo.job_id == DEMO_JOB, "ids are not secrets"
    everything = str(admin.call("identities").json())
    assert ALICE_KEY not in everything and BOB_SESSION_TOKEN not in everything and DEMO_JOB_TOKEN not in everything
    with pytest.raises(AdminClientError) as refused:
        admin.call("identities", params={"secrets": "yes"})
    assert refused.value.status == 400 and "secrets: must be 0 or 1" in refused.value.message


def test_identities_follow_the_data_not_the_banner(admin: MockAdmin) -> None:
    data = admin.get_data(secrets=True)
    bob_only = {"users": [u for u in data["users"] if u["id"] == BOB]}
    bob_only["api_keys"] = [k for k in data["api_keys"] if k["user_id"] == BOB]
    bob_only["jobs"] = bob_only["predictions"] = bob_only["metrics"] = []
    bob_only |= {"logs": {}, "job_errors": {}, "configs": [], "datasets": [], "baselines": [], "deployments": []}
    bob_only |= {"test_suites": [], "batch_tests": [], "traces": []}
    admin.put_data(bob_only)
    found = admin.identities(secrets=True)
    assert found.demo == Credentials(BOB, BOB_KEY, BOB_SESSION_TOKEN, None, None)
    assert [user.user_id for user in found.users] == [BOB]


def test_identities_honour_the_secrets_rule_for_another_origin(mock: MockProcess) -> None:
    url = mock.admin_client.base + "/identities"
    foreign = httpx.get(url, params={"secrets": 1}, headers={"Origin": "https://evil.example"}, timeout=10)
    assert foreign.status_code == 403


def test_the_client_sends_the_admin_token(mock_factory) -> None:
    locked = mock_factory(env={"FTL_MOCK_ADMIN_TOKEN": TOKEN})
    with MockAdmin(locked.url) as anonymous, pytest.raises(AdminClientError) as refused:
        anonymous.identities()
    assert refused.value.status == 401 and TOKEN_HEADER in refused.value.message
    with MockAdmin(locked.url, token=TOKEN) as admin:
        assert admin.identities(secrets=True).demo == DEMO
    assert locked.credentials == DEMO, "the launcher reads them through its client, with the token"


def test_journal_and_faults(mock: MockProcess, admin: MockAdmin) -> None:
    predictions = mock.url + path_of("get_predictions", jobId=DEMO_JOB)
    admin.put_faults({"get_predictions": {"error_status": 503}})
    assert admin.get_faults()["get_predictions"]["error_status"] == 503
    assert httpx.get(predictions, headers={"X-API-Key": ALICE_KEY}, timeout=10).status_code == 503
    admin.clear_faults()
    assert admin.get_faults() == {}
    httpx.get(predictions, headers={"X-API-Key": ALICE_KEY}, timeout=10)
    (last,) = admin.get_journal(operation_id="get_predictions", limit=1)
    assert (last["status"], last["headers"]["x-api-key"]) == (200, ALICE_KEY[:8] + "…")
    assert admin.get_journal(status=503)[0]["operation_id"] == "get_predictions"
    assert admin.clear_journal() == 2
    assert admin.get_journal() == []


def test_streams_and_generated_predictions(admin: MockAdmin) -> None:
    bound = admin.bind_stream("job 1", "training-run")
    assert bound["job_id"] == "job 1"
    assert "job 1" in admin.list_streams()["bindings"]
    assert admin.unbind_stream("job 1") is True
    assert admin.unbind_stream("job 1") is False
    before = admin.get_data()["predictions"]
    inserted = admin.insert_predictions(DEMO_JOB, 2, epoch="next")
    assert inserted["inserted"] == 2
    assert len(admin.get_data()["predictions"]) == len(before) + 2
    with pytest.raises(AdminClientError) as refused:
        admin.insert_predictions("job_nobody_has")
    assert (refused.value.status, refused.value.route.name) == (404, "insert_predictions")
    assert "jobId: no job 'job_nobody_has'" in str(refused.value)


def test_download_serves_a_signed_dataset_file(mock: MockProcess, admin: MockAdmin) -> None:
    public = httpx.get(mock.url + path_of("get_public_datasets", id="sft-support-bot-demo"), timeout=10).json()
    dataset = public["datasets"][0]
    signed = urlsplit(dataset["download_url"])
    assert signed.path == route("download").path_for(datasetId=dataset["id"])
    query = {key: values[0] for key, values in parse_qs(signed.query).items()}
    assert gzip.decompress(admin.download(dataset["id"], expires=query["expires"], token=query["token"]))
    with pytest.raises(AdminClientError) as refused:
        admin.download(dataset["id"], expires=query["expires"], token="0" * 64)
    assert refused.value.status == 403


def test_the_readme_example_runs_against_a_mock(mock: MockProcess, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = readme.split("`mockserver.client.MockAdmin` calls every route", 1)[1].split("); a refused", 1)[0]
    assert re.findall(r"`(\w+)`", listed) == [route.name for route in ROUTES]
    example = readme.split("```python\nfrom mockserver.client import MockAdmin", 1)[1].split("```", 1)[0]
    code = "from mockserver.client import MockAdmin" + example.replace("http://127.0.0.1:8765", mock.url)
    exec(compile(code, "README.md", "exec"), {})  # the README's own example, run as written
    assert int(capsys.readouterr().out) > 0
    assert mock.admin_client.get_faults() == {}
