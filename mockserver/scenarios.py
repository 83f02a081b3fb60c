"""Scripted streams: scenario files from spec/scenarios, validated on load, run against one stream.

A scenario lists steps (emit, wait, repeat, insert, and stream faults); the admin API binds one to a job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from mockserver.state import MockState


def admin_routes(state: MockState) -> list[BaseRoute]:
    """Admin routes that bind scenarios to jobs and insert generated predictions."""
    return []
