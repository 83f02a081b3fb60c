"""Routing on a real mock: every operation is served, unknown paths get 404 JSON, wrong methods 405 + Allow.

The mock routes with the contract's own router (`Contract.router`, its rules in tests/test_spec_routing.py).
"""

from __future__ import annotations

import httpx

import spec

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CONTRACT = spec.load()


def concrete(op: spec.Operation) -> str:
    """The operation's path, each parameter filled with a value its schema accepts."""
    return op.path_for(**{p.name: f"{p.name}_1" for p in op.parameters_in("path")})


def probe_paths() -> list[str]:
    """Every template made concrete, plus paths where literal and templated segments compete."""
    paths = {concrete(op) for op in CONTRACT.operations.values()}
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


def test_every_operation_is_served(mock) -> None:
    ops = list(CONTRACT.operations.values())
    with httpx.Client(base_url=mock.url, timeout=10) as client:
        for op in ops:
            response = client.request(op.method, concrete(op))
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
