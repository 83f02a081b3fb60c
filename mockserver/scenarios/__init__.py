"""Scripted streams: scenario files from `spec/scenarios/`, checked on load and played on one stream.

`model` (what a scenario is) < `parser` < `library` (files); `feed` (generated predictions) < `player`
(plays one scenario on one stream) < `bindings` (which job plays what). Nothing here imports the state.
"""

from mockserver.scenarios.bindings import Scenarios
from mockserver.scenarios.feed import PredictionFeed
from mockserver.scenarios.library import Library
from mockserver.scenarios.model import Scenario, ScenarioError, Step
from mockserver.scenarios.parser import SCENARIO_DIR, SCHEMA_FILE, ScenarioParser
from mockserver.scenarios.player import ScenarioRun, ScenarioStream

__all__ = [
    "SCENARIO_DIR",
    "SCHEMA_FILE",
    "Library",
    "PredictionFeed",
    "Scenario",
    "ScenarioError",
    "ScenarioParser",
    "ScenarioRun",
    "ScenarioStream",
    "Scenarios",
    "Step",
]
