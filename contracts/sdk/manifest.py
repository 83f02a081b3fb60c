"""Conformance manifests: an SDK's public methods, the operation each calls, calls to make and what they return.

Loaded from YAML, checked against `manifest.schema.json` and against the contract (operations exist,
references name earlier calls, result paths parse); every problem names the file and the entry.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from contracts.errors import GateError
from contracts.sdk.mapping import MappingError, check_pair
from contracts.sdk.refs import call_of, references, syntax_problem
from spec import Contract, Schema

SCHEMA_FILE = Path(__file__).with_name("manifest.schema.json")
PYTHON = "python"
IMPORT_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*")
MANIFEST_DIR = Path(__file__).with_name("manifests")


class ManifestError(GateError):
    """A manifest that cannot be run: the file, the entry and what is wrong."""


@dataclass(frozen=True)
class ClientSpec:
    """How to build one client object of the SDK."""

    name: str
    factory: str
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class ErrorSpec:
    """An exception type of the SDK and the attribute that holds the HTTP status."""

    name: str
    type: str
    status: str | None = None


@dataclass(frozen=True)
class Raises:
    """What a call that must fail has to raise."""

    error: str
    status: int | None = None
    message: str | None = None

    def describe(self) -> str:
        """`FinetuneLabError (status 401)`."""
        extra = [f"status {self.status}"] if self.status is not None else []
        extra += [f"message containing {self.message!r}"] if self.message else []
        return f"{self.error} ({', '.join(extra)})" if extra else self.error


@dataclass(frozen=True)
class Call:
    """One invocation of a method: arguments, and either a result mapping or an expected error."""

    id: str
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    result: Mapping[str, str] | None = None
    raises: Raises | None = None
    sends: int | None = None
    note: str | None = None
    client: str | None = None

    def signature(self, method: str) -> str:
        """`batch_test.cancel(test_id='${response:run/test_run_id}')` for reports."""
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        text = f"{method}({', '.join(parts)})"
        return text if len(text) <= 160 else text[:159] + "…)"


@dataclass(frozen=True)
class Method:
    """A public method of the SDK: the operation(s) it must call and the calls that exercise it."""

    name: str
    client: str
    operations: tuple[str, ...]
    calls: tuple[Call, ...]
    note: str | None = None

    @property
    def label(self) -> str:
        """`batch_test.run -> run_batch_test`."""
        return f"{self.name} -> {', '.join(self.operations)}"


@dataclass(frozen=True)
class Manifest:
    """A loaded, checked manifest."""

    sdk: str
    version: str
    language: str
    clients: Mapping[str, ClientSpec]
    errors: Mapping[str, ErrorSpec]
    methods: tuple[Method, ...]
    package: str | None = None
    outside_contract: tuple[str, ...] = ()
    source: str = "<manifest>"

    @property
    def title(self) -> str:
        """`finetune-lab 0.6.0`."""
        return f"{self.sdk} {self.version}"

    def method(self, name: str) -> Method:
        """The method entry called `name`; KeyError when there is none."""
        for method in self.methods:
            if method.name == name:
                return method
        raise KeyError(name)

    def is_outside(self, path: str) -> bool:
        """True for a path under one of the `outside_contract` prefixes."""
        return any(path.startswith(prefix) for prefix in self.outside_contract)

    def client_error(self, client: str) -> str | None:
        """The error a client's methods raise for an error response: its own `error`, else the first of `errors`."""
        spec = self.clients.get(client)
        if spec is not None and spec.error:
            return spec.error
        return next(iter(self.errors), None)

    def error_names(self) -> list[str]:
        """Every error name the manifest uses: `errors`, the clients' errors and the calls' `raises`, in that order."""
        names = list(self.errors)
        names += [c.error for c in self.clients.values() if c.error]
        names += [call.raises.error for m in self.methods for call in m.calls if call.raises is not None]
        return list(dict.fromkeys(names))


def bundled(name: str) -> Path:
    """A manifest shipped in `contracts/sdk/manifests/` by file name without `.yaml`."""
    return MANIFEST_DIR / f"{name}.yaml"


def load(path: str | Path, contract: Contract) -> Manifest:
    """Read, validate and build a manifest; ManifestError names the file, the entry and the rule."""
    source = Path(path)
    if not source.is_file() and bundled(str(path)).is_file():
        source = bundled(str(path))
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {source}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{source}: not valid YAML: {_yaml_problem(exc)}") from None
    schema = Schema(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    violations = list(schema.violations(document, "manifest"))
    if violations:
        raise ManifestError(
            f"{source}: {violations[0]}" + (f" (and {len(violations) - 1} more)" if len(violations) > 1 else "")
        )
    manifest = _build(document, str(source))
    problems = check(manifest, contract)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ManifestError(f"{source}: {problems[0]}{more}")
    return manifest


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else problem


def _build(document: Mapping[str, Any], source: str) -> Manifest:
    clients = {
        name: ClientSpec(
            name, spec["factory"], tuple(spec.get("args") or ()), dict(spec.get("kwargs") or {}), spec.get("error")
        )
        for name, spec in document["clients"].items()
    }
    default_client = next(iter(clients))
    errors = {
        name: ErrorSpec(name, spec["type"], spec.get("status")) for name, spec in (document.get("errors") or {}).items()
    }
    methods = []
    for entry in document["methods"]:
        operation = entry["operation"]
        calls = tuple(_call(entry["method"], index, raw) for index, raw in enumerate(entry["calls"]))
        methods.append(
            Method(
                name=entry["method"],
                client=entry.get("client", default_client),
                operations=(operation,) if isinstance(operation, str) else tuple(operation),
                calls=calls,
                note=entry.get("note"),
            )
        )
    return Manifest(
        sdk=str(document["sdk"]),
        version=str(document["version"]),
        language=document["language"],
        clients=clients,
        errors=errors,
        methods=tuple(methods),
        package=document.get("package"),
        outside_contract=tuple(document.get("outside_contract") or ()),
        source=source,
    )


def _call(method: str, index: int, raw: Mapping[str, Any]) -> Call:
    result = raw.get("result")
    raises = raw.get("raises")
    return Call(
        id=raw.get("id") or (method if index == 0 else f"{method}#{index + 1}"),
        args=tuple(raw.get("args") or ()),
        kwargs=dict(raw.get("kwargs") or {}),
        result={"": result} if isinstance(result, str) else result,
        raises=Raises(raises["error"], raises.get("status"), raises.get("message")) if raises else None,
        sends=raw.get("sends"),
        note=raw.get("note"),
        client=raw.get("client"),
    )


def check(manifest: Manifest, contract: Contract) -> list[str]:
    """Every problem of a structurally valid manifest, each naming its entry."""
    problems: list[str] = []
    seen_calls: set[str] = set()
    for m_index, method in enumerate(manifest.methods):
        where = f"methods[{m_index}] ({method.name})"
        if method.client not in manifest.clients:
            problems.append(f"{where}.client: no client {method.client!r} (clients: {', '.join(manifest.clients)})")
        for operation in method.operations:
            if operation not in contract.operations:
                problems.append(f"{where}.operation: no operation {operation!r} in the spec")
        for c_index, call in enumerate(method.calls):
            at = f"{where}.calls[{c_index}]"
            if call.client is not None and call.client not in manifest.clients:
                problems.append(f"{at}.client: no client {call.client!r} (clients: {', '.join(manifest.clients)})")
            if call.id in seen_calls:
                problems.append(f"{at}.id: {call.id!r} is used twice")
            problems.extend(_check_call(manifest, call, at, seen_calls))
            seen_calls.add(call.id)
    for name, client in manifest.clients.items():
        problems.extend(_check_refs(client.args, f"clients.{name}.args", set()))
        problems.extend(_check_refs(client.kwargs, f"clients.{name}.kwargs", set()))
        if client.error is not None and not _known_error(manifest, client.error):
            problems.append(
                f"clients.{name}.error: {client.error!r} is not in `errors`, a builtin exception or module:Name"
            )
    if manifest.language == PYTHON:
        problems.extend(_python_paths(manifest))
    return problems


def _python_paths(manifest: Manifest) -> list[str]:
    """A Python runner imports factories and errors by `module:attribute` (or a builtin exception's name)."""
    problems = []
    for name, client in manifest.clients.items():
        if not IMPORT_PATH.fullmatch(client.factory):
            problems.append(f"clients.{name}.factory: {client.factory!r} is not module:attribute (a Python manifest)")
    for error in manifest.errors.values():
        if not IMPORT_PATH.fullmatch(error.type) and not hasattr(builtins, error.type):
            problems.append(f"errors.{error.name}.type: {error.type!r} is not module:Name or a builtin exception")
    return problems


def _check_call(manifest: Manifest, call: Call, at: str, earlier: set[str]) -> list[str]:
    problems = _check_refs(call.args, f"{at}.args", earlier) + _check_refs(call.kwargs, f"{at}.kwargs", earlier)
    for result_path, pointer in (call.result or {}).items():
        try:
            check_pair(result_path, pointer)
        except MappingError as exc:
            problems.append(f"{at}.result: {exc}")
    raises = call.raises
    if raises is not None and not _known_error(manifest, raises.error):
        problems.append(f"{at}.raises.error: {raises.error!r} is not in `errors`, a builtin exception or module:Name")
    elif raises is not None and raises.status is not None:
        spec = manifest.errors.get(raises.error)
        if spec is None or spec.status is None:
            problems.append(
                f"{at}.raises.status: {raises.error!r} needs an entry in `errors` naming its status attribute"
            )
    return problems


def _check_refs(value: Any, at: str, earlier: set[str]) -> list[str]:
    problems = []
    for source, rest in references(value):
        problem = syntax_problem(source, rest)
        if problem is None and source in ("response", "result") and call_of(rest) not in earlier:
            problem = f"call {call_of(rest)!r} does not run before this one"
        if problem:
            problems.append(f"{at}: ${{{source}:{rest}}}: {problem}")
    return problems


def _known_error(manifest: Manifest, name: str) -> bool:
    if name in manifest.errors or ":" in name or manifest.language != PYTHON:
        return True
    return isinstance(getattr(builtins, name, None), type) and issubclass(getattr(builtins, name), BaseException)
