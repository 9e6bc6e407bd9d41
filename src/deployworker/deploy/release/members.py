"""Reading and repointing a release's members: services, schedules and rule targets.

Services are read with DescribeServices (their updates are watched elsewhere).
Schedules and rule targets are changed the way the task-definition planner changes a
revision: read, change `EcsParameters.TaskDefinitionArn`, write back the whole input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from deployworker.aws.ecs import Ecs
from deployworker.aws.eventrules import EventRules, target_shape
from deployworker.aws.scheduler import Scheduler, update_schedule_shape
from deployworker.deploy.release.slots import (
    Slot,
    ecs_task_definition,
    schedule_update,
    target_update,
)
from deployworker.errors import Rejection, RejectionKind, invalid
from deployworker.intake.releases import Member, Release


class NoLongerEcs(Rejection):
    """A schedule or rule target that runs no ECS task any more (someone repointed it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(RejectionKind.INVALID, reason)


@dataclass
class Members:
    """The adapters a release's members need."""

    ecs: Ecs
    scheduler: Scheduler
    rules: EventRules

    def read(self, release: Release, only: set[str] | None = None) -> list[Slot]:
        """Every slot of the release's members (those in `only`, when given), in member
        order. Raises `Rejection` for a schedule or rule with no ECS target, and
        `NotFoundError` for a member that does not exist."""
        slots: list[Slot] = []
        for member in release.members:
            if only is None or member.name in only:
                slots.extend(self._read(release, member))
        return slots

    def _read(self, release: Release, member: Member) -> list[Slot]:
        if member.kind == "service":
            service = self.ecs.describe_service(release.cluster_of(member), member.name)
            return [Slot(member.name, "service", str(service["taskDefinition"]), "", service)]
        if member.kind == "schedule":
            schedule = self.scheduler.get_schedule(member.name, member.schedule_group)
            arn = ecs_task_definition(schedule.get("Target") or {})
            if arn is None:
                raise invalid(f"schedule {member.name} of release {release.name} runs no ECS task")
            return [Slot(member.name, "schedule", arn, "", schedule)]
        targets = self.rules.targets(member.name, member.event_bus)
        slots = [
            Slot(member.name, "rule", arn, str(t["Id"]), t)
            for t in targets
            if (arn := ecs_task_definition(t)) is not None
        ]
        if not slots:
            raise invalid(f"rule {member.name} of release {release.name} has no ECS target")
        return slots

    def repoint(self, release: Release, slot: Slot, arn: str) -> bool:
        """Point a schedule or rule target at `arn`, re-reading it first so that every
        other field is written back as it is now. False when it already runs `arn`."""
        member = release.member(slot.member)
        assert member is not None
        assert slot.kind != "service"
        try:
            now = self._read(release, member)
        except Rejection as exc:  # it has no ECS target at all any more
            raise NoLongerEcs(exc.reason) from exc
        fresh = next((s for s in now if s.id == slot.id), None)
        if fresh is None:
            raise NoLongerEcs(f"{slot.id} of release {release.name} is no longer an ECS target")
        if fresh.current == arn:
            return False
        if slot.kind == "schedule":
            self.scheduler.update_schedule(
                schedule_update(fresh.document, arn, update_schedule_shape(), datetime.now(UTC))
            )
        else:
            update = target_update(fresh.document, arn, target_shape())
            self.rules.put_targets(member.name, member.event_bus, [update])
        return True
