"""What every step of one release needs, and how a release ends."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deployworker.aws.ecs import Ecs
from deployworker.deploy.release.follow import Follower
from deployworker.deploy.release.members import Members
from deployworker.deploy.release.register import Revision
from deployworker.deploy.release.slots import state_tags
from deployworker.intake.releases import Release
from deployworker.outcome import Outcome

# (slot id, step, fields): one event and one log line per member step.
Step = Callable[[str, str, Mapping[str, Any]], None]


@dataclass
class Context:
    """One release run: its adapters, its follower and where steps are reported."""

    release: Release
    deploy_id: str
    key: str
    ecs: Ecs
    members: Members
    follower: Follower
    timeout: float
    step: Step
    tag_key: bytes | None = None  # seals the state tags (`deploy.trust`); None: unsealed

    def cluster(self, member: str) -> str:
        """The cluster of a service member."""
        found = self.release.member(member)
        assert found is not None
        return self.release.cluster_of(found)

    def mark(self, revisions: Mapping[str, Revision], state: str, reason: str) -> None:
        """Record how far the release got on every one of its revisions, so a
        redelivered message reads it back (rolling_back, rolled_back, failed, deployed)."""
        for revision in revisions.values():
            tags = state_tags(self.tag_key, revision.arn, self.key, state, reason)
            self.ecs.tag_resource(revision.arn, tags)


@dataclass(frozen=True)
class Ending:
    """How a release ended: the outcome, its reason and each member's state."""

    outcome: Outcome
    reason: str
    states: dict[str, str] = field(default_factory=dict)
    revisions: dict[str, str] = field(default_factory=dict)  # family to new revision
