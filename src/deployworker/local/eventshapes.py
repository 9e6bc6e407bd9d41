"""ECS's `ECS Deployment State Change` and `ECS Hook State Change` events: which a
status change sends, and their shape.

Pure, and free of moto, so that the local simulator (`ecsevents`) and the benchmark's
fake ECS send the very same events. ECS sends SERVICE_DEPLOYMENT_IN_PROGRESS when a
service deployment starts, _COMPLETED when it ends well, and _FAILED (an ERROR) when it
fails; a rollback follows with IN_PROGRESS for it and COMPLETED once it reached a steady
state. The service's ARN is in `resources`, its `ecs-svc/...` deployment id in the detail.

When a PAUSE hook starts to wait, ECS sends `ECS Hook State Change` with the event name
HOOK_AWAITING_ACTION (the ECS guide, "Pause hooks for Amazon ECS service deployments":
"Amazon ECS emits an EventBridge event with the detail-type ECS Hook State Change and
the event name HOOK_AWAITING_ACTION"). The guide shows no more of its detail, so the
worker relies on nothing but those two and the service's ARN in `resources` (as every
ECS service event carries it); `hook_event` adds only the hookId, so local mode
exercises exactly what the worker can count on.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

DETAIL_TYPE = "ECS Deployment State Change"
HOOK_DETAIL_TYPE = "ECS Hook State Change"
HOOK_AWAITING_ACTION = "HOOK_AWAITING_ACTION"
IN_PROGRESS, COMPLETED, FAILED = (
    "SERVICE_DEPLOYMENT_IN_PROGRESS",
    "SERVICE_DEPLOYMENT_COMPLETED",
    "SERVICE_DEPLOYMENT_FAILED",
)
ROLLING_BACK = frozenset({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})
ROLLED_BACK = frozenset({"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})


def transitions(before: str, after: str, breaker_stop: bool = False) -> list[tuple[str, bool]]:
    """(eventName, about the rollback) for a service deployment going from status
    `before` to `after` (states in between included). `breaker_stop`: a STOPPED is the
    circuit breaker's, stopping a rollout without rolling it back, which ECS reports as
    FAILED; a deployment stopped by a newer one sends nothing (the newer one's
    IN_PROGRESS names the service)."""
    if before == after:
        return []
    out: list[tuple[str, bool]] = [(IN_PROGRESS, False)] if before == "PENDING" else []
    if after == "SUCCESSFUL":
        out.append((COMPLETED, False))
    elif after == "STOPPED" and breaker_stop:
        out.append((FAILED, False))
    elif after in ROLLING_BACK or after in ROLLED_BACK:
        if before not in ROLLING_BACK:
            out += [(FAILED, False), (IN_PROGRESS, True)]
        if after == "ROLLBACK_SUCCESSFUL":
            out.append((COMPLETED, True))
        elif after == "ROLLBACK_FAILED":
            out.append((FAILED, True))
    return out


def _stamp(updated_at: datetime) -> str:
    return updated_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _envelope(
    detail_type: str, detail: dict[str, Any], service_arn: str, account: str, region: str, time: Any
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.ecs",
        "account": account,
        "time": time,
        "region": region,
        "resources": [service_arn],
        "detail": detail,
    }


def hook_event(
    hook_id: str,
    service_arn: str,
    account: str,
    region: str,
    updated_at: datetime,
    time: Any,
) -> dict[str, Any]:
    """`ECS Hook State Change` HOOK_AWAITING_ACTION: a PAUSE hook started to wait."""
    detail = {
        "eventType": "INFO",
        "eventName": HOOK_AWAITING_ACTION,
        "hookId": hook_id,
        "updatedAt": _stamp(updated_at),
    }
    return _envelope(HOOK_DETAIL_TYPE, detail, service_arn, account, region, time)


def event(
    name: str,
    rollback: bool,
    deployment_id: str,
    service_arn: str,
    account: str,
    region: str,
    updated_at: datetime,
    time: Any,
) -> dict[str, Any]:
    """The event as EventBridge delivers it; `time` as the delivering side writes it."""
    what = {IN_PROGRESS: "in progress", COMPLETED: "completed", FAILED: "failed"}[name]
    reason = f"ECS deployment {deployment_id} {what}."
    if rollback and name == IN_PROGRESS:
        reason = f"ECS deployment circuit breaker: rolling back to deploymentId {deployment_id}."
    detail = {
        "eventType": "ERROR" if name == FAILED else "INFO",
        "eventName": name,
        "deploymentId": deployment_id,
        "updatedAt": _stamp(updated_at),
        "reason": reason,
    }
    return _envelope(DETAIL_TYPE, detail, service_arn, account, region, time)
