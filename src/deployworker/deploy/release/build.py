"""Wiring for releases: the handler the pipeline routes release messages to."""

from __future__ import annotations

from collections.abc import Callable

from deployworker.aws.ecs import Ecs
from deployworker.aws.eventrules import EventRules
from deployworker.aws.factory import Factory
from deployworker.aws.scheduler import Scheduler
from deployworker.deploy.act import Actor
from deployworker.deploy.release.handler import Releases
from deployworker.deploy.release.members import Members
from deployworker.intake.admit import Intake
from deployworker.intake.entries import Allowlist
from deployworker.observe.events import Emit
from deployworker.rollout.watch import Watcher
from deployworker.settings import Settings


def build_releases(
    aws: Factory,
    ecs: Ecs,
    watcher: Watcher,
    actor: Actor,
    allowlist: Callable[[], Allowlist],
    settings: Settings,
    emit: Emit,
    signing_key: bytes | None,
) -> Releases:
    """The release handler, with its own Scheduler and EventBridge adapters; it shares
    the worker's ECS adapter, watcher, migrator and admission rules."""
    intake = Intake(
        allowlist, actor.region, actor.account, signing_key, settings.signing_max_age_seconds
    )
    members = Members(ecs, aws.adapter(Scheduler, "scheduler"), aws.adapter(EventRules, "events"))
    return Releases(
        intake, allowlist, members, actor.migrator, watcher, settings.deploy_timeout_seconds, emit
    )
