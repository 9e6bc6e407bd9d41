"""ECS's EventBridge events for the fake's service deployments: which, when, and their shape.

Pure. ECS sends `ECS Deployment State Change` events when a service deployment starts
(SERVICE_DEPLOYMENT_IN_PROGRESS), completes (_COMPLETED) or fails (_FAILED, an ERROR;
with a rollback, IN_PROGRESS for it follows and COMPLETED once it reached a steady
state). Which events and their shape come from `deployworker.local.eventshapes`, which the local
simulator uses too (and which, unlike the simulator, imports no moto: the benchmark
measures the worker's memory). Unlike the simulator, a circuit breaker that stops a
rollout without rolling it back sends FAILED too, as ECS does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.fake_deployments import BREAKER_REASON, ServiceDeployment
from deployworker.local.eventshapes import COMPLETED, IN_PROGRESS, event, transitions


@dataclass(frozen=True)
class Change:
    """One event a service deployment's change of status sends, at simulated time `at`."""

    name: str
    rollback: bool
    at: float


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
    return event(
        change.name,
        change.rollback,
        sd.legacy_id,
        sd.service_arn,
        account,
        region,
        stamp,
        stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
