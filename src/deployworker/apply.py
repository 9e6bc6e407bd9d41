"""Stage 4, apply: register the planned revision and point the service at it.

Idempotent across redelivery, keyed by the deploy_id tag: a service already on a
revision tagged with this deploy_id is resumed (watched, not updated again), and
a revision registered earlier for this deploy_id is reused, not registered twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from deployworker.aws.ecs import Ecs, register_input_shape
from deployworker.errors import invalid
from deployworker.failpoints import failpoint
from deployworker.parse import DeployRequest
from deployworker.plan import DEPLOY_ID_TAG, PREVIOUS_TAG, plan_deploy, tag_value


@dataclass(frozen=True, slots=True)
class Applied:
    """A service now moving to `target`; `deployment_id` is the deployment to watch."""

    target: str
    previous: str | None
    deployment_id: str | None
    resumed: bool = False


def deploy_tags(request: DeployRequest, deploy_id: str, previous: str) -> dict[str, str]:
    """The tags a new revision carries: the idempotency key, lineage and source."""
    source = request.source
    tags = {DEPLOY_ID_TAG: deploy_id, PREVIOUS_TAG: previous}
    if source is not None:
        tags["deployworker:source-commit"] = source.commit or ""
        tags["deployworker:source-url"] = source.url or ""
        tags["deployworker:source-actor"] = source.actor or ""
    return tags


def deployment_on(service: Mapping[str, Any], task_definition: str) -> str | None:
    """Id of the newest deployment running `task_definition`, preferring PRIMARY."""
    candidates = [
        d for d in service.get("deployments") or [] if d.get("taskDefinition") == task_definition
    ]
    candidates.sort(key=lambda d: d.get("status") != "PRIMARY")
    return str(candidates[0]["id"]) if candidates else None


def _tags(tags: list[dict[str, str]]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in tags}


def family_of(task_definition_arn: str) -> str:
    """`family` from `arn:aws:ecs:region:account:task-definition/family:revision`."""
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def apply_deploy(
    ecs: Ecs, request: DeployRequest, deploy_id: str, log: structlog.typing.FilteringBoundLogger
) -> Applied | None:
    """Move the service to the requested images; None when it already runs them (noop)."""
    cluster, service = request.cluster_ref.name, request.service_ref.name
    described = ecs.describe_service(cluster, service)
    current = str(described["taskDefinition"])
    # Describing the family by name returns its newest revision: usually the one the
    # service runs (one call, not two), or one this deploy registered before a crash.
    latest, latest_tags = ecs.describe_task_definition(family_of(current))
    latest_arn = str(latest["taskDefinitionArn"])
    if latest_arn == current:
        task_definition, tags = latest, latest_tags
    else:
        task_definition, tags = ecs.describe_task_definition(current)
    tag_map = _tags(tags)
    if tag_map.get(DEPLOY_ID_TAG) == tag_value(deploy_id):
        log.info("deploy.resumed", task_definition=current)
        return Applied(current, tag_map.get(PREVIOUS_TAG), deployment_on(described, current), True)
    images = {name: str(ref) for name, ref in request.targets.items()}
    plan = plan_deploy(
        task_definition,
        tags,
        images,
        deploy_tags(request, deploy_id, current),
        register_input_shape(),
    )
    if plan is None:
        return None
    registered_earlier = latest_arn != current and _tags(latest_tags).get(
        DEPLOY_ID_TAG
    ) == tag_value(deploy_id)
    target = latest_arn if registered_earlier else None
    if target is None:
        target = ecs.register_task_definition(plan.register_input)
        log.info(
            "deploy.registered",
            task_definition=target,
            previous=current,
            changes={k: v[1] for k, v in plan.changes.items()},
        )
    else:
        log.info("deploy.reused_revision", task_definition=target)
    failpoint("registered")
    updated = ecs.update_service(cluster, service, target)
    failpoint("updated")
    deployment = deployment_on(updated, target)
    log.info("deploy.updated", task_definition=target, deployment_id=deployment)
    return Applied(target, current, deployment)


def apply_rollback(
    ecs: Ecs, request: DeployRequest, sent_at: float, log: structlog.typing.FilteringBoundLogger
) -> Applied:
    """Return the service to the revision recorded as previous on its current one.

    A PRIMARY deployment created after the message was sent is taken as this
    rollback's own (a redelivery), so a rollback is never applied twice.
    """
    cluster, service = request.cluster_ref.name, request.service_ref.name
    described = ecs.describe_service(cluster, service)
    current = str(described["taskDefinition"])
    primary = next(
        (d for d in described.get("deployments") or [] if d.get("status") == "PRIMARY"), None
    )
    created = primary.get("createdAt") if primary else None
    if primary is not None and created is not None and created.timestamp() >= sent_at > 0:
        log.info("rollback.resumed", task_definition=current)
        return Applied(current, None, str(primary["id"]), True)
    _, tags = ecs.describe_task_definition(current)
    previous = _tags(tags).get(PREVIOUS_TAG)
    if not previous:
        raise invalid(f"{cluster}/{service} runs {current}, which records no previous revision")
    updated = ecs.update_service(cluster, service, previous)
    deployment = deployment_on(updated, previous)
    log.info("rollback.updated", task_definition=previous, deployment_id=deployment)
    return Applied(previous, current, deployment)
