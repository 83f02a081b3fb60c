"""Routing from the spec: every operation is served, unknown paths get 404 JSON, wrong methods 405 + Allow.

The fast router must resolve exactly as `Contract.match` does; that is checked in-process, the rest on a real mock.
"""

from __future__ import annotations

import re

import httpx
import pytest

import spec
from mockserver.routing import Router

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CONTRACT = spec.load()


def concrete(template: str) -> str:
    """A request path for a template, each parameter filled with a value its schema accepts."""
    return re.sub(r"\{([^}]+)\}", lambda m: f"{m.group(1)}_1", template)


def probe_paths() -> list[str]:
    """Every template made concrete, plus paths where literal and templated segments compete."""
    paths = {concrete(op.path) for op in CONTRACT.operations.values()}
    paths |= {
        "/",
        "/api/training/jobs",
        "/api/training/dataset/available",
        "/api/training/baselines",
        "/api/training/",
        "/api/training//status",
        "/api/training/local/x/unknown",
        "/api/training/local/metrics",
        "/api/unknown",
    }
    return sorted(paths)


@pytest.mark.parametrize("path", probe_paths())
def test_router_resolves_like_the_contract(path: str) -> None:
    router = Router.from_contract(CONTRACT)
    for method in METHODS:
        expected = CONTRACT.match(method, path)
        found = router.match(method, path)
        if expected is None:
            assert found.op is None, f"{method} {path}"
            assert sorted(found.allowed) == CONTRACT.allowed_methods(path), f"{method} {path}"
        else:
            assert found.op is expected[0], f"{method} {path}"
            assert dict(found.params) == expected[1]


def test_every_operation_is_served(mock) -> None:
    ops = list(CONTRACT.operations.values())
    with httpx.Client(base_url=mock.url, timeout=10) as client:
        for op in ops:
            response = client.request(op.method, concrete(op.path))
            assert response.status_code not in (405,), f"{op.operation_id}: {response.text}"
    journal = httpx.get(f"{mock.admin}/journal", timeout=10).json()["entries"]
    assert [e["operation_id"] for e in journal] == [op.operation_id for op in ops]


def test_unknown_path_gets_404_json(mock) -> None:
    response = httpx.get(f"{mock.url}/api/training/nothing/here/at/all", timeout=10)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert "/api/training/nothing/here/at/all" in response.json()["error"]


def test_wrong_method_gets_405_with_allow(mock) -> None:
    with httpx.Client(base_url=mock.url, timeout=10) as client:
        checked = 0
        for path in probe_paths():
            allowed = CONTRACT.allowed_methods(path)
            for method in (m for m in METHODS if allowed and m not in allowed):
                if CONTRACT.match(method, path) is not None:
                    continue
                response = client.request(method, path)
                assert response.status_code == 405, f"{method} {path}"
                assert [m.strip() for m in response.headers["allow"].split(",")] == allowed
                assert method in response.json()["error"]
                checked += 1
    assert checked > 20


def test_admin_api_unknown_route_is_404_json(mock) -> None:
    response = httpx.get(f"{mock.admin}/nope", timeout=10)
    assert response.status_code == 404
    assert "admin API" in response.json()["error"]
