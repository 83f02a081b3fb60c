"""The locustfile of ftl-load: the dashboard and training-worker users plus the run's coordination.

Every scenario runs in the same two user classes; the plan names the scenario each dashboard tab plays.
Run it through `ftl-load`, or by hand: `locust -f load/locustfile.py --ftl-plan plan.json ...`.
"""

from __future__ import annotations

from typing import Any

from locust import events
from locust.env import Environment

from load.coordination import install
from load.users import DashboardUser, TrainingWorkerUser

__all__ = ["DashboardUser", "TrainingWorkerUser"]


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any, **_: Any) -> None:
    parser.add_argument(
        "--ftl-plan", default="", env_var="FTL_LOAD_PLAN", help="ftl-load plan (JSON) the master hands out"
    )


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    install(environment, getattr(options, "ftl_plan", "") if options else "")
