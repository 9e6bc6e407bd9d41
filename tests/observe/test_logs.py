"""Logs a person can read on a terminal and a machine can read elsewhere, one format for
every line of a run (stdlib loggers included), and the docs' table of every event."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
import structlog

from deployworker.cli.logdoc import events, rewrite
from deployworker.observe.logs import configure_logging

CONTEXT = {
    "message_id": "m-1",
    "group_id": "prod/web",
    "deploy_id": "build-42",
    "cluster": "prod",
    "service": "web",
    "container": "app",
    "image": "r/web:1",
}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore() -> object:
    yield None
    structlog.contextvars.clear_contextvars()
    configure_logging("info")  # the suite's JSON to stderr


def log_a_deploy() -> None:
    structlog.contextvars.bind_contextvars(**CONTEXT)
    structlog.get_logger("deployworker.pipeline").info("deploy.finished", outcome="deployed")
    logging.getLogger("urllib3.connectionpool").info("Resetting dropped connection: %s", "ecs")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("botocore").exception("retry failed")


def test_console_lines_name_the_deploy_once_and_stdlib_lines_look_the_same() -> None:
    out = io.StringIO()
    configure_logging("info", out, format="console")
    log_a_deploy()
    lines = out.getvalue().splitlines()
    assert "[info     ] [prod/web build-42] deploy.finished outcome=deployed" in lines[0]
    for key in ("message_id", "group_id", "m-1", "r/web:1"):
        assert key not in lines[0]
    assert "[info     ] [prod/web build-42] Resetting dropped connection: ecs" in lines[1]
    assert lines[1].endswith("[urllib3.connectionpool]")
    assert "[error    ] [prod/web build-42] retry failed" in lines[2]
    assert "RuntimeError: boom" in out.getvalue()
    assert not any(line.startswith("{") for line in lines)


def test_json_lines_carry_the_context_and_stdlib_records_are_json_too() -> None:
    out = io.StringIO()
    configure_logging("info", out, format="json")
    log_a_deploy()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 3  # the traceback is inside its line, not after it
    assert [line["event"] for line in lines] == [
        "deploy.finished",
        "Resetting dropped connection: ecs",
        "retry failed",
    ]
    assert all(CONTEXT.items() <= line.items() for line in lines)
    assert lines[1]["logger"] == "urllib3.connectionpool"
    assert "RuntimeError: boom" in lines[2]["exception"]


def test_auto_is_console_on_a_terminal_and_json_elsewhere() -> None:
    terminal = Terminal()
    configure_logging("info", terminal)
    structlog.get_logger().info("worker.started")
    assert "worker.started" in terminal.getvalue() and not terminal.getvalue().startswith("{")
    pipe = io.StringIO()
    configure_logging("info", pipe)
    structlog.get_logger().info("worker.started")
    assert json.loads(pipe.getvalue())["event"] == "worker.started"


def test_an_unknown_level_or_format_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown log level 'verbose'"):
        configure_logging("verbose")
    with pytest.raises(ValueError, match="unknown log format 'pretty'"):
        configure_logging("info", format="pretty")


def test_the_docs_list_every_event_and_its_fields() -> None:
    found = events()
    assert {"deploy.finished", "allowlist.invalid", "gate.passed", "gate.failed"} <= set(found)
    assert "outcome" in found["deploy.finished"][1]
    text = Path("docs/logs.md").read_text()
    assert rewrite(text) == text, "run `make generated`"
