"""Which stage a PAUSE hook is, the deploy's record of it, and its status (on the pool).

`hookid.attribute` decides a hook's stage by its hookId and the deployment's stage
(pure). When the deploy must remember an attribution (`hookid`), it is tagged on the
deploy's revision, as `deployworker:hooks`, sealed (`tagseal`), before any gate acts on
it; the record is read from there the first time one is needed, so a redelivered message
continues the first copy's record. A record whose seal does not hold is read as absent.
"""

from __future__ import annotations

import structlog

from deployworker.aws.ecs import Ecs
from deployworker.deploy.gates import hookid
from deployworker.deploy.job import Job
from deployworker.deploy.tagseal import ROOM, opened_tags, seal
from deployworker.errors import AwsError
from deployworker.rollout.assess import Pause

log = structlog.get_logger("deployworker.gates")


def hook_stage(ecs: Ecs, tag_key: bytes | None, job: Job, pause: Pause) -> str | None:
    """The hook stage `pause` belongs to; records a new attribution on the revision."""
    configuration = job.applied.configuration if job.applied else None
    revision = job.applied.target if job.applied else None
    seen = job.hooks_seen if job.hooks_seen is not None else {}
    stage, record = hookid.attribute(pause.stage, pause.hook_id, configuration, seen)
    if not record:
        return stage
    if job.hooks_seen is None:
        job.hooks_seen = _read(ecs, tag_key, revision)
        stage, record = hookid.attribute(pause.stage, pause.hook_id, configuration, job.hooks_seen)
    if record and stage is not None:
        job.hooks_seen[hookid.hook_key(pause.hook_id)] = stage
        log.info("gate.hook_attributed", hook_id=pause.hook_id, hook_stage=stage)
        if revision is not None:
            room = ROOM if tag_key is not None else 0
            tag = hookid.encode(job.hooks_seen, room)
            sealed = {k: seal(tag_key, revision, k, v) for k, v in tag.items()}
            try:
                ecs.tag_resource(revision, sealed)
            except AwsError as exc:
                log.warning("gate.hook_record_failed", error=str(exc))
    return stage


def _read(ecs: Ecs, tag_key: bytes | None, revision: str | None) -> dict[str, str]:
    """The record on `revision`, if its seal holds; empty when there is none."""
    if revision is None:
        return {}
    try:
        tags = ecs.list_tags_for_resource(revision)
        return hookid.decode(opened_tags(tag_key, revision, tags, hookid.HOOKS_TAG.__eq__))
    except AwsError as exc:
        log.warning("gate.hook_record_unread", error=str(exc))
        return {}


def hook_status(ecs: Ecs, arn: str, hook_id: str) -> str | None:
    """The hook's status now (AWAITING_ACTION, SUCCEEDED, ...), None when gone."""
    found, _ = ecs.describe_service_deployments([arn])
    for deployment in found:
        for hook in deployment.get("lifecycleHookDetails") or []:
            if hook.get("hookId") == hook_id:
                return str(hook.get("status"))
    return None
