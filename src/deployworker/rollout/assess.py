"""Rollout assessment: where does the service deployment we follow stand?

Pure: takes one `DescribeServiceDeployments` element (a service deployment) and
whether the deploy's deadline has passed. The verdict comes from the deployment's
own `status`, which ECS sets for every strategy (ROLLING, BLUE_GREEN, LINEAR,
CANARY) and for every rollback, whoever started it; nothing is inferred from the
legacy `deployments` array. A deadline is checked last, so a deployment that ended
on the final poll still counts with its real ending.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class State(StrEnum):
    """Where a followed service deployment stands."""

    IN_PROGRESS = "in_progress"
    CONVERGED = "converged"  # SUCCESSFUL
    ROLLED_BACK = "rolled_back"  # ROLLBACK_SUCCESSFUL: ECS put the source revision back
    STOPPED = "stopped"  # STOPPED: someone or something stopped it (a newer deployment?)
    FAILED = "failed"  # ROLLBACK_FAILED, or the deployment cannot be found
    TIMED_OUT = "timed_out"  # still unfinished at the deploy's deadline


FINISHED_STATUSES = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
_ROLLING_BACK = frozenset({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})


@dataclass(frozen=True, slots=True)
class Pause:
    """A PAUSE lifecycle hook waiting for ContinueServiceDeployment."""

    hook_id: str
    stage: str
    expires_at: datetime | None
    timeout_action: str | None
    updated_at: datetime | None = None  # the deployment's `updatedAt` when seen waiting

    def describe(self) -> str:
        """`paused at POST_TEST_TRAFFIC_SHIFT until 14:05Z (then ROLLBACK)`."""
        text = f"paused at {self.stage}"
        if self.expires_at is not None:
            text += f" until {self.expires_at.strftime('%H:%MZ')}"
        if self.timeout_action:
            text += f" (then {self.timeout_action})"
        return text


@dataclass(frozen=True, slots=True)
class Assessment:
    """The verdict, with what an unfinished deployment is doing now."""

    state: State
    reason: str = ""
    stage: str | None = None
    traffic: float | None = None  # the target revision's share of production traffic, %
    pause: Pause | None = None
    rolling_back: bool = False

    @property
    def progress(self) -> str:
        """One line for logs and `status`: `PRODUCTION_TRAFFIC_SHIFT 25%`, `BAKE_TIME`,
        `paused at ... until ...`, or `rolling back`."""
        if self.pause is not None:
            return self.pause.describe()
        if self.rolling_back:
            return f"rolling back ({self.stage})" if self.stage else "rolling back"
        text = self.stage or "PENDING"
        if self.traffic is not None and self.stage and "TRAFFIC_SHIFT" in self.stage:
            text += f" {self.traffic:g}%"
        return text


def pause_of(deployment: Mapping[str, Any]) -> Pause | None:
    """The PAUSE hook the deployment waits on, if any: by its `hookId` and the
    deployment's `lifecycleStage`, never by its place in `lifecycleHookDetails`, which
    lists the hooks active now only (botocore 1.44's DeploymentLifecycleHookDetail: "a
    deployment lifecycle hook that is active during a service deployment")."""
    for hook in deployment.get("lifecycleHookDetails") or []:
        if hook.get("targetType") == "PAUSE" and hook.get("status") == "AWAITING_ACTION":
            return Pause(
                str(hook.get("hookId", "")),
                str(deployment.get("lifecycleStage", "")),
                hook.get("expiresAt"),
                hook.get("timeoutAction"),
                deployment.get("updatedAt"),
            )
    return None


def _traffic(deployment: Mapping[str, Any]) -> float | None:
    target = deployment.get("targetServiceRevision") or {}
    weight = target.get("requestedProductionTrafficWeight")
    return float(weight) if weight is not None else None


def ecs_reason(deployment: Mapping[str, Any]) -> str:
    """ECS's own account of how the deployment ended, most specific first."""
    rollback = deployment.get("rollback") or {}
    alarms = (deployment.get("alarms") or {}).get("triggeredAlarmNames") or []
    parts = [str(rollback.get("reason") or deployment.get("statusReason") or "")]
    if alarms:
        parts.append(f"alarms in ALARM: {', '.join(str(a) for a in alarms)}")
    return "; ".join(p for p in parts if p) or str(deployment.get("status", "")).lower()


def assess(deployment: Mapping[str, Any], timed_out: bool) -> Assessment:
    """Assess one service deployment (a DescribeServiceDeployments element)."""
    status = str(deployment.get("status", ""))
    if status == "SUCCESSFUL":
        return Assessment(State.CONVERGED, "service deployment successful")
    if status == "ROLLBACK_SUCCESSFUL":
        return Assessment(State.ROLLED_BACK, ecs_reason(deployment))
    if status == "ROLLBACK_FAILED":
        return Assessment(State.FAILED, f"ECS could not roll back: {ecs_reason(deployment)}")
    if status == "STOPPED":
        return Assessment(State.STOPPED, ecs_reason(deployment))
    stage = deployment.get("lifecycleStage")
    progress = Assessment(
        State.IN_PROGRESS,
        status.lower() or "pending",
        str(stage) if stage else None,
        _traffic(deployment),
        pause_of(deployment),
        status in _ROLLING_BACK,
    )
    if timed_out:
        return Assessment(
            State.TIMED_OUT,
            f"timed out waiting for the rollout ({progress.progress})",
            progress.stage,
            progress.traffic,
            progress.pause,
            progress.rolling_back,
        )
    return progress


def missing(arn: str) -> Assessment:
    """The verdict for a deployment that DescribeServiceDeployments reports MISSING."""
    return Assessment(State.FAILED, f"service deployment {arn} cannot be found")
