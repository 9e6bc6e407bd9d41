"""Stage 4, apply: register the planned revision and point the service at it.

Idempotent across redelivery, keyed by the deploy_id tag: a service already on a
revision tagged with this deploy_id is resumed (watched, not updated again), and
a revision registered earlier for this deploy_id is reused, not registered twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from deployworker.aws.ecs import Ecs, register_input_shape
from deployworker.deploy import tagtext
from deployworker.deploy.plan import (
    DEPLOY_ID_TAG,
    PREVIOUS_TAG,
    current_images,
    plan_deploy,
    tag_map,
    tag_value,
)
from deployworker.failpoints import failpoint
from deployworker.intake.message import Source
from deployworker.rollout.locate import current_deployment, find_deployment


@dataclass(frozen=True, slots=True)
class Applied:
    """A service now moving to `target`; `deployment_arn` is the service deployment to
    follow. `stopped` says the worker asked ECS to roll that deployment back (the
    `rollback` action on an unfinished deployment)."""

    target: str
    previous: str | None
    deployment_arn: str | None
    resumed: bool = False
    stopped: bool = False
    # The service's deploymentConfiguration: what its strategy needs sets the deadline.
    configuration: Mapping[str, Any] | None = None
    # Why a deploy that changes no image string still deployed (a re-resolved tag).
    note: str = ""
    # The service's desiredCount: at 0 a "successful" rollout started and verified nothing.
    desired_count: int | None = None


def deploy_tags(
    source: Source | None, deploy_id: str, previous: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The tags a new revision carries: the idempotency key, lineage and source."""
    tags = {DEPLOY_ID_TAG: deploy_id, PREVIOUS_TAG: previous}
    if source is not None:
        # Encoded, not sanitised: a URL's `?` and `&` must survive (see `tagtext`).
        for field in ("commit", "url", "actor"):
            tags.update(tagtext.split(f"deployworker:source-{field}", getattr(source, field) or ""))
    tags.update(extra or {})
    return tags


def deployment_of(ecs: Ecs, service: Mapping[str, Any], task_definition: str) -> str | None:
    """The service deployment rolling out `task_definition`: the service's current one,
    as UpdateService returns it, else found with ListServiceDeployments."""
    cluster = str(service.get("clusterArn", "")).rsplit("/", 1)[-1]
    name = str(service.get("serviceName", ""))
    arn = current_deployment(service)
    if arn is not None and service.get("taskDefinition") == task_definition:
        return arn
    found = find_deployment(ecs, cluster, name, task_definition)
    return str(found["serviceDeploymentArn"]) if found else None


def family_of(task_definition_arn: str) -> str:
    """`family` from `arn:aws:ecs:region:account:task-definition/family:revision`."""
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


@dataclass(frozen=True)
class Current:
    """What a service runs now, read once per deploy."""

    service: dict[str, Any]
    arn: str
    task_definition: dict[str, Any]
    tags: dict[str, str]
    latest_arn: str
    latest_tags: dict[str, str]

    @property
    def images(self) -> dict[str, str]:
        """Container name to image of the running revision."""
        return current_images(self.task_definition)


def read_current(ecs: Ecs, cluster: str, service: str) -> Current:
    """DescribeServices, then the family's newest revision and, if different, the running one.

    Describing the family by name returns its newest revision: usually the one the
    service runs (one call, not two), or one a deploy registered before a crash.
    """
    described = ecs.describe_service(cluster, service)
    arn = str(described["taskDefinition"])
    latest, latest_tags = ecs.describe_task_definition(family_of(arn))
    latest_arn = str(latest["taskDefinitionArn"])
    if latest_arn == arn:
        task_definition, tags = latest, latest_tags
    else:
        task_definition, tags = ecs.describe_task_definition(arn)
    return Current(described, arn, task_definition, tag_map(tags), latest_arn, tag_map(latest_tags))


# Called with (service document, new revision ARN) between RegisterTaskDefinition and
# UpdateService: the pre-deploy migration. It raises to stop the deploy.
BeforeUpdate = Callable[[Mapping[str, Any], str], None]


def apply_deploy(
    ecs: Ecs,
    current: Current,
    images: Mapping[str, str],
    tags: Mapping[str, str],
    deploy_id: str,
    log: structlog.typing.FilteringBoundLogger,
    before_update: BeforeUpdate | None = None,
) -> Applied | None:
    """Move the service to `images` (container name to image); None when it already
    runs them (noop). `tags` are the deploy tags the new revision gets."""
    cluster = str(current.service["clusterArn"]).rsplit("/", 1)[-1]
    service = str(current.service["serviceName"])
    key = tag_value(deploy_id)
    if current.tags.get(DEPLOY_ID_TAG) == key:
        log.info("deploy.resumed", task_definition=current.arn)
        deployment = deployment_of(ecs, current.service, current.arn)
        return Applied(current.arn, current.tags.get(PREVIOUS_TAG), deployment, True)
    plan = plan_deploy(
        current.task_definition,
        [{"key": k, "value": v} for k, v in current.tags.items()],
        images,
        tags,
        register_input_shape(),
    )
    if plan is None:
        return None
    if current.latest_arn != current.arn and current.latest_tags.get(DEPLOY_ID_TAG) == key:
        target = current.latest_arn
        log.info("deploy.reused_revision", task_definition=target)
    else:
        target = ecs.register_task_definition(plan.register_input)
        log.info(
            "deploy.registered",
            task_definition=target,
            previous=current.arn,
            changes={k: v[1] for k, v in plan.changes.items()},
        )
    failpoint("registered")
    if before_update is not None:
        before_update(current.service, target)
    updated = ecs.update_service(cluster, service, target)
    failpoint("updated")
    deployment = deployment_of(ecs, updated, target)
    log.info("deploy.updated", task_definition=target, deployment=deployment)
    return Applied(target, current.arn, deployment)
