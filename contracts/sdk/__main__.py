"""`python -m contracts.sdk`: the same as `ftl-gate sdk`."""

from contracts.sdk.cli import main

raise SystemExit(main())
