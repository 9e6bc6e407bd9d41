"""ECS's EventBridge events for simulated service deployments, put on moto's default bus.

ECS sends `ECS Deployment State Change` events when a service deployment starts
(SERVICE_DEPLOYMENT_IN_PROGRESS), completes (_COMPLETED) or fails (_FAILED, an ERROR,
followed by IN_PROGRESS for the rollback and COMPLETED once it reached a steady state),
with the service's ARN in `resources` and its `ecs-svc/...` deployment id in the detail.
`transitions` (pure) says which a status change sends; `publish` puts them on moto's
default bus, whose rules deliver them to their targets (an SQS queue) as AWS would.
A STOPPED deployment sends nothing: the newer one's IN_PROGRESS names the service.

`publish` routes each event through the bus's rules itself, as moto's PutEvents does,
but without input transformers: those need `jsonpath_ng`, which moto's `events` extra
brings and this project does not depend on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from moto.core.utils import unix_time
from moto.events.models import events_backends

log = structlog.get_logger("deployworker.local")

DETAIL_TYPE = "ECS Deployment State Change"
IN_PROGRESS, COMPLETED, FAILED = (
    "SERVICE_DEPLOYMENT_IN_PROGRESS",
    "SERVICE_DEPLOYMENT_COMPLETED",
    "SERVICE_DEPLOYMENT_FAILED",
)
ROLLING_BACK = frozenset({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})


@dataclass(frozen=True)
class Pending:
    """One event to put, with what moto's backend needs to route it."""

    account: str
    region: str
    service_arn: str
    name: str
    deployment_id: str
    updated_at: datetime
    rollback: bool


def transitions(before: str, after: str) -> list[tuple[str, bool]]:
    """(eventName, about the rollback) for a service deployment going from status
    `before` to `after` within one simulator step (states in between included)."""
    if before == after:
        return []
    started = before == "PENDING"
    out: list[tuple[str, bool]] = [(IN_PROGRESS, False)] if started else []
    if after == "SUCCESSFUL":
        out.append((COMPLETED, False))
    elif after in ROLLING_BACK or after in ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"):
        if before not in ROLLING_BACK:
            out += [(FAILED, False), (IN_PROGRESS, True)]
        if after == "ROLLBACK_SUCCESSFUL":
            out.append((COMPLETED, True))
        elif after == "ROLLBACK_FAILED":
            out.append((FAILED, True))
    return out


def message(event: Pending) -> dict[str, Any]:
    """The event as EventBridge delivers it."""
    what = {IN_PROGRESS: "in progress", COMPLETED: "completed", FAILED: "failed"}[event.name]
    reason = f"ECS deployment {event.deployment_id} {what}."
    if event.rollback and event.name == IN_PROGRESS:
        reason = (
            f"ECS deployment circuit breaker: rolling back to deploymentId {event.deployment_id}."
        )
    detail = {
        "eventType": "ERROR" if event.name == FAILED else "INFO",
        "eventName": event.name,
        "deploymentId": event.deployment_id,
        "updatedAt": event.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "reason": reason,
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws.ecs",
        "account": event.account,
        "time": unix_time(),  # moto's SQS target writes it as ISO 8601
        "region": event.region,
        "resources": [event.service_arn],
        "detail": detail,
    }


def publish(events: list[Pending]) -> None:
    """Deliver events through the rules of each account's and region's default bus, in
    order. A failing delivery is logged: it must not stop the simulator."""
    for event in events:
        try:
            bus = events_backends[event.account][event.region].describe_event_bus("default")
            for rule in list(bus.rules.values()):
                rule.send_to_targets(message(event), transform_input=False)
        except Exception:  # an event lost is what the worker's safety net is for
            log.exception("local.ecs_event_failed", event_name=event.name)
