"""Wiring for approvals: `app` builds the handler with one call, so it stays small."""

from __future__ import annotations

from collections.abc import Callable

from deployworker.aws.callerproof import CallerProof
from deployworker.aws.ecs import Ecs
from deployworker.aws.factory import Factory
from deployworker.deploy.approvals.receive import Approvals
from deployworker.deploy.pipeline import Pipeline
from deployworker.intake.entries import Allowlist
from deployworker.observe.events import SnsEvents, discard
from deployworker.observe.metrics import Metrics
from deployworker.settings import Settings


def build_approvals(
    settings: Settings,
    aws: Factory,
    ecs: Ecs,
    allowlist: Callable[[], Allowlist],
    events: SnsEvents | None,
    metrics: Metrics,
    pipeline: Pipeline | None = None,
) -> Approvals:
    """The approvals handler as `app` wires it: proofs go to the worker's own STS, and a
    recorded vote wakes its gate on `pipeline` at once (not at its next poll)."""
    wake = pipeline.gates.runner.wake if pipeline is not None else (lambda *_: None)
    return Approvals(
        ecs,
        aws.adapter(CallerProof, "sts"),
        allowlist,
        emit=events.emit if events is not None else discard,
        on_vote=metrics.approval_vote,
        on_recorded=wake,
        max_age=settings.approval_proof_max_age_seconds,
        retry_backoff=settings.retry_backoff_seconds,
    )
