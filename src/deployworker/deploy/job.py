"""A deploy between its stages, how each stage runs with its log context, and what
an error in a stage means for the deploy.

A deploy that waits for its rollout is this record in a watcher callback, not a
thread: any pool thread can run its next stage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import structlog

from deployworker.aws.sqs import Message
from deployworker.deploy.apply import Applied
from deployworker.deploy.migrate import MigrationFailed
from deployworker.deploy.reporting import rejected_outcome
from deployworker.errors import CopyLost, PermanentAwsError, Rejection, RetryableAwsError
from deployworker.intake.entries import Entry
from deployworker.intake.message import DeployRequest
from deployworker.intake.release_message import ReleaseRequest
from deployworker.outcome import Outcome, Result
from deployworker.rollout.assess import Assessment
from deployworker.rollout.deadline import minimum

log = structlog.get_logger("deployworker.pipeline")

Done = Callable[[Result], None]


class Router(Protocol):
    """Messages of another kind the pipeline hands over whole (releases)."""

    def claims(self, message: Message) -> bool: ...

    def start(self, message: Message, done: Done) -> None: ...

    def abandon(self, message: Message, reason: str) -> None: ...

    def admissible(self, message: Message) -> ReleaseRequest | None: ...

    def supersede(self, message: Message, request: ReleaseRequest, newer: Message) -> Result: ...


def log_progress(fields: dict[str, Any], arn: str, now: Assessment, **extra: Any) -> None:
    """Log where a followed deployment stands: paused at a hook (with `extra`, e.g.
    the hook's stage and whether a gate judges it), or its progress."""
    with bound(fields):
        if now.pause is not None:
            log.info(
                "deploy.paused",
                deployment=arn,
                stage=now.pause.stage,
                hook_id=now.pause.hook_id,
                expires_at=now.pause.expires_at.isoformat() if now.pause.expires_at else None,
                timeout_action=now.pause.timeout_action,
                **extra,
            )
        else:
            log.info("deploy.progress", deployment=arn, progress=now.progress)


def log_finished(result: Result) -> None:
    """Log a deploy's ending: its outcome, reason, duration and any evidence."""
    level = "info" if result.outcome in (Outcome.DEPLOYED, Outcome.NOOP) else "warning"
    evidence = {"evidence": result.evidence} if result.evidence else {}
    getattr(log, level)(
        "deploy.finished",
        outcome=result.outcome.value,
        reason=result.reason,
        duration_seconds=round(result.duration, 3),
        **evidence,
    )


def deadline(entry: Entry, default: float, configuration: Mapping[str, Any] | None) -> float:
    """The entry's timeout (or the default), raised to what the strategy needs."""
    configured = float(entry.timeout or default)
    need = minimum(configuration)
    if need.seconds > configured:
        log.warning(
            "deploy.timeout_raised",
            configured_seconds=configured,
            minimum_seconds=need.seconds,
            parts=need.parts,
        )
    return max(configured, need.seconds)


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
    timeout: float = 0.0  # the rollout's deadline, set once the deploy is applied
    watch: object | None = None  # the watcher's handle on the deployment it follows now
    lost: str | None = None  # why this copy of the message is no longer ours to act on
    gate: object | None = None  # the gate running for this deploy (deploy.gates.runner.Run)
    gate_hook: str | None = None  # the PAUSE hook a gate judges (or judged): never twice
    gate_epoch: int = 0  # moved on each time the deploy's gate is settled (`GateDriver`)
    # held while a gate's window is checked and tagged, so the tags land in gate order
    opening: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # hook key -> hook stage, for hooks whose stage their id alone decides (gates.hookid);
    # None until read from the revision's `deployworker:hooks` tag
    hooks_seen: dict[str, str] | None = None
    gate_reason: str | None = None  # why a gate rolled the deploy back
    traffic: float | None = None  # the production traffic share last told to the ledger

    def held(self) -> None:
        """Raise `CopyLost` once this copy of the message is no longer ours (`aws.held`)."""
        if self.lost is not None:
            raise CopyLost(self.lost)

    def released(self) -> Result:
        """The outcome of a deploy whose copy was lost: `released`, settled by no one."""
        return replace(self.base, outcome=Outcome.RELEASED, reason=self.lost or "")


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


def result_of_error(base: Result, exc: Exception) -> Result:
    """The outcome of a stage that raised `exc`; call it from the `except` block.

    Rejections end the deploy with their kind, a failed migration as
    `migration_failed`, a transient AWS error as `retried` (redelivery resumes it),
    a permanent one in the DLQ. Anything else is a bug: it must not kill the worker,
    so the message is retried and redrive is the backstop.
    """
    if isinstance(exc, Rejection):
        log.warning("deploy.rejected", reason=exc.reason)
        return replace(base, outcome=rejected_outcome(exc), reason=exc.reason)
    if isinstance(exc, MigrationFailed):
        reason = f"{exc.reason} (task {exc.task_arn}, exit code {exc.exit_code})"
        return replace(base, outcome=Outcome.MIGRATION_FAILED, reason=reason)
    if isinstance(exc, RetryableAwsError):
        log.warning("deploy.retry_later", error=str(exc))
        return replace(base, outcome=Outcome.RETRIED, reason=str(exc))
    if isinstance(exc, PermanentAwsError):
        log.error("deploy.aws_error", error=str(exc))
        return replace(base, outcome=Outcome.FAILED, reason=str(exc), dead_letter=True)
    log.exception("deploy.crashed")
    return replace(base, outcome=Outcome.RETRIED, reason=f"internal error: {exc!r}")
