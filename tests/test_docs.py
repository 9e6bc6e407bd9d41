"""The documentation: the generated references match the code, the README is short and
its links resolve, and nothing points outside the repository. (`make docs` builds the
site with `mkdocs build --strict`, which checks every link between the pages.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deployworker.cli import docref

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", sorted(docref.PAGES))
def test_the_generated_reference_is_current(page: str) -> None:
    # Stale after a change to a command, a setting or a metric: run `make docs-ref`.
    committed = (ROOT / "docs" / "reference" / page).read_text(encoding="utf-8")
    assert committed == docref.PAGES[page](), f"docs/reference/{page} is stale: make docs-ref"


def test_the_references_cover_every_command_setting_and_metric() -> None:
    from deployworker.cli.main import parser
    from deployworker.observe.metrics import Metrics
    from deployworker.settings import Settings

    cli = docref.cli_reference()
    for name, _ in docref._subcommands(parser()):
        assert f"## `deployworker {name}`" in cli
    settings = docref.settings_reference()
    for name in Settings.model_fields:
        assert f"`DEPLOYWORKER_{name.upper()}`" in settings
    metrics = docref.metrics_reference()
    for family in Metrics().registry.collect():
        assert f"`{family.name}" in metrics


def test_docref_check_names_a_stale_page(tmp_path: Path) -> None:
    assert docref.main(["--out", str(tmp_path)]) == 0  # writes all three
    assert docref.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "settings.md").write_text("old\n")
    assert docref.main(["--check", "--out", str(tmp_path)]) == 1


def test_the_readme_is_short_and_starts_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200
    head = "\n".join(lines[:8])
    assert "make run" in head and "make test" in head


def test_every_readme_link_resolves() -> None:
    text = (ROOT / "README.md").read_text()
    links = [link for link in LINK.findall(text) if not re.match(r"[a-z]+:", link)]
    assert links
    for link in links:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.is_file(), f"README links to {link}, which does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", target.read_text(), flags=re.MULTILINE)
            slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
            assert anchor in slugs, f"README links to {link}: no such heading"


def test_nothing_points_outside_the_repository() -> None:
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "mkdocs.yml"]
    pages += list((ROOT / "docs").rglob("*.md")) + list((ROOT / "deploy").rglob("*.md"))
    for page in pages:
        text = page.read_text()
        for outside in ("../shared", "product-brief"):
            assert outside not in text, f"{page.relative_to(ROOT)} mentions {outside}"
        # No absolute path of the machine the docs were written on.
        assert str(ROOT.parent) + "/" not in text, f"{page.relative_to(ROOT)} names a local path"
        for link in LINK.findall(text):
            assert not link.startswith(".."), f"{page.relative_to(ROOT)} links outside: {link}"
