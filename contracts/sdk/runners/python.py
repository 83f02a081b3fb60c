"""The Python SDK runner: answers the runner protocol by importing the SDK and calling it in this interpreter.

`python -m contracts.sdk.runners.python` reads one JSON message per line on stdin and writes one answer
per line on stdout; the SDK's own prints go to stderr. `PythonRunner.handle` is the same thing in-process.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import importlib
import importlib.metadata
import inspect
import json
import math
import os
import sys
from collections.abc import Mapping
from typing import Any

PROTOCOL_VERSION = 1
MAX_DEPTH = 64


class RunnerTrouble(Exception):
    """A message the runner cannot carry out (not an error of the SDK)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = f"runner:{kind}"
        self.message = message


def import_path(path: str) -> Any:
    """The object `module:attr.attr` (or a builtin name) names; RunnerTrouble when it cannot be found."""
    if ":" not in path:
        found = getattr(builtins, path, None)
        if found is None:
            raise RunnerTrouble("CannotImport", f"{path!r} is not a builtin; write module:Name")
        return found
    module_name, _, attribute = path.partition(":")
    try:
        node: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise RunnerTrouble(
            "CannotImport", f"cannot import {module_name!r} ({exc}); is the SDK installed in this environment?"
        ) from None
    for part in attribute.split("."):
        try:
            node = getattr(node, part)
        except AttributeError:
            raise RunnerTrouble("CannotImport", f"{path}: {module_name} has no attribute {attribute!r}") from None
    return node


def to_json(value: Any, depth: int = 0) -> Any:
    """A returned value as JSON data: dataclasses and plain objects become objects of their public attributes."""
    if depth > MAX_DEPTH:
        return repr(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): to_json(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(item, depth + 1) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "__dict__") and not callable(value):
        return {k: to_json(v, depth + 1) for k, v in vars(value).items() if not k.startswith("_")}
    return repr(value)


class PythonRunner:
    """Builds the manifest's clients and calls their methods; every answer is plain JSON data."""

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}
        self.errors: list[tuple[str, type[BaseException], str | None]] = []

    def handle(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """The answer to one protocol message."""
        ident = message.get("id")
        result: Any = None
        try:
            if "hello" in message:
                result = self._hello(message["hello"])
            elif "factory" in message:
                self._build(message)
            elif "method" in message:
                result = self._call(message)
            else:
                raise RunnerTrouble("BadMessage", "a message carries hello, factory or method")
        except RunnerTrouble as trouble:
            return {"id": ident, "error": {"type": trouble.kind, "message": trouble.message, "status": None}}
        except Exception as exc:
            return {"id": ident, "error": self.describe(exc)}
        return {"id": ident, "result": result}

    def _hello(self, hello: Mapping[str, Any]) -> dict[str, Any]:
        if hello.get("protocol") != PROTOCOL_VERSION:
            raise RunnerTrouble("Protocol", f"this runner speaks protocol {PROTOCOL_VERSION}")
        self.errors = []
        for name, spec in (hello.get("errors") or {}).items():
            found = import_path(str(spec.get("type") or name))
            if not (isinstance(found, type) and issubclass(found, BaseException)):
                raise RunnerTrouble("CannotImport", f"{name}: {found!r} is not an exception type")
            self.errors.append((str(name), found, spec.get("status")))
        return {"runner": "python", "language": "python", "sdk": self._sdk(hello)}

    def _sdk(self, hello: Mapping[str, Any]) -> dict[str, Any]:
        name = str(hello.get("sdk") or "")
        try:
            version: str | None = importlib.metadata.version(name) if name else None
        except importlib.metadata.PackageNotFoundError:
            version = None
        location = None
        package = hello.get("package")
        if package:
            try:
                location = getattr(importlib.import_module(str(package)), "__file__", None)
            except ImportError as exc:
                raise RunnerTrouble(
                    "CannotImport", f"cannot import {package!r} ({exc}); is the SDK installed?"
                ) from None
        return {"name": name, "version": version, "location": location}

    def _build(self, message: Mapping[str, Any]) -> None:
        factory = import_path(str(message["factory"]))
        self.clients[str(message["client"])] = factory(*message.get("args") or (), **message.get("kwargs") or {})

    def _call(self, message: Mapping[str, Any]) -> Any:
        client_name, method = str(message.get("client")), str(message["method"])
        if client_name not in self.clients:
            raise RunnerTrouble("NoSuchClient", f"no client {client_name!r} was built")
        target: Any = self.clients[client_name]
        for part in method.split("."):
            target = getattr(target, part, None)
            if target is None:
                break
        if target is None or not callable(target):
            raise RunnerTrouble("NoSuchMethod", f"the SDK has no method {method}")
        result = target(*message.get("args") or (), **message.get("kwargs") or {})
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
        return to_json(result)

    def describe(self, exc: BaseException) -> dict[str, Any]:
        """An exception as the protocol's error: the most specific declared type it is, status, message, fields."""
        declared = {cls: (name, status) for name, cls, status in reversed(self.errors)}
        matches = [declared[cls][0] for cls in type(exc).__mro__ if cls in declared]
        status = None
        if matches:
            attribute = declared[next(cls for cls in type(exc).__mro__ if cls in declared)][1]
            value = getattr(exc, attribute, None) if attribute else None
            status = value if isinstance(value, int) and not isinstance(value, bool) else None
        fields = {k: to_json(v) for k, v in vars(exc).items() if not k.startswith("_")}
        return {
            "type": matches[0] if matches else type(exc).__name__,
            "matches": matches,
            "status": status,
            "message": str(exc),
            "fields": fields,
        }


async def _awaited(value: Any) -> Any:
    return await value


def main() -> int:
    """Serve the protocol on stdin/stdout until stdin closes."""
    protocol = sys.stdout
    sys.stdout = sys.stderr  # what the SDK prints must not break the protocol
    runner = PythonRunner()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if isinstance(message, dict):
            answer = runner.handle(message)
        else:
            problem = {"type": "runner:BadMessage", "message": "a message is one JSON object per line", "status": None}
            answer = {"id": None, "error": problem}
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
