"""Rollout assessment: has the deployment we created converged, failed, or neither?

Pure: takes one DescribeServices `service` document and the deployment id this
deploy created. The rules are the product brief's, in the order that matters:
a deployment that disappeared or failed is final; convergence is PRIMARY with
`rolloutState` COMPLETED, or for services without rolloutState, the only
deployment with runningCount equal to desiredCount; a timeout is checked last,
so a deployment that converged on the final poll still counts as converged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class State(StrEnum):
    """Where a watched deployment stands."""

    IN_PROGRESS = "in_progress"
    CONVERGED = "converged"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Assessment:
    """The verdict; `rollback_deployment` is set when ECS's circuit breaker already
    started rolling back, and names the deployment doing it."""

    state: State
    reason: str = ""
    rollback_deployment: str | None = None


def _primary(deployments: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return next((d for d in deployments if d.get("status") == "PRIMARY"), None)


def assess(service: Mapping[str, Any], deployment_id: str, timed_out: bool) -> Assessment:
    """Assess deployment `deployment_id` of `service` (a DescribeServices element)."""
    deployments: list[Mapping[str, Any]] = list(service.get("deployments") or [])
    mine = next((d for d in deployments if d.get("id") == deployment_id), None)
    if mine is None:
        return Assessment(State.FAILED, f"deployment {deployment_id} disappeared")
    primary = _primary(deployments)
    rollout = mine.get("rolloutState")
    if rollout == "FAILED":
        reason = mine.get("rolloutStateReason") or "rollout failed"
        rollback = None
        if primary is not None and primary.get("id") != deployment_id:
            # The circuit breaker demotes the failed deployment and starts a new
            # PRIMARY on the previous task definition: that is its rollback.
            rollback = str(primary.get("id"))
        return Assessment(State.FAILED, str(reason), rollback)
    if mine.get("status") == "PRIMARY":
        if rollout == "COMPLETED":
            return Assessment(State.CONVERGED, "rollout completed")
        if rollout is None and len(deployments) == 1:
            running, desired = mine.get("runningCount"), mine.get("desiredCount")
            if running == desired:
                return Assessment(State.CONVERGED, f"{running} of {desired} tasks running")
    elif primary is not None:
        return Assessment(
            State.FAILED, f"deployment {deployment_id} was superseded by {primary.get('id')}"
        )
    if timed_out:
        return Assessment(State.FAILED, "timed out waiting for the rollout to converge")
    return Assessment(State.IN_PROGRESS, str(rollout or "in progress"))
