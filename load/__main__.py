"""`python -m load`: the ftl-load command line."""

from load.cli import main

raise SystemExit(main())
