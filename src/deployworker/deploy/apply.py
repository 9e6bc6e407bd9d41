"""Stage 4, apply: register the planned revision and point the service at it.

Idempotent across redelivery, keyed by the deploy-key tag (cluster, service and
deploy_id, hashed): a service already on a revision with this key is resumed (watched,
not updated again); a revision with this key that a service deployment already rolled
out is replayed, so that deployment's ending (a rollback, say) is the outcome again and
nothing is written; a revision registered but never rolled out is reused, not
registered twice. The same key with other images is rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from deployworker.aws.ecs import Ecs, register_input_shape
from deployworker.deploy import tagtext, trust
from deployworker.deploy.current import (
    Current,
    check_same_images,
    family_of,
    older,
    read_current,
    running_images,
    sealed_key,
    trusted_previous,
)
from deployworker.deploy.plan import (
    DEPLOY_ID_TAG,
    DEPLOY_KEY_TAG,
    MAC_TAG,
    PREVIOUS_TAG,
    current_images,
    plan_deploy,
    tag_map,
)
from deployworker.errors import not_allowed
from deployworker.failpoints import failpoint
from deployworker.intake.message import Source
from deployworker.rollout.locate import current_deployment, find_deployment, rolled_out_since
from deployworker.rollout.revisions import Rollouts

# `Current`, `read_current` and `family_of` moved to `current`; still importable here.
__all__ = [
    "Applied",
    "BeforeUpdate",
    "Current",
    "apply_deploy",
    "check_same_images",
    "deploy_tags",
    "deployment_of",
    "earlier_revision",
    "family_of",
    "read_current",
]

# A redelivery looks for its revision among the service deployments created since its
# message was sent, less this allowance for the clocks of SQS and ECS, and describes at
# most this many of their targets.
CLOCK_SKEW_SECONDS = 5.0
MAX_EARLIER_CANDIDATES = 5


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
    # Container name to image of the revision the service ran before (None: resumed).
    before: Mapping[str, str] | None = None


def deploy_tags(
    source: Source | None,
    key: str,
    deploy_id: str,
    previous: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The tags a new revision carries: the idempotency key, lineage and source."""
    tags = {DEPLOY_KEY_TAG: key, DEPLOY_ID_TAG: deploy_id, PREVIOUS_TAG: previous}
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


def earlier_revision(
    ecs: Ecs,
    current: Current,
    key: str,
    sent_at: float,
    tag_key: bytes | None = None,
    window: float = 0.0,
    images: Mapping[str, str] | None = None,
    rollouts: Rollouts | None = None,
) -> tuple[str, dict[str, Any], dict[str, str]] | None:
    """The revision registered earlier with this deploy key, not the running one:
    the family's newest, or one a service deployment created since the message was sent
    rolls out (another service of a shared family may have registered after ours).
    Only a key the worker sealed counts (`trust`). Returns (ARN, task definition, tags),
    or None. With a replay `window` (signing on), deployments up to that long before
    the message was sent are searched too, even when the service runs the newest."""
    if sealed_key(tag_key, current.latest_task_definition, current.latest_tags) == key:
        return current.latest_arn, current.latest_task_definition, current.latest_tags
    if (current.latest_arn == current.arn and window <= 0) or sent_at <= 0:
        return None  # the service runs its family's newest revision: none registered since
    cluster = str(current.service["clusterArn"]).rsplit("/", 1)[-1]
    service = str(current.service["serviceName"])
    known = {current.arn, current.latest_arn}
    if window > 0 and images:  # a replay search: only revisions running these images
        since = running_images(ecs, cluster, service, sent_at - window, images, rollouts)
    else:
        since = rolled_out_since(ecs, cluster, service, sent_at - CLOCK_SKEW_SECONDS)
    for arn in [a for a in since if a not in known][:MAX_EARLIER_CANDIDATES]:
        task_definition, tags = ecs.describe_task_definition(arn)
        if sealed_key(tag_key, task_definition, tag_map(tags)) == key:
            return arn, task_definition, tag_map(tags)
    return None


# Called with (service document, new revision ARN) between RegisterTaskDefinition and
# UpdateService: the pre-deploy migration. It raises to stop the deploy.
BeforeUpdate = Callable[[Mapping[str, Any], str], None]


def apply_deploy(
    ecs: Ecs,
    current: Current,
    images: Mapping[str, str],
    tags: Mapping[str, str],
    log: structlog.typing.FilteringBoundLogger,
    before_update: BeforeUpdate | None = None,
    requested: Mapping[str, str] | None = None,
    sent_at: float = 0.0,
    tag_key: bytes | None = None,
    replay_window: float = 0.0,
    rollouts: Rollouts | None = None,
) -> Applied | None:
    """Move the service to `images` (container name to image); None when it already
    runs them (noop). `tags` are the deploy tags the new revision gets, its key among
    them; `requested`, the images the message named, must match an earlier revision
    with that key. Raises `Rejection` when they do not."""
    cluster = str(current.service["clusterArn"]).rsplit("/", 1)[-1]
    service = str(current.service["serviceName"])
    key = tags[DEPLOY_KEY_TAG]
    where = f"deploy_id {tags.get(DEPLOY_ID_TAG)!r} of {cluster}/{service}"
    if sealed_key(tag_key, current.task_definition, current.tags) == key:
        check_same_images(current.task_definition, requested, where)
        log.info("deploy.resumed", task_definition=current.arn)
        deployment = deployment_of(ecs, current.service, current.arn)
        return Applied(current.arn, trusted_previous(current, tag_key), deployment, True)
    earlier = earlier_revision(ecs, current, key, sent_at, tag_key, replay_window, images, rollouts)
    if earlier is not None:
        check_same_images(earlier[1], requested, where)
        found = find_deployment(ecs, cluster, service, earlier[0])
        if found is not None:
            # Rolled out before, and no longer running: it already ended (rolled back,
            # overtaken, ...). Following it again reports that ending and writes nothing.
            arn = str(found["serviceDeploymentArn"])
            if replay_window > 0 and older(earlier[0], current.arn):
                raise not_allowed(
                    f"{where} already ran as {earlier[0]}, older than the running "
                    f"{current.arn}: a replayed or repeated deploy never downgrades a "
                    "service; send a rollback to return to it"
                )
            log.info("deploy.replayed", task_definition=earlier[0], deployment=arn)
            shape = register_input_shape()
            previous = trust.trusted(tag_key, earlier[1], earlier[2], shape).get(PREVIOUS_TAG)
            return Applied(earlier[0], previous, arn, True)
    if tag_key is not None:  # room for the MAC among the tags; `trust.sealed` fills it
        tags = {**tags, MAC_TAG: trust.PLACEHOLDER}
    plan = plan_deploy(
        current.task_definition,
        [{"key": k, "value": v} for k, v in current.tags.items()],
        images,
        tags,
        register_input_shape(),
    )
    if plan is None:
        return None
    register_input = trust.sealed(tag_key, plan.register_input)
    if earlier is not None:
        # Reused only if it is, field for field, what the plan registers now: a key can
        # be predicted (and, without a tag key, copied), a revision's content cannot.
        differ = trust.differences(
            trust.content(earlier[1], register_input_shape()), plan.register_input
        )
        if differ:
            log.warning("deploy.revision_not_reused", task_definition=earlier[0], fields=differ)
            earlier = None
    if earlier is not None:  # registered before a crash (or a failed migration)
        target = earlier[0]
        log.info("deploy.reused_revision", task_definition=target)
    else:
        target = ecs.register_task_definition(register_input)
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
    if deployment is not None and rollouts is not None:  # what it rolls out never changes
        rollouts.deployed(deployment, target, current_images(register_input))
    log.info("deploy.updated", task_definition=target, deployment=deployment)
    return Applied(target, current.arn, deployment)
