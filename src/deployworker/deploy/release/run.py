"""A release from its revisions to its ending: migrate once, then phase by phase.

Each phase's services are updated together and watched to their verdicts; its
schedules and rules move only once those services have converged. A member that
fails, and any error after the release's first change (an UpdateSchedule or PutTargets
refused, a rule target repointed elsewhere meanwhile, a bug), sends the release to
`undo`: all or nothing. Every step first looks at where AWS already is
(a service on the new revision is followed, not updated again; a schedule already
pointing at it is left alone), so a redelivered message resumes the release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import structlog

from deployworker.deploy.apply import deployment_of
from deployworker.deploy.migrate import Migrator
from deployworker.deploy.release.context import Context, Ending
from deployworker.deploy.release.follow import Released
from deployworker.deploy.release.register import Registrar, Revision
from deployworker.deploy.release.slots import (
    STATE_TAG,
    Slot,
    family_images,
    recorded_state,
    release_phases,
)
from deployworker.deploy.release.undo import undo
from deployworker.errors import AwsError, Rejection
from deployworker.failpoints import failpoint
from deployworker.intake.entries import Migrate
from deployworker.intake.message import Source
from deployworker.outcome import Outcome
from deployworker.rollout.assess import State
from deployworker.rollout.deadline import minimum

log = structlog.get_logger("deployworker.release")

ENDED = {"deployed": Outcome.DEPLOYED, "rolled_back": Outcome.ROLLED_BACK, "failed": Outcome.FAILED}


def recorded(ctx: Context, revisions: Mapping[str, Revision]) -> tuple[str, str] | None:
    """(state, reason) an earlier delivery recorded on the release's revisions. With a
    tag key, only a state whose MAC holds counts: a forged or copied one is ignored, and
    the release goes on from where AWS says its members are."""
    for revision in revisions.values():
        found = recorded_state(ctx.tag_key, revision.arn, ctx.key, revision.tags)
        if found is not None:
            return found
        if revision.tags.get(STATE_TAG):
            log.warning("release.state_untrusted", task_definition=revision.arn)
    return None


def run_release(
    ctx: Context,
    member_images: Mapping[str, Mapping[str, str]],
    source: Source | None,
    migrator: Migrator,
) -> Ending:
    """Ship the release (member name to its images) and say how it ended.
    Raises `Rejection`, `MigrationFailed`, `AwsError` or `Released`."""
    slots = ctx.members.read(ctx.release, set(member_images))
    images = family_images(slots, member_images)
    revisions = Registrar(ctx.ecs, ctx.tag_key).revisions(
        slots, images, ctx.key, ctx.deploy_id, ctx.release.name, source
    )
    arns = {f: r.arn for f, r in revisions.items()}
    if not revisions:
        return Ending(Outcome.NOOP, "every member already runs the images")
    changing = [s for s in slots if s.family in revisions]
    earlier = recorded(ctx, revisions)
    if earlier is not None and earlier[0] in ENDED:
        log.info("release.replayed", state=earlier[0])
        return Ending(ENDED[earlier[0]], earlier[1], revisions=arns)
    if earlier is not None:  # a crash during the rollback: finish it
        return undo(ctx, changing, revisions, earlier[1])
    for revision in revisions.values():
        if revision.registered:
            ctx.step(revision.family, "registered", {"task_definition": revision.arn})
    migrate(ctx, changing, revisions, migrator)
    failpoint("release.migrated")
    try:
        for phase in release_phases(ctx.release, changing):
            failed = forward(ctx, phase, revisions)
            if failed is not None:
                return undo(ctx, changing, revisions, failed)
            failpoint("release.phase")
        ctx.mark(revisions, "deployed", "")
    except Released:
        raise
    except Exception as exc:  # all or nothing, whatever failed after the first change
        log.exception("release.forward_crashed")
        return undo(ctx, changing, revisions, f"the release stopped: {exc}")
    states = {s.id: "deployed" for s in changing}
    return Ending(Outcome.DEPLOYED, "every member runs the new revision", states, arns)


def migrate(
    ctx: Context, slots: Sequence[Slot], revisions: Mapping[str, Revision], migrator: Migrator
) -> None:
    """Run the release's migration once, from the new revision of its service, before
    any member changes (with `Migrator`'s clientToken and migrated-tag guarantees)."""
    config = ctx.release.migrate
    if config is None:
        return
    slot = next((s for s in slots if s.member == config.service), None)
    if slot is None:  # its service gets no new revision: there is nothing new to migrate
        return
    target = revisions[slot.family].arn
    task = Migrate(container=config.container, command=config.command, timeout=config.timeout)
    migrator.run(slot.document, target, task, f"{ctx.release.group}/{ctx.deploy_id}")
    ctx.step(slot.id, "migrated", {"task_definition": target})


def forward(ctx: Context, phase: Sequence[Slot], revisions: Mapping[str, Revision]) -> str | None:
    """Move one phase's slots to their new revisions; None when every member converged,
    else why the first one that did not failed (an AWS error or a member that is no
    longer what the release read is such a failure, named by its member)."""
    deployments: dict[str, str] = {}
    deadline = ctx.timeout
    for slot in (s for s in phase if s.kind == "service"):
        try:
            arn, minimal = _update_service(ctx, slot, revisions[slot.family].arn)
        except (AwsError, Rejection) as exc:
            return f"member {slot.id}: {exc}"
        if arn is None:
            return f"member {slot.id}: no service deployment found for {revisions[slot.family].arn}"
        deadline = max(deadline, minimal)
        deployments[slot.id] = arn
        failpoint("release.member")
    verdicts = ctx.follower.all(deployments, deadline)
    failed: str | None = None
    for slot_id in deployments:
        verdict = verdicts[slot_id]
        ok = verdict.state == State.CONVERGED
        ctx.step(slot_id, "converged" if ok else "failed", {"reason": verdict.reason})
        if not ok and failed is None:
            failed = f"member {slot_id} failed ({verdict.state.value}): {verdict.reason}"
    if failed is not None:
        return failed
    for slot in (s for s in phase if s.kind != "service"):
        target = revisions[slot.family].arn
        try:
            changed = ctx.members.repoint(ctx.release, slot, target)
        except (AwsError, Rejection) as exc:
            return f"member {slot.id}: {exc}"
        ctx.step(slot.id, "updated" if changed else "resumed", {"task_definition": target})
        failpoint("release.member")
    return None


def _update_service(ctx: Context, slot: Slot, target: str) -> tuple[str | None, float]:
    """Start (or find) a service member's deployment of `target`: its ARN, and the
    least time its deployment configuration needs."""
    cluster = ctx.cluster(slot.member)
    service = ctx.ecs.describe_service(cluster, slot.member)
    minimal = minimum(service.get("deploymentConfiguration")).seconds
    if service.get("taskDefinition") == target:
        ctx.step(slot.id, "resumed", {"task_definition": target})
    else:
        service = ctx.ecs.update_service(cluster, slot.member, target)
        ctx.step(slot.id, "updated", {"task_definition": target})
    return deployment_of(ctx.ecs, service, target), minimal
