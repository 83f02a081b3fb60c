"""The admin API under /__mock/: reset, state dump and load, the journal, injected faults and health.

All against real mock processes.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import spec
from mockserver.admin import AdminRouter
from mockserver.admin_routes import ROUTES, AdminRoute
from tests.conftest import ALICE_KEY, ALICE_SESSION_TOKEN, DEMO_JOB, DEMO_JOB_TOKEN, ROOT, path_of

CONTRACT = spec.load()
KEY = {"X-API-Key": ALICE_KEY}
SESSION = {"Authorization": f"Bearer {ALICE_SESSION_TOKEN}"}


@pytest.fixture
def client(mock) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.url, timeout=10) as client:
        yield client


def journal(client: httpx.Client, **params: str | int) -> list[dict]:
    response = client.get("/__mock/journal", params=params)
    assert response.status_code == 200
    return response.json()["entries"]


# --- reset and state ------------------------------------------------------------------------------


def test_state_survives_across_requests_and_reset_restores_the_seed(client) -> None:
    status = path_of("get_job_status", jobId="job_admin_1")
    assert client.get(status, headers=KEY).status_code == 404
    assert client.post(path_of("create_job"), json={"job_id": "job_admin_1"}, headers=KEY).status_code == 200
    assert client.get(status, headers=KEY).status_code == 200
    assert client.post("/__mock/reset", json={}).json() == {"status": "reset"}
    assert client.get(status, headers=KEY).status_code == 404
    assert client.get(path_of("get_job_status", jobId=DEMO_JOB), headers=KEY).status_code == 200


def test_data_dump_loads_back_and_replaces_state(client) -> None:
    status = path_of("get_job_status", jobId=DEMO_JOB)
    dump = client.get("/__mock/data", params={"secrets": 1}).json()
    (demo,) = [job for job in dump["jobs"] if job["id"] == DEMO_JOB]
    renamed = {**dump, "jobs": [{**job, "model_name": "org/renamed"} if job is demo else job for job in dump["jobs"]]}
    loaded = client.put("/__mock/data", json=renamed)
    assert loaded.status_code == 200, loaded.text
    assert client.get(status, headers=KEY).json()["model_name"] == "org/renamed"
    assert client.put("/__mock/data", json=dump).status_code == 200
    assert client.get(status, headers=KEY).json()["model_name"] == demo["model_name"]


def test_data_put_replaces_only_the_tables_it_names(client) -> None:
    before = client.get("/__mock/data").json()
    assert before["traces"] and before["users"] and before["api_keys"]
    response = client.put("/__mock/data", json={"traces": []})
    assert response.status_code == 200, response.text
    assert response.json()["replaced"] == ["traces"]
    after = client.get("/__mock/data").json()
    assert after["traces"] == []
    assert {name: rows for name, rows in after.items() if name != "traces"} == {
        name: rows for name, rows in before.items() if name != "traces"
    }
    assert client.get(path_of("list_jobs"), headers=KEY).status_code == 200, "keys still work"


def test_data_put_that_would_orphan_kept_rows_is_400_and_changes_nothing(client) -> None:
    before = client.get("/__mock/data").json()
    assert before["predictions"]
    response = client.put("/__mock/data", json={"jobs": []})
    assert response.status_code == 400
    assert response.json()["error"].startswith("data: predictions[0].job_id: no job")
    assert client.get("/__mock/data").json() == before


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"no_such_table": []}', b""])
def test_data_that_cannot_be_loaded_is_400_and_changes_nothing(client, body) -> None:
    before = client.get("/__mock/data").json()
    response = client.put("/__mock/data", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]
    assert client.get("/__mock/data").json() == before


# --- journal --------------------------------------------------------------------------------------


def test_journal_records_each_request_with_its_outcome(client) -> None:
    client.get(path_of("get_predictions", jobId=DEMO_JOB), params={"limit": 5}, headers=KEY)
    client.get(path_of("get_predictions", jobId=DEMO_JOB), params={"limit": 5000}, headers=KEY)
    client.post(
        path_of("create_job"), content=b'{"job_id": "j1"}', headers={**SESSION, "content-type": "application/json"}
    )
    client.get("/api/nowhere")
    ok, bad, created, unknown = journal(client)
    assert ok["operation_id"] == "get_predictions"
    assert ok["query"] == "limit=5"
    assert ok["validation"] == {"ok": True, "violations": []}
    assert ok["credential"] == "apiKey"
    assert ok["status"] == 200
    assert bad["validation"]["ok"] is False
    assert bad["validation"]["violations"] == ["limit: must be <= 1000"]
    assert bad["status"] == 400
    assert created["method"] == "POST"
    assert created["body"] == '{"job_id": "j1"}'
    assert created["credential"] == "sessionJwt"
    assert unknown["operation_id"] is None
    assert unknown["status"] == 404
    assert all(entry["time"].endswith("Z") for entry in (ok, bad, created, unknown))


def test_journal_redacts_secrets_keeping_eight_characters(client) -> None:
    client.get(path_of("get_predictions", jobId=DEMO_JOB), headers=KEY)
    client.patch(
        path_of("update_job_status", jobId=DEMO_JOB),
        json={"status": "running"},
        headers={"Authorization": f"Bearer {DEMO_JOB_TOKEN}", "X-Workspace-API-Key": ALICE_KEY},
    )
    text = client.get("/__mock/journal").text
    assert ALICE_KEY not in text
    assert DEMO_JOB_TOKEN not in text
    keyed, tokened = journal(client)
    assert keyed["headers"]["x-api-key"] == ALICE_KEY[:8] + "…"
    assert tokened["headers"]["authorization"] == "Bearer " + DEMO_JOB_TOKEN[:8] + "…"
    assert tokened["headers"]["x-workspace-api-key"] == ALICE_KEY[:8] + "…"


def test_journal_filters_and_clears(client) -> None:
    for limit in (1, 2, 3):
        client.get(path_of("get_predictions", jobId=DEMO_JOB), params={"limit": limit}, headers=KEY)
    client.get(path_of("list_jobs"), headers=KEY)
    assert [e["query"] for e in journal(client, operation_id="get_predictions", limit=2)] == ["limit=2", "limit=3"]
    assert len(journal(client, status=200)) == 4
    assert client.get("/__mock/journal", params={"limit": "x"}).status_code == 400
    assert client.delete("/__mock/journal").json() == {"cleared": 4}
    assert journal(client) == []


def test_journal_truncates_large_bodies(client) -> None:
    body = json.dumps({"job_id": "j" * 20_000}).encode()
    client.post(path_of("create_job"), content=body, headers={**KEY, "content-type": "application/json"})
    (entry,) = journal(client)
    assert entry["body_bytes"] == len(body)
    assert len(entry["body"]) < len(body)
    assert entry["body"].endswith("more bytes)")


def test_journal_keeps_only_the_last_n_requests(mock_factory) -> None:
    small = mock_factory("--journal-size", "3")
    with httpx.Client(base_url=small.url, timeout=10) as client:
        for limit in range(1, 6):
            client.get(path_of("get_predictions", jobId=DEMO_JOB), params={"limit": limit}, headers=KEY)
        body = client.get("/__mock/journal").json()
        assert [e["query"] for e in body["entries"]] == ["limit=3", "limit=4", "limit=5"]
        assert body["total"] == 5
        assert body["size"] == 3


# --- faults ---------------------------------------------------------------------------------------


def test_error_fault_answers_the_status_in_the_operation_shape(client) -> None:
    faults = {"predict": {"error_status": 503}}
    assert client.put("/__mock/faults", json=faults).status_code == 200
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    response = client.post(path_of("predict"), json=body, headers=KEY)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == 503  # E3, the shape of predict
    other = client.get(path_of("list_jobs"), headers=KEY)
    assert other.status_code == 200


def test_wildcard_fault_applies_where_no_operation_entry_exists(client) -> None:
    faults = {"*": {"error_status": 502}, "list_jobs": {"latency_ms": 1}}
    assert client.put("/__mock/faults", json=faults).status_code == 200
    assert client.get(path_of("list_jobs"), headers=KEY).status_code == 200
    assert client.get(path_of("get_predictions", jobId=DEMO_JOB), headers=KEY).status_code == 502
    assert client.get("/__mock/faults").json()["*"]["error_status"] == 502


def test_fault_probability_zero_never_fires(client) -> None:
    client.put("/__mock/faults", json={"list_jobs": {"error_status": 500, "error_probability": 0}})
    assert {client.get(path_of("list_jobs"), headers=KEY).status_code for _ in range(20)} == {200}


def test_drop_connection_fault_closes_without_an_answer(client) -> None:
    client.put("/__mock/faults", json={"list_jobs": {"drop_connection": True}})
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{client.base_url}{path_of('list_jobs')}", headers=KEY, timeout=10)
    assert client.get("/__mock/health").status_code == 200
    dropped = journal(client, operation_id="list_jobs")
    assert dropped[-1]["status"] is None


def test_reset_and_delete_clear_faults(client) -> None:
    client.put("/__mock/faults", json={"*": {"error_status": 500}})
    client.post("/__mock/reset", json={})
    assert client.get("/__mock/faults").json() == {}
    client.put("/__mock/faults", json={"*": {"error_status": 500}})
    assert client.delete("/__mock/faults").status_code == 200
    assert client.get(path_of("list_jobs"), headers=KEY).status_code == 200


@pytest.mark.parametrize(
    ("faults", "named"),
    [
        ({"no_such_operation": {"error_status": 500}}, "no_such_operation"),
        ({"list_jobs": {"error_status": 200}}, "list_jobs.error_status"),
        ({"list_jobs": {"error_probability": 2}}, "list_jobs.error_probability"),
        ({"list_jobs": {"latency_ms": -1}}, "list_jobs.latency_ms"),
        ({"list_jobs": {"explode": True}}, "explode"),
        ([], "faults"),
    ],
)
def test_bad_fault_tables_are_400_naming_the_field(client, faults, named) -> None:
    before = client.put("/__mock/faults", json={"get_metrics": {"latency_ms": 5}}).json()
    response = client.put("/__mock/faults", json=faults)
    assert response.status_code == 400
    assert named in response.json()["error"]
    assert client.get("/__mock/faults").json() == before


# --- health ---------------------------------------------------------------------------------------


def test_health_reports_status_operations_and_streams(client) -> None:
    health = client.get("/__mock/health").json()
    assert health["status"] == "ok"
    assert health["operations"] == len(CONTRACT.operations)
    assert health["open_streams"] == 0
    assert health["journal"]["size"] == 10_000
    assert health["rate_limit"] is None


def test_admin_index_lists_every_route_of_the_table(client) -> None:
    endpoints = client.get("/__mock/").json()["endpoints"]
    assert set(endpoints) == {f"{route.method} {route.full_path}" for route in ROUTES}
    assert "PUT /__mock/streams/{jobId}" in endpoints
    assert "POST /__mock/jobs/{jobId}/predictions" in endpoints
    assert all(endpoints.values()), "every endpoint says what it does"


# A request for each route that reaches its handler without harming the session mock.
ADMIN_CALLS: dict[str, dict] = {
    "POST /__mock/reset": {"json": {}},
    "PUT /__mock/data": {"json": {}},
    "PUT /__mock/faults": {"json": {}},
    "PUT /__mock/streams/{jobId}": {"json": {"scenario": "training-run"}},
    "POST /__mock/jobs/{jobId}/predictions": {"json": {"count": 1}},
}


def test_every_listed_admin_route_answers(client) -> None:
    dataset = client.get("/__mock/data").json()["datasets"][0]["id"]
    values = {"jobId": DEMO_JOB, "datasetId": dataset, "asset": "inspector.js"}
    for route in ROUTES:
        endpoint = f"{route.method} {route.full_path}"
        url = route.path_for(**{name: values[name] for name in route.parameters})
        if endpoint == "GET /__mock/events":  # the inspector's feed never ends: its first event is the answer
            with client.stream(route.method, url) as feed:
                assert feed.status_code == 200 and next(feed.iter_lines()) == "event: hello", endpoint
            continue
        response = client.request(route.method, url, **ADMIN_CALLS.get(endpoint, {}))
        assert response.status_code < 400 or endpoint.endswith("{datasetId}"), (endpoint, response.text)
        assert response.status_code not in (404, 405), (endpoint, response.text)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/__mock/data", "GET, HEAD, PUT"),
        ("GET", "/__mock/reset", "POST"),
        ("PATCH", "/__mock/faults", "DELETE, GET, HEAD, PUT"),
        ("GET", f"/__mock/streams/{DEMO_JOB}", "DELETE, PUT"),
    ],
)
def test_a_wrong_method_on_an_admin_route_is_a_json_405_with_allow(client, method, path, allow) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers["content-type"] == "application/json"
    assert f"allowed: {allow}" in response.json()["error"]


@pytest.mark.parametrize("path", ["/__mock/nope", "/__mock/jobs/x/metrics", "/__mock/streams/a/b", "/__mockery"])
def test_an_unknown_admin_route_is_a_json_404(client, path) -> None:
    response = client.post(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]


def test_a_failing_admin_handler_is_a_json_500() -> None:
    class Broken:
        async def boom(self, request: Any) -> Any:
            raise RuntimeError("planted")

    router = AdminRouter(Broken(), (AdminRoute("GET", "/boom", "boom", "fails"),))  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=router)

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
            return await client.get("/__mock/boom")

    response = asyncio.run(call())
    assert response.status_code == 500
    assert response.json() == {"error": "Internal mock error in the admin API: RuntimeError: planted"}


def test_the_readme_admin_table_has_one_row_per_route() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Admin API", 1)[1].split("\n\n|", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
    assert rows == [f"{route.method} {route.full_path}" for route in ROUTES]


def test_signed_download_urls_serve_the_stored_dataset(client) -> None:
    datasets = client.get(path_of("get_public_datasets", id="sft-support-bot-demo")).json()["datasets"]
    assert datasets
    stored = {row["id"]: row for row in client.get("/__mock/data").json()["datasets"]}
    for dataset in datasets:
        download = httpx.get(dataset["download_url"], timeout=10)
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/gzip"
        lines = gzip.decompress(download.content).decode("utf-8").splitlines()
        expected = [line if isinstance(line, str) else json.dumps(line) for line in stored[dataset["id"]]["content"]]
        assert [json.loads(line) for line in lines] == [json.loads(line) for line in expected]
