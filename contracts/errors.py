"""The gate's one exception type: a usage or setup problem that stops a run before any verdict.

The CLI prints its message as one line and exits 2.
"""

from __future__ import annotations


class GateError(Exception):
    """The gate cannot run: bad flags, an unreadable spec or divergences file, an unreachable target."""
