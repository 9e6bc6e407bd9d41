"""`deployworker status`: did deploy <deploy_id> succeed? Answered from ECS alone.

No database: the revision tagged with the deploy_id, its `previous` tag, and the
service's deployments tell the whole story. `classify` is pure; `lookup` does
the few DescribeServices/DescribeTaskDefinition calls it needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from deployworker.aws.ecs import Ecs
from deployworker.deploy.plan import DEPLOY_ID_TAG, PREVIOUS_TAG, current_images, tag_map, tag_value


class DeployState(StrEnum):
    """Where a deploy stands, as CI sees it."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


EXIT_CODES = {
    DeployState.SUCCEEDED: 0,
    DeployState.FAILED: 1,
    DeployState.ROLLED_BACK: 2,
    DeployState.PENDING: 3,
    DeployState.IN_PROGRESS: 4,
}
FINAL = frozenset({DeployState.SUCCEEDED, DeployState.FAILED, DeployState.ROLLED_BACK})


@dataclass(frozen=True)
class Status:
    """A deploy's state and a one-line explanation."""

    state: DeployState
    detail: str
    task_definition: str | None = None


def _settled(deployment: Mapping[str, Any], count: int) -> bool:
    rollout = deployment.get("rolloutState")
    if rollout is not None:
        return bool(rollout == "COMPLETED")
    return count == 1 and deployment.get("runningCount") == deployment.get("desiredCount")


def classify(
    service: Mapping[str, Any], ours: str | None, previous: str | None, superseded: bool
) -> Status:
    """The state of the deploy whose revision is `ours` (None: none registered yet).

    `previous` is the revision ours replaced; `superseded` says the service now runs
    a later revision that itself replaced ours.
    """
    if ours is None:
        return Status(DeployState.PENDING, "no revision registered for this deploy yet")
    deployments: list[Mapping[str, Any]] = list(service.get("deployments") or [])
    count = len(deployments)
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    mine = next((d for d in deployments if d.get("taskDefinition") == ours), None)
    rolling_back = primary is not None and previous and primary.get("taskDefinition") == previous
    if mine is not None and mine.get("status") == "PRIMARY":
        if mine.get("rolloutState") == "FAILED":
            return Status(DeployState.FAILED, str(mine.get("rolloutStateReason", "")), ours)
        if _settled(mine, count):
            return Status(DeployState.SUCCEEDED, "rollout completed", ours)
        return Status(DeployState.IN_PROGRESS, f"rollout {mine.get('rolloutState', '')}", ours)
    if rolling_back and primary is not None:
        if primary.get("rolloutState") == "FAILED":
            return Status(DeployState.FAILED, "the rollback failed too", ours)
        if mine is None and _settled(primary, count):
            return Status(DeployState.ROLLED_BACK, f"back on {previous}", ours)
        return Status(DeployState.IN_PROGRESS, f"rolling back to {previous}", ours)
    if superseded or (mine is not None and mine.get("rolloutState") == "COMPLETED"):
        return Status(DeployState.SUCCEEDED, "succeeded, since replaced by a later deploy", ours)
    current = service.get("taskDefinition")
    return Status(
        DeployState.FAILED, f"the service runs {current}, not this deploy's revision", ours
    )


def service_status(service: Mapping[str, Any]) -> Status:
    """Without a deploy_id: the state of the service's newest deployment."""
    deployments: list[Mapping[str, Any]] = list(service.get("deployments") or [])
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None:
        return Status(DeployState.PENDING, "the service has no deployment")
    arn = primary.get("taskDefinition")
    if primary.get("rolloutState") == "FAILED":
        return Status(DeployState.FAILED, str(primary.get("rolloutStateReason", "")), arn)
    if _settled(primary, len(deployments)):
        return Status(DeployState.SUCCEEDED, "rollout completed", arn)
    return Status(DeployState.IN_PROGRESS, f"rollout {primary.get('rolloutState', '')}", arn)


def lookup(
    ecs: Ecs,
    cluster: str,
    service: str,
    deploy_id: str | None,
    images: Mapping[str, str] | None = None,
) -> Status:
    """Read the deploy's state from ECS. `images`, when known, recognises a noop deploy."""
    described = ecs.describe_service(cluster, service)
    if deploy_id is None:
        return service_status(described)
    current = str(described["taskDefinition"])
    candidates = dict.fromkeys(
        [current, *(str(d["taskDefinition"]) for d in described.get("deployments") or [])]
    )
    key = tag_value(deploy_id)
    seen: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}
    ours: str | None = None
    for arn in candidates:
        td, tags = ecs.describe_task_definition(arn)
        seen[arn] = (td, tag_map(tags))
        if seen[arn][1].get(DEPLOY_ID_TAG) == key:
            ours = arn
    if ours is None:
        # Registered but not yet deployed: the family's newest revision.
        td, tags = ecs.describe_task_definition(str(seen[current][0]["family"]))
        latest_tags = tag_map(tags)
        if latest_tags.get(DEPLOY_ID_TAG) == key:
            ours = str(td["taskDefinitionArn"])
            seen[ours] = (td, latest_tags)
    if ours is None and images:
        running = current_images(seen[current][0])
        if all(running.get(name) == image for name, image in images.items()):
            return Status(DeployState.SUCCEEDED, "the service already runs these images", current)
    previous = seen[ours][1].get(PREVIOUS_TAG) if ours else None
    superseded = ours is not None and seen[current][1].get(PREVIOUS_TAG) == ours
    return classify(described, ours, previous, superseded)


def wait_for(
    check: Callable[[], Status],
    timeout: float,
    interval: float,
    report: Callable[[Status], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Status:
    """Poll `check` until a final state or `timeout`; `report` each change of state."""
    deadline = clock() + timeout
    last: Status | None = None
    while True:
        status = check()
        if last is None or (status.state, status.detail) != (last.state, last.detail):
            report(status)
        last = status
        if status.state in FINAL or clock() >= deadline:
            return status
        sleep(min(interval, max(0.0, deadline - clock())))
