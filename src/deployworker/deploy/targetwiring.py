"""Building `Targets`: each other (account, region) gets a pipeline like home's.

`build_accounts` gives every target its factory and budget; `build_targets` makes the
router and the recipe for a target's pipeline (its own ECS, ECR, migrator, watcher,
gate driver and budget), which `Targets` runs on first use.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from deployworker.aws.accounts.budgets import OnRate, shared
from deployworker.aws.accounts.sessions import Role, Sessions, session_name
from deployworker.aws.accounts.targets import Accounts, ClientsFor
from deployworker.aws.clients import shared_session
from deployworker.aws.ecr import Ecr
from deployworker.aws.ecs import Ecs
from deployworker.aws.factory import Factory
from deployworker.deploy.act import Actor
from deployworker.deploy.migrate import Migrator
from deployworker.deploy.pipeline import Pipeline
from deployworker.deploy.serial import Dispatch
from deployworker.deploy.sources import registry_reader, source_reader
from deployworker.deploy.targets import Built, TargetPipeline, Targets
from deployworker.intake.accounts import Target
from deployworker.intake.admit import Intake
from deployworker.observe.events import Emit
from deployworker.rollout.watch import Watcher
from deployworker.settings import Settings

log = structlog.get_logger("deployworker.targets")


def build_accounts(
    settings: Settings,
    home: Factory,
    home_account: str,
    on_rate: OnRate | None = None,
    clients_for: ClientsFor | None = None,
) -> Accounts:
    """Every target's factory and budget: each replica's share of the ECS budgets."""
    sessions = Sessions(
        shared_session(),
        session_name(settings.session_name),
        settings.endpoint_url,
        settings.assume_role_seconds,
        settings.credentials_refresh_seconds,
    )
    budgets = shared(settings.ecs_budgets(), settings.replicas)
    return Accounts(home, home_account, sessions, budgets, on_rate, clients_for)


def build_targets(
    settings: Settings,
    accounts: Accounts,
    home: Pipeline,
    intake: Intake,
    emit: Emit,
    dispatch: Dispatch,
    home_actor: Actor | None = None,
    on_round: Callable[[int, int, float], None] = lambda *_: None,
) -> Targets:
    """Route messages by target: home's to `home` (whose intake is `intake`), each other
    target's to a pipeline like home's, with that target's adapters and budget."""

    def build(target: Target, role: Role) -> Built:
        factory = accounts.factory(target.account, target.region, role if role.arn else None)
        limiter = accounts.limiter(target.account, target.region)
        ecs = Ecs(factory.client("ecs"), factory.caller("ecs", limiter))
        watcher = Watcher(
            ecs,
            settings.watch_round_seconds,
            describe_rate=settings.describe_deployments_rate / settings.replicas,
            on_round=on_round,
            gather=settings.events_gather_seconds,  # as home's (`eventqueue.build_watcher`)
            full_rounds=not settings.events_on,
        )
        watcher.start()
        key = home_actor.tag_key if home_actor is not None else None
        actor = Actor(
            ecs,
            Migrator(ecs, settings.watch_interval_seconds, tag_key=key),
            factory.adapter(Ecr, "ecr"),
            region=target.region,
            account=target.account,
            non_ecr=settings.non_ecr_pinning,
            default_timeout=settings.deploy_timeout_seconds,
            sources=source_reader(accounts, intake, target),
            registries=registry_reader(accounts, intake),
            tag_key=key,
            replay_window=home_actor.replay_window if home_actor is not None else 0.0,
        )
        elsewhere, where = home.gates.elsewhere, (target.account, target.region)
        gates = elsewhere(ecs, factory, watcher.wake, where) if elsewhere else None
        pipeline = TargetPipeline(
            target,
            ecs,
            actor,
            watcher,
            intake.allowlist,
            settings.deploy_timeout_seconds,
            region=intake.region,
            account=intake.account,
            emit=emit,
            signing_key=intake.signing_key,
            signing_max_age=intake.signing_max_age,
            dispatch=dispatch,
            gates=gates,
        )
        log.info("targets.built", account=target.account, region=target.region, role=role.arn)
        return Built(pipeline, watcher, ecs)

    if home_actor is not None and intake.home is not None:
        home_actor.sources = source_reader(accounts, intake, intake.home)
        home_actor.registries = registry_reader(accounts, intake)
    return Targets(home, intake, build, accounts, home_actor.ecs if home_actor else None)
