"""ECS service deployments and service revisions, as the in-memory ECS fake keeps them.

A service deployment's status is a function of simulated time, fixed by the events
that have happened to it: created (PENDING, then IN_PROGRESS), its rollout ending
(SUCCESSFUL; for a failing image the circuit breaker trips instead: a rollback, or
STOPPED without one), a newer deployment (STOPPED), StopServiceDeployment (a rollback
on the same ARN: ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PENDING_SECONDS = 3.0  # simulated seconds before a deployment (or a rollback) starts
TERMINAL = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."
SUPERSEDED_REASON = "Service deployment stopped: a newer service deployment started."
STOP_REASON = "Rollback requested by StopServiceDeployment."

Stamp = Callable[[float], datetime]  # simulated seconds -> the timestamp AWS would show


def breaker_threshold(desired: int) -> int:
    """ECS's circuit breaker threshold: half the desired count, at least 3, at most 200."""
    return max(3, min(200, math.ceil(desired / 2)))


@dataclass
class ServiceRevision:
    """What one service deployment runs: a task definition and its images."""

    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    images: list[tuple[str, str]]  # (container, image)
    created: float

    def document(self, stamp: Stamp) -> dict[str, Any]:
        return {
            "serviceRevisionArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition,
            "launchType": "EC2",
            "containerImages": [{"containerName": c, "image": i} for c, i in self.images],
            "guardDutyEnabled": False,
            "createdAt": stamp(self.created),
        }


@dataclass
class ServiceDeployment:
    """One service deployment; times are simulated seconds."""

    arn: str
    service_arn: str
    cluster_arn: str
    source: str | None  # the revision running before (None: the service's first)
    target: str
    created: float
    finish_at: float  # when the rollout ends: it succeeds, or the circuit breaker trips
    fails: bool
    auto_rollback: bool  # the circuit breaker rolls back
    desired: int
    rollback_seconds: float  # how long a rollback to `source` takes
    legacy_id: str  # the id of the matching entry of the service's `deployments`
    stopped_at: float | None = None
    stop_reason: str = ""
    rollback_at: float | None = None
    rollback_reason: str = ""
    requested: bool = False  # the rollback came from StopServiceDeployment
    legacy_rolled_back: bool = False  # the rollback shows in the legacy deployments
    tasks: list[str] = field(default_factory=list)  # ARNs of the tasks a failure stops

    def __post_init__(self) -> None:
        if self.fails and self.auto_rollback:
            self.rollback_at, self.rollback_reason = self.finish_at, BREAKER_REASON
        elif self.fails:
            self.stopped_at, self.stop_reason = self.finish_at, BREAKER_REASON

    @property
    def started(self) -> float:
        return self.created + min(PENDING_SECONDS, (self.finish_at - self.created) / 4)

    @property
    def rollback_end(self) -> float | None:
        return None if self.rollback_at is None else self.rollback_at + self.rollback_seconds

    def status(self, now: float) -> str:
        if self.stopped_at is not None and now >= self.stopped_at:
            return "STOPPED"
        if self.rollback_at is not None and now >= self.rollback_at:
            if now >= self.rollback_at + self.rollback_seconds:
                return "ROLLBACK_SUCCESSFUL"
            pending = min(PENDING_SECONDS, self.rollback_seconds / 4)
            if self.requested and now < self.rollback_at + pending:
                return "ROLLBACK_REQUESTED"
            return "ROLLBACK_IN_PROGRESS"
        if now < self.started:
            return "PENDING"
        return "IN_PROGRESS" if now < self.finish_at else "SUCCESSFUL"

    # -- events --------------------------------------------------------------------------------
    def stop(self, now: float, reason: str) -> None:
        """Stop it at `now` (a newer deployment started) unless it had finished."""
        if self.status(now) not in TERMINAL:
            self.stopped_at, self.stop_reason = now, reason
            if self.rollback_at is not None and self.rollback_at > now:
                self.rollback_at = None

    def roll_back(self, now: float) -> None:
        """StopServiceDeployment(ROLLBACK) at `now`; the caller checked it is running."""
        self.stopped_at, self.stop_reason = None, ""
        self.rollback_at, self.rollback_reason, self.requested = now, STOP_REASON, True

    # -- what failed -----------------------------------------------------------------------
    def failure_times(self, now: float) -> list[float]:
        """When each of its stopped tasks stopped, up to `now`: a failing rollout loses
        one task after another until the circuit breaker's threshold trips it."""
        if not self.fails or not self.tasks:
            return []
        cutoff = min(
            t for t in (self.finish_at, self.stopped_at, self.rollback_at, now) if t is not None
        )
        step = (self.finish_at - self.started) / len(self.tasks)
        times = [self.started + (i + 1) * step for i in range(len(self.tasks))]
        return [t for t in times if t <= cutoff]

    # -- documents -------------------------------------------------------------------------
    def _finished(self, now: float) -> float | None:
        status = self.status(now)
        if status == "SUCCESSFUL":
            return self.finish_at
        return self.rollback_end if status == "ROLLBACK_SUCCESSFUL" else None

    def _updated(self, now: float) -> float:
        events = [self.created, self.started, self.finish_at, self.stopped_at, self.rollback_at]
        events.append(self.rollback_end)
        return max(t for t in events if t is not None and t <= now)

    def _reason(self, now: float) -> str:
        status = self.status(now)
        if status == "STOPPED":
            return self.stop_reason
        return self.rollback_reason if status.startswith("ROLLBACK") else ""

    def brief(self, now: float, stamp: Stamp) -> dict[str, Any]:
        """As ListServiceDeployments lists it."""
        doc: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": stamp(self.created),
            "targetServiceRevisionArn": self.target,
            "status": self.status(now),
        }
        if now >= self.started:
            doc["startedAt"] = stamp(self.started)
        if (finished := self._finished(now)) is not None:
            doc["finishedAt"] = stamp(finished)
        if reason := self._reason(now):
            doc["statusReason"] = reason
        return doc

    def document(self, now: float, stamp: Stamp) -> dict[str, Any]:
        """As DescribeServiceDeployments describes it."""
        status = self.status(now)
        doc = self.brief(now, stamp)
        del doc["targetServiceRevisionArn"]
        doc["updatedAt"] = stamp(self._updated(now))
        if status == "STOPPED":
            doc["stoppedAt"] = stamp(self.stopped_at or now)
        on_target = self.desired if status == "SUCCESSFUL" else 0
        on_source = 0 if status == "SUCCESSFUL" else self.desired
        doc["targetServiceRevision"] = _summary(
            self.target, self.desired, on_target, self.desired if status == "IN_PROGRESS" else 0
        )
        if self.source is not None:
            doc["sourceServiceRevisions"] = [_summary(self.source, self.desired, on_source, 0)]
        doc["deploymentConfiguration"] = deployment_configuration(self.auto_rollback)
        failures, threshold = len(self.failure_times(now)), breaker_threshold(self.desired)
        tripped = self.fails and failures >= threshold
        breaker = (
            "TRIGGERED"
            if tripped
            else "MONITORING"
            if status in ("PENDING", "IN_PROGRESS")
            else "MONITORING_COMPLETE"
        )
        doc["deploymentCircuitBreaker"] = {
            "status": breaker,
            "failureCount": failures,
            "threshold": threshold,
        }
        if self.rollback_at is not None and status.startswith("ROLLBACK"):
            doc["rollback"] = {
                "reason": self.rollback_reason,
                "startedAt": stamp(self.rollback_at),
                "serviceRevisionArn": self.source or self.target,
            }
        return doc


def _summary(arn: str, requested: int, running: int, pending: int) -> dict[str, Any]:
    return {
        "arn": arn,
        "requestedTaskCount": requested,
        "runningTaskCount": running,
        "pendingTaskCount": pending,
    }


def deployment_configuration(rollback: bool) -> dict[str, Any]:
    """A rolling deployment with the circuit breaker on; `rollback` as the service has it."""
    return {
        "deploymentCircuitBreaker": {"enable": True, "rollback": rollback},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
        "strategy": "ROLLING",
    }
