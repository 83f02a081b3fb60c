"""`python -m mockserver`: the same as the `ftl-mock` command.

See `mockserver.cli` for the flags and their environment variables.
"""

from mockserver.cli import main

raise SystemExit(main())
