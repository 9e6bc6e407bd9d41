"""`python -m deployworker`."""

from deployworker.cli import main

raise SystemExit(main())
