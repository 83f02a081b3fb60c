"""The scenario files a mock can play: the shipped ones in `spec/scenarios/` and files named by path.

Each file is read and checked once, on first use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mockserver.scenarios.model import Scenario, ScenarioError
from mockserver.scenarios.parser import SCENARIO_DIR, ScenarioParser
from mockserver.wire import MAX_DEPTH, depth
from spec import StreamContract


class Library:
    """The shipped scenarios (spec/scenarios/*.yaml) plus files named by path."""

    def __init__(self, stream: StreamContract, directory: Path = SCENARIO_DIR) -> None:
        self.parser = ScenarioParser(stream)
        self.directory = directory
        self._cache: dict[str, Scenario] = {}

    def names(self) -> list[str]:
        """Names of the shipped scenarios."""
        return sorted(p.stem for p in self.directory.glob("*.yaml"))

    def get(self, name: str) -> Scenario:
        """A shipped scenario by name, or a scenario file by path."""
        if name not in self._cache:
            path = Path(name)
            if path.suffix not in (".yaml", ".yml", ".json"):
                path = self.directory / f"{name}.yaml"
                if not path.is_file():
                    available = ", ".join(self.names())
                    raise ScenarioError(f"unknown scenario {name!r}; available: {available}")
            self._cache[name] = self.load_file(path)
        return self._cache[name]

    def load_file(self, path: Path) -> Scenario:
        """Read and validate one scenario file."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"{path}: cannot read scenario: {exc.strerror}") from None
        try:
            document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
        except RecursionError:
            raise ScenarioError(f"{path}: nests deeper than its parser can read") from None
        if depth(document) > MAX_DEPTH:
            raise ScenarioError(f"{path}: nests arrays and objects more than {MAX_DEPTH} levels deep")
        return self.parser.parse(document, str(path), path.stem)

    def inline(self, document: Any) -> Scenario:
        """A scenario given as data (the admin API's inline form)."""
        return self.parser.parse(document, "inline scenario")
