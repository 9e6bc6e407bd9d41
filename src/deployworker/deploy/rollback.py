"""Where a `rollback` returns to, and why it may (stage 3 of the rollback action).

The target is named (`to_revision`, `to_deploy_id`) or the running revision's
`previous` (believed only when the worker sealed it). Every target passes the same
checks: a revision of the running family, ACTIVE, running only containers and images
the entry allows, and one the service ran successfully before, by ECS's own record of
its service deployments. So a rollback never rolls forward past a gate, nor to a
revision someone registered or tagged by hand.
"""

from __future__ import annotations

from typing import Any

import structlog

from deployworker.aws.ecs import Ecs, register_input_shape
from deployworker.deploy import trust
from deployworker.deploy.current import Current, family_of, trusted_previous
from deployworker.deploy.plan import DEPLOY_KEY_TAG, current_images, deploy_key, tag_map
from deployworker.errors import NotFoundError, invalid, not_allowed
from deployworker.intake.allowlist import check_images
from deployworker.intake.entries import Entry
from deployworker.intake.message import DeployRequest
from deployworker.rollout.locate import listed

Log = structlog.typing.FilteringBoundLogger
# How far back a rollback to a deploy_id searches the family.
ROLLBACK_SEARCH_DEPTH = 50


def _revision_arn(current: Current, revision: int) -> str:
    """The full ARN of another revision of the running family."""
    return f"{current.arn.rsplit(':', 1)[0]}:{revision}"


def _describable(ecs: Ecs, arn: str) -> tuple[dict[str, Any], list[dict[str, str]]] | None:
    """The revision and its tags; None when it is deleted (DescribeTaskDefinition fails)."""
    try:
        return ecs.describe_task_definition(arn)
    except NotFoundError:
        return None


def _revision_with_deploy_id(
    ecs: Ecs, current: Current, deploy_id: str, log: Log, tag_key: bytes | None = None
) -> str:
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
        sealed = trust.trusted(tag_key, found[0], tag_map(found[1]), register_input_shape())
        if sealed.get(DEPLOY_KEY_TAG) == key:
            return arn
    note = f"; skipped revisions {', '.join(skipped)}" if skipped else ""
    raise invalid(
        f"no ACTIVE revision of {family} among the newest {ROLLBACK_SEARCH_DEPTH} carries "
        f"deploy_id {deploy_id!r}{note}"
    )


def named_target(
    ecs: Ecs, request: DeployRequest, current: Current, log: Log, tag_key: bytes | None = None
) -> str:
    """The revision `to_revision` or `to_deploy_id` names (unchecked). Raises `Rejection`."""
    if request.to_revision is not None:
        return _revision_arn(current, request.to_revision)
    return _revision_with_deploy_id(ecs, current, str(request.to_deploy_id), log, tag_key)


def live_before(ecs: Ecs, current: Current) -> set[str]:
    """The task definitions the service ran before, by ECS's own record: the targets of
    its newest service deployments that ended SUCCESSFUL (not rolled back, not stopped),
    the running one left out: the newest 20 of them. Two calls or so (a page of
    ListServiceDeployments is 100 briefs); tags play no part."""
    cluster = str(current.service["clusterArn"]).rsplit("/", 1)[-1]
    briefs = listed(ecs, cluster, str(current.service["serviceName"]))  # newest first
    done = [b for b in briefs if b.get("status") == "SUCCESSFUL"]
    targets = [
        str(b["targetServiceRevisionArn"]) for b in done if b.get("targetServiceRevisionArn")
    ]
    revisions = ecs.describe_service_revisions(list(dict.fromkeys(targets))[:20])
    return {str(r.get("taskDefinition")) for r in revisions} - {current.arn}


def rollback_target(
    ecs: Ecs,
    request: DeployRequest,
    entry: Entry,
    current: Current,
    log: Log,
    tag_key: bytes | None = None,
) -> str:
    """The revision to return to: `to_revision`, the one tagged `to_deploy_id`, or the one
    the running revision records as previous (only if the worker sealed that tag). Every
    target, named or not, must be an ACTIVE revision of the running family whose
    containers and images the entry allows, and one the service ran successfully before
    (ECS's service deployments say so): a rollback never rolls forward to a revision
    that was never live, was rolled back, or never passed its gates. Raises `Rejection`."""
    if request.to_revision is None and request.to_deploy_id is None:
        target = trusted_previous(current, tag_key) or ""
        if not target:
            raise invalid(f"{current.arn} records no previous revision to roll back to")
    else:
        target = named_target(ecs, request, current, log, tag_key)
    if family_of(target) != family_of(current.arn):
        raise not_allowed(
            f"rollback target {target} is not a revision of {family_of(current.arn)}, the "
            "family the service runs"
        )
    found = _describable(ecs, target)
    if found is None or found[0].get("status", "ACTIVE") != "ACTIVE":
        state = "deleted" if found is None else str(found[0].get("status"))
        raise invalid(f"rollback target {target} is {state}; ECS cannot run it")
    # The target could run anything: the same checks as a deploy of what it changes.
    changes = {
        name: image
        for name, image in current_images(found[0]).items()
        if current.images.get(name) != image
    }
    check_images(entry, changes)
    if target not in live_before(ecs, current):
        raise not_allowed(
            f"rollback target {target} never ran successfully on "
            f"{current.service.get('serviceName')} before {current.arn}: a rollback returns "
            "only to a revision the service ran (not one that was rolled back or never "
            "passed its gates); deploy it with a new deploy_id so its gates run"
        )
    return target
