"""The actions besides a plain deploy: rollback, redeploy and promote.

Each works out *what* to run (a revision, or images) from the service's tags and
service deployments; `apply.py` and the watch do the rest. Rollback and a forced
redeploy change no task definition, so their redelivery guard is the service
deployment itself: one created (or, for a rollback, stopped) after the message was
sent is taken as their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog

from deployworker.aws.ecs import Ecs, register_input_shape
from deployworker.deploy import trust
from deployworker.deploy.apply import Applied, Current, deployment_of
from deployworker.deploy.current import trusted_previous
from deployworker.deploy.pin import unpinned
from deployworker.deploy.plan import (
    DEPLOY_ID_TAG,
    PREVIOUS_TAG,
    tag_map,
)
from deployworker.deploy.rollback import named_target, rollback_target
from deployworker.errors import invalid
from deployworker.intake.allowlist import check_images
from deployworker.intake.entries import Entry
from deployworker.intake.message import DeployRequest
from deployworker.rollout.locate import current_deployment

Log = structlog.typing.FilteringBoundLogger
# Service deployment statuses StopServiceDeployment(ROLLBACK) can still act on.
UNFINISHED = frozenset({"PENDING", "IN_PROGRESS"})


def _live(ecs: Ecs, current: Current) -> dict[str, Any] | None:
    """The service's current service deployment, described (None when it has none)."""
    arn = current_deployment(current.service)
    if arn is None:
        return None
    found, _ = ecs.describe_service_deployments([arn])
    return found[0] if found else None


def _since(value: Any, sent_at: float) -> bool:
    return isinstance(value, datetime) and sent_at > 0 and value.timestamp() >= sent_at


def _revisions(ecs: Ecs, live: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """The task definitions a service deployment rolls out and rolls out from."""
    target = str((live.get("targetServiceRevision") or {}).get("arn") or "")
    sources = [str(s["arn"]) for s in live.get("sourceServiceRevisions") or [] if s.get("arn")]
    found = ecs.describe_service_revisions([a for a in (target, *sources) if a])
    by_arn = {str(r["serviceRevisionArn"]): str(r.get("taskDefinition")) for r in found}
    return by_arn.get(target), [by_arn[a] for a in sources if a in by_arn]


Mine = Callable[[str | None, list[str]], bool]  # (target, sources) -> is it what I'd start


def _own_deployment(
    ecs: Ecs, live: dict[str, Any] | None, sent_at: float, mine: Mine
) -> str | None:
    """The current service deployment, if it was created after the message was sent and
    rolls out what this message would (`mine`): a deploy someone else started in the
    meantime is not taken for ours. Describes its revisions only on that path (a
    redelivery), so a first delivery makes no extra call."""
    if live is None or not _since(live.get("createdAt"), sent_at):
        return None
    target, sources = _revisions(ecs, live)
    return str(live["serviceDeploymentArn"]) if mine(target, sources) else None


def _rolled_back_by_us(
    ecs: Ecs, request: DeployRequest, current: Current, log: Log, tag_key: bytes | None
) -> Mine:
    """Whether a deployment (target, sources) is the one this rollback message starts:
    to the revision it names, or (no name) from a revision to that revision's sealed
    `previous`."""

    def mine(target: str | None, sources: list[str]) -> bool:
        if target is None:
            return False
        if request.to_revision is not None or request.to_deploy_id is not None:
            return target == named_target(ecs, request, current, log, tag_key)
        for source in sources:
            found = ecs.describe_task_definition(source)
            if (
                trust.trusted(tag_key, found[0], tag_map(found[1]), register_input_shape()).get(
                    PREVIOUS_TAG
                )
                == target
            ):
                return True
        return False

    return mine


def apply_rollback(
    ecs: Ecs,
    request: DeployRequest,
    entry: Entry,
    current: Current,
    sent_at: float,
    log: Log,
    tag_key: bytes | None = None,
) -> Applied:
    """Roll back once, across redeliveries: ECS's own rollback (StopServiceDeployment)
    of an unfinished deployment, else UpdateService to the rollback target.

    A named target (`to_revision`, `to_deploy_id`) always takes UpdateService.
    """
    live = _live(ecs, current)
    previous = trusted_previous(current, tag_key)
    if live is not None:
        arn = str(live["serviceDeploymentArn"])
        if _since((live.get("rollback") or {}).get("startedAt"), sent_at):
            log.info("rollback.resumed", deployment=arn)
            return Applied(previous or current.arn, current.arn, arn, True, stopped=True)
        mine = _rolled_back_by_us(ecs, request, current, log, tag_key)
        if _own_deployment(ecs, live, sent_at, mine) is not None:
            log.info("rollback.resumed", task_definition=current.arn, deployment=arn)
            return Applied(current.arn, None, arn, True)
        named = request.to_revision is not None or request.to_deploy_id is not None
        if not named and live.get("status") in UNFINISHED:
            ecs.stop_service_deployment(arn)
            log.info("rollback.stopped", deployment=arn, task_definition=current.arn)
            return Applied(previous or current.arn, current.arn, arn, stopped=True)
    target = rollback_target(ecs, request, entry, current, log, tag_key)
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

    # A forced redeploy rolls a revision out over itself; another deploy changes it.
    def same(target: str | None, sources: list[str]) -> bool:
        return target == current.arn and current.arn in sources

    own = _own_deployment(ecs, _live(ecs, current), sent_at, same)
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
