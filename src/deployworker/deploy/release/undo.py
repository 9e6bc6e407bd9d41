"""All or nothing: every member a failed release changed goes back.

Schedules and rules are pointed back at the revision they ran before (first, so no
run starts from the new revision meanwhile); a service whose deployment is still
unfinished is rolled back by ECS (StopServiceDeployment(ROLLBACK)), one that already
finished is updated to its previous revision, and every restoring deployment is
watched. The state is recorded first (`rolling_back`), so a crash here is resumed
as a rollback, and each step checks where the member already is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import structlog

from deployworker.deploy.apply import deployment_of
from deployworker.deploy.release.context import Context, Ending
from deployworker.deploy.release.members import NoLongerEcs
from deployworker.deploy.release.register import Revision
from deployworker.deploy.release.slots import Slot
from deployworker.errors import AwsError, PermanentAwsError, Rejection
from deployworker.failpoints import failpoint
from deployworker.outcome import Outcome
from deployworker.rollout.assess import State
from deployworker.rollout.locate import current_deployment

log = structlog.get_logger("deployworker.release")

UNFINISHED = frozenset({"PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})
RESTORED = "restored"


def undo(
    ctx: Context, slots: Sequence[Slot], revisions: Mapping[str, Revision], reason: str
) -> Ending:
    """Put every slot back; `rolled_back` when all are back, else `failed` with each
    member's state."""
    _mark(ctx, revisions, "rolling_back", reason)
    log.warning("release.rolling_back", reason=reason)
    failpoint("release.rolling_back")
    states: dict[str, str] = {}
    for slot in (s for s in slots if s.kind != "service"):
        previous = revisions[slot.family].previous(slot)
        try:
            changed = ctx.members.repoint(ctx.release, slot, previous)
            states[slot.id] = RESTORED if changed else "unchanged"
        except NoLongerEcs:
            # Someone pointed it at a target that is not ECS: it runs nothing of this
            # release, so there is nothing of ours to put back (nor to overwrite).
            states[slot.id] = "left alone: no longer an ECS target"
        except (AwsError, Rejection) as exc:
            states[slot.id] = f"rollback failed: {exc}"
        ctx.step(slot.id, "rolled_back", {"task_definition": previous, "state": states[slot.id]})
    following: dict[str, str] = {}
    for slot in (s for s in slots if s.kind == "service"):
        try:
            arn = _restore(ctx, slot, revisions[slot.family])
        except AwsError as exc:
            states[slot.id] = f"rollback failed: {exc}"
            continue
        if arn is None:  # never moved, or ECS (or an earlier delivery) already put it back
            states[slot.id] = "previous"
        else:
            following[slot.id] = arn
    for slot_id, verdict in ctx.follower.all(following, ctx.timeout).items():
        ok = verdict.state in (State.CONVERGED, State.ROLLED_BACK)
        states[slot_id] = (
            RESTORED if ok else f"rollback failed ({verdict.state.value}): {verdict.reason}"
        )
        ctx.step(slot_id, "rolled_back", {"state": states[slot_id]})
    arns = {f: r.arn for f, r in revisions.items()}
    failed = sorted(k for k, v in states.items() if v.startswith("rollback failed"))
    if failed:
        why = f"{reason}; the rollback failed for {', '.join(failed)}"
        _mark(ctx, revisions, "failed", why)
        return Ending(Outcome.FAILED, why, states, arns)
    _mark(ctx, revisions, "rolled_back", reason)
    return Ending(Outcome.ROLLED_BACK, reason, states, arns)


def _mark(ctx: Context, revisions: Mapping[str, Revision], state: str, reason: str) -> None:
    """Record the state; a refused TagResource must not stop the members going back."""
    try:
        ctx.mark(revisions, state, reason)
    except AwsError as exc:
        log.error("release.state_not_recorded", state=state, error=str(exc))


def _status(ctx: Context, arn: str) -> str:
    found, _ = ctx.ecs.describe_service_deployments([arn])
    return str(found[0].get("status", "")) if found else ""


def _restore(ctx: Context, slot: Slot, revision: Revision) -> str | None:
    """Start putting a service back; the deployment to follow, or None when it already
    runs its previous revision with nothing under way."""
    cluster = ctx.cluster(slot.member)
    service = ctx.ecs.describe_service(cluster, slot.member)
    now = str(service.get("taskDefinition"))
    if now != revision.arn:
        # Back already (ECS rolled it back, or an earlier delivery did): follow what is
        # still under way, if anything.
        arn = current_deployment(service)
        return arn if arn is not None and _status(ctx, arn) in UNFINISHED else None
    ours = deployment_of(ctx.ecs, service, revision.arn)
    if ours is not None and _status(ctx, ours) in ("PENDING", "IN_PROGRESS"):
        try:
            ctx.ecs.stop_service_deployment(ours)
            ctx.step(slot.id, "rollback_started", {"deployment": ours, "native": True})
            return ours
        except PermanentAwsError as exc:
            if exc.code != "ConflictException":
                raise
    # Finished on the new revision: only a new deployment of the previous one restores it.
    previous = revision.previous(slot)
    updated = ctx.ecs.update_service(cluster, slot.member, previous)
    ctx.step(slot.id, "rollback_started", {"task_definition": previous, "native": False})
    return deployment_of(ctx.ecs, updated, previous)
