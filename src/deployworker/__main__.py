"""`python -m deployworker`."""

from deployworker.cli.main import main

raise SystemExit(main())
