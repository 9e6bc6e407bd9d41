"""How `check-allowlist` reports an invalid file: one line per problem, as
`file:line: field: message` for people and editors, or as GitHub Actions' workflow
commands (`::error file=...,line=...::`) so a pull request shows each one at its line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deployworker.cli.config import CLIENT_SETTINGS, load_settings
from deployworker.intake.allowlist import AllowlistError, load_allowlist
from deployworker.intake.problems import Problem

FORMATS = ("text", "github")


def _escape(text: str, property: bool = False) -> str:
    """GitHub's workflow-command escaping (data: %, CR, LF; properties also : and ,)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property else text


def lines(path: Path, found: list[Problem], format: str = "text") -> list[str]:
    """The report of `found` in `format` (`text` or `github`)."""
    out = []
    for problem in found:
        what = f"{problem.field}: {problem.message}" if problem.field else problem.message
        if format == "github":
            where = f"file={_escape(str(path), True)}"
            if problem.line:
                where += f",line={problem.line}"
            title = _escape("allowlist: " + (problem.field or "file"), True)
            out.append(f"::error {where},title={title}::{_escape(what)}")
        else:
            out.append(f"{path}:{problem.line}: {what}" if problem.line else f"{path}: {what}")
    return out


def cmd_check_allowlist(args: argparse.Namespace) -> int:
    """Validate an allowlist file; print where and why it is wrong."""
    path: Path = args.path
    try:
        allowlist = load_allowlist(path.read_text(encoding="utf-8"))
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
        return 1
    except AllowlistError as exc:
        # GitHub reads workflow commands from stdout; people read errors on stderr.
        out = sys.stdout if args.format == "github" else sys.stderr
        print("\n".join(lines(path, exc.problems, args.format)), file=out)
        return 1
    releases = f", {len(allowlist.releases)} release(s)" if allowlist.releases else ""
    print(f"{path}: ok, {len(allowlist.services)} service(s){releases}")
    from deployworker.cli.iam_statements import Scope
    from deployworker.cli.quotas import fleet_review

    # Sizes hardly depend on the account id; the region's length counts a little.
    scope = Scope(region=args.region or "us-east-1", account_id="123456789012")
    for quota in fleet_review(allowlist, scope):
        print(f"{path}: warning: {quota}", file=sys.stderr)
    if args.describe:  # gates against the services as ECS describes them
        from deployworker.cli.targets import ecs_for
        from deployworker.deploy.gates.wiring import review

        settings = load_settings(CLIENT_SETTINGS)
        found = review(ecs_for(settings, args.region, args.endpoint_url), allowlist)
        for problem in found:
            print(f"{path}: warning: {problem}", file=sys.stderr)
        return 1 if found else 0
    return 0
