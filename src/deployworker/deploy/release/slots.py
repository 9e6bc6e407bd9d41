"""The places a release changes, and the pure parts of changing them.

A slot is one task-definition reference: a service's, a schedule's, or one ECS
target of a rule (a rule may have several). Each distinct family among the slots
gets one new revision. What a release has done is kept in AWS, on those revisions'
tags, so a redelivered message reads it back instead of remembering it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.model import Shape

from deployworker.deploy import trust
from deployworker.deploy.apply import family_of
from deployworker.deploy.plan import deploy_key, project, tag_value
from deployworker.intake.releases import Kind, Release

RELEASE_TAG = "deployworker:release"
# The revision each slot ran before the release, so a rollback after a crash knows it.
WAS_TAG = "deployworker:release-was:"
# Seals the release's name and its `release-was:` tags at registration (`trust.seal`).
RELEASE_MAC_TAG = "deployworker:release-mac"
# rolling_back, rolled_back, failed or deployed, once the release reaches that point.
STATE_TAG = "deployworker:release-state"
REASON_TAG = "deployworker:release-reason"
# Seals the two above to the revision and the release (`trust.state_mac`).
STATE_MAC_TAG = "deployworker:release-state-mac"


@dataclass(frozen=True, eq=False)
class Slot:
    """One task-definition reference of a member, as read now."""

    member: str
    kind: Kind
    current: str  # the task definition ARN it runs now
    target_id: str = ""  # a rule target's Id
    document: Mapping[str, Any] = field(default_factory=dict)  # what AWS returned for it

    @property
    def id(self) -> str:
        """`member` or, for a rule target, `member/target-id`: unique within a release."""
        return f"{self.member}/{self.target_id}" if self.target_id else self.member

    @property
    def family(self) -> str:
        """The task-definition family the slot runs."""
        return family_of(self.current)


def release_key(release: Release, deploy_id: str) -> str:
    """The deploy-key tag of a release's revisions: (release group, deploy_id), hashed."""
    return deploy_key(release.group, "", deploy_id)


def state_tags(
    tag_key: bytes | None, arn: str, key: str, state: str, reason: str
) -> dict[str, str]:
    """The tags that record a release's state on its revision `arn` (sealed with a key)."""
    tags = {STATE_TAG: state, REASON_TAG: tag_value(reason) or "-"}
    if tag_key is not None:
        tags[STATE_MAC_TAG] = trust.state_mac(tag_key, arn, key, state, tags[REASON_TAG])
    return tags


def recorded_state(
    tag_key: bytes | None, arn: str, key: str, tags: Mapping[str, str]
) -> tuple[str, str] | None:
    """(state, reason) recorded on the revision `arn` of the release `key`; None when
    there is none or, with a tag key, when its MAC does not hold (forged or copied)."""
    state = tags.get(STATE_TAG)
    if not state:
        return None
    reason = tags.get(REASON_TAG, "")
    if tag_key is None:
        return state, reason
    mac = tags.get(STATE_MAC_TAG, "")
    return (state, reason) if trust.state_holds(tag_key, arn, key, state, reason, mac) else None


def family_images(
    slots: Sequence[Slot], member_images: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    """Family to the images its new revision runs: the union over the members that
    share it (a container maps to one image in a release, so the union never clashes)."""
    images: dict[str, dict[str, str]] = {}
    for slot in slots:
        wanted = member_images.get(slot.member)
        if wanted:
            images.setdefault(slot.family, {}).update(wanted)
    return images


def was_tags(slots: Sequence[Slot], family: str) -> dict[str, str]:
    """The `release-was` tags of a family's new revision: each slot's current ARN."""
    return {WAS_TAG + s.id: s.current for s in slots if s.family == family}


def release_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags `RELEASE_MAC_TAG` seals: the release's name and every `release-was:`."""
    return {k: v for k, v in tags.items() if k == RELEASE_TAG or k.startswith(WAS_TAG)}


def retarget(value: Any, arn: str) -> dict[str, Any]:
    """A copy of a schedule's or target's document with only
    `EcsParameters.TaskDefinitionArn` changed."""
    copied = dict(value)
    copied["EcsParameters"] = {**copied["EcsParameters"], "TaskDefinitionArn": arn}
    return copied


def schedule_update(
    schedule: Mapping[str, Any], arn: str, shape: Shape, now: datetime
) -> dict[str, Any]:
    """UpdateSchedule's whole input from GetSchedule's output, pointing at `arn`:
    projected through the input shape, so only what UpdateSchedule accepts is sent and
    every field it accepts is kept (it resets any it is not given). A StartDate already
    past is left out: the schedule has started, and AWS refuses a StartDate more than
    5 minutes old on UpdateSchedule ("The StartDate you specify cannot be earlier than
    5 minutes ago."); without one the schedule runs from now, as it already does."""
    projected: dict[str, Any] = project(dict(schedule), shape)
    projected["Target"] = retarget(projected["Target"], arn)
    start = projected.get("StartDate")
    if isinstance(start, datetime) and start <= now:
        del projected["StartDate"]
    return projected


def target_update(target: Mapping[str, Any], arn: str, shape: Shape) -> dict[str, Any]:
    """A PutTargets target from ListTargetsByRule's, pointing at `arn`, all else kept."""
    return retarget(project(dict(target), shape), arn)


def ecs_task_definition(document: Mapping[str, Any]) -> str | None:
    """The task definition an ECS target (of a schedule or a rule) runs, if it is one."""
    parameters = document.get("EcsParameters")
    if not isinstance(parameters, Mapping):
        return None
    arn = parameters.get("TaskDefinitionArn")
    return str(arn) if arn else None


def release_phases(release: Release, slots: Sequence[Slot]) -> list[list[Slot]]:
    """The slots in phase order: within a phase, services before schedules and rules."""
    by_member: dict[str, list[Slot]] = {}
    for slot in slots:
        by_member.setdefault(slot.member, []).append(slot)
    phases = []
    for phase in release.ordered_phases():
        found = [s for m in phase for s in by_member.get(m.name, [])]
        ordered = [s for s in found if s.kind == "service"] + [
            s for s in found if s.kind != "service"
        ]
        if ordered:
            phases.append(ordered)
    return phases
