"""The actions besides a plain deploy: rollback, redeploy and promote.

Each works out *what* to run (a revision, or images) from the service's tags and
deployments; `apply.py` and the watch do the rest. Rollback and a forced redeploy
change no task definition, so their redelivery guard is the deployment itself: a
PRIMARY deployment created after the message was sent is taken as their own.
"""

from __future__ import annotations

import structlog

from deployworker.aws.ecs import Ecs
from deployworker.deploy.apply import Applied, Current, deployment_on, family_of
from deployworker.deploy.pin import unpinned
from deployworker.deploy.plan import DEPLOY_ID_TAG, PREVIOUS_TAG, tag_value
from deployworker.errors import invalid
from deployworker.intake.allowlist import check_images
from deployworker.intake.entries import Entry
from deployworker.intake.message import DeployRequest

Log = structlog.typing.FilteringBoundLogger
# How far back a rollback to a deploy_id searches the family.
ROLLBACK_SEARCH_DEPTH = 50


def _own_deployment(current: Current, sent_at: float) -> str | None:
    """The PRIMARY deployment, if it was created after the message was sent."""
    primary = next(
        (d for d in current.service.get("deployments") or [] if d.get("status") == "PRIMARY"),
        None,
    )
    created = primary.get("createdAt") if primary else None
    if primary is not None and created is not None and created.timestamp() >= sent_at > 0:
        return str(primary["id"])
    return None


def _revision_arn(current: Current, revision: int) -> str:
    """The full ARN of another revision of the running family."""
    return f"{current.arn.rsplit(':', 1)[0]}:{revision}"


def _revision_with_deploy_id(ecs: Ecs, current: Current, deploy_id: str) -> str:
    family = family_of(current.arn)
    newest = int(str(current.latest_arn).rsplit(":", 1)[-1])
    key = tag_value(deploy_id)
    for revision in range(newest, max(0, newest - ROLLBACK_SEARCH_DEPTH), -1):
        arn = _revision_arn(current, revision)
        _, tags = ecs.describe_task_definition(arn)
        if any(t["key"] == DEPLOY_ID_TAG and t["value"] == key for t in tags):
            return arn
    raise invalid(
        f"no revision of {family} among the newest {ROLLBACK_SEARCH_DEPTH} carries deploy_id "
        f"{deploy_id!r}"
    )


def rollback_target(ecs: Ecs, request: DeployRequest, current: Current) -> str:
    """The revision to return to: `to_revision`, the one tagged `to_deploy_id`, or the one
    the running revision records as previous. Raises `Rejection` when there is none."""
    if request.to_revision is not None:
        return _revision_arn(current, request.to_revision)
    if request.to_deploy_id is not None:
        return _revision_with_deploy_id(ecs, current, request.to_deploy_id)
    previous = current.tags.get(PREVIOUS_TAG)
    if not previous:
        raise invalid(f"{current.arn} records no previous revision to roll back to")
    return previous


def apply_rollback(
    ecs: Ecs, request: DeployRequest, current: Current, sent_at: float, log: Log
) -> Applied:
    """UpdateService to the rollback target (once, across redeliveries)."""
    own = _own_deployment(current, sent_at)
    if own is not None:
        log.info("rollback.resumed", task_definition=current.arn, deployment_id=own)
        return Applied(current.arn, None, own, True)
    target = rollback_target(ecs, request, current)
    cluster, service = request.cluster_ref.name, request.service_ref.name
    updated = ecs.update_service(cluster, service, target)
    deployment = deployment_on(updated, target)
    log.info("rollback.updated", task_definition=target, deployment_id=deployment)
    return Applied(target, current.arn, deployment)


def apply_forced_redeploy(
    ecs: Ecs, request: DeployRequest, current: Current, sent_at: float, log: Log
) -> Applied:
    """UpdateService with forceNewDeployment on the current revision (once)."""
    own = _own_deployment(current, sent_at)
    if own is not None:
        log.info("redeploy.resumed", deployment_id=own)
        return Applied(current.arn, None, own, True)
    cluster, service = request.cluster_ref.name, request.service_ref.name
    updated = ecs.update_service(cluster, service, None, force=True)
    primary = next(d for d in updated.get("deployments") or [] if d.get("status") == "PRIMARY")
    log.info("redeploy.forced", task_definition=current.arn, deployment_id=primary["id"])
    return Applied(current.arn, None, str(primary["id"]))


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
