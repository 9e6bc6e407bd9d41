"""Wiring for approvals: `app` builds the handler with one call, so it stays small."""

from __future__ import annotations

from collections.abc import Callable

from deployworker.aws.callerproof import CallerProof
from deployworker.aws.factory import Factory
from deployworker.deploy.approvals.book import Places
from deployworker.deploy.approvals.receive import Approvals
from deployworker.intake.entries import Allowlist
from deployworker.observe.events import SnsEvents, discard
from deployworker.observe.metrics import Metrics
from deployworker.settings import Settings


def build_approvals(
    settings: Settings,
    aws: Factory,
    places: Places,
    allowlist: Callable[[], Allowlist],
    events: SnsEvents | None,
    metrics: Metrics,
    wake: Callable[[str, str, str], None] = lambda *_: None,
    tag_key: bytes | None = None,
) -> Approvals:
    """The approvals handler as `app` wires it: proofs go to the worker's own STS; votes
    are tagged in the deploy's own account and region (`places`: the targets); and a
    recorded vote wakes its gate at once (`wake`), not at the gate's next poll. Only
    votes whose proof names this worker's topic or queue count (`audiences`); each vote
    is sealed with the worker's `tag_key`."""
    return Approvals(
        places.ecs_in(None),
        aws.adapter(CallerProof, "sts"),
        allowlist,
        emit=events.emit if events is not None else discard,
        on_vote=metrics.approval_vote,
        on_recorded=wake,
        max_age=settings.approval_proof_max_age_seconds,
        retry_backoff=settings.retry_backoff_seconds,
        places=places,
        # A vote's proof names where it was sent: the deploy topic, or the work queue.
        audiences=tuple(a for a in (settings.deploy_topic_arn, settings.queue_url) if a),
        tag_key=tag_key,
    )
