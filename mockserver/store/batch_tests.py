"""Batch test runs and the test suites whose prompts they run.

A run keeps its configuration and start time; its progress is computed on read by the
batch-tests resource.
"""

from __future__ import annotations

from mockserver.store.table import Table


class TestSuites(Table):
    """Test suites by id: `{id, user_id, name, prompts}`."""

    __test__ = False

    def __init__(self) -> None:
        super().__init__("test_suites")


class BatchTests(Table):
    """Batch test runs by id."""

    __test__ = False

    def __init__(self) -> None:
        super().__init__("batch_tests")
