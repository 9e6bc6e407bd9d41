"""`deployworker local` builds the simulator's rules from its settings."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from deployworker.cli import local as cli_local
from deployworker.local.simulator import Rules
from deployworker.settings import Settings


class _Started(Exception):
    """Raised in place of starting moto: the rules are all this test needs."""


def test_local_mode_takes_the_simulated_minute_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEPLOYWORKER_LOCAL_MINUTE_SECONDS", "0.25")
    monkeypatch.setenv("DEPLOYWORKER_LOCAL_CONVERGE_SECONDS", "2")
    allowlist = tmp_path / "allowlist.yaml"
    allowlist.write_text("version: 1\nservices: []\n")
    seen: list[Rules] = []

    def start_instead(port: int, rules: Rules) -> None:
        seen.append(rules)
        raise _Started

    monkeypatch.setattr(cli_local, "LocalAws", start_instead)
    with pytest.raises(_Started):
        cli_local.run_local(Settings(allowlist_path=allowlist), threading.Event())
    assert (seen[0].minute_seconds, seen[0].converge_seconds) == (0.25, 2.0)
    assert Settings().local_minute_seconds == 0.25
