"""The contract's security schemes, typed: header, credential, key form and redaction come from the document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.datastructures import Headers

import spec
from mockserver.auth import KeyReader
from mockserver.journal import Secrets
from spec import Redaction, SpecError
from tests.test_spec_loading import write

CONTRACT = spec.load()


@pytest.fixture
def document() -> dict[str, Any]:
    return yaml.safe_load(spec.BUNDLED_SPEC.read_text())


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTL_CACHE_DIR", str(tmp_path / "cache"))


def load(tmp_path: Path, document: dict[str, Any]) -> spec.Contract:
    return spec.load(write(tmp_path, document))


def test_each_scheme_names_its_header_and_credential_in_document_order() -> None:
    found = [(s.name, s.header, s.credential, s.is_header_key, s.is_bearer) for s in CONTRACT.schemes.values()]
    assert found == [
        ("apiKey", "X-API-Key", "api_key", True, False),
        ("workspaceApiKey", "X-Workspace-API-Key", "api_key", True, False),
        ("bearerApiKey", "Authorization", "api_key", False, True),
        ("sessionJwt", "Authorization", "session_token", False, True),
        ("jobToken", "Authorization", "job_token", False, True),
    ]
    assert CONTRACT.schemes.headers == {"x-api-key", "x-workspace-api-key", "authorization"}


def test_an_api_key_has_the_prefix_and_form_the_document_declares() -> None:
    key = CONTRACT.schemes["apiKey"]
    assert key.key_prefix == "wak_"
    assert key.fits("wak_" + "A1b2" * 8)
    assert not key.fits("wak_" + "A1b2" * 8 + "x")
    assert not key.fits("wak_tooShort")
    assert CONTRACT.schemes["sessionJwt"].fits("anything at all")
    assert not CONTRACT.schemes["sessionJwt"].looks_like("wak_x")


def test_a_scheme_builds_the_headers_that_present_a_secret() -> None:
    assert CONTRACT.schemes["workspaceApiKey"].headers("k") == {"X-Workspace-API-Key": "k"}
    assert CONTRACT.schemes["jobToken"].headers("t") == {"Authorization": "Bearer t"}


def test_redaction_keeps_the_first_characters_after_the_bearer_word() -> None:
    rule = CONTRACT.schemes.redaction
    assert rule == Redaction(8)
    assert rule.apply("wak_j6S4qYhLagyZf5dM") == "wak_j6S4…"
    assert rule.apply("Bearer ftl-demo-session-alice") == "Bearer ftl-demo…"
    assert rule.applied("wak_j6S4…") and not rule.applied("wak_j6S4qYhLagyZf5dM")
    assert rule.revealed("Bearer wak_j6S4…") == "wak_j6S4"
    assert rule.revealed("wak_j6S4…") == "wak_j6S4"


def test_the_mock_reads_keys_and_redacts_headers_as_the_document_says(tmp_path: Path, document: dict) -> None:
    schemes = document["components"]["securitySchemes"]
    for name in ("apiKey", "workspaceApiKey", "bearerApiKey"):
        schemes[name] |= {"x-key-prefix": "key_", "x-key-pattern": "^key_[a-z]{4}$"}
    schemes["apiKey"]["name"] = "X-Key"
    for scheme in schemes.values():
        scheme["x-redaction"] = {"keep": 3}
    contract = load(tmp_path, document)
    reader = KeyReader(contract.schemes)
    by_header = reader.read(Headers({"x-key": "key_abcd"}))
    assert (by_header.key, by_header.key_scheme) == ("key_abcd", "apiKey")
    assert reader.fits("apiKey", "key_abcd") and not reader.fits("apiKey", "wak_" + "A1b2" * 8)
    by_bearer = reader.read(Headers({"authorization": "Bearer key_abcd"}))
    assert (by_bearer.key, by_bearer.key_scheme) == ("key_abcd", "bearerApiKey")
    assert reader.read(Headers({"authorization": "Bearer wak_abcd"})).key is None
    secrets = Secrets.of(contract.schemes)
    assert secrets.shown(b"x-key", b"key_abcd") == "key…"
    assert secrets.shown(b"authorization", b"Bearer key_abcd") == "Bearer key…"
    assert secrets.shown(b"x-api-key", b"wak_abcd") == "wak_abcd", "no longer a credential header"


def test_a_scheme_without_its_credential_is_rejected(tmp_path: Path, document: dict) -> None:
    del document["components"]["securitySchemes"]["jobToken"]["x-credential"]
    with pytest.raises(SpecError) as raised:
        load(tmp_path, document)
    assert (raised.value.pointer, raised.value.rule) == (
        "/components/securitySchemes/jobToken/x-credential",
        "x-credential",
    )
    assert "api_key, session_token, job_token" in str(raised.value)


def test_a_key_pattern_that_is_no_regular_expression_is_rejected(tmp_path: Path, document: dict) -> None:
    document["components"]["securitySchemes"]["apiKey"]["x-key-pattern"] = "^wak_[A-Z"
    with pytest.raises(SpecError) as raised:
        load(tmp_path, document)
    assert raised.value.pointer == "/components/securitySchemes/apiKey/x-key-pattern"


def test_schemes_of_one_credential_must_agree_on_its_form(tmp_path: Path, document: dict) -> None:
    document["components"]["securitySchemes"]["bearerApiKey"]["x-key-pattern"] = "^wak_.+$"
    with pytest.raises(SpecError, match="must agree on its prefix and pattern"):
        load(tmp_path, document)


@pytest.mark.parametrize("redaction", [None, {"keep": -1}, {"keep": "8"}, {"keep": 4}])
def test_every_scheme_shows_secrets_one_declared_way(tmp_path: Path, document: dict, redaction: Any) -> None:
    scheme = document["components"]["securitySchemes"]["sessionJwt"]
    if redaction is None:
        del scheme["x-redaction"]
    else:
        scheme["x-redaction"] = redaction
    with pytest.raises(SpecError, match="x-redaction"):
        load(tmp_path, document)
