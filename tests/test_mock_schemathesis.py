"""Schemathesis, run from its own CLI against a real ftl-mock: no server errors, no schema violations.

Default checks (negative data, missing auth, response schemas and headers) over every operation but the
endless SSE stream, a bounded number of examples, demo credentials per the operation's security.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import spec
from tests.conftest import ALICE_KEY, ALICE_SESSION_TOKEN, DEMO_JOB, DEMO_JOB_TOKEN

CONTRACT = spec.load()
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MAX_EXAMPLES = 8
RUN_TIMEOUT_S = 240

# Operations that answer schema-valid requests with a 400 by rule, not by validation (reference sections).
RULE_STATUSES: dict[str, tuple[str, str]] = {
    "create_predictions": ("400", "§2.5 (contract): every item names the envelope's job and its owner"),
    "control_job": ("400", "§6.1: pause, resume and cancel only from their allowed states"),
    "resume_job": ("400", "§6.2: resume only failed, cancelled, pending or queued jobs"),
    "update_job_params": ("400", "§6.3: parameters only change on running jobs"),
    "upload_dataset": ("400", "§7.1: a file without a single example is an invalid dataset"),
    "run_batch_test": ("400", "§10.2: judge_config needs a session; prompts must be found"),
    "cancel_batch_test": ("400", "§10.2: only running or pending runs can be cancelled"),
    "get_analytics_data": ("400", "§10.3: metrics must name a known metric, dates a valid range"),
    **{
        op.operation_id: ("400", "§8: a missing cloud credential or an unattached dataset is a 400")
        for op in CONTRACT.iter_operations(include=["deployments"])
        if op.method == "POST"
    },
}
# Schemathesis takes `/api/training/deploy/*` for sub-resources of `/api/training` (a path-prefix heuristic) and
# reports the 404 of a deploy naming a configuration the same scenario deleted as "created resource not found".
NOT_SUB_RESOURCES = tuple(op.operation_id for op in CONTRACT.iter_operations(include=["deployments"]))
# Multipart fields are text on the wire: a number where the schema says string cannot be told apart.
UNTYPED_BODIES = ("upload_dataset",)
HOOKS = '''
import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    """One JSON document per line, as the dataset upload's file part may be sent."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return (json.dumps(value) + "\\n").encode()
'''


def toml_value(value: object) -> str:
    return json.dumps(value)


def config_text() -> str:
    """schemathesis.toml: job-token credentials, the demo job, and the per-operation expectations above."""
    headers = {"X-API-Key": ALICE_KEY, "Authorization": f"Bearer {ALICE_SESSION_TOKEN}"}
    parts = [
        "headers = { " + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in headers.items()) + " }\n",
        f"[parameters]\njobId = {toml_value(DEMO_JOB)}\n",
    ]
    token_ops = [op.operation_id for op in CONTRACT.operations.values() if "jobToken" in op.scheme_names]
    parts.append(
        "[[operations]]\n"
        f"include-operation-id = {toml_value(token_ops)}\n"
        f"headers = {{ Authorization = {toml_value('Bearer ' + DEMO_JOB_TOKEN)} }}\n"
    )
    for op in CONTRACT.operations.values():
        accepted = ["2xx", "3xx", "401", "403", "404", "409", "429"]
        if not 200 <= op.success_status < 300:
            accepted.append(str(op.success_status))  # gone-only operations succeed with their one status
        if op.operation_id in RULE_STATUSES:
            accepted.append(RULE_STATUSES[op.operation_id][0])
        if len(accepted) > 7:
            parts.append(
                "[[operations]]\n"
                f"include-operation-id = {toml_value(op.operation_id)}\n"
                f"checks.positive_data_acceptance.expected-statuses = {toml_value(accepted)}\n"
            )
    parts.append(
        "[[operations]]\n"
        f"include-operation-id = {toml_value(list(NOT_SUB_RESOURCES))}\n"
        "checks.ensure_resource_availability.enabled = false\n"
    )
    for operation_id in UNTYPED_BODIES:
        parts.append(
            "[[operations]]\n"
            f"include-operation-id = {toml_value(operation_id)}\n"
            "checks.negative_data_rejection.enabled = false\n"
        )
    return "\n".join(parts)


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors_or_schema_violations(mock_factory, tmp_path) -> None:
    mock = mock_factory("--time-scale", "0.01")
    (tmp_path / "schemathesis.toml").write_text(config_text(), encoding="utf-8")
    (tmp_path / "ftl_st_hooks.py").write_text(HOOKS, encoding="utf-8")
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(tmp_path / "schemathesis.toml"),
        "run",
        CONTRACT.source,
        "--url",
        mock.url,
        "--exclude-operation-id",
        CONTRACT.stream.operation.operation_id,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "20261125",
        "--workers",
        "2",
        "--request-timeout",
        "10",
        "--no-color",
    ]
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "SCHEMATHESIS_HOOKS": "ftl_st_hooks"}
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env)
    output = result.stdout + result.stderr
    (tmp_path / "schemathesis.log").write_text(output, encoding="utf-8")
    assert "Server error" not in output, digest(output)
    assert result.returncode == 0, digest(output)


def digest(output: str) -> str:
    """The failures and summary of a run, each line cut short (request bodies can be huge)."""
    start = output.find("FAILURES")
    lines = output[start if start >= 0 else 0 :].splitlines()
    return "\n".join(line if len(line) < 240 else line[:240] + " …" for line in lines)[-20_000:]
