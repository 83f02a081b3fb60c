"""Loading rejects broken documents with the JSON pointer and the rule, and schemathesis reads the spec."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import spec
from spec import SpecError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def document() -> dict[str, Any]:
    return yaml.safe_load(spec.BUNDLED_SPEC.read_text())


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTL_CACHE_DIR", str(tmp_path / "cache"))


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_bundled_spec_loads(tmp_path: Path, document: dict[str, Any]) -> None:
    contract = spec.load(write(tmp_path, document))
    assert len(contract.operations) == 63


def test_broken_ref_is_rejected_with_its_location(tmp_path: Path, document: dict[str, Any]) -> None:
    op = document["paths"]["/api/training/predictions/{jobId}"]["get"]
    op["responses"]["200"]["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/NoSuchThing"}
    with pytest.raises(SpecError) as raised:
        spec.load(write(tmp_path, document))
    assert raised.value.rule == "$ref"
    assert (
        raised.value.pointer
        == "/paths/~1api~1training~1predictions~1{jobId}/get/responses/200/content/application~1json/schema"
    )
    assert "#/components/schemas/NoSuchThing does not resolve" in str(raised.value)


def test_missing_operation_id_is_rejected(tmp_path: Path, document: dict[str, Any]) -> None:
    del document["paths"]["/api/training/jobs"]["get"]["operationId"]
    with pytest.raises(SpecError) as raised:
        spec.load(write(tmp_path, document))
    assert (raised.value.pointer, raised.value.rule) == ("/paths/~1api~1training~1jobs/get", "operationId")


def test_duplicate_operation_id_is_rejected(tmp_path: Path, document: dict[str, Any]) -> None:
    document["paths"]["/api/training/jobs"]["get"]["operationId"] = "get_metrics"
    with pytest.raises(SpecError, match="already used"):
        spec.load(write(tmp_path, document))


def test_invalid_example_is_rejected_with_its_location(tmp_path: Path, document: dict[str, Any]) -> None:
    media = document["paths"]["/api/training/predictions/{jobId}/epochs"]["get"]["responses"]["200"]["content"]
    media["application/json"]["example"]["epochs"][0]["epoch"] = "one"
    with pytest.raises(SpecError) as raised:
        spec.load(write(tmp_path, document))
    assert raised.value.rule == "example"
    assert raised.value.pointer.endswith("/get/responses/200/content/application~1json/example")
    assert "epochs[0].epoch: must be of type integer" in str(raised.value)


def test_invalid_openapi_is_rejected(tmp_path: Path, document: dict[str, Any]) -> None:
    document["paths"]["/api/training/jobs"]["get"]["responses"]["200"]["description"] = 42
    with pytest.raises(SpecError) as raised:
        spec.load(write(tmp_path, document))
    assert raised.value.rule == "openapi-3.2"
    assert "/paths/~1api~1training~1jobs/get/responses/200" in raised.value.pointer


def test_wrong_openapi_version_is_rejected(tmp_path: Path, document: dict[str, Any]) -> None:
    document["openapi"] = "3.0.3"
    with pytest.raises(SpecError, match=r"3\.2"):
        spec.load(write(tmp_path, document))


def test_invalid_stream_transcript_example_is_rejected(tmp_path: Path, document: dict[str, Any]) -> None:
    media = document["paths"]["/api/training/predictions/{jobId}/stream"]["get"]["responses"]["200"]["content"]
    media["text/event-stream"]["example"] = (
        'event: connected\ndata: {"job_id":"x","timestamp":"2025-01-01T00:00:00.000Z"}\n\n'
    )
    with pytest.raises(SpecError, match="jobId: is required"):
        spec.load(write(tmp_path, document))


def test_unreadable_path_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        spec.load(tmp_path / "absent.yaml")


def test_cli_prints_summary_and_fails_in_one_line(tmp_path: Path, document: dict[str, Any]) -> None:
    ok = subprocess.run([sys.executable, "-m", "spec"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert ok.returncode == 0
    assert "63 operations" in ok.stdout
    del document["paths"]["/api/training/jobs"]["get"]["operationId"]
    bad = subprocess.run(
        [sys.executable, "-m", "spec", "--spec", str(write(tmp_path, document))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert "operationId" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_schemathesis_loads_every_operation() -> None:
    import schemathesis

    schema = schemathesis.openapi.from_path(str(spec.BUNDLED_SPEC))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 63
    assert {op.label for op in operations} >= {"GET /api/training/predictions/{jobId}/stream"}
