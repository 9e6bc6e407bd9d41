"""A deploy between its stages, and how each stage runs with its log context.

A deploy that waits for its rollout is this record in a watcher callback, not a
thread: any pool thread can run its next stage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog

from deployworker.aws.sqs import Message
from deployworker.deploy.apply import Applied
from deployworker.intake.allowlist import Entry
from deployworker.intake.message import DeployRequest
from deployworker.outcome import Result

log = structlog.get_logger("deployworker.pipeline")

Done = Callable[[Result], None]


@dataclass
class Job:
    """What each stage needs from the ones before."""

    message: Message
    request: DeployRequest
    entry: Entry
    base: Result
    started: float
    fields: dict[str, Any]
    done: Done
    key: tuple[str, str]
    applied: Applied | None = None
    failed: Result | None = None


@contextmanager
def bound(fields: dict[str, Any]) -> Iterator[None]:
    """Bind a deploy's log fields for a stage: every line this thread logs meanwhile
    (adapter retries included) carries them, whichever thread runs the stage."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**fields)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()


def report(done: Done, result: Result) -> None:
    """Report a result; a failing `done` is logged, never raised into a stage."""
    try:
        done(result)
    except Exception:
        log.exception("pipeline.done_failed", outcome=result.outcome.value)
