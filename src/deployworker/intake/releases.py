"""The allowlist's releases: one image shipped to every member that runs it (pure).

A release names its members (services, EventBridge Scheduler schedules and
EventBridge rules), the image repositories they may run, an optional migration and
an optional phase order. Everything is checked as the file loads, so a release that
names a phase member it does not have, or migrates with a container its service does
not list, is an error with its line, never a surprise at deploy time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from deployworker.intake.budget import MESSAGE_BUDGET_SECONDS, duration_text
from deployworker.intake.fields import Duration, OptionalDuration, Repositories
from deployworker.intake.release_checks import check_name, check_phases

# Names of EventBridge schedules, schedule groups, rules and buses: letters, digits, ._-
_EVENT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Every message of a release is sent in this group (and every single-service message
# for one of its services too): one release or member deploy at a time, in order.
GROUP_PREFIX = "release/"
MAX_MEMBERS = 20
Kind = Literal["service", "schedule", "rule"]


class Member(BaseModel):
    """One place the release's image runs: a service, a schedule or a rule's ECS targets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str | None = None
    schedule: str | None = None
    schedule_group: str = "default"
    rule: str | None = None
    event_bus: str = "default"
    cluster: str | None = None  # services only; default: the release's cluster
    containers: tuple[str, ...] = Field(min_length=1)

    @field_validator("service", "cluster")
    @classmethod
    def _check_ecs_name(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value, "ECS name (use the name, not an ARN)")

    @field_validator("schedule", "schedule_group", "rule", "event_bus")
    @classmethod
    def _check_event_name(cls, value: str | None) -> str | None:
        if value is not None and not _EVENT_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid EventBridge name")
        return value

    @field_validator("containers")
    @classmethod
    def _check_containers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            check_name(name, "container name")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Member:
        named = [k for k in ("service", "schedule", "rule") if getattr(self, k) is not None]
        if len(named) != 1:
            raise ValueError("a member names exactly one of service, schedule or rule")
        if self.cluster is not None and self.service is None:
            raise ValueError("cluster belongs to a service member")
        return self

    @property
    def kind(self) -> Kind:
        """What the member is."""
        return "service" if self.service else "schedule" if self.schedule else "rule"

    @property
    def name(self) -> str:
        """The member's name, as phases and events name it."""
        return str(self.service or self.schedule or self.rule)


class ReleaseMigrate(BaseModel):
    """The migration a release runs once, from its new revision of `service`, before
    any member changes (the same fields as an entry's `migrate`, plus `service`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str
    container: str
    command: tuple[str, ...] = Field(min_length=1)
    timeout: Duration = 600


class Release(BaseModel):
    """One release: its members, their images, the migration and the phase order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    cluster: str
    images: Repositories
    members: tuple[Member, ...] = Field(min_length=1, max_length=MAX_MEMBERS)
    migrate: ReleaseMigrate | None = None
    phases: tuple[tuple[str, ...], ...] | None = None
    timeout: OptionalDuration = None  # per phase; default DEPLOY_TIMEOUT_SECONDS
    promote_from: tuple[str, ...] = ()  # releases whose running images may be promoted here

    @field_validator("name", "cluster")
    @classmethod
    def _check_name(cls, value: str, info: ValidationInfo) -> str:
        # `release/approvals` would read as an approvals group (`.../approvals`).
        if info.field_name == "name" and value == "approvals":
            raise ValueError("'approvals' is reserved: votes use groups ending in /approvals")
        return check_name(value, "name")

    @model_validator(mode="after")
    def _consistent(self) -> Release:
        names = [m.name for m in self.members]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"release {self.name}: member(s) {', '.join(doubled)} listed twice")
        if self.migrate is not None:
            target = self.member(self.migrate.service)
            if target is None or target.kind != "service":
                raise ValueError(
                    f"migrate.service {self.migrate.service!r} is not a member service"
                )
            if self.migrate.container not in target.containers:
                raise ValueError(
                    f"migrate.container {self.migrate.container!r} is not in "
                    f"{self.migrate.service}'s containers"
                )
        if self.phases is not None:
            check_phases(self.phases, names)
        if self.timeout is not None:
            reason = self.over_budget(self.timeout)
            if reason is not None:
                raise ValueError(f"timeout: release {self.name} {reason}")
        return self

    def over_budget(self, timeout: float) -> str | None:
        """Why the release cannot fit in the time SQS holds one message, with `timeout`
        per phase: its migration, every service phase, and one rollback watch."""
        phases = sum(1 for p in self.ordered_phases() if any(m.kind == "service" for m in p))
        migration = self.migrate.timeout if self.migrate is not None else 0
        need = migration + timeout * (phases + 1)
        if need <= MESSAGE_BUDGET_SECONDS:
            return None
        return (
            f"needs {duration_text(need)} ({phases} service phase(s) and a rollback at "
            f"{duration_text(timeout)} each, and the migration), but SQS holds a message "
            f"{duration_text(MESSAGE_BUDGET_SECONDS)} at most"
        )

    @property
    def group(self) -> str:
        """The MessageGroupId of this release's messages."""
        return GROUP_PREFIX + self.name

    def member(self, name: str) -> Member | None:
        """The member called `name`, if any."""
        return next((m for m in self.members if m.name == name), None)

    def cluster_of(self, member: Member) -> str:
        """The cluster a service member lives in."""
        return member.cluster or self.cluster

    def ordered_phases(self) -> list[list[Member]]:
        """The phases, in order: as configured, else each service alone in member order,
        then every schedule and rule together."""
        if self.phases is not None:
            return [
                [m for n in phase if (m := self.member(n)) is not None] for phase in self.phases
            ]
        services = [[m] for m in self.members if m.kind == "service"]
        others = [m for m in self.members if m.kind != "service"]
        return services + ([others] if others else [])


def index_releases(releases: Sequence[Release]) -> dict[tuple[str, str], Release]:
    """(cluster, service) to the release that owns that service. Raises `ValueError`
    for a release listed twice or a service that belongs to two releases."""
    seen: set[str] = set()
    owners: dict[tuple[str, str], Release] = {}
    for release in releases:
        if release.name in seen:
            raise ValueError(f"release {release.name} is listed more than once")
        seen.add(release.name)
        for member in release.members:
            if member.kind != "service":
                continue
            key = (release.cluster_of(member), member.name)
            other = owners.get(key)
            if other is not None:
                raise ValueError(
                    f"{key[0]}/{key[1]} belongs to releases {other.name} and {release.name}"
                )
            owners[key] = release
    return owners
