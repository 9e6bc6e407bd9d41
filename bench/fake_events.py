"""ECS's EventBridge events for the fake's service deployments: which, when, and their shape.

Pure. ECS sends `ECS Deployment State Change` events when a service deployment starts
(SERVICE_DEPLOYMENT_IN_PROGRESS), completes (_COMPLETED) or fails (_FAILED, an ERROR;
with a rollback, IN_PROGRESS for it follows and COMPLETED once it reached a steady
state). The shapes are those of the local simulator's (`deployworker.local.ecsevents`),
which is not imported: it brings moto, and the benchmark measures the worker's memory.
Unlike the simulator, a circuit breaker that stops a rollout without rolling it back
sends FAILED too, as ECS does; a deployment stopped by a newer one sends nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.fake_deployments import BREAKER_REASON, ServiceDeployment

DETAIL_TYPE = "ECS Deployment State Change"
IN_PROGRESS, COMPLETED, FAILED = (
    "SERVICE_DEPLOYMENT_IN_PROGRESS",
    "SERVICE_DEPLOYMENT_COMPLETED",
    "SERVICE_DEPLOYMENT_FAILED",
)
ROLLING_BACK = frozenset({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})
ROLLED_BACK = frozenset({"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})


@dataclass(frozen=True)
class Change:
    """One event a service deployment's change of status sends, at simulated time `at`."""

    name: str
    rollback: bool
    at: float


def transitions(before: str, after: str, breaker_stop: bool = False) -> list[tuple[str, bool]]:
    """(eventName, about the rollback) for a status change from `before` to `after`
    (states in between included); `breaker_stop`: a STOPPED is the circuit breaker's."""
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


def changes(sd: ServiceDeployment, before: str, after: str) -> list[Change]:
    """The events for `sd` going from `before` to `after`, each at the simulated time
    its change happened (not when it was noticed)."""
    breaker = sd.stop_reason == BREAKER_REASON
    out = []
    for name, rollback in transitions(before, after, breaker):
        if name == IN_PROGRESS:
            at = sd.rollback_at if rollback else sd.started
        elif name == COMPLETED:
            at = sd.rollback_end if rollback else sd.finish_at
        elif rollback:
            at = sd.rollback_end
        else:
            at = sd.rollback_at if sd.rollback_at is not None else sd.stopped_at
        out.append(Change(name, rollback, at if at is not None else sd.created))
    return out


def message(
    change: Change, sd: ServiceDeployment, account: str, region: str, stamp: datetime
) -> dict[str, Any]:
    """The event as EventBridge puts it on the queue (the body of one SQS message)."""
    what = {IN_PROGRESS: "in progress", COMPLETED: "completed", FAILED: "failed"}[change.name]
    reason = f"ECS deployment {sd.legacy_id} {what}."
    if change.rollback and change.name == IN_PROGRESS:
        reason = f"ECS deployment circuit breaker: rolling back to deploymentId {sd.legacy_id}."
    detail = {
        "eventType": "ERROR" if change.name == FAILED else "INFO",
        "eventName": change.name,
        "deploymentId": sd.legacy_id,
        "updatedAt": stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "reason": reason,
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws.ecs",
        "account": account,
        "time": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [sd.service_arn],
        "detail": detail,
    }
