"""Runners that call an SDK in its own language for `ftl-gate sdk --manifest` (README: "Runner protocol").

`python.py` runs Python SDKs (the default for a Python manifest), `node.mjs` JavaScript and TypeScript ones.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

RUNNERS_DIR = Path(__file__).resolve().parent
# The variable a `--runner` command can use to find these files: node "$FTL_SDK_RUNNERS/node.mjs" …
RUNNERS_VARIABLE = "FTL_SDK_RUNNERS"


def python_command() -> str:
    """The command that starts the Python runner in this interpreter (without the current folder on sys.path)."""
    return shlex.join([sys.executable, "-P", "-m", "contracts.sdk.runners.python"])
