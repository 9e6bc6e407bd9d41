"""Settings as an operator meets them: one line naming the variable and what it allows
(exit 78, no traceback), a warning for a misspelt variable, `run --help` listing every
setting, and commands unbothered by settings they do not read."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, World
from deployworker.cli.config import CLIENT_SETTINGS, EX_CONFIG, load_settings, unknown_variables
from deployworker.cli.main import main


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYWORKER_")}
    return subprocess.run(
        [sys.executable, "-m", "deployworker", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_invalid_value_is_one_line_naming_the_variable_and_what_it_allows() -> None:
    done = run("run", DEPLOYWORKER_MAX_IN_FLIGHT="abc")
    assert done.returncode == EX_CONFIG == 78
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "error: DEPLOYWORKER_MAX_IN_FLIGHT='abc': must be a whole number "
        "(allowed: a whole number >= 1 and <= 10000)"
    ]


def test_an_unknown_log_level_stops_the_worker_at_start() -> None:
    done = run("run", DEPLOYWORKER_LOG_LEVEL="verbose", DEPLOYWORKER_QUEUE_URL="http://x")
    assert done.returncode == 78
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: DEPLOYWORKER_LOG_LEVEL='verbose': ")
    assert "debug, info, warning, error, critical" in line


def test_a_misspelt_variable_is_a_warning_naming_the_nearest_setting() -> None:
    done = run("run", DEPLOYWORKER_MAX_INFLIGHT="3", DEPLOYWORKER_LOG_FORMAT="json")
    warnings = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert {
        "level": "warning",
        "event": "settings.unknown_variable",
        "variable": "DEPLOYWORKER_MAX_INFLIGHT",
        "did_you_mean": "DEPLOYWORKER_MAX_IN_FLIGHT",
    }.items() <= warnings[0].items()
    assert unknown_variables({"DEPLOYWORKER_QUEUE_URL": "x", "HOME": "/"}) == []


def test_run_help_lists_every_setting_with_description_and_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["run", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert (
        "DEPLOYWORKER_MAX_IN_FLIGHT\n      deploys (message groups) held at once (default: 1000)"
        in text
    )
    assert "DEPLOYWORKER_LOG_FORMAT" in text and "DEPLOYWORKER_LOCAL_PORT" in text
    assert text.count("\n  DEPLOYWORKER_") >= 57


def test_publish_does_not_read_settings_it_does_not_use(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEPLOYWORKER_MAX_IN_FLIGHT", "abc")
    assert "max_in_flight" not in CLIENT_SETTINGS
    assert load_settings(CLIENT_SETTINGS).max_in_flight == 1000
    world.service()
    args = [*world.publish_args(), "--container", "app", "--image", f"{REPO}:7.0"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["group_id"] == "prod/web"
    monkeypatch.setenv("DEPLOYWORKER_REGION", "")  # a setting publish reads: still checked
    monkeypatch.setenv("DEPLOYWORKER_LOCAL_PORT", "nope")
    assert main(args) == 78
