"""Ownership as the contract states it, not as the platform's holes have it (reference §1.5, §2.5, §4.4, §8, §7.1).

Another user's job, pod, notebook run or configuration is as absent as an unknown one; a job token writes
its own job only. Each case is checked both ways: the owner succeeds, the other user changes nothing.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import httpx
from httpx_sse import connect_sse

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
    path_of,
)

ALICE_SESSION = {"Authorization": f"Bearer {ALICE_SESSION_TOKEN}"}
BOB_SESSION = {"Authorization": f"Bearer {BOB_SESSION_TOKEN}"}
ALICE_POD = "7a1e3c5b-9d2f-4e68-8b04-6c3f1a9d5e27"
ALICE_KAGGLE = "alice-demo/support-bot-kaggle"
ALICE_PUBLIC_CONFIG = "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b"
PUBLIC_ID = "sft-support-bot-demo"


def create_job(mock: MockProcess, key: str, **fields: Any) -> httpx.Response:
    return httpx.post(mock.url + path_of("create_job"), json=fields, headers={"X-API-Key": key}, timeout=10)


def item(job_id: str, user_id: str, index: int) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "user_id": user_id,
        "epoch": 1,
        "step": index + 1,
        "sample_index": index,
        "prompt": "p",
        "prediction": "q",
    }


def upload(mock: MockProcess, job_id: str, token: str, items: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(
        mock.url + path_of("create_predictions"),
        json={"job_id": job_id, "predictions": items},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def count(mock: MockProcess, job_id: str) -> int:
    url = mock.url + path_of("get_predictions", jobId=job_id)
    return int(httpx.get(url, headers={"X-API-Key": ALICE_KEY}, timeout=10).json()["total_count"])


# --- create_job: the upsert never takes a job over (§4.4) -----------------------------------------


def test_the_upsert_updates_the_callers_own_job(mock) -> None:
    job_id = f"job_{uuid.uuid4().hex[:8]}"
    made = create_job(mock, ALICE_KEY, job_id=job_id, model_name="m1").json()
    again = create_job(mock, ALICE_KEY, job_id=job_id, status="completed")
    assert again.status_code == 200 and again.json()["job_token"] == made["job_token"]


def test_the_upsert_on_another_users_job_is_404_and_hands_out_nothing(mock) -> None:
    taken = create_job(mock, BOB_KEY, job_id=DEMO_JOB, status="cancelled", job_token="bobs-own-token-0123456789")
    assert taken.status_code == 404 and taken.json()["error"] == "Job not found"
    assert DEMO_JOB_TOKEN not in taken.text
    status = httpx.get(mock.url + path_of("get_job_status", jobId=DEMO_JOB), headers={"X-API-Key": ALICE_KEY})
    assert status.status_code == 200 and status.json()["status"] == "running", "the owner keeps the job"
    assert upload(mock, DEMO_JOB, DEMO_JOB_TOKEN, [item(DEMO_JOB, ALICE, 0)]).status_code == 200, "token unchanged"


# --- create_predictions: a job token writes its own job (§2.5) -------------------------------------


def test_a_job_token_cannot_write_another_users_job_and_its_stream_sees_nothing(mock) -> None:
    bob_job = f"job_{uuid.uuid4().hex[:8]}"
    bob_token = create_job(mock, BOB_KEY, job_id=bob_job).json()["job_token"]
    before = count(mock, DEMO_JOB)
    received: list[dict[str, Any]] = []
    opened = threading.Event()

    def listen() -> None:
        url = mock.url + path_of("stream_predictions", jobId=DEMO_JOB)
        with (
            httpx.Client(timeout=20) as client,
            connect_sse(client, "GET", url, headers={"X-API-Key": ALICE_KEY}) as sse,
        ):
            for event in sse.iter_sse():
                opened.set()
                if event.event == "prediction":
                    received.append(json.loads(event.data))
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(20), "Alice's stream opened"
    cross = upload(mock, bob_job, bob_token, [item(DEMO_JOB, ALICE, 0)])
    assert cross.status_code == 400
    assert cross.json()["error"].startswith(f"predictions[0].job_id: must be the envelope's job_id {bob_job!r}")
    mine = upload(mock, DEMO_JOB, DEMO_JOB_TOKEN, [{**item(DEMO_JOB, ALICE, 7), "prompt": "the owner's"}])
    assert mine.status_code == 200
    listener.join(20)
    assert [event["prediction"]["prompt"] for event in received] == ["the owner's"], "the first event is the owner's"
    assert count(mock, DEMO_JOB) == before + 1


def test_an_item_must_carry_the_job_owners_user_id(mock) -> None:
    wrong = upload(mock, DEMO_JOB, DEMO_JOB_TOKEN, [item(DEMO_JOB, ALICE, 0), item(DEMO_JOB, BOB, 1)])
    assert wrong.status_code == 400
    assert wrong.json()["error"] == f"predictions[1].user_id: must be {ALICE!r}, the owner of job {DEMO_JOB!r}"
    before = count(mock, DEMO_JOB)
    assert upload(mock, DEMO_JOB, DEMO_JOB_TOKEN, [item(DEMO_JOB, ALICE, 0)]).status_code == 200
    assert count(mock, DEMO_JOB) == before + 1


# --- deployments: only the owner's pods and notebook runs (§8.1, §8.5) ------------------------------


def deployment(mock: MockProcess, method: str, operation_id: str, key: str, session: dict[str, str]) -> httpx.Response:
    url = mock.url + path_of(operation_id)
    return httpx.request(method, url, params={"deployment_id": key}, headers=session, timeout=10)


def test_another_users_runpod_pod_can_be_neither_read_nor_stopped(mock) -> None:
    assert deployment(mock, "GET", "get_runpod_deployment", ALICE_POD, BOB_SESSION).status_code == 404
    stopped = deployment(mock, "DELETE", "delete_runpod_deployment", ALICE_POD, BOB_SESSION)
    assert stopped.status_code == 404 and stopped.json()["error"] == "Deployment not found"
    mine = deployment(mock, "GET", "get_runpod_deployment", ALICE_POD, ALICE_SESSION)
    assert mine.status_code == 200 and mine.json()["status"] == "running", "the pod still runs"
    assert deployment(mock, "DELETE", "delete_runpod_deployment", ALICE_POD, ALICE_SESSION).status_code == 200


def test_another_users_kaggle_run_cannot_be_read(mock) -> None:
    assert deployment(mock, "GET", "get_kaggle_deployment", ALICE_KAGGLE, BOB_SESSION).status_code == 404
    assert deployment(mock, "GET", "get_kaggle_deployment", ALICE_KAGGLE, ALICE_SESSION).status_code == 200


# --- upload_dataset: a config_id names one of the caller's configurations (§7.1) --------------------


def upload_dataset(mock: MockProcess, session: dict[str, str], config_id: str) -> httpx.Response:
    return httpx.post(
        mock.url + path_of("upload_dataset"),
        data={"name": "attached", "format": "jsonl", "config_id": config_id},
        files={"file": ("a.jsonl", b'{"text": "hello"}\n', "application/x-ndjson")},
        headers=session,
        timeout=10,
    )


def public_datasets(mock: MockProcess) -> list[str]:
    response = httpx.get(mock.url + path_of("get_public_datasets", id=PUBLIC_ID), timeout=10)
    return [dataset["id"] for dataset in response.json()["datasets"]]


def test_a_dataset_cannot_be_attached_to_another_users_configuration(mock) -> None:
    listed = public_datasets(mock)
    bobs = httpx.get(mock.url + path_of("list_datasets"), headers=BOB_SESSION, timeout=10).json()["datasets"]
    response = upload_dataset(mock, BOB_SESSION, ALICE_PUBLIC_CONFIG)
    assert response.status_code == 404 and response.json()["error"] == "Training configuration not found"
    assert public_datasets(mock) == listed, "nothing shows in Alice's public listing"
    after = httpx.get(mock.url + path_of("list_datasets"), headers=BOB_SESSION, timeout=10).json()["datasets"]
    assert after == bobs, "nothing stored"
    assert upload_dataset(mock, BOB_SESSION, "no-such-config").status_code == 404


def test_the_owner_attaches_a_dataset_to_her_configuration(mock) -> None:
    response = upload_dataset(mock, ALICE_SESSION, ALICE_PUBLIC_CONFIG)
    assert response.status_code == 200, response.text
    assert response.json()["dataset"]["id"] in public_datasets(mock)
