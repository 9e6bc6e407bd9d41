"""Finding service deployments: the one that rolls out a revision, and what came after ours.

A service deployment names its target as a service revision, and a service revision
names the task definition. The briefs of ListServiceDeployments carry the target
revision's ARN, so a lookup is ListServiceDeployments, DescribeServiceRevisions for
their targets, and DescribeServiceDeployments for the one that matches: three calls,
made only when a deploy resumes, is judged stopped, or `status` asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deployworker.aws.ecs import Ecs


@dataclass(frozen=True, slots=True)
class Newer:
    """A service deployment created after the one a deploy follows."""

    arn: str
    task_definition: str | None
    status: str


def current_deployment(service: Mapping[str, Any]) -> str | None:
    """The service's current service deployment ARN, as DescribeServices and
    UpdateService return it."""
    arn = service.get("currentServiceDeployment")
    return str(arn) if arn else None


def _targets(ecs: Ecs, briefs: list[dict[str, Any]]) -> dict[str, str]:
    """Service revision ARN → task definition, for the briefs' targets."""
    arns = list(
        dict.fromkeys(
            str(b["targetServiceRevisionArn"]) for b in briefs if b.get("targetServiceRevisionArn")
        )
    )
    revisions = ecs.describe_service_revisions(arns[:20])
    return {str(r["serviceRevisionArn"]): str(r.get("taskDefinition", "")) for r in revisions}


def find_deployment(
    ecs: Ecs, cluster: str, service: str, task_definition: str
) -> dict[str, Any] | None:
    """The newest service deployment whose target runs `task_definition`, described."""
    briefs = ecs.list_service_deployments(cluster, service)
    if not briefs:
        return None
    targets = _targets(ecs, briefs)
    for brief in briefs:
        if targets.get(str(brief.get("targetServiceRevisionArn"))) == task_definition:
            found, _ = ecs.describe_service_deployments([str(brief["serviceDeploymentArn"])])
            return found[0] if found else None
    return None


def newer_than(ecs: Ecs, cluster: str, service: str, arn: str) -> Newer | None:
    """The newest service deployment created after `arn`, if there is one."""
    briefs = ecs.list_service_deployments(cluster, service)
    index = next((i for i, b in enumerate(briefs) if b.get("serviceDeploymentArn") == arn), None)
    # Not among the newest at all: everything listed came after it.
    newer = briefs[:index] if index is not None else briefs
    if not newer:
        return None
    latest = newer[0]
    targets = _targets(ecs, [latest])
    return Newer(
        str(latest["serviceDeploymentArn"]),
        targets.get(str(latest.get("targetServiceRevisionArn"))),
        str(latest.get("status", "")),
    )


def rolled_out_since(ecs: Ecs, cluster: str, service: str, since: float) -> list[str]:
    """The task definitions the service's deployments created at or after `since` (a
    Unix time) roll out, newest first: what a redelivered message may have deployed."""
    briefs = [
        b
        for b in ecs.list_service_deployments(cluster, service)
        if isinstance(b.get("createdAt"), datetime) and b["createdAt"].timestamp() >= since
    ]
    if not briefs:
        return []
    targets = _targets(ecs, briefs)
    found = (targets.get(str(b.get("targetServiceRevisionArn"))) for b in briefs)
    return list(dict.fromkeys(arn for arn in found if arn))
