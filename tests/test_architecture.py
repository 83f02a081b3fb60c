"""The layering of the code: no import cycle between project modules, no import inside a function.

Imports are read with `ast` from every top-level package of the repository (a folder with an
`__init__.py`), including imports inside functions and `if TYPE_CHECKING:` blocks, so a loop cannot hide.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Cycles outside mockserver/ that are reported to the lead, by package: remove an entry once it is fixed
# (the test is strict, so a fixed package fails here until its entry goes).
KNOWN_CYCLES: dict[str, str] = {}


@dataclass(frozen=True)
class Edge:
    """One import: the importing module, the imported project module and where it is written."""

    source: str
    target: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.file}:{self.line})"


def packages() -> list[str]:
    """The repository's top-level packages."""
    return sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if not p.parent.name.startswith("."))


def modules() -> dict[str, Path]:
    """Every module of every project package by dotted name (a package by its `__init__`)."""
    found: dict[str, Path] = {}
    for package in packages():
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[Edge]:
    """The project modules `module` imports, wherever the import statement is."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    file = str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, path, node)
            # `from package import name` imports the submodule `name` when there is one.
            subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known]
            targets = subs if len(subs) == len(node.names) else [base, *subs]
        for target in targets:
            if target in known and target != module:
                yield Edge(module, target, file, node.lineno)


def graph() -> dict[str, list[Edge]]:
    """Every project module with the imports it makes."""
    known = modules()
    return {name: list(imports(name, path, known)) for name, path in known.items()}


def cycles(edges: dict[str, list[Edge]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in edges.get(node, ()):
            if edge.target not in index:
                visit(edge.target)
                low[node] = min(low[node], low[edge.target])
            elif edge.target in on_stack:
                low[node] = min(low[node], index[edge.target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def describe(component: list[str], edges: dict[str, list[Edge]]) -> str:
    """A cycle with every import that holds it together."""
    members = set(component)
    inner = [str(e) for name in component for e in edges[name] if e.target in members]
    return f"cycle of {len(component)} modules:\n  " + "\n  ".join(inner)


GRAPH = graph()
CYCLES = cycles(GRAPH)


def test_the_import_reader_sees_a_planted_cycle(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text("import pkg.b\n")
    b = tmp_path / "b.py"
    b.write_text("def late():\n    from pkg import a\n")
    known = {"pkg.a": a, "pkg.b": b}
    edges = {name: list(imports(name, path, known)) for name, path in known.items()}
    assert cycles(edges) == [["pkg.a", "pkg.b"]]


def test_every_package_is_read() -> None:
    assert {"spec", "mockserver", "contracts", "load"} <= set(packages())
    assert "mockserver.store" in GRAPH


@pytest.mark.parametrize(
    "package",
    [
        pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN_CYCLES[name], strict=True))
        if name in KNOWN_CYCLES
        else name
        for name in packages()
    ],
)
def test_no_import_cycle_touches_the_package(package: str) -> None:
    touching = [c for c in CYCLES if any(m == package or m.startswith(package + ".") for m in c)]
    assert not touching, "\n".join(describe(c, GRAPH) for c in touching)


# What each package may import of the others (ARCHITECTURE.md): a package by name, or one module of it.
# `contracts` and `load` reach the mock over HTTP, through its launcher and admin client; the client
# conformance cases read the mock's scenario files, and a benchmark measures the mock's app in process.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "cmdline": frozenset(),
    "spec": frozenset({"cmdline"}),
    "mockserver": frozenset({"cmdline", "spec"}),
    "contracts": frozenset(
        {
            "cmdline",
            "spec",
            "mockserver.admin_routes",
            "mockserver.client",
            "mockserver.process",
            "mockserver.scenarios",
        }
    ),
    "load": frozenset({"cmdline", "spec", "mockserver.client", "mockserver.process"}),
    "load.benchmarks": frozenset({"mockserver.app", "mockserver.settings"}),
}


def _allowed(edge: Edge) -> bool:
    source, target = edge.source.split(".")[0], edge.target.split(".")[0]
    if source == target:
        return True
    grants = MAY_IMPORT[source] | (
        MAY_IMPORT["load.benchmarks"] if edge.source.startswith("load.benchmarks") else set()
    )
    return any(edge.target == g or edge.target.startswith(g + ".") for g in grants)


def test_every_package_has_its_imports_declared() -> None:
    assert set(packages()) <= set(MAY_IMPORT)


def test_packages_import_only_what_they_may() -> None:
    found = [str(e) for edges in GRAPH.values() for e in edges if not _allowed(e)]
    assert not found, "imports across packages that ARCHITECTURE.md does not allow:\n" + "\n".join(found)


def test_the_package_rule_refuses_an_import_upward() -> None:
    assert not _allowed(Edge("spec._contract", "mockserver.wire", "spec/_contract.py", 1))
    assert not _allowed(Edge("contracts.gate", "mockserver.store", "contracts/gate.py", 1))
    assert _allowed(Edge("contracts.embedded", "mockserver.process", "contracts/embedded.py", 1))


# The layers of mockserver (its package docstring): a module may import from its own layer and above.
MOCK_LAYERS: dict[str, int] = {
    "wire": 1,
    "admin_routes": 1,
    "client": 1,
    "settings": 1,
    "process": 1,
    "protocol": 1,
    "counters": 1,
    "samples": 2,
    "ratelimit": 2,
    "faults": 2,
    "journal": 2,
    "errors": 2,
    "validation": 2,
    "access": 2,
    "signing": 2,
    "store": 3,
    "auth": 3,
    "sse": 3,
    "scenarios": 4,
    "state": 5,
    "context": 5,
    "resources": 6,
    "metrics": 6,
    "inspector": 6,
    "dispatch": 7,
    "admin": 7,
    "app": 7,
    "cli": 8,
    "__main__": 8,
}


def _layer(module: str) -> int:
    part = module.split(".")[1] if "." in module else ""
    assert part in MOCK_LAYERS, f"{module}: give the module a layer in MOCK_LAYERS and the mockserver docstring"
    return MOCK_LAYERS[part]


def test_mockserver_modules_import_only_from_their_layer_and_above() -> None:
    upward = [
        f"{edge} (layer {_layer(edge.source)} imports layer {_layer(edge.target)})"
        for name, edges in GRAPH.items()
        if name.startswith("mockserver.")
        for edge in edges
        if edge.target.startswith("mockserver.") and _layer(edge.target) > _layer(edge.source)
    ]
    assert not upward, "imports from a lower layer:\n" + "\n".join(upward)


def test_the_wire_format_imports_nothing_of_the_mock() -> None:
    assert [str(e) for e in GRAPH["mockserver.wire"] if e.target.startswith("mockserver")] == []


def imports_below_module_level(path: Path) -> Iterator[str]:
    """`file:line` of every import statement of the module at `path` that is not at its top level."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    file = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top:
            yield f"{file}:{node.lineno}"


def test_the_module_level_reader_sees_a_guarded_import(tmp_path: Path) -> None:
    module = tmp_path / "guarded.py"
    module.write_text("import typing\n\nif typing.TYPE_CHECKING:\n    import json\n")
    assert list(imports_below_module_level(module)) == [f"{module}:4"]


@pytest.mark.parametrize("package", ["mockserver", "contracts"])
def test_imports_only_at_module_level(package: str) -> None:
    """An import inside a function or under `if TYPE_CHECKING:` is the sign of a loop, not a fix."""
    misplaced = [hit for path in sorted((ROOT / package).rglob("*.py")) for hit in imports_below_module_level(path)]
    assert not misplaced, "imports below module level: " + ", ".join(misplaced)


# Packages whose imports are all at the top of their modules (an import inside a function hides a loop).
# (`mockserver` and `contracts` are held to more above: no import below module level at all.)
NO_FUNCTION_IMPORTS = ("cmdline", "load", "spec")


def function_imports(path: Path) -> Iterator[str]:
    """`file:line in name()` of every import statement inside a function of the module at `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    file = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    yield f"{file}:{node.lineno} in {function.name}()"


def test_the_function_import_reader_sees_one(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text("import os\n\n\ndef late():\n    import json\n")
    assert list(function_imports(module)) == [f"{module}:5 in late()"]


@pytest.mark.parametrize("package", NO_FUNCTION_IMPORTS)
def test_no_import_inside_a_function(package: str) -> None:
    found = [hit for name, path in modules().items() if name.split(".")[0] == package for hit in function_imports(path)]
    assert not found, "imports inside functions:\n" + "\n".join(found)
