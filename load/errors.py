"""The one exception type of the load package.

Raised for a workload, target or run that cannot go ahead; its message says what to change.
"""

from __future__ import annotations


class LoadError(Exception):
    """A load run cannot be set up or completed; the message names the cause."""
