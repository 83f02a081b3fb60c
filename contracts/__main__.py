"""`python -m contracts`: the same as `ftl-gate`."""

from contracts.cli import main

raise SystemExit(main())
