"""The actions besides a plain deploy: rollback, redeploy and promote.

Each works out *what* to run (a revision, or images) from the service's tags and
service deployments; `apply.py` and the watch do the rest. Rollback and a forced
redeploy change no task definition, so their redelivery guard is the service
deployment itself: one created (or, for a rollback, stopped) after the message was
sent is taken as their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog

from deployworker.aws.ecs import Ecs
from deployworker.deploy.apply import Applied, Current, deployment_of, family_of
from deployworker.deploy.pin import unpinned
from deployworker.deploy.plan import (
    DEPLOY_ID_TAG,
    DEPLOY_KEY_TAG,
    PREVIOUS_TAG,
    current_images,
    deploy_key,
)
from deployworker.errors import NotFoundError, invalid
from deployworker.intake.allowlist import check_images
from deployworker.intake.entries import Entry
from deployworker.intake.message import DeployRequest
from deployworker.rollout.locate import current_deployment

Log = structlog.typing.FilteringBoundLogger
# Service deployment statuses StopServiceDeployment(ROLLBACK) can still act on.
UNFINISHED = frozenset({"PENDING", "IN_PROGRESS"})
# How far back a rollback to a deploy_id searches the family.
ROLLBACK_SEARCH_DEPTH = 50


def _live(ecs: Ecs, current: Current) -> dict[str, Any] | None:
    """The service's current service deployment, described (None when it has none)."""
    arn = current_deployment(current.service)
    if arn is None:
        return None
    found, _ = ecs.describe_service_deployments([arn])
    return found[0] if found else None


def _since(value: Any, sent_at: float) -> bool:
    return isinstance(value, datetime) and sent_at > 0 and value.timestamp() >= sent_at


def _own_deployment(live: dict[str, Any] | None, sent_at: float) -> str | None:
    """The current service deployment, if it was created after the message was sent."""
    if live is not None and _since(live.get("createdAt"), sent_at):
        return str(live["serviceDeploymentArn"])
    return None


def _revision_arn(current: Current, revision: int) -> str:
    """The full ARN of another revision of the running family."""
    return f"{current.arn.rsplit(':', 1)[0]}:{revision}"


def _describable(ecs: Ecs, arn: str) -> tuple[dict[str, Any], list[dict[str, str]]] | None:
    """The revision and its tags; None when it is deleted (DescribeTaskDefinition fails)."""
    try:
        return ecs.describe_task_definition(arn)
    except NotFoundError:
        return None


def _revision_with_deploy_id(ecs: Ecs, current: Current, deploy_id: str, log: Log) -> str:
    """The newest ACTIVE revision tagged with `deploy_id`. Deleted revisions and INACTIVE
    ones (which UpdateService refuses) are skipped: a cleanup between the target and
    today must not make an older deploy unreachable."""
    family = family_of(current.arn)
    newest = int(str(current.latest_arn).rsplit(":", 1)[-1])
    cluster = str(current.service["clusterArn"]).rsplit("/", 1)[-1]
    key = deploy_key(cluster, str(current.service["serviceName"]), deploy_id)
    skipped: list[str] = []
    for revision in range(newest, max(0, newest - ROLLBACK_SEARCH_DEPTH), -1):
        arn = _revision_arn(current, revision)
        found = _describable(ecs, arn)
        status = "deleted" if found is None else str(found[0].get("status") or "ACTIVE")
        if found is None or status != "ACTIVE":
            skipped.append(f"{revision} ({status.lower()})")
            log.info("rollback.revision_skipped", task_definition=arn, status=status)
            continue
        if any(t["key"] == DEPLOY_KEY_TAG and t["value"] == key for t in found[1]):
            return arn
    note = f"; skipped revisions {', '.join(skipped)}" if skipped else ""
    raise invalid(
        f"no ACTIVE revision of {family} among the newest {ROLLBACK_SEARCH_DEPTH} carries "
        f"deploy_id {deploy_id!r}{note}"
    )


def rollback_target(
    ecs: Ecs, request: DeployRequest, entry: Entry, current: Current, log: Log
) -> str:
    """The revision to return to: `to_revision`, the one tagged `to_deploy_id`, or the one
    the running revision records as previous. Raises `Rejection` when there is none, or
    when a named one changes a container or an image the entry does not allow."""
    if request.to_revision is None and request.to_deploy_id is None:
        previous = current.tags.get(PREVIOUS_TAG)
        if not previous:
            raise invalid(f"{current.arn} records no previous revision to roll back to")
        return previous
    if request.to_revision is not None:
        target = _revision_arn(current, request.to_revision)
    else:
        target = _revision_with_deploy_id(ecs, current, str(request.to_deploy_id), log)
    found = _describable(ecs, target)
    if found is None or found[0].get("status", "ACTIVE") != "ACTIVE":
        state = "deleted" if found is None else str(found[0].get("status"))
        raise invalid(f"rollback target {target} is {state}; ECS cannot run it")
    # A named revision could run anything: the same checks as a deploy of what it changes.
    changes = {
        name: image
        for name, image in current_images(found[0]).items()
        if current.images.get(name) != image
    }
    check_images(entry, changes)
    return target


def apply_rollback(
    ecs: Ecs, request: DeployRequest, entry: Entry, current: Current, sent_at: float, log: Log
) -> Applied:
    """Roll back once, across redeliveries: ECS's own rollback (StopServiceDeployment)
    of an unfinished deployment, else UpdateService to the rollback target.

    A named target (`to_revision`, `to_deploy_id`) always takes UpdateService.
    """
    live = _live(ecs, current)
    previous = current.tags.get(PREVIOUS_TAG)
    if live is not None:
        arn = str(live["serviceDeploymentArn"])
        if _since((live.get("rollback") or {}).get("startedAt"), sent_at):
            log.info("rollback.resumed", deployment=arn)
            return Applied(previous or current.arn, current.arn, arn, True, stopped=True)
        if _own_deployment(live, sent_at) is not None:
            log.info("rollback.resumed", task_definition=current.arn, deployment=arn)
            return Applied(current.arn, None, arn, True)
        named = request.to_revision is not None or request.to_deploy_id is not None
        if not named and live.get("status") in UNFINISHED:
            ecs.stop_service_deployment(arn)
            log.info("rollback.stopped", deployment=arn, task_definition=current.arn)
            return Applied(previous or current.arn, current.arn, arn, stopped=True)
    target = rollback_target(ecs, request, entry, current, log)
    cluster, service = request.cluster_ref.name, request.service_ref.name
    updated = ecs.update_service(cluster, service, target)
    deployment = deployment_of(ecs, updated, target)
    log.info("rollback.updated", task_definition=target, deployment=deployment)
    return Applied(target, current.arn, deployment)


def apply_forced_redeploy(
    ecs: Ecs,
    request: DeployRequest,
    current: Current,
    sent_at: float,
    log: Log,
    tags: Mapping[str, str] | None = None,
) -> Applied:
    """UpdateService with forceNewDeployment on the current revision (once). `tags`
    (a `converged` gate's `converged pending`) go on the revision first: no revision is
    registered, and `status` must not call the deploy succeeded before its gate ends."""
    if tags:
        ecs.tag_resource(current.arn, dict(tags))
    own = _own_deployment(_live(ecs, current), sent_at)
    if own is not None:
        log.info("redeploy.resumed", deployment=own)
        return Applied(current.arn, None, own, True)
    cluster, service = request.cluster_ref.name, request.service_ref.name
    updated = ecs.update_service(cluster, service, None, force=True)
    deployment = deployment_of(ecs, updated, current.arn)
    log.info("redeploy.forced", task_definition=current.arn, deployment=deployment)
    return Applied(current.arn, None, deployment)


def redeploy_images(entry: Entry, current: Current) -> dict[str, str]:
    """With digest pinning: the allowlisted containers' tags, to be resolved again."""
    return {n: unpinned(i) for n, i in current.images.items() if n in entry.containers}


def promote_images(entry: Entry, source: Current, target: Current) -> dict[str, str]:
    """What the source service runs, for the containers the target has and allows.

    Raises `Rejection` when nothing is shared or an image fails the target's allowlist.
    """
    images = {
        name: image
        for name, image in source.images.items()
        if name in entry.containers and name in target.images
    }
    if not images:
        raise invalid("the source service shares no allowlisted container with the target")
    check_images(entry, images)
    return images


def promoted_from_tag(source: Current) -> dict[str, str]:
    """The tag recording which deploy of which service a promotion came from."""
    cluster = str(source.service["clusterArn"]).rsplit("/", 1)[-1]
    origin = source.tags.get(DEPLOY_ID_TAG) or source.arn.rsplit("/", 1)[-1]
    return {"deployworker:promoted-from": f"{cluster}/{source.service['serviceName']}@{origin}"}
