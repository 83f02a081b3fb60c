"""The gate's check registry: every check named once with its kind and level, and the one excerpt of a response."""

from __future__ import annotations

import pytest

import contracts.gate  # imports every gate check module
import contracts.sdk.runner  # noqa: F401 - and the SDK checks
from contracts import checks
from contracts.checks import CHECKS, Kind, excerpt, names
from contracts.client import CHECKS as CLIENT_CHECKS
from contracts.client import Level
from contracts.sdk.call_checks import CALL_CHECKS
from contracts.sdk.journal_check import CHECK_NAMES, REQUEST_CHECKS
from contracts.stream_checks import STREAM_CHECKS


def test_a_name_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="stream_status"):
        checks.declare("stream_status", Kind.LIVE, lambda capture: [])


def test_every_kind_has_its_checks() -> None:
    assert {check.kind for check in CHECKS.values()} == set(Kind)


def test_the_runners_read_their_checks_from_the_registry() -> None:
    assert tuple(STREAM_CHECKS) == names(Kind.STREAM)
    assert tuple(f.__name__ for f in REQUEST_CHECKS) == names(Kind.SDK)
    assert tuple(f.__name__ for f, _ in CALL_CHECKS) == names(Kind.SDK_CALL)
    assert tuple(CLIENT_CHECKS) == names(Kind.CLIENT)


def test_a_client_check_level_is_its_fails_the_run_flag() -> None:
    assert {c.name: c.level is Level.FAILURE for c in CLIENT_CHECKS.values()} == {
        c.name: c.fails_run for c in CHECKS.values() if c.kind == Kind.CLIENT
    }
    assert all(CHECKS[name].rule == c.rule for name, c in CLIENT_CHECKS.items())


def test_only_failing_sdk_checks_are_listed_as_such() -> None:
    warned = {c.name for c in CHECKS.values() if c.kind == Kind.SDK and not c.fails_run}
    assert warned == {"query_declared", "parameters_used", "headers_used"}
    assert set(CHECK_NAMES) == set(names(Kind.SDK)) - warned


def test_every_registered_check_has_its_function() -> None:
    assert all(callable(c.function) for c in CHECKS.values())
    assert [c.name for c in CHECKS.values() if getattr(c.function, "__name__", c.name) != c.name] == []


def test_excerpt_shows_status_content_type_and_the_start_of_the_body() -> None:
    assert excerpt(400, "application/json", b'{"error":"x"}') == 'HTTP 400 (application/json)\n{"error":"x"}'
    assert excerpt(500, None, "é" * 700).endswith("é" * 600 + " …")
    assert excerpt(500, None, "") == "HTTP 500 (no Content-Type)\n"
