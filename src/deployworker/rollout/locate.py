"""Finding service deployments: the one that rolls out a revision, and what came after ours.

A service deployment names its target as a service revision, and a service revision
names the task definition. The briefs of ListServiceDeployments carry the target
revision's ARN, so a lookup is ListServiceDeployments, DescribeServiceRevisions for
their targets, and DescribeServiceDeployments for the one that matches: three calls or
so, made only when a deploy resumes, is judged stopped, or `status` asks. ECS documents
no order for ListServiceDeployments, so no answer here depends on one: every page is
read (or only those created since a known time) and sorted by createdAt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deployworker.aws.ecs import Ecs

Brief = dict[str, Any]


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


def listed(ecs: Ecs, cluster: str, service: str, after: datetime | None = None) -> list[Brief]:
    """Every brief of the service's deployments (created at or after `after`, when
    given), newest first. ECS documents no order for ListServiceDeployments, so every
    page is read and the briefs are sorted here by createdAt; `after` (its `createdAt`
    filter) keeps the pages few where a bound is known."""
    briefs, token = ecs.list_service_deployments(cluster, service, after)
    while token:
        more, token = ecs.list_service_deployments(cluster, service, after, token)
        briefs.extend(more)
    return sorted(briefs, key=_created, reverse=True)


def _created(brief: Brief) -> float:
    created = brief.get("createdAt")
    return created.timestamp() if isinstance(created, datetime) else 0.0


def _targets(ecs: Ecs, briefs: list[Brief]) -> dict[str, str]:
    """Service revision ARN → task definition, for the briefs' targets (20 a call)."""
    arns = list(
        dict.fromkeys(
            str(b["targetServiceRevisionArn"]) for b in briefs if b.get("targetServiceRevisionArn")
        )
    )
    found: dict[str, str] = {}
    for start in range(0, len(arns), 20):
        revisions = ecs.describe_service_revisions(arns[start : start + 20])
        found.update(
            {str(r["serviceRevisionArn"]): str(r.get("taskDefinition", "")) for r in revisions}
        )
    return found


def find_deployment(
    ecs: Ecs, cluster: str, service: str, task_definition: str
) -> dict[str, Any] | None:
    """The newest service deployment whose target runs `task_definition`, described
    (the briefs are resolved 20 at a time, newest first, until one matches)."""
    briefs = listed(ecs, cluster, service)
    for start in range(0, len(briefs), 20):
        chunk = briefs[start : start + 20]
        targets = _targets(ecs, chunk)
        for brief in chunk:
            if targets.get(str(brief.get("targetServiceRevisionArn"))) == task_definition:
                found, _ = ecs.describe_service_deployments([str(brief["serviceDeploymentArn"])])
                return found[0] if found else None
    return None


def newer_than(ecs: Ecs, cluster: str, service: str, arn: str) -> Newer | None:
    """The newest service deployment created after `arn`, if there is one: ListService-
    Deployments filtered to those created since `arn` was (never by list position)."""
    ours, _ = ecs.describe_service_deployments([arn])
    created = ours[0].get("createdAt") if ours else None
    if not isinstance(created, datetime):
        return None  # ours is unknown to ECS: nothing can be said to come after it
    newer = [
        b
        for b in listed(ecs, cluster, service, created)
        if b.get("serviceDeploymentArn") != arn and _created(b) >= created.timestamp()
    ]
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
        for b in listed(ecs, cluster, service, datetime.fromtimestamp(since, UTC))
        if _created(b) >= since
    ]
    if not briefs:
        return []
    targets = _targets(ecs, briefs)
    found = (targets.get(str(b.get("targetServiceRevisionArn"))) for b in briefs)
    return list(dict.fromkeys(arn for arn in found if arn))
