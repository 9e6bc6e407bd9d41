"""How `check-allowlist` reports an invalid file: one line per problem, as
`file:line: field: message` for people and editors, or as GitHub Actions' workflow
commands (`::error file=...,line=...::`) so a pull request shows each one at its line."""

from __future__ import annotations

from pathlib import Path

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
