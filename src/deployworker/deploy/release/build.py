"""Wiring for releases: the handler the pipeline routes release messages to."""

from __future__ import annotations

from deployworker.aws.eventrules import EventRules
from deployworker.aws.factory import Factory
from deployworker.aws.scheduler import Scheduler
from deployworker.deploy.act import Actor
from deployworker.deploy.release.handler import Releases
from deployworker.deploy.release.members import Members
from deployworker.intake.admit import Intake
from deployworker.intake.allowlist_file import AllowlistSource
from deployworker.intake.signing import Verifier
from deployworker.observe.events import SnsEvents, discard
from deployworker.rollout.watch import Watcher
from deployworker.settings import Settings


def build_releases(
    aws: Factory,
    watcher: Watcher,
    actor: Actor,
    allowlist: AllowlistSource,
    settings: Settings,
    events: SnsEvents | None,
    signing_key: Verifier | None,
) -> Releases:
    """The release handler, with its own Scheduler and EventBridge adapters; it shares
    the worker's ECS adapter (the actor's), watcher, migrator, events and admission
    rules."""
    current = allowlist.current
    max_age = settings.signing_max_age_seconds
    intake = Intake(current, actor.region, actor.account, signing_key, max_age)
    scheduler = aws.adapter(Scheduler, "scheduler")
    members = Members(actor.ecs, scheduler, aws.adapter(EventRules, "events"))
    emit = events.emit if events is not None else discard
    timeout = settings.deploy_timeout_seconds
    migrator, key = actor.migrator, actor.tag_key
    return Releases(intake, current, members, migrator, watcher, timeout, emit, key)
