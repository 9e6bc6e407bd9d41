"""`deployworker status`: did deploy <deploy_id> succeed? Answered from ECS alone.

No database: the revision tagged with the deploy_id and the service deployment that
rolls it out tell the whole story. A revision registered but not yet rolled out (the
pre-deploy migration runs then) is `in_progress`, never a terminal state. `classify`
is pure; `lookup` makes the few describe calls it needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from deployworker.aws.ecs import Ecs
from deployworker.deploy.evidence import collect
from deployworker.deploy.gates.fit import candidates
from deployworker.deploy.gates.show import Shown
from deployworker.deploy.gates.show import read as read_gate
from deployworker.deploy.plan import (
    DEPLOY_KEY_TAG,
    PREVIOUS_TAG,
    current_images,
    deploy_key,
    tag_map,
)
from deployworker.intake.gates import CONVERGED
from deployworker.rollout.assess import State, assess
from deployworker.rollout.locate import Newer, current_deployment, find_deployment, newer_than


class DeployState(StrEnum):
    """Where a deploy stands, as CI sees it."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    OVERTAKEN = "overtaken"


EXIT_CODES = {
    DeployState.SUCCEEDED: 0,
    DeployState.FAILED: 1,
    DeployState.ROLLED_BACK: 2,
    DeployState.PENDING: 3,
    DeployState.IN_PROGRESS: 4,
    DeployState.OVERTAKEN: 6,
}
FINAL = frozenset(
    {DeployState.SUCCEEDED, DeployState.FAILED, DeployState.ROLLED_BACK, DeployState.OVERTAKEN}
)


@dataclass(frozen=True)
class Status:
    """A deploy's state and a one-line explanation (with ECS's evidence when it failed)."""

    state: DeployState
    detail: str
    task_definition: str | None = None
    evidence: dict[str, object] | None = None


def classify(
    deployment: Mapping[str, Any] | None,
    ours: str | None,
    newer: Newer | None,
    previous: str | None = None,
    gate: Shown | None = None,
) -> Status:
    """The state of the deploy whose revision is `ours` (None: none registered yet),
    from the service deployment that rolls it out (None: not rolled out yet), the
    newest service deployment after it, if any, the revision ours replaced, and the
    gate state its revision is tagged with."""
    if ours is None:
        return Status(DeployState.PENDING, "no revision registered for this deploy yet")
    if deployment is None:
        # Between RegisterTaskDefinition and UpdateService (the migration runs here).
        return Status(DeployState.IN_PROGRESS, "registered, not yet rolled out", ours)
    verdict = assess(deployment, timed_out=False)
    state = verdict.state
    if state == State.CONVERGED and gate is not None and gate.stage == CONVERGED:
        return _verified(gate, ours, newer, previous)
    if state == State.CONVERGED:
        return Status(DeployState.SUCCEEDED, "service deployment successful", ours)
    if state == State.ROLLED_BACK and gate is not None and gate.state == "failed":
        return Status(DeployState.ROLLED_BACK, f"{gate.text}; {verdict.reason}", ours)
    if state == State.ROLLED_BACK:
        return Status(DeployState.ROLLED_BACK, verdict.reason, ours)
    if state == State.STOPPED and newer is not None and newer.task_definition == previous:
        # Stopped, then the previous revision deployed again: the worker's rollback.
        if newer.status == "SUCCESSFUL":
            return Status(DeployState.ROLLED_BACK, f"{verdict.reason}; back on {previous}", ours)
        if newer.status in ("PENDING", "IN_PROGRESS"):
            return Status(DeployState.IN_PROGRESS, f"rolling back to {previous}", ours)
        return Status(DeployState.FAILED, f"{verdict.reason}; the rollback failed too", ours)
    if state == State.STOPPED and newer is not None:
        detail = f"overtaken by {newer.arn} (target {newer.task_definition or 'unknown'})"
        return Status(DeployState.OVERTAKEN, detail, ours)
    if state in (State.STOPPED, State.FAILED):
        return Status(DeployState.FAILED, verdict.reason, ours)
    if verdict.pause and gate and gate.stage in candidates(verdict.pause.stage) and gate.undecided:
        return Status(DeployState.IN_PROGRESS, f"{verdict.progress}; gate: {gate.text}", ours)
    return Status(DeployState.IN_PROGRESS, verdict.progress, ours)


def _verified(gate: Shown, ours: str, newer: Newer | None, previous: str | None) -> Status:
    """A converged deploy with a `converged` gate: verifying, verified, or rolled back
    (by a new deployment of the previous revision) after the gate failed."""
    if gate.undecided:
        return Status(DeployState.IN_PROGRESS, f"converged; gate: {gate.text}", ours)
    if gate.state == "passed":
        return Status(DeployState.SUCCEEDED, f"service deployment successful; {gate.text}", ours)
    detail = f"the converged gate failed ({gate.text})"
    if newer is None or newer.task_definition != previous:
        return Status(DeployState.IN_PROGRESS, f"{detail}; rolling back", ours)
    if newer.status == "SUCCESSFUL":
        return Status(DeployState.ROLLED_BACK, f"{detail}; back on {previous}", ours)
    if newer.status in ("PENDING", "IN_PROGRESS"):
        return Status(DeployState.IN_PROGRESS, f"{detail}; rolling back to {previous}", ours)
    return Status(DeployState.FAILED, f"{detail}; the rollback failed too", ours)


def _ours(
    ecs: Ecs, described: Mapping[str, Any], key: str
) -> tuple[str | None, dict[str, tuple[dict[str, Any], dict[str, str]]]]:
    """The revision tagged with the deploy key among those the service runs or ran
    last, or the family's newest (registered, not yet deployed)."""
    current = str(described["taskDefinition"])
    candidates = dict.fromkeys(
        [current, *(str(d["taskDefinition"]) for d in described.get("deployments") or [])]
    )
    seen: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}
    for arn in candidates:
        td, tags = ecs.describe_task_definition(arn)
        seen[arn] = (td, tag_map(tags))
        if seen[arn][1].get(DEPLOY_KEY_TAG) == key:
            return arn, seen
    td, tags = ecs.describe_task_definition(str(seen[current][0]["family"]))
    if tag_map(tags).get(DEPLOY_KEY_TAG) == key:
        return str(td["taskDefinitionArn"]), seen
    return None, seen


def _tags(
    ecs: Ecs, ours: str | None, seen: dict[str, tuple[dict[str, Any], dict[str, str]]]
) -> dict[str, str]:
    """Our revision's tags: its `previous` revision and its gate's state are there."""
    if ours is None:
        return {}
    if ours not in seen:
        return tag_map(ecs.describe_task_definition(ours)[1])
    return seen[ours][1]


def lookup(
    ecs: Ecs,
    cluster: str,
    service: str,
    deploy_id: str | None,
    images: Mapping[str, str] | None = None,
) -> Status:
    """Read the deploy's state from ECS. `images`, when known, recognises a noop deploy.
    Without a deploy_id: the service's current service deployment."""
    described = ecs.describe_service(cluster, service)
    current = str(described["taskDefinition"])
    if deploy_id is None:
        arn = current_deployment(described)
        found = ecs.describe_service_deployments([arn])[0] if arn else []
        if not found:
            return Status(DeployState.PENDING, "the service has no service deployment")
        # A forced redeploy registers nothing: its converged gate is tagged on `current`.
        gate = read_gate(tag_map(ecs.describe_task_definition(current)[1]))
        status = classify(found[0], current, None, None, gate)
        return _with_evidence(ecs, cluster, service, status, found[0])
    names = (cluster.rsplit("/", 1)[-1], service.rsplit("/", 1)[-1])
    ours, seen = _ours(ecs, described, deploy_key(*names, deploy_id))
    tags = _tags(ecs, ours, seen)
    previous, gate = tags.get(PREVIOUS_TAG), read_gate(tags)
    if ours is None and images:
        running = current_images(seen[current][0])
        same = all(running.get(name) == image for name, image in images.items())
        verifying = read_gate(seen[current][1])  # a forced redeploy's converged gate
        if same and verifying and verifying.stage == CONVERGED and verifying.undecided:
            detail = f"the service runs these images; gate: {verifying.text}"
            return Status(DeployState.IN_PROGRESS, detail, current)
        if same:
            return Status(DeployState.SUCCEEDED, "the service already runs these images", current)
    if ours is None:
        return classify(None, None, None)
    deployment = find_deployment(ecs, cluster, service, ours)
    newer = None
    # A stopped deployment, or one a failed converged gate is rolling back.
    failed = gate is not None and gate.stage == CONVERGED and gate.state == "failed"
    if deployment is not None and (deployment.get("status") == "STOPPED" or failed):
        newer = newer_than(ecs, cluster, service, str(deployment["serviceDeploymentArn"]))
    status = classify(deployment, ours, newer, previous, gate)
    return _with_evidence(ecs, cluster, service, status, deployment)


def _with_evidence(
    ecs: Ecs, cluster: str, service: str, status: Status, deployment: Mapping[str, Any] | None
) -> Status:
    """A failed or rolled-back status carries ECS's evidence, as the deploy event does."""
    if status.state not in (DeployState.FAILED, DeployState.ROLLED_BACK) or deployment is None:
        return status
    created = deployment.get("createdAt")
    since = created.timestamp() if isinstance(created, datetime) else 0.0
    found = collect(ecs, cluster, service, status.task_definition, since, status.detail)
    return replace(status, evidence=found)


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
