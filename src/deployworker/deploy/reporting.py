"""How a message and its result are described: log fields and deploy events (pure)."""

from __future__ import annotations

from deployworker.aws.sqs import Message
from deployworker.errors import Rejection, RejectionKind
from deployworker.intake.message import DeployRequest
from deployworker.observe.events import DeployEvent
from deployworker.outcome import Outcome, Result


def deploy_id_of(request: DeployRequest, message: Message) -> str:
    """The idempotency key: the message's deploy_id, else SQS's deduplication id."""
    return request.deploy_id or message.dedup_id or message.message_id


def log_fields(request: DeployRequest, message: Message) -> dict[str, object]:
    """The log fields every line about this deploy carries."""
    fields: dict[str, object] = {
        "deploy_id": deploy_id_of(request, message),
        "cluster": request.cluster_ref.name,
        "service": request.service_ref.name,
        "image": ",".join(str(ref) for ref in request.targets.values()) or None,
        "action": request.action,
    }
    if request.source is not None:
        fields["source"] = request.source.model_dump(exclude_none=True)
    return fields


# The one terminal event each message's deploy ends with.
TERMINAL_EVENTS = {
    Outcome.DEPLOYED: "converged",
    Outcome.NOOP: "noop",
    Outcome.FAILED: "failed",
    Outcome.ROLLED_BACK: "rolled_back",
    Outcome.OVERTAKEN: "overtaken",
    Outcome.MIGRATION_FAILED: "migration_failed",
    Outcome.SUPERSEDED: "superseded",
    Outcome.REJECTED_INVALID: "rejected",
    Outcome.REJECTED_NOT_ALLOWED: "rejected",
}


def event_of(kind: str, result: Result, request: DeployRequest | None = None) -> DeployEvent:
    """A deploy event from a result; a parsed request fills in what the result withholds."""
    images = result.images or (
        {k: str(v) for k, v in request.targets.items()} if request is not None else {}
    )
    return DeployEvent(
        type=kind,
        deploy_id=result.deploy_id,
        cluster=result.cluster or (request.cluster_ref.name if request else None),
        service=result.service or (request.service_ref.name if request else None),
        image=",".join(images.values()) or None,
        outcome=None if kind in ("received", "registered") else result.outcome.value,
        reason=result.reason or None,
        duration=round(result.duration, 3) if result.duration else None,
        task_definition=result.task_definition,
        # A rejected message's source (URL, actor, commit: the sender's words) stays out of
        # ChatOps; its reason is the worker's.
        source=(
            request.source.model_dump(exclude_none=True)
            if request and request.source and kind != "rejected"
            else None
        ),
        evidence=result.evidence,
    )


def rejected_outcome(rejection: Rejection) -> Outcome:
    """The outcome label of a rejection."""
    if rejection.kind == RejectionKind.INVALID:
        return Outcome.REJECTED_INVALID
    return Outcome.REJECTED_NOT_ALLOWED


def rollout_started(result: Result, timeout: float, at: float) -> DeployEvent:
    """For the ledger: the service deployment a deploy follows, what the service ran
    before, and the deploy's deadline (`timeout` seconds from `at`; paused time at a
    hook extends it, as the watcher counts it)."""
    rollout: dict[str, object] = {"deadline_at": at + timeout, "timeout": timeout}
    if result.deployment:
        rollout["deployment"] = result.deployment
    if result.images_before:
        rollout["images_before"] = dict(result.images_before)
    return DeployEvent(
        type="rollout_started",
        deploy_id=result.deploy_id,
        cluster=result.cluster,
        service=result.service,
        task_definition=result.task_definition,
        rollout=rollout,
        time=at,
    )


def traffic_changed(result: Result, traffic: float) -> DeployEvent:
    """For the ledger: the new revision's share of production traffic, in %."""
    return DeployEvent(
        type="rollout_progress",
        deploy_id=result.deploy_id,
        cluster=result.cluster,
        service=result.service,
        rollout={"traffic": traffic},
    )
