"""CLI: the `deployworker` command and its subcommands.

`main` dispatches `run`, `local`, `publish`, `status`, `check-allowlist` and
`iam-policy`; `ci` holds the commands CI calls. The top layer: it may import
anything, and nothing in the package imports it.
"""
