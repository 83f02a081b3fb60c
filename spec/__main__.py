"""`python -m spec`: the same as `ftl-spec`."""

from spec.cli import main

raise SystemExit(main())
